"""Benchmark: the trained CNV variants of ``benchmarks/train_cnv_cifar10.py`` built by FINN for real boards, at
the highest frame rate each board holds, every stage verified on real CIFAR-10 test images.

For each trained variant (``<work>/<variant>/final_bn.pt``: the trained ``final.pt`` with its BatchNorm statistics
re-estimated by ``benchmarks/cnv_bn_reestimation.py``, the recipe's last step; ``--weights final`` builds
``final.pt``) and board, ``finn_flow.build`` runs with
``target_fps="max"`` (fit to the board: the folding with the highest estimated FPS whose LUT/BRAM/URAM/DSP stay
within FINN's limits of the board) and the ABC mapping ``--abc-mapping`` (default ``"auto"``: per layer the
mapping with the fewest estimated LUTs within the BRAM budget), through the estimate reports and HLS/RTL code generation (no Vivado here). The network reads raw
uint8 pixels: the CIFAR-10 normalisation of training is given as ``preprocessing`` and absorbed by the flow.
Each build is verified on ``--images`` real test images (every stage against PyTorch: argmax agreement and
max abs difference) and writes ``<results>/<variant>_<board>.json`` with the accuracy of the trained variant,
the mapping, FPS, LUT, BRAM, URAM, DSP, the budget, the build time and the command.

    python benchmarks/finn_cnv_cifar10.py --boards Pynq-Z1 ZCU104 --images 200
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without reinstalling

from benchmarks.train_cnv_cifar10 import VARIANTS, build  # noqa: E402

BOARDS = ("Pynq-Z1", "ZCU104")


def cifar_test_uint8(count: int) -> np.ndarray:
    """``count`` CIFAR-10 test images (uint8 NCHW): a seeded random subset of the 10,000 (seed 0), in order."""
    from lightning_modules.data.sources import load_cifar10

    from benchmarks.training import cifar_root

    images, _ = load_cifar10("test", str(cifar_root()))
    keep = np.sort(np.random.default_rng(0).choice(len(images), size=min(count, len(images)), replace=False))
    images = np.asarray(images[keep])
    return np.ascontiguousarray(images.transpose(0, 3, 1, 2) if images.shape[-1] == 3 else images)


def preprocessing() -> dict:
    from lightning_modules.data import CIFAR10DataModule

    data = CIFAR10DataModule()
    return {"pixel_scale": 1 / 255, "mean": list(data.mean), "std": list(data.std)}


def resource_totals(resources: dict) -> dict:
    """FINN's ``total`` row of ``estimate_layer_resources.json`` (or the sum over layers where it is absent)."""
    if isinstance(resources.get("total"), dict):
        return {k: float(v) for k, v in resources["total"].items()}
    totals: dict[str, float] = {}
    for layer in resources.values():
        if isinstance(layer, dict):
            for key in ("LUT", "BRAM_18K", "URAM", "DSP"):
                totals[key] = totals.get(key, 0) + float(layer.get(key, 0) or 0)
    return totals


#: the verification fields a result row keeps per stage (``finn_flow.verify``; the tie fields on the qonnx stage)
STAGE_FIELDS = ("stage", "reference", "images", "argmax_agreement", "max_abs_diff", "passed",
                "images_checked_layer_by_layer", "tie_decisions", "images_matching_only_the_exact_graph")


def stage_rows(verification: list[dict]) -> list[dict]:
    """The per-stage verification of a build, reduced to :data:`STAGE_FIELDS`."""
    return [{k: row[k] for k in STAGE_FIELDS if k in row} for row in verification]


def trained_top1(variant: str, args) -> float:
    """The test top-1 of the weights that are built: ``final.pt`` from the training JSON, ``final_bn.pt`` from
    ``benchmarks/cnv_bn_reestimation.py``'s JSON of the same recipe folder."""
    trained = json.loads((args.train_results / f"{variant}.json").read_text())
    if args.weights == "final":
        return trained["top1"]
    recipe = args.train_results.name.removeprefix("cnv_cifar10").removeprefix("_") or "main"
    path = args.bn_results / f"{recipe}_{variant}.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run `python benchmarks/cnv_bn_reestimation.py --recipes {recipe} "
                                f"--variants {variant}` first (it writes final_bn.pt), or pass --weights final")
    return json.loads(path.read_text())["top1_bn_reestimated"]


def provenance() -> dict:
    """The command line and the UTC time, for each result row."""
    return {"command": "python " + shlex.join(["benchmarks/finn_cnv_cifar10.py", *sys.argv[1:]]),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


def row_head(variant: str, board: str, top1: float, args) -> dict:
    """The fields every result row starts with, built or failed: what was built, from which weights, how."""
    return {"variant": variant, "board": board, "top1": top1, "weights": f"{args.weights}.pt",
            "abc_mapping": args.abc_mapping}


def build_variant(variant: str, board: str, args, images: np.ndarray, top1: float) -> dict:
    """Build ``variant`` (``args.weights``, test top-1 ``top1``) for ``board``; the result row."""
    import finn_flow

    work = args.work / variant
    trained = json.loads((args.train_results / f"{variant}.json").read_text())
    # the recipe's weight quantiser; runs from before the option existed used the per-tensor max scale
    model = build(variant, None, trained["recipe"].get("weight_scaling") or "max")
    model.load_state_dict(torch.load(work / f"{args.weights}.pt"))
    model.eval()
    out = args.out_dir / f"{variant}_{board}"
    start = time.perf_counter()
    result = finn_flow.build(model, out, board=board, target_fps="max", abc_mapping=args.abc_mapping,
                             verify_inputs=images, preprocessing=preprocessing(), codegen=not args.no_codegen)
    wall = time.perf_counter() - start
    stages = stage_rows(result.verification)
    fit = json.loads((out / "report" / "fit_to_board.json").read_text()) \
        if (out / "report" / "fit_to_board.json").is_file() else None
    return {**row_head(variant, board, top1, args),
            "fps": result.estimates.get("estimated_throughput_fps"),
            "latency_ms": result.estimates.get("estimated_latency_ns", 0) / 1e6 or None,
            "resources": resource_totals(result.resources), "fit": fit, "verification": stages,
            "all_stages_exact": all(s.get("passed") for s in stages), "build_s": round(wall, 1),
            "status": result.status, **provenance()}


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS[1:]), choices=VARIANTS[1:])
    parser.add_argument("--boards", nargs="+", default=list(BOARDS))
    parser.add_argument("--abc-mapping", default="auto")
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--no-codegen", action="store_true")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--weights", default="final_bn", choices=("final_bn", "final"),
                        help="final_bn.pt: the trained network with BatchNorm statistics re-estimated (the recipe's "
                             "last step, benchmarks/cnv_bn_reestimation.py); final.pt: as trained")
    parser.add_argument("--bn-results", type=Path, default=ROOT / "benchmarks" / "results" / "cnv_bn_reestimation")
    parser.add_argument("--work", type=Path, default=ROOT / "outputs" / "cnv_cifar10")
    parser.add_argument("--train-results", type=Path, default=ROOT / "benchmarks" / "results" / "cnv_cifar10")
    parser.add_argument("--out-dir", type=Path, default=ROOT / "outputs" / "finn_cnv_cifar10")
    parser.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results" / "finn_cnv_cifar10")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    images = cifar_test_uint8(args.images)
    rows = []
    args.results.mkdir(parents=True, exist_ok=True)
    for variant in args.variants:
        if not (args.work / variant / f"{args.weights}.pt").is_file() or \
                not (args.train_results / f"{variant}.json").is_file():
            print(f"[finn_cnv_cifar10] {variant}: not trained yet, skipped", flush=True)
            continue
        top1 = trained_top1(variant, args)
        for board in args.boards:
            print(f"[finn_cnv_cifar10] {variant} on {board} ...", flush=True)
            start = time.perf_counter()
            try:
                row = build_variant(variant, board, args, images, top1)
            except Exception as error:  # noqa: BLE001 - a failed or unverified build is a result too
                row = {**row_head(variant, board, top1, args), "status": "failed",
                       "error": f"{type(error).__name__}: {error}", "all_stages_exact": False,
                       "build_s": round(time.perf_counter() - start, 1), **provenance()}
            (args.results / f"{variant}_{board}.json").write_text(json.dumps(row, indent=2) + "\n")
            print(json.dumps({k: row.get(k) for k in ("variant", "board", "top1", "fps", "resources", "build_s",
                                                        "all_stages_exact", "error")}), flush=True)
            rows.append(row)
    return rows


if __name__ == "__main__":
    main()
