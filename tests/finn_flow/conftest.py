"""Fixtures for the FINN flow tests: real MNIST and CIFAR-10 test images, stock Brevitas BNN-PYNQ nets."""

from __future__ import annotations


import pytest
import torch

from lightning_modules.data import load_mnist
from tests.conftest import cifar_test_uint8

N_IMAGES = 200


@pytest.fixture(scope="session")
def mnist_images():
    """The first 200 real MNIST test images (uint8 ``[200, 1, 28, 28]``) and their labels."""
    images, labels = load_mnist("test")
    return images[:N_IMAGES, None], labels[:N_IMAGES]


@pytest.fixture(scope="session")
def cifar_images():
    """200 real CIFAR-10 test images (20 per class, uint8 NCHW) from ../shared's JPEG archive."""
    return cifar_test_uint8(N_IMAGES // 10)


def bnn_pynq(name: str, seed: int = 0) -> torch.nn.Module:
    """A stock Brevitas BNN-PYNQ network (``brevitas_examples``), untrained, with BatchNorm statistics
    randomised so that every threshold is non-trivial (trained weights are not on PyPI)."""
    from brevitas_examples.bnn_pynq.models import model_with_cfg

    torch.manual_seed(seed)
    model, _ = model_with_cfg(name, pretrained=False)
    generator = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            n = module.num_features
            module.running_mean.copy_((torch.rand(n, generator=generator) - 0.5) * 10)
            module.running_var.copy_(1 + 20 * torch.rand(n, generator=generator))
    return model.eval()
