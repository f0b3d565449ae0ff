"""Real datasets, offline first: array sources (no Lightning) and LightningDataModules on top."""
from lightning_modules.data.sources import DatasetUnavailableError, load_mnist

__all__ = ["DatasetUnavailableError", "load_mnist"]
