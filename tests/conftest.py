"""Shared fixtures and helpers: real MNIST and CIFAR-10 images, a small float CNN trained on real MNIST."""
import io
import os
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from lightning_modules.data import load_mnist


# build_model, abc-train and the benchmarks compile the ABC kernels by default (20-100 s per process); the suite
# tests the compiled path explicitly (tests/brevitas_abc/test_compiled_kernels.py) and runs eagerly elsewhere.
os.environ.setdefault("BREVITAS_ABC_COMPILED_KERNELS", "0")

CIFAR_TAR = Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar10-jpeg.tar.gz"


def cifar_test_uint8(per_class: int):
    """``10 * per_class`` real CIFAR-10 test images (the first of each class, classes sorted by name) as uint8
    ``[N, 3, 32, 32]`` and their labels, from ``../shared``'s JPEG archive (skips where it is absent)."""
    from PIL import Image

    if not CIFAR_TAR.is_file():
        pytest.skip(f"CIFAR-10 JPEG archive not found at {CIFAR_TAR} (only on the project's machines)")
    found: dict[str, list[np.ndarray]] = {}
    with tarfile.open(CIFAR_TAR) as tar:
        for member in tar:
            parts = member.name.split("/")
            if member.isfile() and len(parts) == 3 and parts[0] == "test":
                images = found.setdefault(parts[1], [])
                if len(images) < per_class:
                    images.append(np.asarray(Image.open(io.BytesIO(tar.extractfile(member).read())).convert("RGB")))
                if len(found) == 10 and all(len(v) == per_class for v in found.values()):
                    break
    classes = sorted(found)
    images = np.stack([img for cls in classes for img in found[cls]]).transpose(0, 3, 1, 2)
    return np.ascontiguousarray(images), np.repeat(np.arange(len(classes)), per_class)


def cifar_normalised(per_class: int = 2) -> torch.Tensor:
    """``cifar_test_uint8`` as float ``(x / 255 - 0.5) / 0.25``, roughly zero mean."""
    images, _ = cifar_test_uint8(per_class)
    return (torch.from_numpy(images).float() / 255 - 0.5) / 0.25


def mnist_tensors(split: str, count: int, offset: int = 0):
    """``count`` real MNIST images as float ``[count, 1, 28, 28]`` in [0, 1] and int64 labels."""
    images, labels = load_mnist(split)
    x = torch.from_numpy(images[offset:offset + count].astype(np.float32) / 255.0).unsqueeze(1)
    return x, torch.from_numpy(labels[offset:offset + count])


@pytest.fixture(scope="session")
def mnist_test_batch():
    return mnist_tensors("test", 64)


def small_mnist_cnn() -> nn.Module:
    """conv-BN-ReLU-pool x2, fc-BN-ReLU, fc: the float network the ABC tests swap and export."""
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 7 * 7, 64), nn.BatchNorm1d(64), nn.ReLU(), nn.Linear(64, 10))


@pytest.fixture(scope="session")
def trained_mnist_cnn():
    """``small_mnist_cnn`` trained for one pass over 12,000 real MNIST training images (about 96 % on the test set)."""
    torch.manual_seed(0)
    model = small_mnist_cnn()
    x, y = mnist_tensors("train", 12000)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    model.train()
    for start in range(0, len(x), 100):
        loss = nn.functional.cross_entropy(model(x[start:start + 100]), y[start:start + 100])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()
