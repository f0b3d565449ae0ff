"""Benchmark: FINN's estimates of the three ABC mappings (bitwise, fused, integer) and of auto, on ABC(3,3) networks.

``--network small`` (default; MNIST, every layer ABC(3,3) with ``coefficient_bits=4``, untrained, BatchNorm statistics randomised):
conv 1->16 3x3 pad 1, pool, conv 16->32 3x3 pad 1 (the ABC(3,3) layer of interest: MW = 144, MH = 32, 14x14
outputs), pool, FC 32*7*7 -> 10. Each mapping is built with ``finn_flow.build`` for ``--board`` at ``--target-fps``
to the estimate reports (no code generation), every stage verified on ``--images`` real MNIST test images; the
JSON has per mapping the network's FPS, LUT, BRAM_18K (FINN's totals), the MVAU count, verification and build time,
and from the auto build the per-layer candidate estimates (:mod:`finn_flow.abc_auto`: the layer's MVAUs and
element-wise layers, folded by FINN's SetFolding for the same cycle target, FINN's LUT/BRAM estimates).

``--network cnv_abc33``: the CIFAR-10 CNV at width 0.5, ABC(3,3) (``benchmarks/train_cnv_cifar10.py``'s ``abc33``: a
weights-only ABC(3, None) first layer behind an 8-bit input quantiser, 4-bit coefficients): trained
(``--checkpoint abc33/final.pt``), initialised from the trained float CNV (``--float-init float/final.pt``), or
untrained with BatchNorm statistics randomised as in the tests (default BatchNorm statistics give a BatchNorm scale
``1/sqrt(1 + eps)`` within qonnx's ``RemoveIdentityOps`` tolerance of 1, which ``step_qonnx_to_finn`` then drops: not
exact); raw uint8 CIFAR-10 test images in with the training normalisation; ``--target-fps max`` fits it to the
board.

    python benchmarks/abc_mapping_estimates.py --target-fps 1000 --images 20
    python benchmarks/abc_mapping_estimates.py --network cnv_abc33 --mappings integer auto --target-fps max --images 20
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
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without reinstalling

MAPPINGS = ("bitwise", "fused", "integer", "auto")


def abc33_cnn(seed: int = 0) -> nn.Module:
    """The module docstring's network, ABC(3,3) everywhere, 4-bit coefficients, BatchNorm statistics randomised."""
    from brevitas_abc import ABCConfig, swap

    torch.manual_seed(seed)
    model = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 7 * 7, 10, bias=False))
    swap(model, ABCConfig(num_weight_bases=3, num_act_bases=3, coefficient_bits=4, keep_first=False,
                          keep_last=False), verbose=False)
    _randomise_batchnorm(model, seed)
    return model.eval()


def _randomise_batchnorm(model: nn.Module, seed: int = 0) -> None:
    generator = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
            module.running_mean.copy_(torch.rand(module.num_features, generator=generator) - 0.5)
            module.running_var.copy_(0.5 + torch.rand(module.num_features, generator=generator))


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--network", choices=("small", "cnv_abc33"), default="small")
    parser.add_argument("--checkpoint", type=Path, default=None, help="cnv_abc33: abc33's final.pt of train_cnv_cifar10")
    parser.add_argument("--float-init", type=Path, default=None, help="cnv_abc33: float's final.pt, to initialise from")
    parser.add_argument("--mappings", nargs="+", choices=MAPPINGS, default=list(MAPPINGS))
    parser.add_argument("--board", default="Pynq-Z1")
    parser.add_argument("--target-fps", default="1000", help="frames per second, or max (fit to the board)")
    parser.add_argument("--images", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out-dir", type=Path, default=ROOT / "outputs" / "abc_mapping_estimates")
    parser.add_argument("--results", type=Path,
                        default=None, help="JSON to write (default benchmarks/results/abc_mapping_estimates/<network>.json)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    import finn_flow
    from lightning_modules.data import load_mnist

    target = args.target_fps if args.target_fps == "max" else int(args.target_fps)
    extra = {}
    if args.network == "small":
        images = load_mnist("test")[0][:args.images, None]
        model = abc33_cnn()
    else:
        from benchmarks.finn_cnv_cifar10 import cifar_test_uint8, preprocessing
        from benchmarks.train_cnv_cifar10 import build

        images = cifar_test_uint8(args.images)
        model = build("abc33", torch.load(args.float_init) if args.float_init else None)
        if args.checkpoint is not None:
            model.load_state_dict(torch.load(args.checkpoint))
        elif args.float_init is None:
            _randomise_batchnorm(model)
        model.eval()
        extra = {"preprocessing": preprocessing()}
    rows = {}
    for mapping in args.mappings:
        start = time.perf_counter()
        try:
            result = finn_flow.build(model, args.out_dir / f"{args.network}_{mapping}", board=args.board,
                                     target_fps=target, abc_mapping=mapping, verify_inputs=images, codegen=False,
                                     summary=True, **extra)
        except finn_flow.BoardBudgetError as error:  # does not fit the board at any folding tried: say so
            rows[mapping] = {"error": f"BoardBudgetError: {error}", "build_s": round(time.perf_counter() - start, 1)}
            print(json.dumps({mapping: rows[mapping]}), flush=True)
            continue
        total = result.resources.get("total", {})
        layers = [n for n in result.resources if n.startswith("MVAU")]
        report = json.loads((Path(result.output_dir) / "report" / "abc_mapping.json").read_text())
        rows[mapping] = {
            "fps": result.estimates.get("estimated_throughput_fps"), "LUT": total.get("LUT"),
            "fit_final": (result.fit or {}).get("final", {}).get("resources"),
            "step_times_wall_s": {k: v["wall_s"] for k, v in result.step_times.items()},
            "BRAM_18K": total.get("BRAM_18K"), "MVAUs": len(layers),
            "exact": all(r["max_abs_diff"] == 0.0 and r["argmax_agreement"] == 1.0 for r in result.verification),
            "build_s": round(time.perf_counter() - start, 1),
            "layers": {k: {kk: vv for kk, vv in v.items() if kk in ("mapping", "why", "estimates", "target_cycles")}
                       for k, v in report["layers"].items()}}
        print(json.dumps({mapping: {k: rows[mapping][k] for k in ("fps", "LUT", "BRAM_18K", "MVAUs", "exact",
                                                                  "build_s")}}), flush=True)
    out = {"command": "python " + shlex.join(["benchmarks/abc_mapping_estimates.py", *(argv or sys.argv[1:])]),
           "network": args.network, "weights": ("trained" if args.checkpoint else "float-initialised"
                                                  if args.float_init else "untrained, BatchNorm statistics randomised"), "board": args.board, "target_fps": args.target_fps, "images": args.images,
           "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "mappings": rows}
    if args.network == "small" and "auto" in rows:
        second = list(rows["auto"]["layers"].values())[1]  # the 16 -> 32 ABC(3,3) conv
        print("ABC(3,3) conv 16->32 3x3 (auto's candidate estimates at "
              f"{second['target_cycles']} target cycles): " + json.dumps(second["estimates"]), flush=True)
        out["abc33_conv_16_32_candidates"] = second
    args.results = args.results or ROOT / "benchmarks" / "results" / "abc_mapping_estimates" / f"{args.network}.json"
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(out, indent=2) + "\n")
    return out


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
