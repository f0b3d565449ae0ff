"""swap on Brevitas models: brevitas_examples' BNN-PYNQ CNV, LFC and TFC (QuantConv2d / QuantLinear / QuantIdentity)
swap to ABC(3, 3) from their latent float weights, train on real data and export exactly."""
import functools

import numpy as np
import pytest
import torch
from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear
from torch import nn

import brevitas_abc
from brevitas_abc import ABCConfig, ABCConv2d, ABCLinear, SwapError
from tests.conftest import cifar_test_uint8
from tests.conftest import mnist_tensors as _mnist_tensors

CONFIG = ABCConfig(num_weight_bases=3, num_act_bases=3, coefficient_bits=4)


@functools.cache
def mnist_tensors(split, count):
    return _mnist_tensors(split, count)


@functools.cache
def cifar_tensors(per_class):
    images, labels = cifar_test_uint8(per_class)
    return torch.from_numpy(images).float() / 255, torch.from_numpy(labels)


def bnn_pynq(name: str) -> nn.Module:
    from brevitas_examples.bnn_pynq.models import model_with_cfg

    torch.manual_seed(0)
    model, _ = model_with_cfg(name, pretrained=False)
    return model


def _data(name: str):
    """Real training and held-out images in the model's input range [0, 1] (the models map them to [-1, 1])."""
    if name.startswith("cnv"):
        x, y = cifar_tensors(6)  # 60 CIFAR-10 test-split images: 40 to train on, 20 to export with
        order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
        x, y = x[order], y[order]
        return (x[:40], y[:40]), x[40:]
    x, y = mnist_tensors("train", 160)
    return (x, y), mnist_tensors("test", 20)[0]


def test_cnv_swap_report_and_latent_weights(capsys):
    model = bnn_pynq("cnv_1w1a")
    latent = {name: m.weight.detach().clone() for name, m in model.named_modules()
              if isinstance(m, (QuantConv2d, QuantLinear))}
    swapped = brevitas_abc.swap(model, CONFIG)
    report = capsys.readouterr().out
    abc = {name: m for name, m in swapped.named_modules() if isinstance(m, (ABCConv2d, ABCLinear))}
    # 6 convs + 3 linears; the first conv (on the 8-bit input) and the classifier stay Brevitas layers
    assert list(abc) == [f"conv_features.{i}" for i in (4, 8, 11, 15, 18)] + ["linear_features.0", "linear_features.3"]
    assert type(swapped.conv_features[1]) is QuantConv2d and type(swapped.linear_features[6]) is QuantLinear
    for name, layer in abc.items():
        assert torch.equal(layer.weight, latent[name]), name  # initialised from the latent float weights
        assert layer.num_weight_bases == 3 and layer.num_act_bases == 3
    # the binary QuantIdentity in front of each ABC layer is its ABC input quantiser's job now; the 8-bit input
    # quantiser (in front of the kept first conv) and the classifier's binary input stay
    identities = [name for name, m in swapped.named_modules() if type(m) is QuantIdentity]
    assert identities == ["conv_features.0", "linear_features.5"]
    for name in [f"conv_features.{i}" for i in (3, 6, 10, 13, 17, 20)] + ["linear_features.2"]:
        assert type(swapped.get_submodule(name)) is nn.Identity, name
        assert f"{name}: QuantIdentity -> Identity" in report
    assert "conv_features.4: QuantConv2d -> ABCConv2d" in report
    assert "conv_features.1: kept (first layer" in report and "linear_features.6: kept (last layer" in report


def test_swap_of_a_model_with_nothing_to_replace_says_so():
    with pytest.raises(SwapError, match="nothing to replace.*QuantConv2d / QuantLinear"):
        brevitas_abc.swap(nn.Sequential(QuantIdentity(), nn.ReLU()), CONFIG)


def _loss(model, x, y):
    return nn.functional.cross_entropy(model(x), y)


@torch.no_grad()
def _loss_without_dropout(model, x, y):
    """The training loss over all of ``x`` (batch statistics), dropout off: a noise-free before/after measure."""
    dropouts = [m for m in model.modules() if isinstance(m, nn.Dropout)]
    for m in dropouts:
        m.eval()
    loss = _loss(model, x, y).item()
    for m in dropouts:
        m.train()
    return loss


def train_swapped(name: str, steps: int = 8, filter_fn=None):
    """``name`` swapped to ABC(3, 3) with 4-bit coefficients (the layers ``filter_fn`` accepts) and trained ``steps``
    Adam steps on real images."""
    model = brevitas_abc.swap(bnn_pynq(name), CONFIG, filter_fn=filter_fn, verbose=False)
    (x, y), held_out = _data(name)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    batch = len(x) // 4
    before = _loss_without_dropout(model, x, y)
    for step in range(steps):
        i = step % 4
        loss = _loss(model, x[i * batch:(i + 1) * batch], y[i * batch:(i + 1) * batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    after = _loss_without_dropout(model, x, y)
    return model.eval(), held_out, before, after


@pytest.mark.slow
@pytest.mark.parametrize("name", ["cnv_1w1a", "lfc_1w1a", "tfc_1w1a"])
def test_swapped_bnn_pynq_trains_and_exports_exactly(tmp_path, name):
    torch.manual_seed(0)
    model, held_out, before, after = train_swapped(name)
    assert np.isfinite(after) and after < before  # it learns from the real images
    report = brevitas_abc.export_qonnx(model, held_out, tmp_path / f"{name}_abc.onnx")
    assert report.argmax_agreement == 1.0 and report.near_tie_inputs == 0
    assert report.max_abs_diff <= 1e-4
