"""Benchmark: top-1 against ABC's (M, N) on real MNIST, Fashion-MNIST or CIFAR-10, beside the float network
and stock-Brevitas W1A1 / W2A2 (and W1A2 on CIFAR-10) baselines, one recipe and one budget for all
(the trend of the ABC paper's Table 2: more weight bases M and activation bases N -> closer to float).

Networks: LeNet-5 (``local_lenet5``) on MNIST and Fashion-MNIST, CNV (``local_cnv``, ``width`` scaled to the
budget) on CIFAR-10. ABC variants (``build_model(arch, abc=...)``) keep the first and last layer float, as the
paper does; the Brevitas baselines (``benchmarks.training.brevitas_quantized``) quantise every layer. Recipe:
``benchmarks.training`` (Adam 1e-3, cosine to 0, from scratch, no augmentation), seed 0; ABC activation shifts
are the library default (``ABCLayerOptions.act_shifts``, "centered"), recorded in the JSON.

Budgets (``--budget``): quick = 10,000 MNIST / Fashion training images or 5,000 CIFAR-10 images, 1 epoch,
CNV width 0.25; full = 60,000 / 50,000 images, 3 epochs (MNIST/Fashion) or 2 epochs at CNV width 0.25
(CIFAR-10), about 10 / 25 minutes per dataset on 1 thread. Always the full 10,000-image test split.

    python benchmarks/accuracy_sweep.py --dataset mnist --budget quick --threads 1
    python benchmarks/accuracy_sweep.py --dataset cifar10 --budget full --threads 1

Writes ``benchmarks/results/accuracy_<dataset>/results.json``, ``table.md`` and ``accuracy.png``.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch

from brevitas_abc.nn.abc.options import ABCLayerOptions

from benchmarks.training import (DATA_NOTES, ROOT, argv_command, brevitas_quantized, datamodule, metadata,
                                 train_and_test, write_json)

ARCH = {"mnist": "local_lenet5", "fashion-mnist": "local_lenet5", "cifar10": "local_cnv"}
ABC_GRID = {"mnist": [(1, 1), (3, 1), (3, 3), (5, 5)], "fashion-mnist": [(1, 1), (3, 1), (3, 3), (5, 5)],
            "cifar10": [(1, 1), (3, 1), (3, 3)]}
BASELINES = {"mnist": [(1, 1), (2, 2)], "fashion-mnist": [(1, 1), (2, 2)], "cifar10": [(1, 1), (1, 2), (2, 2)]}
BUDGETS = {  # (train images or None for all, epochs, CNV width)
    "quick": {"mnist": (10000, 1, 1.0), "fashion-mnist": (10000, 1, 1.0), "cifar10": (5000, 1, 0.25)},
    "full": {"mnist": (None, 3, 1.0), "fashion-mnist": (None, 3, 1.0), "cifar10": (None, 2, 0.25)},
}


def variants(dataset: str) -> list[dict]:
    """Every variant of ``dataset``'s sweep: name, kind, (M, N) or bit widths, and its FINN estimate config."""
    out = [{"variant": "float", "kind": "float", "finn_config": None}]
    out += [{"variant": f"ABC({m},{n})", "kind": "abc", "M": m, "N": n, "finn_config": f"abc{m}{n}"}
            for m, n in ABC_GRID[dataset]]
    out += [{"variant": f"Brevitas W{w}A{a}", "kind": "brevitas", "weight_bits": w, "act_bits": a,
             "finn_config": f"w{w}a{a}"} for w, a in BASELINES[dataset]]
    return out


def build(dataset: str, spec: dict, width: float) -> torch.nn.Module:
    from lightning_modules.models import build_model

    arch = ARCH[dataset]
    kwargs = {"width": width} if arch == "local_cnv" else {}
    kwargs["in_channels"] = 3 if dataset == "cifar10" else 1
    if spec["kind"] == "abc":
        return build_model(arch, abc={"num_weight_bases": spec["M"], "num_act_bases": spec["N"]}, arch_kwargs=kwargs)
    model = build_model(arch, arch_kwargs=kwargs)
    if spec["kind"] == "brevitas":
        return brevitas_quantized(model, spec["weight_bits"], spec["act_bits"])
    return model


def plot(rows: list[dict], meta: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = {"float": "tab:gray", "abc": "tab:blue", "brevitas": "tab:orange"}
    fig, ax = plt.subplots(figsize=(max(6, 1.1 * len(rows)), 3.8))
    ax.bar([r["variant"].replace("Brevitas ", "Brevitas\n") for r in rows], [r["top1"] for r in rows],
           color=[colours[r["kind"]] for r in rows])
    for i, r in enumerate(rows):
        ax.text(i, r["top1"], f"{r['top1']:.1f}", ha="center", va="bottom", fontsize=8)
    low = min(r["top1"] for r in rows)
    ax.set_ylim(max(0.0, low - 10), 100)
    ax.set_ylabel("test top-1 (%)")
    ax.set_title(f"{meta['dataset']} {meta['arch']}: {meta['train_images']} train images, {meta['epochs']} epoch(s), "
                 f"seed {meta['seed']}", fontsize=9)
    ax.tick_params(axis="x", labelsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_outputs(rows: list[dict], meta: dict, out: Path) -> None:
    write_json(out / "results.json", meta, rows)
    lines = ["| variant | top-1 % | top-5 % | epochs | wall s |", "|---|---:|---:|---:|---:|"]
    lines += [f"| {r['variant']} | {r['top1']:.2f} | {r['top5']:.2f} | {r['epochs']} | {r['wall_s']:.0f} |" for r in rows]
    (out / "table.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines), flush=True)
    plot(rows, meta, out / "accuracy.png")


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=list(ARCH), required=True)
    parser.add_argument("--budget", choices=list(BUDGETS), default="quick")
    parser.add_argument("--train-subset", type=int, default=None, help="override the budget's training images")
    parser.add_argument("--epochs", type=int, default=None, help="override the budget's epochs")
    parser.add_argument("--width", type=float, default=None, help="override the budget's CNV width")
    parser.add_argument("--variants", nargs="+", default=None, help="names from the sweep (default: all)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    subset, epochs, width = BUDGETS[args.budget][args.dataset]
    subset = args.train_subset if args.train_subset is not None else subset
    epochs = args.epochs or epochs
    width = args.width or width
    out = args.out or ROOT / "benchmarks" / "results" / f"accuracy_{args.dataset}"
    specs = variants(args.dataset)
    if args.variants:
        unknown = set(args.variants) - {s["variant"] for s in specs}
        if unknown:
            raise ValueError(f"variants={sorted(unknown)} not allowed: expected some of {[s['variant'] for s in specs]}")
        specs = [s for s in specs if s["variant"] in args.variants]
    data = datamodule(args.dataset, args.batch_size, subset, None, args.seed)
    meta = metadata(argv_command(__file__, argv), DATA_NOTES[args.dataset], epochs, args.seed,
                    benchmark="accuracy_sweep", dataset=args.dataset, arch=ARCH[args.dataset],
                    arch_kwargs={"width": width} if args.dataset == "cifar10" else {}, budget=args.budget,
                    train_images=subset or "all", batch_size=args.batch_size,
                    recipe="Adam lr 1e-3, cosine to 0, from scratch, no augmentation; ABC keeps first/last layer "
                           "float; Brevitas baselines quantise every layer (8-bit input)",
                    act_shifts=ABCLayerOptions.act_shifts)
    rows = []
    for spec in specs:
        model = build(args.dataset, spec, width)
        result = train_and_test(model, data, epochs, args.seed, log_dir=out / "logs", name=spec["variant"])
        rows.append({**spec, **result})
        meta["train_images"] = result["train_images"]
        print(rows[-1], flush=True)
        write_outputs(rows, meta, out)  # partial results survive an interrupted run
    return rows


if __name__ == "__main__":
    main()
