"""Real datasets, offline first: array sources (no Lightning) and LightningDataModules on top.

The loaders (``load_mnist``, ``load_fashion_mnist``, ``load_cifar10``) import numpy only and work without
Lightning installed; the DataModules are imported on first use.
"""
import importlib

from lightning_modules.data.sources import DatasetUnavailableError, load_cifar10, load_fashion_mnist, load_mnist

_DATAMODULES = {
    "ArrayDataModule": "lightning_modules.data.base", "CIFAR10DataModule": "lightning_modules.data.cifar",
    "ImageFolderDataModule": "lightning_modules.data.image_folder_module",
    "FashionMNISTDataModule": "lightning_modules.data.mnist", "MNISTDataModule": "lightning_modules.data.mnist",
}

__all__ = sorted(["DatasetUnavailableError", "load_cifar10", "load_fashion_mnist", "load_mnist", *_DATAMODULES])


def __getattr__(name: str):
    if name not in _DATAMODULES:
        raise AttributeError(f"module 'lightning_modules.data' has no attribute {name!r}")
    return getattr(importlib.import_module(_DATAMODULES[name]), name)
