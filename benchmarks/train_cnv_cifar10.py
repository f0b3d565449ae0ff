"""Benchmark: CNV (width 0.5) on all of CIFAR-10 at a real budget, one variant per command, resumable.

The network is FINN's CNV in FINN's layer order (conv -> BatchNorm -> activation -> max-pool), the order that
lowers to FINN hardware layers for every variant (pooling acts on quantised activations).

Variants (``--variant``): ``float``; the stock-Brevitas baselines ``w1a1``, ``w1a2``, ``w2a2`` (every layer
quantised with Brevitas's own quantisers, an 8-bit input quantiser in front, as the bnn_pynq CNVs); ABC-Net
``abc11``, ``abc31``, ``abc33``, ``abc53`` (M weight bases, N activation bases) with ``coefficient_bits`` 4
(integer alpha/beta, so every variant builds with FINN). In the ABC variants every layer is ABC: the first one
has M binary weight bases on the 8-bit quantised input (N = None, as the first layer of a W1A* CNV reads 8-bit
pixels), every other layer M weight and N activation bases (the ABC activation is the nonlinearity: a float
ReLU directly before it is dropped; one before a max-pool stays, which changes nothing since every threshold
of the default shifts is > 0).

Recipe (the staged recipe that took LFC to 99.17 %): the float CNV trains first (``--epochs``, default 40);
every binary variant then starts from the float weights (by name for ABC, by layer order for Brevitas) and
trains ``--epochs`` (default 30) with knowledge distillation from the float network (weight 0.5, temperature 4).
``--calibration-images K`` first calibrates the binary variant on K training images, a seeded random unaugmented
sample (``brevitas_abc.calibrate``: ABC shifts/betas fitted to the float network's layer inputs, ABC weights to each
layer's inputs, Brevitas quantisers by their calibration mode, BatchNorm statistics re-estimated); off by default, so
the staged recipe without it stays the reference. (Until 706773d the sample was the split's first K images, all
airplanes: 1 epoch of fine-tuning from that calibrated ABC(3,3) start ended below the uncalibrated start.)
The multi-bit stock weights (W2A2) use Brevitas's per-channel MSE weight scale (``--weight-scaling mse``, default;
``max``, the per-tensor max |w| scale, rounds 80-98 % of the float CNV's weights to 0 at 2 bits and trained to 65.88 %).
Adam lr 1e-3 with a cosine decay to 0, batch 128, no weight decay, latent weights of binary layers clipped to
[-1, 1]; all 50,000 training images with a random crop (4 px zero padding) and a horizontal flip, normalised
with the CIFAR-10 mean/std; top-1 on the 10,000 test images after the last epoch (no model selection).

Each command writes ``<results>/<variant>.json`` (command, recipe, seed, times, per-epoch history) and keeps
its checkpoints in ``<work>/<variant>/`` (``last.ckpt`` after every epoch, ``final.pt`` at the end): a run that
is cut off resumes from ``last.ckpt`` when the same command runs again. ABC layers train with the compiled
kernels.

    python benchmarks/train_cnv_cifar10.py --variant float --threads 1
    python benchmarks/train_cnv_cifar10.py --variant abc33 --threads 1      # after float has finished
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import pytorch_lightning as pl
import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without reinstalling

from benchmarks.training import brevitas_quantized, calibration_images, cifar_root  # noqa: E402

WIDTH = 0.5
STOCK = {"w1a1": (1, 1), "w1a2": (1, 2), "w2a2": (2, 2)}
ABC = {"abc11": (1, 1), "abc31": (3, 1), "abc33": (3, 3), "abc53": (5, 3)}
VARIANTS = ("float", *STOCK, *ABC)
COEFFICIENT_BITS = 4


def float_cnv() -> nn.Sequential:
    """The zoo CNV (``brevitas_abc.models`` ``cnv``, FINN's layer order conv -> BatchNorm -> ReLU -> MaxPool, FC
    head ending in a BatchNorm over the classes) at ``WIDTH``, flattened into one ``nn.Sequential``."""
    from brevitas_abc.models import create_model

    model = create_model("cnv", num_classes=10, width=WIDTH)
    return nn.Sequential(*model.features, *model.classifier)


def abc_cnv(num_weight_bases: int, num_act_bases: int, float_state: dict | None) -> nn.Sequential:
    """The ABC CNV of the module docstring, initialised from ``float_state`` (by name) when given."""
    import brevitas_abc
    from brevitas.nn import QuantIdentity
    from brevitas.quant import Int8ActPerTensorFloat

    from lightning_modules.models.builder import drop_activations_before_binary_inputs

    model = float_cnv()
    if float_state is not None:
        model.load_state_dict(float_state)
    common = dict(keep_first=False, keep_last=False, coefficient_bits=COEFFICIENT_BITS)
    first = next(name for name, m in model.named_modules() if isinstance(m, nn.Conv2d))
    brevitas_abc.swap(model, brevitas_abc.ABCConfig(num_weight_bases, None, **common),
                      filter_fn=lambda m, name: name == first, verbose=False)
    brevitas_abc.swap(model, brevitas_abc.ABCConfig(num_weight_bases, num_act_bases, **common),
                      filter_fn=lambda m, name: name != first, verbose=False)
    drop_activations_before_binary_inputs(model)
    return nn.Sequential(QuantIdentity(act_quant=Int8ActPerTensorFloat, bit_width=8, return_quant_tensor=False),
                         *model)


def stock_cnv(weight_bits: int, act_bits: int, float_state: dict | None, weight_scaling: str = "mse") -> nn.Sequential:
    """Brevitas W{w}A{a} CNV; from ``float_state`` by layer order (conv, linear and BatchNorm weights).
    ``weight_scaling`` (multi-bit weights only): ``brevitas_quantized``'s ``"mse"`` (per channel, the default) or
    ``"max"`` (per tensor; at 2 bits it rounds most of the float weights to 0)."""
    model = brevitas_quantized(float_cnv(), weight_bits, act_bits, weight_scaling=weight_scaling)
    if float_state is not None:
        source = float_cnv()
        source.load_state_dict(float_state)
        kinds = (nn.Conv2d, nn.Linear, nn.BatchNorm2d, nn.BatchNorm1d)
        pairs = zip([m for m in source.modules() if isinstance(m, kinds)],
                    [m for m in model.modules() if isinstance(m, kinds)])
        with torch.no_grad():
            for src, dst in pairs:
                for key, value in src.state_dict().items():
                    target = dst.state_dict().get(key)
                    if target is None or target.shape != value.shape:
                        raise ValueError(f"float weight {key} {tuple(value.shape)} does not fit {type(dst).__name__}")
                    target.copy_(value)
    return model


def calibrate_from_float(model: nn.Sequential, variant: str, float_state: dict, images: torch.Tensor) -> str:
    """``brevitas_abc.calibrate`` the freshly initialised binary ``model`` on ``images`` (normalised training
    images); ABC layers fit the float CNV's input to the same layer (its module names shifted by the input
    quantiser). Returns the report's first line."""
    import brevitas_abc

    reference = None
    if variant in ABC:
        # module i of the ABC net is module i-1 of the float net: the input quantiser comes first
        reference = nn.Sequential(nn.Identity(), *_loaded_float(float_state))
    report = brevitas_abc.calibrate(model, images.split(128), reference=reference, verbose=False)
    return str(report).splitlines()[0]


def _loaded_float(float_state: dict) -> nn.Sequential:
    model = float_cnv()
    model.load_state_dict(float_state)
    return model


def build(variant: str, float_state: dict | None, weight_scaling: str = "mse") -> nn.Sequential:
    """The ``variant``'s CNV (``weight_scaling``: the stock variants' multi-bit weight quantiser, see ``stock_cnv``)."""
    if variant == "float":
        return float_cnv()
    if variant in STOCK:
        return stock_cnv(*STOCK[variant], float_state, weight_scaling)
    return abc_cnv(*ABC[variant], float_state)


class EpochProgress(pl.Callback):
    """The test top-1 of each validated epoch on stdout, flushed (step lines come from the module's default
    ``ProgressLines``): readable in a log file."""

    def __init__(self, variant: str):
        self.variant = variant

    def on_validation_epoch_end(self, trainer, pl_module):
        acc = trainer.callback_metrics.get("val_acc1")
        if acc is not None and not trainer.sanity_checking:
            print(f"[{self.variant}] epoch {trainer.current_epoch} test top-1 {100 * float(acc):.2f} %", flush=True)


def history(log_dir: Path) -> list[dict]:
    """Per-epoch rows of the CSV log (train loss, test top-1) across resumed runs."""
    import csv

    rows: dict[int, dict] = {}
    for path in sorted(log_dir.glob("version_*/metrics.csv")):
        with path.open() as handle:
            for row in csv.DictReader(handle):
                if row.get("epoch", "") == "":
                    continue
                entry = rows.setdefault(int(row["epoch"]), {"epoch": int(row["epoch"])})
                for key in ("train_loss_epoch", "val_acc1", "train_acc1"):
                    if row.get(key):
                        entry[key] = float(row[key]) * (100 if "acc" in key else 1)
    return [rows[k] for k in sorted(rows)]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", required=True, choices=VARIANTS)
    parser.add_argument("--epochs", type=int, default=None, help="default: 40 for float, 30 for binary variants")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--distill-weight", type=float, default=0.5)
    parser.add_argument("--weight-scaling", choices=("mse", "max"), default="mse",
                        help="multi-bit stock weights (w2a2): per-channel MSE scale (default) or per-tensor max |w|")
    parser.add_argument("--calibration-images", type=int, default=0,
                        help="training images that calibrate a binary variant before training (0: none)")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train-subset", type=int, default=None, help="fewer training images (quick checks only)")
    parser.add_argument("--test-subset", type=int, default=None, help="fewer test images (quick checks only)")
    parser.add_argument("--work", type=Path, default=ROOT / "outputs" / "cnv_cifar10",
                        help="checkpoints and logs, one folder per variant")
    parser.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results" / "cnv_cifar10")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    epochs = args.epochs or (40 if args.variant == "float" else 30)
    work = args.work / args.variant
    work.mkdir(parents=True, exist_ok=True)
    done = args.results / f"{args.variant}.json"
    if (work / "final.pt").is_file() and done.is_file() and json.loads(done.read_text()).get("epochs") == epochs:
        print(f"[{args.variant}] already trained ({done}); delete {work / 'final.pt'} to train again", flush=True)
        return json.loads(done.read_text())
    float_state, teacher = None, None
    if args.variant != "float":
        float_path = args.work / "float" / "final.pt"
        if not float_path.is_file():
            raise FileNotFoundError(f"{float_path} not found: train the float variant first "
                                    f"(python benchmarks/train_cnv_cifar10.py --variant float)")
        float_state = torch.load(float_path)
        teacher = float_cnv()
        teacher.load_state_dict(float_state)

    from brevitas_abc.function import use_default_kernels
    from lightning_modules.callbacks import LatentWeightClipping
    from lightning_modules.data import CIFAR10DataModule
    from lightning_modules.module import ClassificationModule

    use_default_kernels()
    pl.seed_everything(args.seed, workers=True)
    model = build(args.variant, float_state, args.weight_scaling)
    data = CIFAR10DataModule(root=str(cifar_root()), batch_size=args.batch_size, val_size=0, seed=args.seed,
                             augment=True, train_subset=args.train_subset, test_subset=args.test_subset)
    calibration = None
    last = work / "last.ckpt"
    if float_state is not None and args.calibration_images and not last.is_file():
        data.setup("fit")
        images, _ = calibration_images(data, min(args.calibration_images, len(data.train_set)), args.seed)
        calibration = calibrate_from_float(model, args.variant, float_state, images)
        print(f"[{args.variant}] {calibration}", flush=True)
    module = ClassificationModule(
        model, optimizer=lambda p: torch.optim.Adam(p, lr=args.lr),
        lr_scheduler=lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=epochs),
        teacher=teacher, distill_weight=args.distill_weight if teacher is not None else 0.5)
    # save_top_k=1 without a monitor keeps the latest epoch; last.ckpt is written with it after every epoch
    # (with save_top_k=0 Lightning writes no last.ckpt until the end of fit)
    callbacks = [pl.callbacks.ModelCheckpoint(dirpath=work, filename="{epoch}", save_top_k=1, save_last=True,
                                              every_n_epochs=1, save_on_train_epoch_end=True),
                 EpochProgress(args.variant)]
    if args.variant != "float":
        callbacks.append(LatentWeightClipping())
    trainer = pl.Trainer(max_epochs=epochs, logger=pl.loggers.CSVLogger(work, name="logs"), callbacks=callbacks,
                         enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
                         check_val_every_n_epoch=2, deterministic=False, accelerator="cpu", devices=1)
    resumed_from = None
    if last.is_file():
        resumed_from = int(torch.load(last, map_location="cpu", weights_only=False)["epoch"]) + 1
        print(f"[{args.variant}] resuming from {last} (epoch {resumed_from})", flush=True)
    start = time.perf_counter()
    trainer.fit(module, data, ckpt_path=str(last) if last.is_file() else None)
    wall = time.perf_counter() - start
    test = trainer.test(module, data, verbose=False)[0]
    torch.save(model.state_dict(), work / "final.pt")
    times = json.loads((work / "times.json").read_text()) if (work / "times.json").is_file() else []
    times.append({"epochs_from": resumed_from or 0, "epochs_to": epochs, "wall_s": round(wall, 1),
                  "threads": torch.get_num_threads()})
    (work / "times.json").write_text(json.dumps(times))
    result = {
        "variant": args.variant, "top1": round(test["test_acc1"] * 100, 2), "top5": round(test["test_acc5"] * 100, 2),
        "epochs": epochs, "train_wall_s": round(sum(t["wall_s"] for t in times), 1), "runs": times,
        "train_images": len(data.train_set), "test_images": len(data.test_set),
        "command": "python " + shlex.join(["benchmarks/train_cnv_cifar10.py", *(sys.argv[1:] if argv is None else argv)]),
        "recipe": {"width": WIDTH, "optimizer": f"Adam lr {args.lr}, cosine to 0 over {epochs} epochs",
                   "batch_size": args.batch_size, "augmentation": "random crop (4 px zero padding) + horizontal flip",
                   "init": "float variant's final weights" if float_state is not None else "scratch",
                   "calibration": (f"{args.calibration_images} training images" if args.calibration_images else None)
                   if float_state is not None else None,
                   "distill": {"weight": args.distill_weight, "temperature": 4} if teacher is not None else None,
                   "coefficient_bits": COEFFICIENT_BITS if args.variant in ABC else None,
                   "bases": ABC.get(args.variant), "bits": STOCK.get(args.variant),
                   "weight_scaling": args.weight_scaling if STOCK.get(args.variant, (1,))[0] > 1 else None,
                   "weight_clipping": 1.0 if args.variant != "float" else None},
        "seed": args.seed, "torch": torch.__version__, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "history": history(work / "logs"),
    }
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / f"{args.variant}.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "history"}), flush=True)
    return result


if __name__ == "__main__":
    main()
