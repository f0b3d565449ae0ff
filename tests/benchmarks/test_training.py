"""Shared benchmark helpers (benchmarks/training.py) on real CIFAR-10 images."""
import sys
from pathlib import Path
from types import SimpleNamespace

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchmarks.training import calibration_images  # noqa: E402
from lightning_modules.data import CIFAR10DataModule  # noqa: E402
from lightning_modules.data.datasets import ArrayDataset  # noqa: E402
from lightning_modules.data.transforms import ImageTransform  # noqa: E402
from tests.conftest import cifar_test_uint8  # noqa: E402


def test_calibration_images_are_a_random_unaugmented_sample_of_a_class_sorted_split():
    """CIFAR-10's split is stored class by class (its first images are all one class): the calibration sample must
    cover the classes, and be the plain preprocessed images, not random crops/flips of them."""
    images, labels = cifar_test_uint8(10)  # 100 real images, 10 per class, class by class
    mean, std = CIFAR10DataModule.mean, CIFAR10DataModule.std
    augmented = ImageTransform(mean, std, crop_padding=4, hflip=True)
    data = SimpleNamespace(train_set=ArrayDataset(images.transpose(0, 2, 3, 1), labels, augmented, augment=True))
    x, y = calibration_images(data, 40, seed=0)
    assert x.shape == (40, 3, 32, 32) and len(torch.unique(y)) >= 8, y.tolist()  # the first 40: classes 0-3 only
    plain = ImageTransform(mean, std)
    every = torch.stack([plain(image) for image in images.transpose(0, 2, 3, 1)])
    for image, label in zip(x, y):
        match = (every == image).flatten(1).all(1).nonzero().flatten()
        assert len(match) == 1 and labels[int(match)] == int(label)  # an exact unaugmented image, with its label
    again, _ = calibration_images(data, 40, seed=0)
    assert torch.equal(again, x) and not torch.equal(calibration_images(data, 40, seed=1)[0], x)
