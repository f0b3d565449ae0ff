"""Benchmark: pretrained float networks swapped to ABC-Net without training, with and without calibration
(``brevitas_abc.calibrate``), and after 1 epoch of fine-tuning from each start.

Networks: LeNet-5 (``local_lenet5``) and LFC (``local_lfc``) on real MNIST, trained float in this script
(``--float-epochs``, default 3, on ``--train-subset`` images); the CNV (width 0.5) on CIFAR-10 trained float on
all of CIFAR-10 for 40 epochs by ``benchmarks/train_cnv_cifar10.py --variant float`` (its ``final.pt``,
``--cnv-float``). Swaps: ``ABCConfig(M, N)`` with (M, N) = (3, 3) and (5, 5), first and last layer float (the
library defaults), then the float ReLU in front of each ABC layer dropped (``drop_activations_before_binary_inputs``,
as ``build_model`` does: the ABC activation is the nonlinearity). "calibrated" = ``swap(...,
calibration_data=...)`` on ``--calibration-images`` training images (a seeded random sample, no augmentation;
CIFAR-10's training split is stored class by class, ``benchmarks.training.calibration_images``). For the CNV also the form
the CNV benchmark and the FINN build use (``train_cnv_cifar10.build("abc33" / "abc53")``: an 8-bit
``QuantIdentity`` on the input, every layer ABC, 4-bit integer coefficients), calibrated with
``brevitas_abc.calibrate(model, batches, reference=float)``.

Fine-tuning: 1 epoch over the same ``--train-subset`` (``--cnv-train-subset`` for the CNV; augmentation as the data module's default), Adam
``--finetune-lr`` constant, batch 128, latent weights clipped to [-1, 1] (``LatentWeightClipping``), no
distillation, BatchNorm statistics re-estimated on the calibration images at the end (``ReestimateBatchNorm``, for
both starts: training leaves running statistics that do not describe the eval-mode quantised network). Accuracy: top-1 on ``--test-subset`` test images (seeded subset).

    python benchmarks/calibration.py --threads 1 --cnv-float /work/main/outputs/cnv_cifar10/float/final.pt

Writes ``benchmarks/results/calibration/results.json`` (one entry per command; a later command for the same nets
replaces it, so the MNIST nets and the CNV can run separately), ``table.md`` and ``calibration.png``.
"""
from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch
from torch import nn

from benchmarks.training import DATA_NOTES, ROOT, argv_command, calibration_images, cifar_root, metadata

BASES = ((3, 3), (5, 5))
CNV_FINN_FORM = ("abc33", "abc53")


def tensors(data, split: str, count: int | None) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``count`` (all if None) images and labels of a prepared split, as stacked tensors."""
    dataset = data.train_set if split == "train" else data.test_set
    n = len(dataset) if count is None else min(count, len(dataset))
    items = [dataset[i] for i in range(n)]
    return torch.stack([x for x, _ in items]), torch.tensor([int(y) for _, y in items])


@torch.no_grad()
def top1(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int = 500) -> float:
    model.eval()
    hits = sum(int((model(x[i:i + batch]).argmax(1) == y[i:i + batch]).sum()) for i in range(0, len(x), batch))
    return round(100.0 * hits / len(y), 2)


def fit(model: nn.Module, data, epochs: int, lr: float, seed: int, clip: bool,
        batchnorm_batches: list | None = None) -> float:
    """Train ``epochs`` epochs (Adam, constant ``lr``), BatchNorm statistics re-estimated on ``batchnorm_batches``
    at the end (``ReestimateBatchNorm``) if given; returns the wall time in seconds."""
    import pytorch_lightning as pl

    from lightning_modules.callbacks import LatentWeightClipping, ReestimateBatchNorm
    from lightning_modules.module import ClassificationModule

    pl.seed_everything(seed, workers=True)
    model.train()
    module = ClassificationModule(model, optimizer=lambda p: torch.optim.Adam(p, lr=lr))
    trainer = pl.Trainer(max_epochs=epochs, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, num_sanity_val_steps=0, limit_val_batches=0,
                         callbacks=([LatentWeightClipping()] if clip else []) +
                         ([ReestimateBatchNorm(batchnorm_batches)] if batchnorm_batches else []),
                         accelerator="cpu", devices=1)
    start = time.perf_counter()
    trainer.fit(module, data)
    return round(time.perf_counter() - start, 1)


def mnist_float(arch: str, data, args) -> nn.Module:
    from lightning_modules.models import build_model

    torch.manual_seed(args.seed)
    model = build_model(arch, num_classes=10)
    fit(model, data, args.float_epochs, 1e-3, args.seed, clip=False)
    return model.eval()


def cnv_float(path: Path, arch: str) -> tuple[nn.Module, int | None]:
    """The float CNV from ``final.pt`` (a state dict) or a Lightning checkpoint of a ``train_cnv_cifar10.py`` float run
    (cut short: the number of epochs it had finished is returned too). ``arch``: "zoo" (``train_cnv_cifar10.float_cnv``,
    FINN's layer order, the benchmark's network since c11f94a) or "local" (``lightning_modules`` ``cnv`` at width 0.5,
    pool -> BN -> ReLU order, the network of the benchmark's first float run)."""
    if not path.is_file():
        raise FileNotFoundError(f"--cnv-float {path} not found: train it with "
                                "python benchmarks/train_cnv_cifar10.py --variant float")
    state = torch.load(path, map_location="cpu", weights_only=False)
    epochs = None
    if "state_dict" in state:  # a Lightning checkpoint of ClassificationModule: the network is under "model."
        epochs = int(state["epoch"]) + 1
        state = {k[len("model."):]: v for k, v in state["state_dict"].items() if k.startswith("model.")}
    model = float_architecture(arch)
    model.load_state_dict(state)
    return model.eval(), epochs


def float_architecture(arch: str) -> nn.Sequential:
    if arch == "zoo":
        from benchmarks.train_cnv_cifar10 import float_cnv

        return float_cnv()
    from benchmarks.train_cnv_cifar10 import WIDTH
    from lightning_modules.models.architectures import cnv

    return cnv(num_classes=10, width=WIDTH)


def swapped(float_model: nn.Module, m: int, n: int, calibration: list | None) -> nn.Module:
    import brevitas_abc
    from lightning_modules.models.builder import drop_activations_before_binary_inputs

    model = brevitas_abc.swap(copy.deepcopy(float_model), brevitas_abc.ABCConfig(m, n), verbose=False,
                              calibration_data=calibration)
    drop_activations_before_binary_inputs(model)
    return model


def cnv_finn_form(float_model: nn.Module, variant: str, calibration: list | None) -> nn.Module:
    """``train_cnv_cifar10``'s ABC form of ``float_model`` (its ``abc_cnv``, on this float network): an 8-bit
    ``QuantIdentity`` on the input, the first conv M weight bases on it (N = None), every other layer ABC(M, N),
    4-bit coefficients, float ReLUs before ABC layers dropped."""
    import brevitas_abc
    from brevitas.nn import QuantIdentity
    from brevitas.quant import Int8ActPerTensorFloat

    from benchmarks.train_cnv_cifar10 import ABC, COEFFICIENT_BITS
    from lightning_modules.models.builder import drop_activations_before_binary_inputs

    m, n = ABC[variant]
    model = copy.deepcopy(float_model)
    common = dict(keep_first=False, keep_last=False, coefficient_bits=COEFFICIENT_BITS)
    first = next(name for name, module in model.named_modules() if isinstance(module, nn.Conv2d))
    brevitas_abc.swap(model, brevitas_abc.ABCConfig(m, None, **common), filter_fn=lambda mod, name: name == first,
                      verbose=False)
    brevitas_abc.swap(model, brevitas_abc.ABCConfig(m, n, **common), filter_fn=lambda mod, name: name != first,
                      verbose=False)
    model = nn.Sequential(QuantIdentity(act_quant=Int8ActPerTensorFloat, bit_width=8, return_quant_tensor=False),
                          *model)
    if calibration is not None:  # names of the ABC model are the float model's shifted by the input quantiser
        brevitas_abc.calibrate(model, calibration, reference=nn.Sequential(nn.Identity(), *copy.deepcopy(float_model)),
                               verbose=False)
    drop_activations_before_binary_inputs(model)
    return model


def run_net(net: str, float_model: nn.Module, data, args, rows: list[dict]) -> None:
    from brevitas_abc.function import use_default_kernels

    use_default_kernels()
    x_test, y_test = tensors(data, "test", None)
    x_cal, _ = calibration_images(data, args.calibration_images, args.seed)
    calibration = [x_cal[i:i + 100] for i in range(0, len(x_cal), 100)]
    float_top1 = top1(float_model, x_test, y_test)
    print(f"[{net}] float {float_top1:.2f} %", flush=True)
    rows.append({"net": net, "variant": "float", "calibrated": None, "top1_no_training": float_top1,
                 "top1_finetuned": None})
    variants = [(f"ABC({m},{n})", lambda cal, m=m, n=n: swapped(float_model, m, n, cal)) for m, n in BASES]
    if net == "cnv":
        variants += [(f"{v} all layers, 8-bit input, 4-bit coeffs",
                      lambda cal, v=v: cnv_finn_form(float_model, v, cal)) for v in CNV_FINN_FORM]
    for name, make in variants:
        for calibrated in (False, True):
            start = time.perf_counter()
            model = make(calibration if calibrated else None)
            calibrate_s = round(time.perf_counter() - start, 1)
            before = top1(model, x_test, y_test)
            wall = fit(model, data, 1, args.finetune_lr, args.seed, clip=True,
                       batchnorm_batches=calibration) if args.finetune else None
            after = top1(model, x_test, y_test) if args.finetune else None
            row = {"net": net, "variant": name, "calibrated": calibrated, "top1_no_training": before,
                   "top1_finetuned": after, "float_top1": float_top1, "swap_calibrate_s": calibrate_s,
                   "finetune_s": wall}
            rows.append(row)
            print(f"[{net}] {name} {'calibrated' if calibrated else 'uncalibrated'}: {before:.2f} % without "
                  f"training, {after} % after 1 epoch ({calibrate_s} s swap+calibration, {wall} s fine-tuning)",
                  flush=True)


def table(rows: list[dict]) -> str:
    lines = ["| net | variant | float | no training, uncalibrated | no training, calibrated | "
             "1 epoch from uncalibrated | 1 epoch from calibrated |", "|---|---|---:|---:|---:|---:|---:|"]
    for net in dict.fromkeys(r["net"] for r in rows):
        floats = [r for r in rows if r["net"] == net and r["variant"] == "float"]
        for variant in dict.fromkeys(r["variant"] for r in rows if r["net"] == net and r["variant"] != "float"):
            cells = {r["calibrated"]: r for r in rows if r["net"] == net and r["variant"] == variant}
            fmt = lambda v: "-" if v is None else f"{v:.2f}"  # noqa: E731
            lines.append(f"| {net} | {variant} | {fmt(floats[0]['top1_no_training'])} | "
                         f"{fmt(cells[False]['top1_no_training'])} | {fmt(cells[True]['top1_no_training'])} | "
                         f"{fmt(cells[False]['top1_finetuned'])} | {fmt(cells[True]['top1_finetuned'])} |")
    return "\n".join(lines) + "\n"


def figure(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = [(r["net"], r["variant"]) for r in rows if r["variant"] != "float" and r["calibrated"]]
    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(groups)), 4))
    series = [("uncalibrated", False, "top1_no_training"), ("calibrated", True, "top1_no_training"),
              ("1 epoch from uncalibrated", False, "top1_finetuned"), ("1 epoch from calibrated", True, "top1_finetuned")]
    width = 0.8 / len(series)
    for k, (label, calibrated, key) in enumerate(series):
        values = [next((r[key] or 0.0) for r in rows if (r["net"], r["variant"]) == g and r["calibrated"] == calibrated)
                  for g in groups]
        ax.bar([i + (k - 1.5) * width for i in range(len(groups))], values, width, label=label)
    floats = {r["net"]: r["top1_no_training"] for r in rows if r["variant"] == "float"}
    for i, (net, _) in enumerate(groups):
        ax.hlines(floats[net], i - 0.4, i + 0.4, colors="black", linestyles="dashed")
    ax.set_xticks(range(len(groups)), [f"{net}\n{v.split(' all')[0]}{' (FINN form)' if 'all' in v else ''}"
                                       for net, v in groups], fontsize=7)
    ax.set_ylabel("top-1 (%)  (dashed: float)")
    ax.set_title("Pretrained float -> ABC: calibration and 1 epoch of fine-tuning")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nets", default="lenet5,lfc,cnv", help="comma-separated subset of lenet5, lfc, cnv")
    parser.add_argument("--cnv-float", type=Path, default=ROOT / "outputs" / "cnv_cifar10" / "float" / "final.pt")
    parser.add_argument("--cnv-arch", choices=("zoo", "local"), default="zoo",
                        help="architecture of --cnv-float (see cnv_float)")
    parser.add_argument("--float-epochs", type=int, default=3, help="float training of the MNIST nets")
    parser.add_argument("--train-subset", type=int, default=20000, help="training images (float MNIST nets, fine-tuning)")
    parser.add_argument("--cnv-train-subset", type=int, default=5000, help="CIFAR-10 images of the CNV's fine-tuning epoch")
    parser.add_argument("--test-subset", type=int, default=2000)
    parser.add_argument("--calibration-images", type=int, default=500)
    parser.add_argument("--finetune-lr", type=float, default=1e-4)
    parser.add_argument("--no-finetune", dest="finetune", action="store_false")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "calibration")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    from lightning_modules.data import CIFAR10DataModule, MNISTDataModule

    start = time.perf_counter()
    rows: list[dict] = []
    cnv_epochs = None
    nets = [n.strip() for n in args.nets.split(",") if n.strip()]
    for net in nets:
        if net not in ("lenet5", "lfc", "cnv"):
            raise ValueError(f"--nets entry {net!r} is not allowed: expected lenet5, lfc or cnv")
        common = dict(batch_size=128, val_size=0, test_subset=args.test_subset, seed=args.seed,
                      train_subset=args.cnv_train_subset if net == "cnv" else args.train_subset)
        if net == "cnv":
            data = CIFAR10DataModule(root=str(cifar_root()), **common)
            data.setup("fit")
            float_model, cnv_epochs = cnv_float(args.cnv_float, args.cnv_arch)
        else:
            data = MNISTDataModule(**common)
            data.setup("fit")
            float_model = mnist_float(f"local_{net}", data, args)
        run_net(net, float_model, data, args, rows)
    meta = metadata(argv_command(__file__, argv), "; ".join(DATA_NOTES[d] for d in dict.fromkeys(
        "cifar10" if n == "cnv" else "mnist" for n in nets)), {"float_mnist": args.float_epochs, "finetune": 1},
        args.seed, train_subset=args.train_subset, cnv_train_subset=args.cnv_train_subset, test_subset=args.test_subset,
        calibration_images=args.calibration_images, finetune_lr=args.finetune_lr,
        **({"cnv_float": str(args.cnv_float), "cnv_float_epochs": cnv_epochs or "final.pt (40)",
                                  "cnv_arch": args.cnv_arch} if "cnv" in nets
           else {}), wall_s=round(time.perf_counter() - start, 1))
    results = args.out / "results.json"
    runs = json.loads(results.read_text())["runs"] if results.is_file() else []
    runs = [run for run in runs if not set(run["nets"]) & set(nets)] + [{**meta, "nets": nets, "rows": rows}]
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(json.dumps({"runs": runs}, indent=2) + "\n")
    all_rows = [row for run in runs for row in run["rows"]]
    (args.out / "table.md").write_text(table(all_rows))
    figure(all_rows, args.out / "calibration.png")
    print(table(all_rows))
    return {"runs": runs}


if __name__ == "__main__":
    main()
