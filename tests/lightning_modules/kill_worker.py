"""Train a tiny ABC LeNet-5 on real MNIST, optionally SIGKILL itself mid-epoch, or resume from last.ckpt.

    python -m tests.lightning_modules.kill_worker --dir D --out w.pt                  # uninterrupted
    python -m tests.lightning_modules.kill_worker --dir D --out w.pt --kill-at-step 5  # dies, no cleanup
    python -m tests.lightning_modules.kill_worker --dir D --out w.pt --resume           # from D/last.ckpt

``last.ckpt`` is written every 2 training steps; ``--kill-at-step k`` sends SIGKILL to this process at the end
of step k (before that step's checkpoint), so the resumed run repeats the steps after the last checkpoint.
"""
import argparse
import os
import signal
from pathlib import Path

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback, ModelCheckpoint

from lightning_modules.data import MNISTDataModule
from lightning_modules.models import build_model
from lightning_modules.module import ClassificationModule

EPOCHS, STEPS_PER_EPOCH = 2, 8


class KillAtStep(Callback):
    """SIGKILL this process when the trainer reaches ``step`` optimizer steps (no cleanup, no checkpoint)."""

    def __init__(self, step: int):
        self.step = step

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if trainer.global_step == self.step:
            os.kill(os.getpid(), signal.SIGKILL)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--kill-at-step", type=int, default=None)
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    pl.seed_everything(0)
    data = MNISTDataModule(batch_size=16, val_size=32, train_subset=16 * STEPS_PER_EPOCH, seed=0)
    model = build_model("local_lenet5", abc={"num_weight_bases": 2, "num_act_bases": 2})
    model.insert(len(model) - 1, torch.nn.Dropout(0.3))  # a random layer: its masks must also match
    module = ClassificationModule(model, optimizer=lambda p: torch.optim.Adam(p, lr=1e-3))
    callbacks = [ModelCheckpoint(dirpath=args.dir, save_last=True, save_top_k=0, every_n_train_steps=2)]
    if args.kill_at_step is not None:
        callbacks.append(KillAtStep(args.kill_at_step))
    trainer = pl.Trainer(max_epochs=EPOCHS, accelerator="cpu", logger=False, enable_progress_bar=False,
                         enable_model_summary=False, limit_val_batches=1, callbacks=callbacks)
    ckpt = str(Path(args.dir) / "last.ckpt") if args.resume else None
    trainer.fit(module, data, ckpt_path=ckpt)
    torch.save({"state_dict": module.state_dict(), "global_step": trainer.global_step}, args.out)


if __name__ == "__main__":
    main()
