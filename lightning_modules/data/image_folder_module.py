"""A datamodule for any ImageFolder tree (ImageNet, the forest-trail data, ...), read lazily with PIL."""
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader

from lightning_modules.data.datasets import ImageFileDataset
from lightning_modules.data.image_folder import find_classes, list_images
from lightning_modules.data.sampler import EpochSampler
from lightning_modules.data.sources import DatasetUnavailableError
from lightning_modules.data.transforms import ImageTransform

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class ImageFolderDataModule(pl.LightningDataModule):
    """Images in ``<train_dir>/<class>/*`` (and optionally ``val_dir``, ``test_dir`` with the same classes).

    Args:
        train_dir: the training tree; the sorted sub-folder names are the classes.
        val_dir: the validation tree; None holds out ``val_size`` of ``train_dir`` with a seeded split.
        test_dir: the test tree; None tests on the validation data.
        image_size: side of the square crop fed to the model.
        resize_size: shorter side after resizing, before cropping (>= ``image_size``).
        mean, std: per-channel normalisation of ``[0, 1]`` pixels (ImageNet's by default).
        val_size: fraction (float) or count (int) held out when there is no ``val_dir``.
        batch_size, num_workers, seed, augment: as in ``ArrayDataModule``; augmentation is a random
            crop and a horizontal flip.
    """

    def __init__(self, train_dir: str, val_dir: str | None = None, test_dir: str | None = None,
                 image_size: int = 224, resize_size: int = 256,
                 mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD,
                 val_size: int | float = 0.1, batch_size: int = 64, num_workers: int = 0, seed: int = 0,
                 augment: bool = True):
        super().__init__()
        if image_size < 1 or resize_size < image_size:
            raise ValueError(f"image_size={image_size!r}, resize_size={resize_size!r}: need 1 <= image_size <= resize_size")
        self.save_hyperparameters()
        self.train_dir, self.val_dir, self.test_dir = train_dir, val_dir, test_dir
        self.image_size, self.resize_size = image_size, resize_size
        self.mean, self.std = tuple(mean), tuple(std)
        self.val_size, self.batch_size, self.num_workers = val_size, batch_size, num_workers
        self.seed, self.augment = seed, augment
        self.classes: list[str] = []
        self.train_set = self.val_set = self.test_set = None

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def prepare_data(self) -> None:
        """Nothing to download; checks the trees exist, with a clear error when one is missing."""
        for argument in ("train_dir", "val_dir", "test_dir"):
            folder = getattr(self, argument)
            if folder is not None:
                try:
                    find_classes(folder)
                except FileNotFoundError as error:
                    raise DatasetUnavailableError("image-folder", [(f"{argument}={folder!r}", str(error))]) from error

    def _dataset(self, paths, labels, train: bool) -> ImageFileDataset:
        crop = {"hflip": True} if (train and self.augment) else {}
        return ImageFileDataset(paths, labels, ImageTransform(self.mean, self.std, **crop), self.image_size,
                                self.resize_size, seed=self.seed, augment=train and self.augment)

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        self.prepare_data()
        paths, labels, self.classes = list_images(Path(self.train_dir))
        if self.val_dir is None:
            n_val = int(round(self.val_size * len(paths))) if isinstance(self.val_size, float) else int(self.val_size)
            if not 0 < n_val < len(paths):
                raise ValueError(f"val_size={self.val_size!r} must leave samples on both sides of {len(paths)}")
            order = torch.randperm(len(paths), generator=torch.Generator().manual_seed(self.seed)).numpy()
            val_idx, train_idx = np.sort(order[:n_val]), np.sort(order[n_val:])
            self.val_set = self._dataset([paths[i] for i in val_idx], labels[val_idx], train=False)
            paths, labels = [paths[i] for i in train_idx], labels[train_idx]
        else:
            val_paths, val_labels, _ = list_images(Path(self.val_dir), self.classes)
            self.val_set = self._dataset(val_paths, val_labels, train=False)
        self.train_set = self._dataset(paths, labels, train=True)
        if self.test_dir is not None:
            test_paths, test_labels, _ = list_images(Path(self.test_dir), self.classes)
            self.test_set = self._dataset(test_paths, test_labels, train=False)
        else:
            self.test_set = self.val_set

    def _loader(self, dataset, train: bool) -> DataLoader:
        sampler = EpochSampler(dataset, seed=self.seed, shuffle=train)
        return DataLoader(dataset, batch_size=self.batch_size, sampler=sampler, num_workers=self.num_workers,
                          drop_last=train and len(dataset) > self.batch_size)

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set, False)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.test_set, False)

    def predict_dataloader(self) -> DataLoader:
        return self._loader(self.test_set, False)
