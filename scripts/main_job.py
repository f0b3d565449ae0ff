"""The README's main job: train an ABC-Net on real MNIST (offline), export it to QONNX and verify the export,
build it with FINN to estimates for a Pynq-Z1 (every stage verified on real test images), then print a
short report: accuracy, model size float vs binary, estimated FPS and LUT/BRAM, and where the files are.

    python scripts/main_job.py [--epochs 3] [--train-subset 55000] [--out outputs/main_job]

The network is LeNet-5 with every layer swapped to ABC (M weight bases, N activation bases), activation
shifts "centered" and ``coefficient_bits`` 4: every ``alpha_m beta_n`` is a 4-bit-range integer times a
per-channel scale, the form FINN's integer hardware layers need (DESIGN.md 1.3). The first and last layers
are binary too (``keep_first=False``, ``keep_last=False``), so the whole network goes to the FPGA.
"""
import argparse
import json
import time
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
from torch import nn

import brevitas_abc
from lightning_modules.callbacks import LatentWeightClipping
from lightning_modules.data import MNISTDataModule
from lightning_modules.models import build_model
from lightning_modules.module import ClassificationModule

STEPS = 5


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--train-subset", type=int, default=55000, help="training images per epoch (of 55,000)")
    parser.add_argument("--num-weight-bases", type=int, default=3)
    parser.add_argument("--num-act-bases", type=int, default=3)
    parser.add_argument("--coefficient-bits", type=int, default=4, choices=(2, 3, 4))
    parser.add_argument("--export-images", type=int, default=256, help="real test images the QONNX check runs on")
    parser.add_argument("--finn-images", type=int, default=200, help="real test images each FINN stage runs on")
    parser.add_argument("--mapping", default="fused", choices=("bitwise", "fused"), help="ABC mapping to hardware")
    parser.add_argument("--board", default="Pynq-Z1")
    parser.add_argument("--target-fps", type=int, default=10000)
    parser.add_argument("--no-finn", action="store_true", help="stop after the QONNX export")
    parser.add_argument("--out", type=Path, default=Path("outputs/main_job"))
    return parser.parse_args(argv)


def step(index: int, text: str) -> None:
    print(f"\n[{index}/{STEPS}] {text}", flush=True)


def run_finn(model: nn.Module, data: MNISTDataModule, args, out: Path):
    import finn_flow

    images = np.asarray(data.test_set.images[:args.finn_images])  # raw uint8 [N, 28, 28]
    # the training preprocessing ((x / 255 - mean) / std) goes in front of the network: the hardware takes raw pixels
    return finn_flow.build(model, out, board=args.board, target_fps=args.target_fps, abc_mapping=args.mapping,
                           verify_inputs=images, preprocessing=data.preprocessing)


def _share(used: float, capacity: int | None) -> str:
    return f" ({100 * used / capacity:.0f} % of the board)" if capacity else ""


def report_lines(result: dict) -> list[str]:
    lines = ["", "== brevitas-abc main job ==",
             f"MNIST test top-1 (10,000 real test images): {result['test_top1']:.2f} %",
             f"model size: {result['deployed_bytes']:,.0f} B deployed (binary bases + coefficients) vs "
             f"{result['float_bytes']:,} B float32 ({result['float_bytes'] / result['deployed_bytes']:.1f}x smaller)",
             f"QONNX export: {result['export']}"]
    finn = result.get("finn")
    if finn:
        lines += [f"FINN ({finn['mapping']} mapping, {finn['board']}, target {finn['target_fps']:,} FPS): "
                  f"estimated {finn['fps']:,.0f} FPS, latency {finn['latency_us']:,.1f} us; "
                  f"LUT {finn['lut']:,.0f}{_share(finn['lut'], finn['board_lut'])}, "
                  f"BRAM18 {finn['bram18']:,.0f}{_share(finn['bram18'], finn['board_bram18'])}, DSP {finn['dsp']:,.0f} "
                  "(FINN's estimates; they count 0 LUT for its elementwise layers)",
                  f"FINN verification: {finn['verified']}",
                  f"FINN status: {finn['status']}"]
    lines += [f"files: {result['out']}", f"  QONNX model: {result['onnx']}", "  training logs (CSV): logs/"]
    if finn:
        lines += [f"  FINN build: {finn['output_dir']} (summary: report/build_summary.md)"]
    lines.append(f"done in {result['seconds']:.0f} s")
    return lines


def main(argv=None) -> dict:
    args = parse_args(argv)
    start = time.time()
    out = args.out.resolve()
    pl.seed_everything(0, workers=True)
    config = brevitas_abc.ABCConfig(num_weight_bases=args.num_weight_bases, num_act_bases=args.num_act_bases,
                                    act_shifts="centered", coefficient_bits=args.coefficient_bits,
                                    keep_first=False, keep_last=False)
    step(1, f"LeNet-5, every layer ABC-Net (M={config.num_weight_bases}, N={config.num_act_bases}, "
            f"{args.coefficient_bits}-bit integer coefficients)")
    model = build_model("lenet5", abc=config)
    data = MNISTDataModule(batch_size=128, train_subset=args.train_subset, seed=0)
    module = ClassificationModule(model, optimizer=lambda params: torch.optim.Adam(params, lr=2e-3),
                                  lr_scheduler=lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, args.epochs))
    trainer = pl.Trainer(max_epochs=args.epochs, accelerator="cpu", default_root_dir=str(out),
                         logger=pl.loggers.CSVLogger(str(out), name="logs"), enable_checkpointing=False,
                         enable_model_summary=False, callbacks=[LatentWeightClipping()])
    step(2, f"training {args.epochs} epoch(s) on {args.train_subset:,} real MNIST images, then testing on 10,000")
    trainer.fit(module, datamodule=data)
    test_acc = trainer.test(module, datamodule=data, verbose=False)[0]["test_acc1"]
    model.eval()

    step(3, f"exporting to QONNX and executing it on {args.export_images} real test images")
    data.setup("test")
    images = torch.cat([batch[0] for batch in data.test_dataloader()])[:args.export_images]
    onnx_path = out / "lenet5_abc.onnx"
    report = brevitas_abc.export_qonnx(model, images, onnx_path)
    size = brevitas_abc.summary(model)
    result = {"test_top1": 100 * float(test_acc), "export": str(report), "onnx": str(onnx_path),
              "deployed_bytes": size.deployed_bytes, "float_bytes": size.float_model_bytes, "out": str(out)}

    if not args.no_finn:
        step(4, f"FINN build to estimates for {args.board} ({args.mapping} mapping), every stage executed on "
                f"{args.finn_images} real test images")
        build = run_finn(model, data, args, out / "finn")
        from finn_flow.boards import resolve_board
        from finn_flow.summary import resource_totals

        board = resolve_board(args.board)

        totals = resource_totals(build.resources) if build.resources else {}
        est = build.estimates
        stages = [f"{row['stage']}: {100 * row['argmax_agreement']:.0f} %" for row in build.verification]
        result["finn"] = {"mapping": args.mapping, "board": args.board, "target_fps": args.target_fps,
                          "fps": float(est.get("estimated_throughput_fps", 0.0)),
                          "latency_us": float(est.get("estimated_latency_ns", 0.0)) / 1000,
                          "lut": totals.get("LUT", 0.0), "bram18": totals.get("BRAM_18K", 0.0),
                          "dsp": totals.get("DSP", 0.0), "status": build.message,
                          "verified": f"argmax agreement with PyTorch on {args.finn_images} images per stage: "
                                      + ", ".join(stages),
                          "float_in_dataflow": build.float_in_dataflow, "output_dir": str(build.output_dir),
                          "board_lut": board.lut, "board_bram18": 2 * board.bram36 if board.bram36 else None}
    step(STEPS, "report")
    result["seconds"] = time.time() - start
    print("\n".join(report_lines(result)))
    (out / "report.json").write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
