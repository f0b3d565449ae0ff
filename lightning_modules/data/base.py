"""``ArrayDataModule``: the shared logic of the in-memory image datamodules (MNIST, Fashion-MNIST,
CIFAR-10): offline-first loading, download only in ``prepare_data``, a seeded train/validation split
in ``setup``, optional seeded subsets for quick runs, and epoch-seeded shuffling and augmentation."""
from collections.abc import Sequence

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader

from lightning_modules.data.datasets import ArrayDataset
from lightning_modules.data.resumable_loader import ResumableDataLoader
from lightning_modules.data.sampler import EpochSampler
from lightning_modules.data.sources import DatasetUnavailableError
from lightning_modules.data.transforms import ImageTransform

STAGES = ("fit", "validate", "test", "predict", None)


def _check_count(value, name: str, allow_fraction: bool = False) -> None:
    if value is None:
        return
    if allow_fraction and isinstance(value, float):
        if not 0.0 <= value < 1.0:
            raise ValueError(f"{name}={value!r} as a fraction must be in [0, 1)")
        return
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{name}={value!r} must be a non-negative int" + (" or a fraction in [0, 1)" if allow_fraction else ""))


def seeded_subset(n: int, size: int | None, seed: int) -> np.ndarray:
    """Indices of a seeded random subset of ``range(n)`` of ``size`` elements (all, in order, if None)."""
    if size is None or size >= n:
        return np.arange(n)
    generator = torch.Generator().manual_seed(seed)
    return np.sort(torch.randperm(n, generator=generator)[:size].numpy())


class ArrayDataModule(pl.LightningDataModule):
    """Base class: subclasses define ``name``, ``classes``, ``mean``, ``std``, ``load(split)`` and
    optionally ``download()`` and ``augmentation``.

    Args:
        root: local folder with the dataset (see the subclass for the layouts accepted); None uses the
            offline packages and the download cache.
        batch_size: samples per batch per process.
        num_workers: DataLoader worker processes (0 loads in the main process).
        val_size: validation samples held out of the training split (an int count or a fraction);
            0 validates on the test split instead.
        train_subset: use only this many (seeded, random) training samples, for quick runs; None = all.
        test_subset: likewise for the test split.
        seed: seed of the split, the subsets, the shuffling and the augmentation.
        augment: apply the dataset's training augmentation (if it has one).
        crop_padding: override the random-shift part of the augmentation: pad by this many pixels and crop
            back at a random offset (MNIST/Fashion-MNIST have none by default, CIFAR-10 uses 4); None keeps
            the dataset's default.
        download: let ``prepare_data`` download the dataset when no offline source has it.
        mean, std: per-channel normalisation ``(pixels * pixel_scale - mean) / std`` (one number or one per channel);
            None: the dataset's (e.g. CIFAR-10's ``(0.4914, 0.4822, 0.4465)`` / ``(0.2470, 0.2435, 0.2616)``).
        pixel_scale: the factor raw pixels are scaled by before the normalisation (default 1/255).

    The preprocessing is part of the model: :attr:`preprocessing` records it, ``ClassificationModule`` stores it in
    every checkpoint and ``finn_flow.build`` applies it to raw pixels itself.
    """

    name = "dataset"
    classes: Sequence[str] = ()
    mean: Sequence[float] = (0.0,)
    std: Sequence[float] = (1.0,)
    augmentation: dict = {}

    def __init__(self, root: str | None = None, batch_size: int = 128, num_workers: int = 0,
                 val_size: int | float = 5000, train_subset: int | None = None, test_subset: int | None = None,
                 seed: int = 0, augment: bool = True, download: bool = False, crop_padding: int | None = None,
                 mean: float | Sequence[float] | None = None, std: float | Sequence[float] | None = None,
                 pixel_scale: float = 1 / 255):
        super().__init__()
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size={batch_size!r} must be a positive int")
        _check_count(num_workers, "num_workers")
        _check_count(val_size, "val_size", allow_fraction=True)
        _check_count(train_subset, "train_subset")
        _check_count(test_subset, "test_subset")
        _check_count(crop_padding, "crop_padding")
        self.save_hyperparameters()
        self.root = root
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.val_size = val_size
        self.train_subset = train_subset
        self.test_subset = test_subset
        self.seed = seed
        self.augment = augment
        self.download = download
        self.crop_padding = crop_padding
        if mean is not None:
            self.mean = tuple(float(v) for v in np.atleast_1d(mean))
        if std is not None:
            self.std = tuple(float(v) for v in np.atleast_1d(std))
        self.pixel_scale = pixel_scale
        ImageTransform(self.mean, self.std, pixel_scale=pixel_scale)  # validates them now, not at setup
        self.train_set = self.val_set = self.test_set = None

    # --- what subclasses provide -------------------------------------------------------------------
    def load(self, split: str):
        """``(uint8 images, int64 labels)`` of ``split`` in ``("train", "test")``; raises
        ``DatasetUnavailableError`` when no source has them."""
        raise NotImplementedError(f"{type(self).__name__} must implement load(split)")

    def fetch(self) -> None:
        """Download the dataset into the cache (called by ``prepare_data`` only when ``download=True``)."""
        raise NotImplementedError(f"{type(self).__name__} has no download source")

    # --- shape facts for model builders ----------------------------------------------------------------
    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def preprocessing(self) -> dict:
        """What the model sees of raw pixels ``p``: ``(p * pixel_scale - mean[c]) / std[c]`` per channel ``c``."""
        return {"pixel_scale": float(self.pixel_scale), "mean": [float(v) for v in self.mean],
                "std": [float(v) for v in self.std]}

    # --- Lightning hooks ---------------------------------------------------------------------------------
    def prepare_data(self) -> None:
        """Check the dataset is reachable offline; if not and ``download=True``, download it."""
        try:
            self.load("test")
        except DatasetUnavailableError as offline_error:
            if not self.download:
                raise
            try:
                self.fetch()
            except Exception as error:  # noqa: BLE001 - reported with the offline attempts
                raise DatasetUnavailableError(
                    self.name, offline_error.attempts + [("download", f"{type(error).__name__}: {error}")]) from error

    def _transform(self, train: bool) -> ImageTransform:
        extra = dict(self.augmentation) if (train and self.augment) else {}
        if train and self.augment and self.crop_padding is not None:
            extra["crop_padding"] = self.crop_padding
        return ImageTransform(self.mean, self.std, pixel_scale=self.pixel_scale, **extra)

    def setup(self, stage: str | None = None) -> None:
        if stage not in STAGES:
            raise ValueError(f"stage={stage!r} is not one of {STAGES}")
        if stage in ("fit", "validate", None) and self.train_set is None:
            images, labels = self.load("train")
            n_val = int(round(self.val_size * len(labels))) if isinstance(self.val_size, float) else self.val_size
            if n_val >= len(labels):
                raise ValueError(f"val_size={self.val_size!r} leaves no training sample out of {len(labels)}")
            order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(self.seed)).numpy()
            val_idx, train_idx = np.sort(order[:n_val]), np.sort(order[n_val:])
            train_idx = train_idx[seeded_subset(len(train_idx), self.train_subset, self.seed + 1)]
            self.train_set = ArrayDataset(images[train_idx], labels[train_idx], self._transform(True),
                                          seed=self.seed, augment=self.augment)
            if n_val:
                self.val_set = ArrayDataset(images[val_idx], labels[val_idx], self._transform(False))
        if self.test_set is None and (stage in ("test", "predict", None) or
                                      (stage in ("fit", "validate") and self.val_set is None)):
            images, labels = self.load("test")
            keep = seeded_subset(len(labels), self.test_subset, self.seed + 2)
            self.test_set = ArrayDataset(images[keep], labels[keep], self._transform(False))

    def _loader(self, dataset, train: bool) -> DataLoader:
        if dataset is None:
            raise RuntimeError(f"{type(self).__name__}.setup() has not prepared this split yet")
        sampler = EpochSampler(dataset, seed=self.seed, shuffle=train, drop_last=False)
        kwargs = dict(batch_size=self.batch_size, sampler=sampler, num_workers=self.num_workers,
                      drop_last=train and len(dataset) > self.batch_size)
        if train:  # resumes mid-epoch from a checkpoint (see ResumableDataLoader)
            return ResumableDataLoader(dataset, batches_done=self._train_batches_done, **kwargs)
        return DataLoader(dataset, **kwargs)

    def _train_batches_done(self) -> int:
        """Batches of the current training epoch already trained (0 without a trainer)."""
        trainer = self.trainer
        return 0 if trainer is None else int(trainer.fit_loop.epoch_loop.batch_progress.current.processed)

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, train=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set if self.val_set is not None else self.test_set, train=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.test_set, train=False)

    def predict_dataloader(self) -> DataLoader:
        return self._loader(self.test_set, train=False)
