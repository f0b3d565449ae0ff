"""Benchmark: how well M binary bases approximate real trained weights (the ABC paper's Fig. S2).

A float LeNet-5 (``local_lenet5``) is trained briefly on real MNIST (``benchmarks.training`` recipe, seed 0);
then every Conv2d/Linear weight ``W`` is approximated as ``sum_m alpha_m B_m`` with
``B_m = sign(W - mean W + u_m std W)`` (ABC-Net eq. 3, ``brevitas_abc.function.abc_weight_bases``, the
"paper" shifts ``u_m`` of ``brevitas_abc.core.presets``) and ``alpha`` the least-squares solution of eq. 1
(``ridge_least_squares_alpha`` with ridge 0), per tensor (one group) and per output channel. Reported:
the relative error ``||W - sum_m alpha_m B_m||_F / ||W||_F`` over all layers together, and per layer, for
M = 1..5. (Fig. S2 plots the same error falling as M grows.)

    python benchmarks/weight_rmse.py --budget quick --threads 1
    python benchmarks/weight_rmse.py --budget full --threads 1

Writes ``benchmarks/results/weight_rmse/results.json``, ``table.md`` and ``weight_rmse.png``.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch
from torch import nn

from benchmarks.training import DATA_NOTES, ROOT, argv_command, datamodule, metadata, train_and_test, write_json

BUDGETS = {"quick": (5000, 1), "full": (None, 3)}  # (train images, epochs)
GRANULARITIES = ("per_tensor", "per_channel")


def approximation_error(weight: torch.Tensor, num_bases: int, granularity: str) -> tuple[float, float]:
    """``(||W - sum_m alpha_m B_m||^2, ||W||^2)`` for one weight tensor (squared Frobenius norms)."""
    from brevitas_abc.core.presets import weight_shifts
    from brevitas_abc.function import abc_weight_bases, ridge_least_squares_alpha

    if granularity not in GRANULARITIES:
        raise ValueError(f"granularity={granularity!r} is not allowed: expected one of {GRANULARITIES}")
    w = weight.detach().double()
    groups = w.reshape(1, -1) if granularity == "per_tensor" else w.reshape(w.shape[0], -1)
    bases = abc_weight_bases(groups, weight_shifts("paper", num_bases).double())  # [M, G, K]
    alpha = ridge_least_squares_alpha(groups, bases, ridge=0.0)  # [G, M]
    approx = torch.einsum("gm,mgk->gk", alpha, bases)
    return float(((groups - approx) ** 2).sum()), float((groups ** 2).sum())


def measure(model: nn.Module, max_bases: int = 5) -> list[dict]:
    """Rows ``{granularity, M, layer, relative_rmse}`` for every Conv2d/Linear and ``layer == "all"``."""
    layers = [(name, m.weight) for name, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    rows = []
    for granularity in GRANULARITIES:
        for m in range(1, max_bases + 1):
            err_total = norm_total = 0.0
            for name, weight in layers:
                err, norm = approximation_error(weight, m, granularity)
                err_total, norm_total = err_total + err, norm_total + norm
                rows.append({"granularity": granularity, "M": m, "layer": name, "elements": weight.numel(),
                             "relative_rmse": (err / norm) ** 0.5})
            rows.append({"granularity": granularity, "M": m, "layer": "all",
                         "elements": sum(w.numel() for _, w in layers), "relative_rmse": (err_total / norm_total) ** 0.5})
    return rows


def write_outputs(rows: list[dict], meta: dict, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    write_json(out / "results.json", meta, rows)
    ms = sorted({r["M"] for r in rows})
    total = {(r["granularity"], r["M"]): r["relative_rmse"] for r in rows if r["layer"] == "all"}
    lines = ["| M | " + " | ".join(GRANULARITIES) + " |", "|---:|" + "---:|" * len(GRANULARITIES)]
    lines += [f"| {m} | " + " | ".join(f"{total[(g, m)]:.4f}" for g in GRANULARITIES) + " |" for m in ms]
    (out / "table.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines), flush=True)
    fig, ax = plt.subplots(figsize=(6, 4))
    for g, colour in zip(GRANULARITIES, ("tab:blue", "tab:orange")):
        ax.plot(ms, [total[(g, m)] for m in ms], "o-", color=colour, label=f"{g}, all layers")
        for layer in sorted({r["layer"] for r in rows} - {"all"}):
            ax.plot(ms, [r["relative_rmse"] for r in rows if r["layer"] == layer and r["granularity"] == g],
                    color=colour, alpha=0.25, linewidth=0.8)
    ax.set_xlabel("number of weight bases M")
    ax.set_ylabel("||W - sum alpha_m B_m|| / ||W||")
    ax.set_xticks(ms)
    ax.set_title(f"{meta['arch']} trained on MNIST ({meta['train_images']} images, {meta['epochs']} epoch(s), "
                 f"seed {meta['seed']}); thin: single layers", fontsize=8)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "weight_rmse.png", dpi=110)
    plt.close(fig)


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", choices=list(BUDGETS), default="quick")
    parser.add_argument("--train-subset", type=int, default=None, help="override the budget's training images")
    parser.add_argument("--epochs", type=int, default=None, help="override the budget's epochs")
    parser.add_argument("--max-bases", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "weight_rmse")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    subset, epochs = BUDGETS[args.budget]
    subset = args.train_subset if args.train_subset is not None else subset
    epochs = args.epochs or epochs
    from lightning_modules.models import build_model

    data = datamodule("mnist", 128, subset, 2000, args.seed)
    model = build_model("local_lenet5")
    trained = train_and_test(model, data, epochs, args.seed)
    meta = metadata(argv_command(__file__, argv), DATA_NOTES["mnist"], epochs, args.seed, benchmark="weight_rmse",
                    arch="local_lenet5", budget=args.budget, train_images=trained["train_images"],
                    float_top1_on_2000_test_images=trained["top1"], shifts="paper (Table S4; uniform otherwise)",
                    alpha="least squares, eq. 1 (ridge 0)")
    rows = measure(model, args.max_bases)
    write_outputs(rows, meta, args.out)
    return rows


if __name__ == "__main__":
    main()
