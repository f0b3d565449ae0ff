"""``abc-build``: build a QONNX file or an ``abc-train`` checkpoint into a FINN dataflow accelerator.

Example::

    abc-build model.onnx out/ --board Pynq-Z1 --clock-ns 10 --target-fps 1000 \\
        --verify-npy images.npy --abc-mapping fused
    abc-build model.onnx out/ --board Pynq-Z1 --fit --fit-limit LUT=0.6   # highest FPS within 60 % LUT, 80 % BRAM
    abc-build outputs/lfc_abc_mnist/checkpoints/best.ckpt out/ \\
        --config outputs/lfc_abc_mnist/logs/version_0/config.yaml --verify-npy images.npy

Exit status 0 when the flow ran as far as this machine allows (see the message), 1 on a clear error
(bad input, an op FINN cannot lower, float in the accelerator, a verification mismatch), 2 on bad
command-line usage.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from finn_flow.config import ABC_MAPPINGS


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="abc-build", description=__doc__.split("\n\n")[0])
    p.add_argument("model", help="QONNX/ONNX file (export a Brevitas model with brevitas_abc.export_qonnx), or an "
                                 "abc-train checkpoint (.ckpt, with --config)")
    p.add_argument("output_dir", help="FINN output folder (replaced if it exists)")
    p.add_argument("--board", default="Pynq-Z1", help="FINN board name (Pynq-Z1, ZCU104, U250, ...)")
    p.add_argument("--clock-ns", type=float, default=10.0, help="target clock period in ns")
    p.add_argument("--target-fps", type=int, default=None, help="frames per second to fold for")
    p.add_argument("--fit", action="store_true",
                   help="fold for the highest FPS within the board's budget (default 70 %% LUT, 80 %% BRAM/URAM/DSP)")
    p.add_argument("--fit-limit", action="append", default=[], metavar="RESOURCE=FRACTION",
                   help="with --fit: usable fraction of LUT, BRAM_18K, URAM or DSP, e.g. --fit-limit LUT=0.5 "
                        "(repeatable)")
    p.add_argument("--abc-mapping", choices=ABC_MAPPINGS, default="bitwise",
                   help="how ABC layers map to FINN layers: bitwise (M*N xnor MVAUs), fused (N integer MVAUs), integer "
                        "(one integer MVAU), auto (per layer, fewest estimated LUTs within the BRAM budget)")
    p.add_argument("--verify-npy", default=None,
                   help=".npy of raw images [N, ...] (e.g. uint8 pixels, NCHW) to verify every stage on")
    p.add_argument("--input-scale", type=float, default=None,
                   help="the model sees pixels * input_scale (default: the preprocessing recorded in a checkpoint, "
                        "else 1/255); 0 keeps the graph input")
    p.add_argument("--input-datatype", default="UINT8")
    p.add_argument("--allow-float", action="store_true", help="build even with FLOAT32 inside the accelerator")
    p.add_argument("--no-codegen", action="store_true", help="stop after the estimate reports")
    p.add_argument("--config", default=None, help="for a .ckpt: the abc-train YAML it was trained with")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit status (see the module docstring)."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.fit and args.target_fps is not None:
        parser.error(f"--fit searches the FPS itself; drop --target-fps {args.target_fps}")
    if args.fit_limit and not args.fit:
        parser.error("--fit-limit needs --fit")
    limits = {}
    for item in args.fit_limit:
        key, _, value = item.partition("=")
        try:
            limits[key] = float(value)
        except ValueError:
            parser.error(f"--fit-limit {item!r}: expected RESOURCE=FRACTION, e.g. LUT=0.5")
    # submodule imports: they also work while an old editable install maps finn_flow as a namespace
    from finn_flow.build import build
    from finn_flow.errors import FinnFlowError

    try:
        verify = np.load(args.verify_npy) if args.verify_npy else None
    except (OSError, ValueError) as error:
        print(f"abc-build: error: --verify-npy={args.verify_npy!r} is not a readable .npy file: {error}", file=sys.stderr)
        return 1
    try:
        result = build(
            args.model, args.output_dir, board=args.board, clock_ns=args.clock_ns,
            target_fps="max" if args.fit else args.target_fps, fit_limits=limits or None, abc_mapping=args.abc_mapping, verify_inputs=verify,
            input_scale="auto" if args.input_scale is None else (args.input_scale or None),
            input_datatype=args.input_datatype,
            allow_float_in_dataflow=args.allow_float, codegen=not args.no_codegen, config=args.config)
    except (FinnFlowError, ValueError) as error:
        print(f"abc-build: error: {error}", file=sys.stderr)
        return 1
    print(result.message)
    if result.estimates:
        print(f"estimated throughput: {result.estimates.get('estimated_throughput_fps', 0):.1f} FPS")
    for row in result.verification:
        print(f"verified {row['stage']}: {row['images']} images, argmax agreement "
              f"{100 * row['argmax_agreement']:.1f} %, max abs diff {row['max_abs_diff']:.3g}")
    if result.fit:
        used = result.fit.get("final", {}).get("utilisation", {})
        print(f"fit to {args.board}: {result.fit['chosen']['fps']:.1f} FPS; utilisation "
              + ", ".join(f"{k} {100 * v:.1f} %" for k, v in used.items() if v is not None))
    print(f"summary: {result.output_dir}/report/build_summary.md")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
