"""Benchmark: FINN build time per step for the CNV variants of ``benchmarks/train_cnv_cifar10.py``, per ABC mapping.

Each (variant, mapping) is built by ``finn_flow.build`` from ``train_cnv_cifar10.build(variant, None)`` (untrained
unless ``--weights DIR`` holds ``<variant>/final.pt``) through estimates and HLS/RTL code generation, verified on
``--images`` real CIFAR-10 test images (the archive's first, ``finn_cnv_estimates.cifar_test_images``). Writes
``<out>/finn_build_time.json``: per build the wall and CPU seconds of every step (``report/step_times.json``), the
totals, FINN's FPS/LUT/BRAM estimates and the verification rows. CPU seconds are this process's own: on a shared
machine they, not the wall time, say what a build costs.

    python benchmarks/finn_build_time.py --variants abc33 --mappings bitwise fused --images 10
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without reinstalling


def build_one(variant: str, mapping: str, images, out: Path, weights: Path | None, target_fps) -> dict:
    import torch

    import finn_flow
    from benchmarks.train_cnv_cifar10 import build
    from finn_flow.summary import resource_totals

    state = None
    if weights is not None and (weights / variant / "final.pt").is_file():
        state = torch.load(weights / variant / "final.pt", map_location="cpu")
    torch.manual_seed(0)
    model = build(variant, None)
    if state is not None:
        model.load_state_dict(state.get("state_dict", state) if isinstance(state, dict) else state)
    row = {"variant": variant, "mapping": mapping, "trained": state is not None}
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        result = finn_flow.build(model.eval(), out / f"{variant}_{mapping}", abc_mapping=mapping,
                                 verify_inputs=images, target_fps=target_fps, codegen=True)
        totals = resource_totals(result.resources)
        row.update(status=result.status, steps=result.step_times, fps=result.estimates.get("estimated_throughput_fps"),
                   lut=totals.get("LUT"), bram18=totals.get("BRAM_18K"), verification=result.verification)
    except Exception as error:  # one failing build must not hide the others
        row["error"] = f"{type(error).__name__}: {str(error)[:400]}"
    row["wall_s"], row["cpu_s"] = round(time.perf_counter() - wall, 1), round(time.process_time() - cpu, 1)
    return row


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--variants", nargs="+", default=["abc33"])
    p.add_argument("--mappings", nargs="+", default=["bitwise", "fused"])
    p.add_argument("--images", type=int, default=10, help="real CIFAR-10 test images to verify every stage on")
    p.add_argument("--target-fps", default="1000", help='frames per second to fold for, or "max" (fit to board)')
    p.add_argument("--weights", type=Path, default=None, help="train_cnv_cifar10 work folder with <variant>/final.pt")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "finn_build_time")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)

    import torch

    from benchmarks.finn_cnv_estimates import cifar_test_images

    torch.set_num_threads(args.threads)
    images = cifar_test_images(args.images)
    target = args.target_fps if args.target_fps == "max" else int(args.target_fps)
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for variant in args.variants:
        for mapping in (args.mappings if variant.startswith("abc") else ["bitwise"]):
            rows.append(build_one(variant, mapping, images, args.out / "builds", args.weights, target))
            print(json.dumps({k: v for k, v in rows[-1].items() if k not in ("steps", "verification")}), flush=True)
    data = {"command": "python " + " ".join(shlex.quote(a) for a in [sys.argv[0], *(argv or sys.argv[1:])]),
            "images": len(images), "target_fps": target, "rows": rows}
    (args.out / "finn_build_time.json").write_text(json.dumps(data, indent=2) + "\n")
    return data


if __name__ == "__main__":
    main()
