"""Small ABC-Net models for the FINN tests: trained on real MNIST with integer coefficients
(``coefficient_bits``, the hardware-aware training constraint), or untrained with integer coefficients
injected into the exported graph (``export_with_integer_coefficients``, for layer families without the
training option)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from benchmarks.qonnx_coefficients import export_with_integer_coefficients  # noqa: F401 - the tests import it here

MNIST_SHAPE = (1, 1, 28, 28)


def abc_mlp() -> nn.Module:
    """An LFC-style MLP 784-64-32-10, every Linear swapped to ABC (M=2 weight, N=2 activation bases)."""
    return nn.Sequential(
        nn.Flatten(), nn.Linear(784, 64, bias=False), nn.BatchNorm1d(64), nn.ReLU(),
        nn.Linear(64, 32, bias=False), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 10, bias=False))


def abc_cnv() -> nn.Module:
    """A CNV-style net: valid (unpadded) convs 1-8-16-16 with max-pooling, ending at 1x1 like FINN's CNV
    (28 -> 26 -> 13 -> 11 -> 5 -> 1), then FC; every conv and the FC ABC (2, 2)."""
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, bias=False), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, bias=False), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 16, 5, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
        nn.Flatten(), nn.Linear(16, 10, bias=False))


# act shifts (-0.31, 0.21): thresholds 0.81 and 0.29 on [0, 1] pixels and ReLU outputs, not on a pixel level
# k/255 (a threshold exactly on one is a float-rounding tie); the N=2 paper preset (-1.5, +1.5) gives
# H_1 + H_2 = 0 on such inputs, i.e. a network whose output is always 0
ACT_SHIFTS = {1: (0.21,), 2: (-0.31, 0.21)}


def swapped(factory, seed: int = 0, keep_last: bool = False, coefficient_bits: int | None = None,
            num_act_bases: int = 2) -> nn.Module:
    """``factory()`` with ABC (M=2, N=``num_act_bases``, 1 or 2) layers; ``keep_last`` keeps the last layer float
    (on the host); ``coefficient_bits`` (2, 3, 4) constrains alpha/beta to integers times power-of-two scales."""
    from brevitas_abc import ABCConfig, swap

    torch.manual_seed(seed)
    model = factory()
    swap(model, ABCConfig(num_weight_bases=2, num_act_bases=num_act_bases, act_shifts=ACT_SHIFTS[num_act_bases],
                          keep_first=False, keep_last=keep_last, coefficient_bits=coefficient_bits), verbose=False)
    generator = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
            n = module.num_features
            module.running_mean.copy_(torch.rand(n, generator=generator) - 0.5)
            module.running_var.copy_(0.5 + torch.rand(n, generator=generator))
    return model.eval()


def train_on_mnist(model: nn.Module, steps: int = 300, batch_size: int = 64, lr: float = 3e-3,
                   seed: int = 0) -> nn.Module:
    """``steps`` Adam steps of cross-entropy on real MNIST training images in [0, 1] (the first
    ``steps * batch_size`` of them, in order); returns the model in eval mode."""
    from tests.conftest import mnist_tensors

    torch.manual_seed(seed)
    x, y = mnist_tensors("train", steps * batch_size)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for start in range(0, len(x), batch_size):
        loss = nn.functional.cross_entropy(model(x[start:start + batch_size]), y[start:start + batch_size])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


def trained_integer_abc(factory, coefficient_bits: int = 3, steps: int = 300, seed: int = 0,
                        num_act_bases: int = 2) -> nn.Module:
    """``swapped(factory)`` with ``coefficient_bits`` on, trained ``steps`` steps on real MNIST: a model whose
    every branch coefficient ``alpha_m[c] beta_n`` is an integer times a per-channel scale by training."""
    model = swapped(factory, seed=seed, coefficient_bits=coefficient_bits, num_act_bases=num_act_bases)
    return train_on_mnist(model, steps, seed=seed)


def abc_cnv_with_input_quantizer() -> nn.Module:
    """An untrained CIFAR-10 CNV-style ABC(2, 2) net (unpadded conv, max-pooling, padded conv, dense head, integer
    coefficients) behind a Brevitas 8-bit ``QuantIdentity`` input quantiser (a ``Quant`` node in the export)."""
    import brevitas_abc
    from brevitas.nn import QuantIdentity
    from brevitas.quant import Int8ActPerTensorFloat

    torch.manual_seed(0)
    body = nn.Sequential(nn.Conv2d(3, 8, 3, bias=False), nn.BatchNorm2d(8), nn.MaxPool2d(2),
                         nn.Conv2d(8, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.Flatten(),
                         nn.Linear(8 * 15 * 15, 10, bias=False))
    brevitas_abc.swap(body, brevitas_abc.ABCConfig(2, 2, keep_first=False, keep_last=False, coefficient_bits=3),
                      verbose=False)
    return nn.Sequential(QuantIdentity(act_quant=Int8ActPerTensorFloat, bit_width=8, return_quant_tensor=False),
                         *body).eval()
