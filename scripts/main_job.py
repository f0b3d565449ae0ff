"""The README's main job: swap ABC layers into LeNet-5, train briefly on real MNIST (offline), export to
QONNX and verify the export by executing it on real test images, then print a short report.

    python scripts/main_job.py [--epochs 1] [--train-subset 20000] [--out outputs/main_job]
"""
import argparse
import time
from pathlib import Path

import pytorch_lightning as pl
import torch

import brevitas_abc
from lightning_modules.data import MNISTDataModule
from lightning_modules.models import build_model
from lightning_modules.module import ClassificationModule


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--train-subset", type=int, default=20000, help="training images per epoch (of 55,000)")
    parser.add_argument("--num-weight-bases", type=int, default=3)
    parser.add_argument("--num-act-bases", type=int, default=3)
    parser.add_argument("--export-images", type=int, default=256, help="real test images the QONNX check runs on")
    parser.add_argument("--out", type=Path, default=Path("outputs/main_job"))
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    start = time.time()
    pl.seed_everything(0, workers=True)
    config = brevitas_abc.ABCConfig(num_weight_bases=args.num_weight_bases, num_act_bases=args.num_act_bases)
    print(f"[1/3] LeNet-5 with ABC-Net layers (M={config.num_weight_bases}, N={config.num_act_bases})")
    model = build_model("lenet5", abc=config)
    data = MNISTDataModule(batch_size=128, train_subset=args.train_subset, seed=0)
    module = ClassificationModule(model, optimizer=lambda params: torch.optim.Adam(params, lr=2e-3))
    trainer = pl.Trainer(max_epochs=args.epochs, accelerator="cpu", default_root_dir=str(args.out),
                         logger=pl.loggers.CSVLogger(str(args.out), name="logs"), enable_checkpointing=False)
    print(f"[2/3] training {args.epochs} epoch(s) on {args.train_subset} real MNIST images, then testing on 10,000")
    trainer.fit(module, datamodule=data)
    test_acc = trainer.test(module, datamodule=data, verbose=False)[0]["test_acc1"]

    print(f"[3/3] exporting to QONNX and executing it on {args.export_images} real test images")
    data.setup("test")
    images = torch.cat([batch[0] for batch in data.test_dataloader()])[:args.export_images]
    report = brevitas_abc.export_qonnx(model, images, args.out / "lenet5_abc.onnx")
    size = brevitas_abc.summary(model)
    result = {"test_top1": float(test_acc), "export": str(report), "deployed_bytes": size.deployed_bytes,
              "float_bytes": size.float_model_bytes, "seconds": time.time() - start}
    print("\n== brevitas-abc main job ==")
    print(f"MNIST test top-1 (10,000 images): {100 * test_acc:.2f} %")
    print(report)
    print(f"model size: {size.deployed_bytes:,.0f} B (binary bases + float coefficients and float layers) vs "
          f"{size.float_model_bytes:,} B float32")
    print(f"files: {args.out.resolve()}  (QONNX: lenet5_abc.onnx, CSV logs: logs/)")
    print(f"done in {result['seconds']:.0f} s")
    return result


if __name__ == "__main__":
    main()
