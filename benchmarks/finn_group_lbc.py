"""Benchmark: Group-Net ResNet-18-CIFAR (group mode, K = 2, integer residual streams) and an integer LBC DenseNet-BC,
trained briefly on real CIFAR-10, built by FINN for ZCU104 and U250 at the highest frame rate each board holds, every
stage verified on real CIFAR-10 test images.

Models (both read raw pixels ``k / 255``, no mean/std normalisation, so the 8-bit stem is an integer MVAU on the
uint8 pixels):

* ``groupnet``: ``resnet18_cifar`` at ``--gn-width`` channels in the first stage, every stage swapped to
  ``GroupNetConfig(num_bases=K, mode=--gn-mode, residual_bits=4)`` (group by default, or block;
  ``brevitas_abc.nn.group_net.residual``), the stem an 8-bit integer-weight conv (``int_weight_conv2d``), the
  classifier float (on the host);
* ``lbc_densenet``: ``densenet_bc_cifar_integer`` (``brevitas_abc.models.densenet_integer``: LBC 3x3 convs "full" or
  "fused", one 4-bit stream scale per dense block, 2-bit quantised ReLUs, 4-bit 1x1 convs, 8-bit stem).

Recipe: ``benchmarks.training.train_and_test`` (Adam 1e-3, cosine to 0, from scratch, no augmentation, batch 64), one
epoch over ``--steps * 64`` training images (``--steps`` optimizer steps), top-1 on ``--test-images`` test images.
Then, per board, ``finn_flow.build(..., target_fps="max")`` (fit to the board: the folding with the highest estimated
FPS whose LUT/BRAM/URAM/DSP stay within FINN's limits of the board) through the estimate reports and HLS/RTL code
generation (``--no-codegen`` stops after the estimates), verified on ``--images`` real test images at every stage
(QONNX, streamlined, hardware layers, folded: argmax agreement and max abs difference against PyTorch). One JSON per
model and board in ``--results``, ``groupnet_<mode>_k<K>_<board>.json`` or ``lbc_densenet_<board>.json`` (accuracy,
FPS, latency, LUT/BRAM/URAM/DSP, the fit, the verification, build time, the command), and ``summary.json`` with every
row.

    python benchmarks/finn_group_lbc.py --steps 200 --images 200 --threads 1
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

from benchmarks.training import DATA_NOTES, cifar_root, train_and_test  # noqa: E402
from benchmarks.finn_cnv_cifar10 import resource_totals, stage_rows  # noqa: E402

MODELS = ("groupnet", "lbc_densenet")
BOARDS = ("ZCU104", "U250")
BATCH = 64


def groupnet(width: int, num_bases: int, mode: str = "group", residual_bits: int = 4) -> torch.nn.Module:
    from brevitas_abc import GroupNetConfig, swap
    from brevitas_abc.models import create_model
    from brevitas_abc.nn.int_weight_conv import int_weight_conv2d

    torch.manual_seed(0)
    model = swap(create_model("resnet18_cifar", width=width),
                 GroupNetConfig(num_bases=num_bases, mode=mode, residual_bits=residual_bits), verbose=False)
    model.conv1 = int_weight_conv2d(model.conv1, 8)
    return model


def lbc_densenet(depth: int, growth: int, lbc: str) -> torch.nn.Module:
    from brevitas_abc.models import create_model

    torch.manual_seed(0)
    return create_model("densenet_bc_cifar_integer", depth=depth, growth_rate=growth, bn_size=2,
                        num_anchors=2 * growth, lbc=lbc)


def test_images(count: int) -> tuple[np.ndarray, np.ndarray]:
    """``count`` CIFAR-10 test images (uint8 NCHW) and labels: a seeded random subset of the 10,000 (seed 0)."""
    from lightning_modules.data.sources import load_cifar10

    images, labels = load_cifar10("test", str(cifar_root()))
    keep = np.sort(np.random.default_rng(0).choice(len(images), size=min(count, len(images)), replace=False))
    images = np.asarray(images[keep])
    images = images.transpose(0, 3, 1, 2) if images.shape[-1] == 3 else images
    return np.ascontiguousarray(images), np.asarray(labels)[keep]


def build_on_board(name: str, model: torch.nn.Module, board: str, images: np.ndarray, labels: np.ndarray,
                   args) -> dict:
    import finn_flow

    out = args.out_dir / f"{name}_{board}"
    start, cpu = time.perf_counter(), time.process_time()
    result = finn_flow.build(model, out, board=board, target_fps="max", verify_inputs=images,
                             codegen=not args.no_codegen)
    stages = stage_rows(result.verification)
    fit_path = out / "report" / "fit_to_board.json"
    reference = np.load(out / "input" / "verify_expected.npy")
    ops: dict[str, int] = {}
    from qonnx.core.modelwrapper import ModelWrapper

    for node in ModelWrapper(str(out / "intermediate_models" / "step_generate_estimate_reports.onnx")).graph.node:
        ops[node.op_type] = ops.get(node.op_type, 0) + 1
    return {"board": board, "fps": result.estimates.get("estimated_throughput_fps"),
            "latency_ms": (result.estimates.get("estimated_latency_ns") or 0) / 1e6 or None,
            "resources": resource_totals(result.resources),
            "fit": json.loads(fit_path.read_text()) if fit_path.is_file() else None,
            "verification": stages, "all_stages_exact": all(s.get("passed") for s in stages),
            "top1_verify_images_pytorch": float(np.mean(reference.argmax(1) == labels) * 100),
            "float_in_dataflow": result.float_in_dataflow, "hardware_layers": ops,
            "build_wall_s": round(time.perf_counter() - start, 1),
            "build_cpu_s": round(time.process_time() - cpu, 1), "status": result.status}


def build_or_failure(name: str, model: torch.nn.Module, board: str, images: np.ndarray, labels: np.ndarray,
                     args) -> dict:
    """``build_on_board``, or the failure (type and message: a refused or unverified build is a result too)."""
    start = time.perf_counter()
    try:
        return build_on_board(name, model, board, images, labels, args)
    except Exception as error:  # noqa: BLE001 - recorded in the JSON, the next build still runs
        return {"board": board, "status": "failed", "all_stages_exact": False,
                "error": f"{type(error).__name__}: {error}", "build_wall_s": round(time.perf_counter() - start, 1)}


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--boards", nargs="+", default=list(BOARDS))
    parser.add_argument("--steps", type=int, default=200, help="training steps of batch 64 per model")
    parser.add_argument("--test-images", type=int, default=2000, help="test images for the PyTorch top-1")
    parser.add_argument("--images", type=int, default=200, help="real test images verified at every FINN stage")
    parser.add_argument("--gn-width", type=int, default=8, help="Group-Net ResNet-18 first-stage channels (64 paper)")
    parser.add_argument("--gn-bases", type=int, default=2, help="Group-Net K")
    parser.add_argument("--gn-mode", default="group", choices=("group", "block"),
                        help="Group-Net decomposition: whole groups (stages) or single residual blocks into K branches")
    parser.add_argument("--dn-depth", type=int, default=16, help="DenseNet-BC depth 6n + 4 (n layers per block)")
    parser.add_argument("--dn-growth", type=int, default=8, help="DenseNet growth rate k")
    parser.add_argument("--dn-lbc", default="full", choices=("full", "fused"))
    parser.add_argument("--no-codegen", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out-dir", type=Path, default=ROOT / "outputs" / "finn_group_lbc")
    parser.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results" / "finn_group_lbc")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    from lightning_modules.data import CIFAR10DataModule

    command = "python " + shlex.join(["benchmarks/finn_group_lbc.py", *(sys.argv[1:] if argv is None else argv)])
    data = CIFAR10DataModule(root=str(cifar_root()), batch_size=BATCH, val_size=0, train_subset=args.steps * BATCH,
                             test_subset=args.test_images, seed=args.seed, augment=False, mean=0.0, std=1.0)
    images, labels = test_images(args.images)
    args.results.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in args.models:
        if name == "groupnet":
            model = groupnet(args.gn_width, args.gn_bases, args.gn_mode)
            config = {"arch": "resnet18_cifar", "width": args.gn_width, "mode": args.gn_mode,
                      "num_bases": args.gn_bases, "residual_bits": 4, "stem_bits": 8}
        else:
            model = lbc_densenet(args.dn_depth, args.dn_growth, args.dn_lbc)
            config = {"arch": "densenet_bc_cifar_integer", "depth": args.dn_depth, "growth_rate": args.dn_growth,
                      "bn_size": 2, "num_anchors": 2 * args.dn_growth, "lbc": args.dn_lbc, "stream_bits": 4,
                      "act_bit_width": 2, "weight_bits": 4, "stem_bits": 8}
        tag = f"{name}_{args.gn_mode}_k{args.gn_bases}" if name == "groupnet" else name
        print(f"[finn_group_lbc] training {tag} for {args.steps} steps ...", flush=True)
        trained = train_and_test(model, data, 1, args.seed, log_dir=args.out_dir / "logs", name=name)
        model.eval()
        for board in args.boards:
            print(f"[finn_group_lbc] {tag} on {board} ...", flush=True)
            row = {"model": name, **config, "train_steps": args.steps, "batch_size": BATCH,
                   "top1": trained["top1"], "test_images": trained["test_images"],
                   "train_wall_s": trained["wall_s"], "data": DATA_NOTES["cifar10"],
                   "recipe": "Adam lr 1e-3, cosine to 0, from scratch, no augmentation, pixels / 255",
                   **build_or_failure(tag, model, board, images, labels, args),
                   "command": command, "threads": args.threads, "date": time.strftime("%Y-%m-%d %H:%M UTC",
                                                                                      time.gmtime())}
            (args.results / f"{tag}_{board}.json").write_text(json.dumps(row, indent=2) + "\n")
            print(json.dumps({k: row.get(k) for k in ("model", "board", "top1", "fps", "resources",
                                                        "all_stages_exact", "build_wall_s", "error")}), flush=True)
            rows.append(row)
            (args.results / "summary.json").write_text(json.dumps(rows, indent=2) + "\n")
    return rows


if __name__ == "__main__":
    main()
