"""Benchmark: the accuracy cost of integer ABC coefficients (``coefficient_bits``) and integer Group-Net
branch scales (``branch_scale_bits``) on real MNIST.

ABC-Net's layer sums ``alpha_m[c] beta_n op(B_m, A_n)`` (eq. 10). FINN's integer mappings ("bitwise" and
"fused", finn_flow) need every ``alpha_m[c] beta_n`` to be an integer times one per-channel scale, which
``ABCConfig(coefficient_bits=b)`` enforces during training: ``alpha = s_a j``, ``beta = s_b k`` with
signed integers ``|j|, |k| <= 2^(b-1) - 1`` and power-of-two scales. This script trains the same network
with free float coefficients and with b-bit integer coefficients, for ABC (M, N) = (1, 1) and (3, 3); and the
same for a layer-wise Group-Net with K = 2 binary branches per layer, whose branch coefficients
``lambda_k alpha_kc`` FINN needs as integers times one per-channel scale (``GroupNetConfig(mode="layer",
branch_scale_bits=b)``, ``brevitas_abc.nn.group_net.integer``).

Recipe (identical for every variant, trained from scratch, same seed): ``build_model("local_lfc", abc=...)``
(784 -> hidden x 3 -> 10, BatchNorm, dropout 0.2; first and last layer float as in the paper; Group-Net:
``build_model("local_lfc", group_net=...)``, first and last layer float too), Adam lr 1e-3
with a cosine decay to 0 over the epochs, batch 256, ABC latent weights clipped to [-1, 1]
(``LatentWeightClipping``; Group-Net layers have no such clipping), no augmentation; top-1 on the 10,000 MNIST test images.

    python benchmarks/integer_coefficients.py --quick --threads 1    # 20,000 images x 2 epochs, hidden 256, seeds 0-2
    python benchmarks/integer_coefficients.py --threads 2            # 60,000 images x 3 epochs, hidden 1024, seed 0

60,000 images x 3 epochs, hidden 512, seeds 0-2 (results in ``benchmarks/results/integer_coefficients_lfc512/``):

    python benchmarks/integer_coefficients.py --width 0.5 --epochs 3 --bits 2 3 --seeds 0 1 2 --threads 1 --out benchmarks/results/integer_coefficients_lfc512

With several seeds the table gives the mean and standard deviation of top-1 over seeds and, for integer
coefficients, the mean of the per-seed differences to the float-coefficient run of the same (M, N) and seed.

Writes ``table.txt``, ``results.json`` (with the command, data, epochs and seed) and
``integer_coefficients.png`` under ``--out`` (default ``benchmarks/results/integer_coefficients/``).
"""
import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import pytorch_lightning as pl
import torch

from brevitas_abc import ABCConfig
from brevitas_abc.nn.abc.options import ABCLayerOptions
from lightning_modules.callbacks import LatentWeightClipping
from lightning_modules.data import MNISTDataModule
from lightning_modules.models import build_model
from lightning_modules.module import ClassificationModule

BASES = ((1, 1), (3, 3))  # ABC (M, N)
GROUP_NET_BRANCHES = 2  # Group-Net K (layer-wise); its rows have num_weight_bases = K, num_act_bases = None
DEFAULT_OUT = Path("benchmarks/results/integer_coefficients")


def family_name(bases: tuple[int, int | None]) -> str:
    """``"ABC(3,3)"`` for ABC (M, N), ``"Group-Net K=2"`` for a Group-Net (K, None)."""
    return f"Group-Net K={bases[0]}" if bases[1] is None else f"ABC({bases[0]},{bases[1]})"


def variant_name(bases: tuple[int, int | None], bits: int | None) -> str:
    return f"{family_name(bases)} " + ("float coeff" if bits is None else f"{bits}-bit coeff")


def train_variant(bases, bits, seed, args) -> dict:
    pl.seed_everything(seed, workers=True)
    data = MNISTDataModule(batch_size=args.batch_size, val_size=0, train_subset=args.train_subset, seed=seed)
    if bases[1] is None:
        group_net = {"num_bases": bases[0], "mode": "layer", "branch_scale_bits": bits}
        model = build_model("local_lfc", group_net=group_net, arch_kwargs={"width": args.width})
    else:
        config = ABCConfig(num_weight_bases=bases[0], num_act_bases=bases[1], coefficient_bits=bits)
        model = build_model("local_lfc", abc=config, arch_kwargs={"width": args.width})
    module = ClassificationModule(
        model, optimizer=lambda p: torch.optim.Adam(p, lr=1e-3),
        lr_scheduler=lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=args.epochs))
    trainer = pl.Trainer(max_epochs=args.epochs, logger=False, enable_checkpointing=False,
                         callbacks=[LatentWeightClipping(1.0)],
                         enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
                         limit_val_batches=0, deterministic=True)
    start = time.perf_counter()
    trainer.fit(module, data)
    wall = time.perf_counter() - start
    test = trainer.test(module, data, verbose=False)[0]
    result = {"variant": variant_name(bases, bits), "num_weight_bases": bases[0], "num_act_bases": bases[1],
              "coefficient_bits": bits, "seed": seed, "top1": test["test_acc1"] * 100, "wall_s": wall,
              "train_images": len(data.train_set), "test_images": len(data.test_set)}
    if bits is not None and bases[1] is not None:
        result["max_abs_q"] = max(float(layer.integer_coefficients()[0].abs().max())
                                  for layer in model.modules() if hasattr(layer, "integer_coefficients"))
    print(json.dumps(result), flush=True)
    return result


def summarise(results: list[dict]) -> list[dict]:
    """One row per variant: mean/std top-1 over seeds, and the mean paired difference to float coefficients."""
    rows = []
    for name in dict.fromkeys(r["variant"] for r in results):
        runs = [r for r in results if r["variant"] == name]
        first = runs[0]
        floats = {r["seed"]: r["top1"] for r in results if r["coefficient_bits"] is None
                  and (r["num_weight_bases"], r["num_act_bases"]) == (first["num_weight_bases"], first["num_act_bases"])}
        deltas = [r["top1"] - floats[r["seed"]] for r in runs if r["seed"] in floats]
        top1 = [r["top1"] for r in runs]
        rows.append({key: first[key] for key in ("variant", "num_weight_bases", "num_act_bases", "coefficient_bits")}
                    | {"seeds": [r["seed"] for r in runs], "top1_mean": statistics.mean(top1),
                       "top1_std": statistics.stdev(top1) if len(top1) > 1 else 0.0,
                       "delta_vs_float_mean": statistics.mean(deltas) if first["coefficient_bits"] is not None and deltas else None,
                       "max_abs_q": first.get("max_abs_q"), "wall_s_mean": statistics.mean(r["wall_s"] for r in runs)})
    return rows


def write_outputs(results: list[dict], meta: dict, out: Path) -> None:
    rows = summarise(results)
    header = f"{'variant':<27} {'seeds':>5} {'top-1 % (mean +- std)':>22} {'vs float':>9} {'max |q|':>8} {'wall s':>7}"
    lines = [header]
    for r in rows:
        delta = "" if r["delta_vs_float_mean"] is None else f"{r['delta_vs_float_mean']:+.2f}"
        q = "" if r["max_abs_q"] is None else f"{r['max_abs_q']:.0f}"
        lines.append(f"{r['variant']:<27} {len(r['seeds']):>5} {r['top1_mean']:15.2f} +- {r['top1_std']:.2f} "
                     f"{delta:>9} {q:>8} {r['wall_s_mean']:7.0f}")
    table = "\n".join(lines)
    print(table)
    out.mkdir(parents=True, exist_ok=True)
    (out / "table.txt").write_text(table + "\n")
    (out / "results.json").write_text(json.dumps({**meta, "summary": rows, "runs": results}, indent=2))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    modes = sorted({r["coefficient_bits"] for r in results}, key=lambda b: (b is not None, b or 0))
    fig, ax = plt.subplots(figsize=(7.5, 3.8))
    width = 0.8 / len(modes)
    families = list(dict.fromkeys((r["num_weight_bases"], r["num_act_bases"]) for r in rows))
    for i, bits in enumerate(modes):
        picked = [next((r for r in rows if r["coefficient_bits"] == bits
                        and (r["num_weight_bases"], r["num_act_bases"]) == b), None) for b in families]
        xs = [k + (i - (len(modes) - 1) / 2) * width for k, row in enumerate(picked) if row is not None]
        ys = [row["top1_mean"] for row in picked if row is not None]
        errs = [row["top1_std"] for row in picked if row is not None]
        bars = ax.bar(xs, ys, width, yerr=errs, capsize=2,
                      label="float coefficients" if bits is None else f"{bits}-bit integer coefficients")
        ax.bar_label(bars, fmt="%.2f", fontsize=7)
    ax.set_xticks(range(len(families)), [family_name(b) for b in families])
    low = min(r["top1_mean"] - r["top1_std"] for r in rows)
    ax.set_ylim(max(0.0, low - 3), 100)
    ax.set_ylabel("MNIST test top-1 (%)")
    ax.set_title(f"LFC (hidden {meta['hidden']}) on MNIST, {meta['train_images']} images x {meta['epochs']} epochs, "
                 f"seeds {meta['seeds']} (mean +- std)", fontsize=9)
    ax.legend(loc="upper right", fontsize=8, ncol=2)
    fig.tight_layout()
    fig.savefig(out / "integer_coefficients.png", dpi=120)


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20,000 training images, 2 epochs, hidden 256, seeds 0 1 2")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--train-subset", type=int, default=None, help="training images (default: all 60,000)")
    parser.add_argument("--width", type=float, default=1.0, help="LFC width factor (1.0: hidden 1024)")
    parser.add_argument("--bits", type=int, nargs="+", default=[2, 3, 4], help="coefficient_bits budgets")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    parser.add_argument("--seeds", type=int, nargs="+", default=None, help="default: 0 (0 1 2 with --quick)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--replot", action="store_true", help="train nothing: redraw --out from its results.json")
    args = parser.parse_args(argv)
    if args.replot:
        saved = json.loads((args.out / "results.json").read_text())
        meta = {k: v for k, v in saved.items() if k not in ("summary", "runs")}
        write_outputs(saved["runs"], meta, args.out)
        return saved["runs"]
    if args.quick:
        args.epochs, args.train_subset, args.width = 2, 20000, 0.25
    if args.seeds is None:
        args.seeds = [0, 1, 2] if args.quick else [0]
    if args.threads:
        torch.set_num_threads(args.threads)
    meta = {"benchmark": "integer ABC coefficients and Group-Net branch scales vs float ones",
            "command": "python benchmarks/integer_coefficients.py " + " ".join(sys.argv[1:] if argv is None else argv),
            "data": "real MNIST (lightning_modules MNISTDataModule), test top-1 on 10,000 test images",
            "model": "build_model('local_lfc', abc=ABCConfig(...)) or (group_net={'num_bases': 2, 'mode': 'layer', "
                     "'branch_scale_bits': b}), first and last layer float",
            "hidden": int(1024 * args.width), "epochs": args.epochs, "seeds": args.seeds,
            "batch_size": args.batch_size, "optimizer": "Adam lr 1e-3, cosine to 0, LatentWeightClipping(1.0)",
            "act_shifts": ABCLayerOptions.act_shifts,
            "train_images": args.train_subset or 60000}
    results = []
    for seed in args.seeds:
        for bases in (*BASES, (GROUP_NET_BRANCHES, None)):
            for bits in [None, *args.bits]:
                results.append(train_variant(bases, bits, seed, args))
                write_outputs(results, meta, args.out)  # partial results survive an interrupted run
    return results


if __name__ == "__main__":
    main()
