"""Map-style datasets over in-memory uint8 arrays or image files, with per-(seed, epoch, index)
augmentation: the same sample gets the same random crop/flip whatever the process, worker or resume."""
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from lightning_modules.data.image_folder import open_rgb
from lightning_modules.data.transforms import ImageTransform


class _EpochSeeded(Dataset):
    """Base: holds the transform, the seed and the current epoch (set by ``EpochSampler.set_epoch``)."""

    def __init__(self, transform: ImageTransform, seed: int = 0, augment: bool = False):
        self.transform = transform
        self.seed = int(seed)
        self.augment = bool(augment) and transform.is_random
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def _rng(self, index: int) -> np.random.Generator | None:
        return np.random.default_rng([self.seed, self.epoch, int(index)]) if self.augment else None


class ArrayDataset(_EpochSeeded):
    """``(transform(images[i]), labels[i])`` over ``uint8`` images ``[N, H, W]`` or ``[N, H, W, C]``."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, transform: ImageTransform,
                 seed: int = 0, augment: bool = False):
        super().__init__(transform, seed, augment)
        if len(images) != len(labels):
            raise ValueError(f"images ({len(images)}) and labels ({len(labels)}) differ in length")
        self.images = images
        self.labels = torch.as_tensor(np.asarray(labels, dtype=np.int64))

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int):
        return self.transform(self.images[index], self._rng(index)), self.labels[index]


class ImageFileDataset(_EpochSeeded):
    """Images read from files with PIL on access: resized so the shorter side is ``resize_size``, then
    cropped to ``image_size`` (a random crop when augmenting, else the centre crop)."""

    def __init__(self, paths: list[Path], labels: np.ndarray, transform: ImageTransform,
                 image_size: int = 224, resize_size: int = 256, seed: int = 0, augment: bool = False):
        super().__init__(transform, seed, augment)
        if image_size > resize_size:
            raise ValueError(f"image_size={image_size} must be <= resize_size={resize_size}")
        self.paths = list(paths)
        self.labels = torch.as_tensor(np.asarray(labels, dtype=np.int64))
        self.image_size = int(image_size)
        self.resize_size = int(resize_size)
        self.augment = bool(augment)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int):
        image = open_rgb(self.paths[index])
        w, h = image.size
        scale = self.resize_size / min(w, h)
        image = image.resize((max(self.resize_size, round(w * scale)), max(self.resize_size, round(h * scale))))
        array = np.asarray(image, dtype=np.uint8)
        rng = self._rng(index)
        h, w = array.shape[:2]
        s = self.image_size
        if rng is not None:
            top, left = int(rng.integers(0, h - s + 1)), int(rng.integers(0, w - s + 1))
        else:
            top, left = (h - s) // 2, (w - s) // 2
        return self.transform(array[top:top + s, left:left + s], rng), self.labels[index]
