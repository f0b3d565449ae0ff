"""Benchmark: the trained CIFAR-10 CNVs (``benchmarks/train_cnv_cifar10.py``) with their BatchNorm statistics
re-estimated after training, top-1 on the 10,000 test images before and after.

Why: the running statistics a BatchNorm keeps during training are exponential averages over batches of a network
whose binary weights keep flipping sign (and whose training images are augmented), so at the end they need not match
what the final quantised network produces in eval mode; a binary activation right after the BatchNorm turns a
small error in the mean into many flipped signs. Nagel et al., "Overcoming Oscillations in Quantization-Aware
Training" (ICML 2022) re-estimate BatchNorm statistics after QAT for this reason. Measured here: ABC(3,1) tested at
15.46 % after its last epoch (75.32 % training accuracy in that epoch; 19.79 % and 35.04 % at epochs 13 and 23,
70-75 % at the others) and 75.33 % with re-estimated statistics.

Re-estimating them (``brevitas_abc.calibration.batchnorm.reestimate_batchnorm``: the mean of the batch means and
unbiased variances, as torch computes with ``momentum=None``) on ``--images`` seeded random, unaugmented training
images (``benchmarks.training.calibration_images``) costs a few forward passes; it is the last step of the CNV
recipe, for every variant (float included). The weights, quantisers and coefficients are untouched. The result is
saved as ``<work>/<variant>/final_bn.pt`` beside ``final.pt``; ``benchmarks/finn_cnv_cifar10.py`` builds it.

One JSON per recipe folder and variant in ``--results`` (``<recipe>_<variant>.json``: the command, top-1 before and
after, the image count and seed, wall time).

    python benchmarks/cnv_bn_reestimation.py --threads 1
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without reinstalling

from benchmarks.training import calibration_images, cifar_root  # noqa: E402

#: recipe folder suffix -> (work folder with ``<variant>/final.pt``, results folder with ``<variant>.json``)
RECIPES = {
    "main": ("outputs/cnv_cifar10", "benchmarks/results/cnv_cifar10"),
    "lr3e-4": ("outputs/cnv_cifar10_lr3e-4", "benchmarks/results/cnv_cifar10_lr3e-4"),
    "maxscale": ("outputs/cnv_cifar10_maxscale", "benchmarks/results/cnv_cifar10_maxscale"),
}


def test_top1(model: torch.nn.Module, data) -> float:
    """Top-1 % of ``model`` (eval mode) on the datamodule's test split."""
    correct = total = 0
    model.eval()
    with torch.no_grad():
        for x, y in data.test_dataloader():
            correct += int((model(x).argmax(1) == y).sum())
            total += len(y)
    return 100.0 * correct / total


def reestimate(variant: str, work: Path, recipe: dict, data, images: int, seed: int) -> dict:
    """Load ``work/variant/final.pt``, test it, re-estimate its BatchNorm on ``images`` training images, test again,
    save ``work/variant/final_bn.pt``."""
    from benchmarks.train_cnv_cifar10 import build
    from brevitas_abc.calibration.batchnorm import reestimate_batchnorm

    model = build(variant, None, recipe.get("weight_scaling") or "max")
    model.load_state_dict(torch.load(work / variant / "final.pt", map_location="cpu"))
    start = time.perf_counter()
    before = test_top1(model, data)
    x, _ = calibration_images(data, images, seed=seed)
    with torch.no_grad():
        norms = reestimate_batchnorm(model, list(x.split(250)))
    after = test_top1(model, data)
    torch.save(model.state_dict(), work / variant / "final_bn.pt")
    return {"variant": variant, "top1_trained": round(before, 2), "top1_bn_reestimated": round(after, 2),
            "batchnorms": norms, "calibration_images": images, "seed": seed,
            "wall_s": round(time.perf_counter() - start, 1)}


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", nargs="+", default=list(RECIPES), choices=list(RECIPES))
    parser.add_argument("--variants", nargs="+", default=None, help="default: every variant with a final.pt")
    parser.add_argument("--images", type=int, default=2000, help="training images for the statistics")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--test-images", type=int, default=None, help="fewer test images (quick checks; default all)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results" / "cnv_bn_reestimation")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    from lightning_modules.data import CIFAR10DataModule

    command = "python " + shlex.join(["benchmarks/cnv_bn_reestimation.py", *(sys.argv[1:] if argv is None else argv)])
    data = CIFAR10DataModule(root=str(cifar_root()), batch_size=500, val_size=0, augment=False,
                             test_subset=args.test_images, seed=args.seed)
    data.setup("fit")
    data.setup("test")
    args.results.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in args.recipes:
        work, results = (ROOT / p for p in RECIPES[name])
        for result_path in sorted(results.glob("*.json")):
            trained = json.loads(result_path.read_text())
            variant = trained["variant"]
            if args.variants and variant not in args.variants:
                continue
            if not (work / variant / "final.pt").is_file():
                print(f"[cnv_bn_reestimation] {name}/{variant}: no {work / variant / 'final.pt'}, skipped", flush=True)
                continue
            row = {"recipe": name, **reestimate(variant, work, trained["recipe"], data, args.images, args.seed),
                   "top1_recorded": trained["top1"], "command": command,
                   "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
            if abs(row["top1_trained"] - trained["top1"]) > 0.005:
                raise RuntimeError(f"{name}/{variant}: final.pt tests at {row['top1_trained']} %, its JSON records "
                                   f"{trained['top1']} %: the checkpoint is not the one the JSON describes")
            (args.results / f"{name}_{variant}.json").write_text(json.dumps(row, indent=2) + "\n")
            print(json.dumps(row), flush=True)
            rows.append(row)
    return rows


if __name__ == "__main__":
    main()
