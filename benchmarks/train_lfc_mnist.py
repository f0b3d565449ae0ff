"""Benchmark: LFC (784-1024x3-10) on full real MNIST, float vs ABC(1,1), ABC(3,3), ABC(5,5) vs stock
Brevitas W1A1, one recipe and one epoch budget for all; prints a table and writes JSON and a PNG.

Recipe (the same for every variant, all trained from scratch): Adam lr 1e-3 with a cosine decay to 0
over the epoch budget, batch 256 by default, dropout 0.2, no augmentation, 60,000 training images, top-1 on the
10,000 test images after the last epoch. ABC variants keep the first and last layer float (as the
paper does); the Brevitas W1A1 baseline binarises every layer and the input (as Brevitas/FINN's LFC).

    python benchmarks/train_lfc_mnist.py --epochs 3 --batch-size 256 --out benchmarks/results/lfc_mnist

Variants can run in separate processes (``--variants "ABC(5,5)" --out other``) and be merged afterwards:
    python benchmarks/train_lfc_mnist.py --merge benchmarks/results/lfc_mnist other --out benchmarks/results/lfc_mnist
"""
import argparse
import json
import time
from pathlib import Path

import pytorch_lightning as pl
import torch

from lightning_modules.data import MNISTDataModule
from lightning_modules.models import build_model
from lightning_modules.module import ClassificationModule

VARIANTS = {
    "float": ("local_lfc", None),
    "ABC(1,1)": ("local_lfc", {"num_weight_bases": 1, "num_act_bases": 1}),
    "ABC(3,3)": ("local_lfc", {"num_weight_bases": 3, "num_act_bases": 3}),
    "ABC(5,5)": ("local_lfc", {"num_weight_bases": 5, "num_act_bases": 5}),
    "Brevitas W1A1": ("lfc_brevitas_w1a1", None),
}
FROM_FLOAT = ("ABC(1,1)", "ABC(3,3)", "ABC(5,5)")


def train_variant(name: str, epochs: int, batch_size: int, train_subset: int | None, seed: int, out: Path,
                  init_state: dict | None = None) -> dict:
    """Train one variant; ``init_state`` (the float run's weights) starts an ABC variant from the float model."""
    arch, abc = VARIANTS[name]
    pl.seed_everything(seed, workers=True)
    data = MNISTDataModule(batch_size=batch_size, val_size=0, train_subset=train_subset, seed=seed)
    model = build_model(arch, abc=abc)
    if init_state is not None:
        result = model.load_state_dict(init_state, strict=False)
        if result.unexpected_keys or any("quant" not in k for k in result.missing_keys):
            raise ValueError(f"float weights do not fit {name}: {result}")
    module = ClassificationModule(
        model, optimizer=lambda p: torch.optim.Adam(p, lr=1e-3),
        lr_scheduler=lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=epochs))
    trainer = pl.Trainer(max_epochs=epochs, logger=pl.loggers.CSVLogger(out, name=name.replace(" ", "_")),
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                         num_sanity_val_steps=0, limit_val_batches=0, deterministic=True)
    start = time.perf_counter()
    trainer.fit(module, data)
    wall = time.perf_counter() - start
    test = trainer.test(module, data, verbose=False)[0]
    result = {"variant": name + (" from float" if init_state is not None else ""), "top1": test["test_acc1"] * 100, "top5": test["test_acc5"] * 100,
              "epochs": epochs, "wall_s": wall, "epoch_s": wall / epochs,
              "train_images": len(data.train_set), "test_images": len(data.test_set)}
    print(json.dumps(result), flush=True)
    result["state"] = {k: v.detach().clone() for k, v in model.state_dict().items()}
    return result


def write_outputs(results: list[dict], out: Path) -> None:
    lines = [f"{'variant':<25} {'top-1 %':>8} {'epochs':>6} {'wall s':>8}",
             *(f"{r['variant']:<25} {r['top1']:8.2f} {r['epochs']:6d} {r['wall_s']:8.0f}" for r in results)]
    table = "\n".join(lines)
    print(table)
    (out / "table.txt").write_text(table + "\n")
    (out / "results.json").write_text(json.dumps([{k: v for k, v in r.items() if k != "state"} for r in results], indent=2))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(max(6, 1.3 * len(results)), 3.8))
    names = [r["variant"] for r in results]
    ax.bar([n.replace(" from float", "\nfrom float") for n in names], [r["top1"] for r in results], color="tab:blue")
    ax.axhline(98.88, color="tab:red", linestyle="--", label="Brevitas LFC W1A1 published (98.88 %)")
    low = min(r["top1"] for r in results)
    ax.set_ylim(max(0.0, low - 2), 100)
    ax.set_ylabel("MNIST test top-1 (%)")
    ax.set_title(f"LFC on MNIST, {results[0]['epochs']} epochs each")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "lfc_mnist.png", dpi=120)


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--train-subset", type=int, default=None, help="fewer training images (quick checks)")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/lfc_mnist"))
    parser.add_argument("--from-float", action="store_true",
                        help="staged recipe: train float first, then start each ABC variant from its weights")
    parser.add_argument("--merge", type=Path, nargs="+", default=None,
                        help="train nothing: merge the results.json of these folders into --out")
    args = parser.parse_args(argv)
    if args.merge:
        merged = {r["variant"]: r for folder in args.merge for r in json.loads((folder / "results.json").read_text())}
        order = [n for name in VARIANTS for n in (name, name + " from float")]
        results = [merged[name] for name in order if name in merged]
        args.out.mkdir(parents=True, exist_ok=True)
        write_outputs(results, args.out)
        return results
    if args.threads:
        torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    results, float_state = [], None
    names = (["float"] if args.from_float and "float" not in args.variants else []) + list(args.variants)
    for name in sorted(names, key=lambda n: n != "float") if args.from_float else names:
        init = float_state if (args.from_float and name in FROM_FLOAT) else None
        results.append(train_variant(name, args.epochs, args.batch_size, args.train_subset, args.seed, args.out, init))
        if name == "float":
            float_state = results[-1]["state"]
        write_outputs(results, args.out)  # partial results survive an interrupted run
    return results


if __name__ == "__main__":
    main()
