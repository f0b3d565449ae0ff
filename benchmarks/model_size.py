"""Benchmark: deployed model size in bytes against the number of binary weight bases M (seed 002's Table III:
file size of a float vs a binary model vs a binary model with fewer filters).

For LeNet-5, LFC, CNV and ResNet-18 (``brevitas_abc.models.create_model``), every candidate layer is swapped
to ABC with M = 1..5 weight bases (N = M activation bases; ``brevitas_abc.ABCConfig`` defaults: first and
last layer kept float) and counted by ``brevitas_abc.summary``: M bits per weight for the bases, float32
for alpha, the activation shifts/betas, biases, BatchNorm and the float layers. The float32 model of the
same shape is beside it. No training, no data: sizes depend on shapes only (seed 0 for the weights).

    python benchmarks/model_size.py

Writes ``benchmarks/results/model_size/results.json``, ``table.md`` and ``model_size.png``.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch

from benchmarks.training import ROOT, argv_command, metadata, write_json

MODELS = {"lenet5": {}, "lfc": {}, "cnv": {}, "resnet18": {}}


def sizes(name: str, max_bases: int) -> list[dict]:
    from brevitas_abc import ABCConfig, swap
    from brevitas_abc.models import create_model
    from brevitas_abc.summary import summary

    torch.manual_seed(0)
    float_summary = summary(create_model(name, **MODELS[name]))
    rows = [{"model": name, "M": 0, "variant": "float32", "bytes": float_summary.deployed_bytes,
             "binary_bytes": 0.0, "float_bytes": float_summary.deployed_bytes,
             "learned": float_summary.total.learned}]
    for m in range(1, max_bases + 1):
        torch.manual_seed(0)
        model = swap(create_model(name, **MODELS[name]), ABCConfig(num_weight_bases=m, num_act_bases=m), verbose=False)
        s = summary(model)
        rows.append({"model": name, "M": m, "variant": f"ABC M={m}", "bytes": s.deployed_bytes,
                     "binary_bytes": s.total.binary_bytes, "float_bytes": s.total.float_bytes,
                     "learned": s.total.learned, "float_model_bytes": s.float_model_bytes,
                     "compression": s.float_model_bytes / max(s.deployed_bytes, 1)})
    return rows


def write_outputs(rows: list[dict], meta: dict, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    write_json(out / "results.json", meta, rows)
    models = list(dict.fromkeys(r["model"] for r in rows))
    ms = sorted({r["M"] for r in rows if r["M"] > 0})
    by = {(r["model"], r["M"]): r for r in rows}
    lines = ["| model | float32 B | " + " | ".join(f"M={m} B (x smaller)" for m in ms) + " |",
             "|---|---:|" + "---:|" * len(ms)]
    for name in models:
        lines.append(f"| {name} | {by[(name, 0)]['bytes']:,.0f} | " + " | ".join(
            f"{by[(name, m)]['bytes']:,.0f} ({by[(name, m)]['compression']:.1f}x)" for m in ms) + " |")
    (out / "table.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines), flush=True)
    fig, ax = plt.subplots(figsize=(6, 4))
    for name in models:
        line, = ax.plot(ms, [by[(name, m)]["bytes"] for m in ms], "o-", label=name)
        ax.axhline(by[(name, 0)]["bytes"], color=line.get_color(), linestyle=":", linewidth=1)
    ax.set_yscale("log")
    ax.set_xticks(ms)
    ax.set_xlabel("number of weight bases M (N = M)")
    ax.set_ylabel("deployed bytes (dotted: float32 model)")
    ax.set_title("Model size vs binary bases (brevitas_abc.summary)", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "model_size.png", dpi=110)
    plt.close(fig)


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--max-bases", type=int, default=5)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "model_size")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    rows = [row for name in args.models for row in sizes(name, args.max_bases)]
    meta = metadata(argv_command(__file__, argv), "none (sizes depend on shapes only)", None, 0,
                    benchmark="model_size", counting="brevitas_abc.summary: M bits per base weight, float32 for "
                    "alpha, shifts/betas, biases, BatchNorm and float layers; ABCConfig keep_first/keep_last")
    write_outputs(rows, meta, args.out)
    return rows


if __name__ == "__main__":
    main()
