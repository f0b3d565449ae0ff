"""Writers of tiny datasets in the real on-disk formats (IDX, CIFAR-10 python batches, ImageFolder)."""
import gzip
import pickle
from pathlib import Path

import numpy as np


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write ``uint8`` ``array`` as an IDX file (gzip-compressed when ``path`` ends in ``.gz``)."""
    array = np.asarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    opener = gzip.open if str(path).endswith(".gz") else open
    path.parent.mkdir(parents=True, exist_ok=True)
    with opener(path, "wb") as f:
        f.write(header + array.tobytes())


def write_idx_dataset(root: Path, n_train: int = 60, n_test: int = 20, seed: int = 0, gz: bool = True):
    """MNIST-style IDX files under ``root``; returns ``{split: (images, labels)}``."""
    rng = np.random.default_rng(seed)
    out = {}
    for split, prefix, n in (("train", "train", n_train), ("test", "t10k", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        suffix = ".gz" if gz else ""
        write_idx(root / f"{prefix}-images-idx3-ubyte{suffix}", images)
        write_idx(root / f"{prefix}-labels-idx1-ubyte{suffix}", labels)
        out[split] = (images, labels.astype(np.int64))
    return out


def write_cifar_batches(folder: Path, per_batch: int = 10, seed: int = 0):
    """The official ``cifar-10-batches-py`` layout with ``per_batch`` images per batch file."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    out = {"train": ([], []), "test": ([], [])}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, size=(per_batch, 3072), dtype=np.uint8)
        labels = [int(v) for v in np.arange(per_batch) % 10]
        with open(folder / name, "wb") as f:
            pickle.dump({b"data": data, b"labels": labels}, f)
        split = "test" if name == "test_batch" else "train"
        out[split][0].append(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
        out[split][1].append(np.asarray(labels, dtype=np.int64))
    return {k: (np.concatenate(v[0]), np.concatenate(v[1])) for k, v in out.items()}


def write_image_folder(root: Path, classes, per_class: int = 3, size=(32, 32), seed: int = 0):
    """``root/<class>/<i>.png`` (lossless) with random RGB images; returns ``(images, labels)`` in order."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    images, labels = [], []
    for label, name in enumerate(classes):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            image = rng.integers(0, 256, size=(size[0], size[1], 3), dtype=np.uint8)
            Image.fromarray(image).save(root / name / f"{i:04d}.png")
            images.append(image)
            labels.append(label)
    return np.stack(images), np.asarray(labels, dtype=np.int64)


def digits_loaders(batch_size: int = 64, n_train: int = 512, n_val: int = 256):
    """scikit-learn's real 8x8 digits as ``[N, 1, 8, 8]`` float loaders (train shuffled with a seed)."""
    import torch
    from sklearn.datasets import load_digits
    from torch.utils.data import DataLoader, TensorDataset

    digits = load_digits()
    x = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0
    y = torch.tensor(digits.target, dtype=torch.int64)
    train = TensorDataset(x[:n_train], y[:n_train])
    val = TensorDataset(x[n_train:n_train + n_val], y[n_train:n_train + n_val])
    return (DataLoader(train, batch_size, shuffle=True, generator=torch.Generator().manual_seed(0)),
            DataLoader(val, batch_size))


def quiet_trainer(**kwargs):
    """A ``Trainer`` with no progress bar, summary or logger unless asked, on CPU."""
    import pytorch_lightning as pl

    defaults = dict(accelerator="cpu", devices=1, logger=False, enable_progress_bar=False,
                    enable_model_summary=False, enable_checkpointing=False, num_sanity_val_steps=0)
    defaults.update(kwargs)
    return pl.Trainer(**defaults)
