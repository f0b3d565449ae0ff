"""Benchmark: training speed of the CIFAR-10 CNV (width 0.5), float vs ABC(3,3), in one run.

The models are ``benchmarks/train_cnv_cifar10.py``'s (``build("float")``, ``build("abc33")``); ABC runs with the
compiled kernels (the training default) and, for reference, eagerly. Each variant trains (forward, backward,
Adam step, as in the benchmark; no data loading) on the same real CIFAR-10 batches of 128; the variants take
turns in ``--rounds`` rounds of ``--steps`` steps, so that load from other processes hits them alike, and the
median step time of each is scaled to one epoch of 50,000 images. Compilation happens in an untimed warm-up.
Prints a table and writes ``<out>/cnv_epoch_speed.json``.

    python benchmarks/cnv_epoch_speed.py --threads 2
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without reinstalling

from benchmarks.train_cnv_cifar10 import build  # noqa: E402
from benchmarks.training import cifar_root, metadata  # noqa: E402

GOAL = 1.3  # issue 12: an ABC(3,3) CNV epoch at most 1.3x a float one


def cifar_batches(count: int, batch_size: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    from lightning_modules.data import CIFAR10DataModule

    data = CIFAR10DataModule(root=str(cifar_root()), batch_size=batch_size, val_size=0, augment=True,
                             train_subset=count * batch_size)
    data.setup("fit")
    loader = data.train_dataloader()
    return [batch for _, batch in zip(range(count), loader)]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10, help="steps per turn")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "cnv_epoch_speed")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    from brevitas_abc.function import use_compiled_kernels

    batches = cifar_batches(args.steps, 128)
    variants = {"float": (build("float", None), False), "ABC(3,3) compiled": (build("abc33", None), True),
                "ABC(3,3) eager": (build("abc33", None), False)}
    optimizers = {name: torch.optim.Adam(model.parameters(), lr=1e-3) for name, (model, _) in variants.items()}

    def steps(name: str, count: int) -> list[float]:
        model, compiled = variants[name]
        use_compiled_kernels(compiled)
        model.train()
        times = []
        for x, y in batches[:count]:
            start = time.perf_counter()
            loss = torch.nn.functional.cross_entropy(model(x), y)
            optimizers[name].zero_grad()
            loss.backward()
            optimizers[name].step()
            times.append(time.perf_counter() - start)
        return times

    for name in variants:  # warm-up: compilation, allocator
        steps(name, 2)
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.rounds):
        for name in variants:
            samples[name] += steps(name, args.steps)
    use_compiled_kernels(False)
    steps_per_epoch = 50_000 / 128
    rows = [{"variant": name, "median_step_s": round(statistics.median(t), 4),
             "epoch_s": round(statistics.median(t) * steps_per_epoch, 1), "steps_timed": len(t)}
            for name, t in samples.items()]
    base = rows[0]["median_step_s"]
    for row in rows:
        row["ratio_to_float"] = round(row["median_step_s"] / base, 2)
    ratio = rows[1]["ratio_to_float"]
    result = {**metadata([str(Path(__file__).relative_to(ROOT)), *(sys.argv[1:] if argv is None else argv)],
                         "CIFAR-10 (real, JPEG copy), batches of 128 with the training augmentation", None, 0,
                         model="CNV width 0.5 (benchmarks/train_cnv_cifar10.py)"),
              "goal_ratio": GOAL, "goal_met": ratio <= GOAL, "rows": rows}
    print(f"{'variant':<20} {'step ms':>8} {'epoch s':>8} {'x float':>8}")
    for row in rows:
        print(f"{row['variant']:<20} {1000 * row['median_step_s']:8.1f} {row['epoch_s']:8.1f} {row['ratio_to_float']:8.2f}")
    print(f"goal ABC(3,3) compiled <= {GOAL}x float: {'met' if ratio <= GOAL else 'NOT met'} ({ratio}x)")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "cnv_epoch_speed.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
