"""Image transforms in plain numpy/torch (no torchvision): uint8 image -> normalised float ``[C, H, W]``,
with optional random padded crop and horizontal flip drawn from a caller-supplied generator, so the
augmentation of sample ``i`` in epoch ``e`` is reproducible (resume and DDP give the same batches)."""
from collections.abc import Sequence

import numpy as np
import torch


def _per_channel(values: float | Sequence[float], name: str) -> np.ndarray:
    array = np.atleast_1d(np.asarray(values, dtype=np.float32))
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"{name}={values!r} must be a number or a list of per-channel numbers")
    return array


class ImageTransform:
    """``uint8 [H, W]`` or ``[H, W, C]`` -> ``float32 [C, H, W]`` = ``(x * pixel_scale - mean) / std``.

    Args:
        mean: per-channel mean of the scaled pixel values (one number for all channels, or a list).
        std: per-channel standard deviation, all > 0.
        pixel_scale: the factor raw pixels are scaled by first (default 1/255: values in [0, 1]).
        crop_padding: with a generator, pad by this many black (0) pixels and crop back at a random offset,
            before normalising, i.e. a random shift of up to ``crop_padding`` pixels (the CIFAR recipe uses 4,
            MNIST shift augmentation 2); 0 disables it.
        hflip: with a generator, flip left-right with probability 1/2.
    """

    def __init__(self, mean: float | Sequence[float] = 0.0, std: float | Sequence[float] = 1.0,
                 crop_padding: int = 0, hflip: bool = False, pixel_scale: float = 1 / 255):
        if not (isinstance(pixel_scale, (int, float)) and not isinstance(pixel_scale, bool) and pixel_scale > 0):
            raise ValueError(f"pixel_scale={pixel_scale!r} must be a positive number")
        self.pixel_scale = float(pixel_scale)
        inverse = 1.0 / self.pixel_scale  # 1/255 divides by 255 (bit for bit what this transform always computed)
        self._divisor = float(round(inverse)) if abs(inverse - round(inverse)) < 1e-9 * inverse else None
        self.mean = _per_channel(mean, "mean")
        self.std = _per_channel(std, "std")
        if (self.std <= 0).any():
            raise ValueError(f"std={std!r} must be > 0")
        if crop_padding < 0:
            raise ValueError(f"crop_padding={crop_padding!r} must be >= 0")
        self.crop_padding = int(crop_padding)
        self.hflip = bool(hflip)

    @property
    def is_random(self) -> bool:
        """Whether the transform draws from the generator (a padded crop or a flip)."""
        return self.crop_padding > 0 or self.hflip

    def __call__(self, image: np.ndarray, rng: np.random.Generator | None = None) -> torch.Tensor:
        image = np.asarray(image)
        if image.ndim == 2:
            image = image[:, :, None]
        x = image.astype(np.float32)
        x = x / np.float32(self._divisor) if self._divisor is not None else x * np.float32(self.pixel_scale)
        if rng is not None and self.crop_padding:
            p = self.crop_padding
            h, w = x.shape[:2]
            padded = np.zeros((h + 2 * p, w + 2 * p, x.shape[2]), dtype=np.float32)
            padded[p:p + h, p:p + w] = x
            top, left = rng.integers(0, 2 * p + 1, size=2)
            x = padded[top:top + h, left:left + w]
        if rng is not None and self.hflip and rng.random() < 0.5:
            x = x[:, ::-1]
        x = (x - self.mean) / self.std
        return torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))

    def __repr__(self) -> str:
        return (f"ImageTransform(pixel_scale={self.pixel_scale:g}, mean={self.mean.tolist()}, std={self.std.tolist()}, "
                f"crop_padding={self.crop_padding}, hflip={self.hflip})")
