"""CIFAR-10 datamodule (32x32 RGB, 10 classes), with the standard padded-crop + flip augmentation."""
import tarfile

from lightning_modules.data.base import ArrayDataModule
from lightning_modules.data.download import download_url
from lightning_modules.data.sources import CIFAR10_CLASSES, CIFAR10_MD5, CIFAR10_URL, cifar10_cache_dir, load_cifar10


class CIFAR10DataModule(ArrayDataModule):
    """CIFAR-10: 50,000 training (minus ``val_size``) and 10,000 test images.

    Sources: under ``root`` the official extracted python batches, the official tarball, or an
    ImageFolder tree ``<root>/<train|test>/<class>/*.(jpg|png)``; then the official tarball that
    ``prepare_data`` downloads (``download=True``) from the CIFAR site into the cache.
    """

    name = "cifar10"
    classes = CIFAR10_CLASSES
    mean = (0.4914, 0.4822, 0.4465)
    std = (0.2470, 0.2435, 0.2616)
    augmentation = {"crop_padding": 4, "hflip": True}

    def load(self, split: str):
        return load_cifar10(split, self.root)

    def fetch(self) -> None:
        cache = cifar10_cache_dir()
        tarball = download_url(CIFAR10_URL, cache / "cifar-10-python.tar.gz", CIFAR10_MD5)
        with tarfile.open(tarball) as tar:
            tar.extractall(cache, filter="data")
