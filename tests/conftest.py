"""Shared fixtures: real MNIST images and a small float CNN trained on real MNIST in the test session."""
import numpy as np
import pytest
import torch
from torch import nn

from lightning_modules.data import load_mnist


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
