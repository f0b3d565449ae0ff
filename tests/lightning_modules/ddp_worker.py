"""Train a small ABC CNV on a CIFAR-10 folder with 1 or N CPU processes and save the final weights.

Run as a module (Lightning's DDP launcher re-runs this command line for every other rank):
    python -m tests.lightning_modules.ddp_worker --root <cifar> --devices 2 --batch-size 8 --out w.pt
The global batch is ``devices * batch_size``. The network has no BatchNorm: torch's SyncBatchNorm works
only on GPUs, and unsynchronised BatchNorm normalises each process's half batch on its own, which is a
different computation from one process normalising the whole batch (on GPUs use sync_batchnorm=True).
"""
import argparse

import pytorch_lightning as pl
import torch

from lightning_modules.data import CIFAR10DataModule
from lightning_modules.models import build_model
from lightning_modules.module import ClassificationModule


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", required=True)
    parser.add_argument("--devices", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    torch.set_num_threads(1)
    pl.seed_everything(0)
    data = CIFAR10DataModule(root=args.root, batch_size=args.batch_size, val_size=16, seed=0)
    model = build_model("local_cnv", abc={"num_weight_bases": 2, "num_act_bases": 2}, arch_kwargs={"width": 0.1})
    for name, layer in list(model.named_children()):
        if isinstance(layer, torch.nn.modules.batchnorm._BatchNorm):
            setattr(model, name, torch.nn.Identity())
    module = ClassificationModule(model, optimizer=lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9))
    trainer = pl.Trainer(accelerator="cpu", devices=args.devices, strategy="ddp" if args.devices > 1 else "auto",
                         max_epochs=args.epochs, logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                         num_sanity_val_steps=0, limit_val_batches=1)
    initial = {k: v.clone() for k, v in module.model.state_dict().items()}
    trainer.fit(module, data)
    if trainer.is_global_zero:
        torch.save({"state": module.model.state_dict(), "initial": initial, "global_step": trainer.global_step,
                    "world_size": trainer.world_size}, args.out)


if __name__ == "__main__":
    main()
