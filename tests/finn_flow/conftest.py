"""Fixtures for the FINN flow tests: real MNIST and CIFAR-10 test images, stock Brevitas BNN-PYNQ nets."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch

from lightning_modules.data import load_mnist

CIFAR_TAR = Path(__file__).resolve().parents[3] / "shared" / "data" / "cifar10-jpeg.tar.gz"
N_IMAGES = 200


@pytest.fixture(scope="session")
def mnist_images():
    """The first 200 real MNIST test images (uint8 ``[200, 1, 28, 28]``) and their labels."""
    images, labels = load_mnist("test")
    return images[:N_IMAGES, None], labels[:N_IMAGES]


@pytest.fixture(scope="session")
def cifar_images():
    """200 real CIFAR-10 test images (20 per class, uint8 NCHW) from ../shared's JPEG archive."""
    if not CIFAR_TAR.is_file():
        pytest.skip(f"CIFAR-10 JPEG archive not found at {CIFAR_TAR} (only on the project's machines)")
    from PIL import Image

    per_class: dict[str, list] = {}
    with tarfile.open(CIFAR_TAR) as tar:
        for member in tar:
            parts = member.name.split("/")
            if len(parts) != 3 or parts[0] != "test" or not member.isfile():
                continue
            bucket = per_class.setdefault(parts[1], [])
            if len(bucket) < N_IMAGES // 10:
                bucket.append(np.asarray(Image.open(io.BytesIO(tar.extractfile(member).read())).convert("RGB")))
            if len(per_class) == 10 and all(len(b) == N_IMAGES // 10 for b in per_class.values()):
                break
    classes = sorted(per_class)
    images = np.stack([img for c in classes for img in per_class[c]]).transpose(0, 3, 1, 2)
    labels = np.repeat(np.arange(len(classes)), N_IMAGES // 10)
    return np.ascontiguousarray(images), labels


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
