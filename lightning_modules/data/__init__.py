"""Real datasets, offline first: array sources (no Lightning) and LightningDataModules on top."""
from lightning_modules.data.base import ArrayDataModule
from lightning_modules.data.cifar import CIFAR10DataModule
from lightning_modules.data.image_folder_module import ImageFolderDataModule
from lightning_modules.data.mnist import FashionMNISTDataModule, MNISTDataModule
from lightning_modules.data.sources import DatasetUnavailableError, load_cifar10, load_fashion_mnist, load_mnist

__all__ = ["ArrayDataModule", "CIFAR10DataModule", "DatasetUnavailableError", "FashionMNISTDataModule",
           "ImageFolderDataModule", "MNISTDataModule", "load_cifar10", "load_fashion_mnist", "load_mnist"]
