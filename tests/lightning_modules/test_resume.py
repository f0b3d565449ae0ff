"""Resume: fit 1 epoch, stop, resume from last.ckpt to 3 epochs == fit 3 epochs without stopping
(bit-for-bit: same shuffling, augmentation, dropout masks, optimiser and schedule state); and a training process
SIGKILLed mid-epoch, resumed from last.ckpt, == uninterrupted."""
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import ModelCheckpoint

from lightning_modules.data import CIFAR10DataModule
from lightning_modules.models import build_model
from lightning_modules.module import ClassificationModule
from tests.lightning_modules.lightning_test_helpers import quiet_trainer, write_cifar_batches

ROOT = Path(__file__).resolve().parents[2]


def _module():
    model = build_model("local_cnv", abc={"num_weight_bases": 2, "num_act_bases": 2}, arch_kwargs={"width": 0.1})
    model.insert(len(model) - 1, torch.nn.Dropout(0.3))  # a random layer: its masks must also match
    return ClassificationModule(model, optimizer=lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9),
                                lr_scheduler=lambda o: torch.optim.lr_scheduler.StepLR(o, 1, gamma=0.5))


def _fit(root, ckpt_dir, max_epochs, ckpt_path=None):
    pl.seed_everything(0)
    data = CIFAR10DataModule(root=str(root), batch_size=16, val_size=20, seed=0)  # augmentation on
    module = _module()
    trainer = quiet_trainer(max_epochs=max_epochs, enable_checkpointing=True, limit_val_batches=1,
                            callbacks=[ModelCheckpoint(dirpath=ckpt_dir, save_last=True)])
    trainer.fit(module, data, ckpt_path=ckpt_path)
    return module, trainer


def test_interrupted_and_resumed_equals_uninterrupted(tmp_path):
    write_cifar_batches(tmp_path / "cifar", per_batch=20)
    straight, _ = _fit(tmp_path / "cifar", tmp_path / "a", max_epochs=3)
    _fit(tmp_path / "cifar", tmp_path / "b", max_epochs=1)
    resumed, trainer = _fit(tmp_path / "cifar", tmp_path / "b", max_epochs=3, ckpt_path=str(tmp_path / "b" / "last.ckpt"))
    assert trainer.current_epoch == 3 and trainer.global_step == straight.trainer.global_step == 15
    for (name, a), b in zip(straight.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), name
    assert trainer.optimizers[0].param_groups[0]["lr"] == straight.trainer.optimizers[0].param_groups[0]["lr"]


def _worker(tmp_path, *args):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "tests.lightning_modules.kill_worker", *map(str, args)], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_sigkilled_mid_epoch_and_resumed_from_last_ckpt_equals_uninterrupted(tmp_path):
    """A process training on real MNIST (8 steps an epoch, last.ckpt every 2 steps) is SIGKILLed at step 5; resumed
    from last.ckpt (step 4, mid-epoch) it ends with the uninterrupted run's weights, bit for bit: the data loader
    skips the batches already trained, and the RNG state is restored right before the next batch."""
    straight = _worker(tmp_path, "--dir", tmp_path / "a", "--out", tmp_path / "a.pt")
    assert straight.returncode == 0, straight.stderr[-3000:]
    killed = _worker(tmp_path, "--dir", tmp_path / "b", "--out", tmp_path / "b.pt", "--kill-at-step", 5)
    assert killed.returncode == -signal.SIGKILL and not (tmp_path / "b.pt").exists()
    assert torch.load(tmp_path / "b" / "last.ckpt", weights_only=False)["global_step"] == 4
    resumed = _worker(tmp_path, "--dir", tmp_path / "b", "--out", tmp_path / "b.pt", "--resume")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "dataloader is not resumable" not in resumed.stderr
    a, b = torch.load(tmp_path / "a.pt"), torch.load(tmp_path / "b.pt")
    assert a["global_step"] == b["global_step"] == 16
    for name, value in a["state_dict"].items():
        assert torch.equal(value, b["state_dict"][name]), name
