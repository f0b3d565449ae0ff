"""FINN estimates for CNV on CIFAR-10: ABC (M, N) in both mappings beside stock CNV W1A1/W1A2/W2A2.

Every model is built by ``finn_flow.build`` for the same board, clock and target FPS through FINN's
estimate reports (no code generation), and verified on a few real CIFAR-10 test images. Writes
``<out>/finn_cnv_estimates.json`` (``{command, data, board, target_fps, coefficients, ..., rows}``), ``.md``
(table) and ``finn_cnv_pareto.png``: CIFAR-10 accuracy against LUT, the accuracy read from the training
benchmark ``benchmarks/accuracy_sweep.py --dataset cifar10`` (``--accuracy``; its rows carry a
``finn_config`` naming these configs). Configs without an accuracy are listed as missing in the JSON.

ABC weights here are untrained (estimates depend on shapes and bit widths, not on values): full-width
CNV from ``brevitas_abc.models`` with every layer but the last ABC and, as ``build_model`` trains it, no float ReLU
in front of an ABC layer. ABC's branch coefficients are injected
into the exported graph as integer multiples of one scale (``tests/finn_flow/abc_models.py``
``export_with_integer_coefficients``), the form a hardware-aware training constraint produces (DESIGN.md
1.3); with free float coefficients the bitwise mapping keeps FLOAT32 Mul/Add layers in the accelerator,
which FINN estimates as 0 LUT (so totals are lower bounds). The accuracy sweep trains a narrower CNV
(``local_cnv``, width in its JSON), so the Pareto plot pairs the LUT of full-width CNV with the accuracy
of the budget-trained one: compare orderings, not values.

Usage::

    python benchmarks/finn_cnv_estimates.py [--target-fps 1000] [--images 20] [--configs w1a1 abc11_fused ...]
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tarfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without reinstalling

import numpy as np
import torch

CIFAR_TAR = Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar10-jpeg.tar.gz"
STOCK = {"w1a1": "cnv_1w1a", "w1a2": "cnv_1w2a", "w2a2": "cnv_2w2a"}
ABC = {"abc11": (1, 1), "abc31": (3, 1), "abc33": (3, 3)}


def cifar_test_images(count: int) -> np.ndarray:
    from PIL import Image

    images = []
    with tarfile.open(CIFAR_TAR) as tar:
        for member in tar:
            if member.isfile() and member.name.startswith("test/"):
                images.append(np.asarray(Image.open(io.BytesIO(tar.extractfile(member).read())).convert("RGB")))
                if len(images) == count:
                    break
    return np.stack(images).transpose(0, 3, 1, 2)


def stock_cnv(name: str) -> torch.nn.Module:
    from brevitas_examples.bnn_pynq.models import model_with_cfg

    torch.manual_seed(0)
    model, _ = model_with_cfg(name, pretrained=False)
    return model.eval()


COEFFICIENTS = ("untrained ABC weights; branch coefficients injected as random integers 1..3 times one scale "
                "(benchmarks/qonnx_coefficients.py export_with_integer_coefficients, seed 0)")


def abc_cnv_qonnx(m: int, n: int, path: Path, example: np.ndarray) -> Path:
    from brevitas_abc import ABCConfig, swap
    from brevitas_abc.models.registry import create_model

    from benchmarks.qonnx_coefficients import export_with_integer_coefficients

    from lightning_modules.models.builder import drop_activations_before_binary_inputs

    torch.manual_seed(0)
    model = create_model("cnv")
    swap(model, ABCConfig(num_weight_bases=m, num_act_bases=n, keep_first=False, keep_last=True), verbose=False)
    # as trained (build_model): the ABC activation is the nonlinearity, no float ReLU in front of it (with one, the
    # default shifts' v = 0.5 base is sign(relu(x)) = +1, which finn_flow refuses: checks.check_bipolar_after_relu)
    drop_activations_before_binary_inputs(model)
    model.eval()
    # untrained full-width CNV: a few pre-activations lie within float32 rounding of a threshold (CIFAR test image
    # 0 at ABC(3,3)), so the PyTorch-vs-QONNX export check is skipped; the coefficients are replaced anyway
    return export_with_integer_coefficients(model, example.astype(np.float32) / 255, path, seed=0, check_export=False)


def run(config: str, out: Path, images: np.ndarray, target_fps: int, board: str, verify: bool = True) -> dict:
    import finn_flow
    from finn_flow.summary import resource_totals

    start = time.time()
    row = {"config": config}
    try:
        if config in STOCK:
            model, mapping = stock_cnv(STOCK[config]), "bitwise"
        else:
            mapping = config.split("_")[1]
            (out / "onnx").mkdir(parents=True, exist_ok=True)  # a sub-folder: git ignores benchmarks/results/*/*/
            model = abc_cnv_qonnx(*ABC[config.split("_")[0]], out / "onnx" / f"{config}.onnx", images[:1])
        result = finn_flow.build(model, out / config, board=board, target_fps=target_fps, abc_mapping=mapping,
                                 verify_inputs=images if verify else None, example_input=images[:1] / 255.0,
                                 allow_float_in_dataflow=True, codegen=False)
        totals = resource_totals(result.resources)
        row.update(
            mapping=mapping, fps=result.estimates.get("estimated_throughput_fps"),
            latency_us=result.estimates.get("estimated_latency_ns", 0) / 1e3,
            lut=totals.get("LUT"), bram36=totals.get("BRAM_18K", 0) / 2, dsp=totals.get("DSP"),
            float_tensors_in_accelerator=len(result.float_in_dataflow),
            verified_images=result.verification[-1]["images"] if result.verification else 0,
            argmax_agreement=result.verification[-1]["argmax_agreement"] if result.verification else None)
    except Exception as error:  # one failing configuration must not hide the others
        row["error"] = f"{type(error).__name__}: {str(error)[:300]}"
    row["build_seconds"] = round(time.time() - start, 1)
    return row


def read_accuracy(path: Path) -> tuple[dict, str | None]:
    """``{finn config: top1}`` from the accuracy sweep's JSON (rows with ``finn_config``), and its command."""
    if not path.is_file():
        return {}, None
    data = json.loads(path.read_text())
    if isinstance(data, dict) and "rows" in data:
        return {r["finn_config"]: r["top1"] for r in data["rows"] if r.get("finn_config")}, data.get("command")
    return {k: float(v) for k, v in data.items()}, None  # the older plain {config: top1} form


def write_outputs(rows: list[dict], out: Path, accuracy: dict | None, meta: dict | None = None) -> None:
    meta = dict(meta or {})
    if accuracy is not None:
        meta["accuracy_missing_for"] = sorted({r["config"].split("_")[0] for r in rows} - set(accuracy))
    (out / "finn_cnv_estimates.json").write_text(json.dumps({**meta, "rows": rows}, indent=2) + "\n")
    lines = ["| config | mapping | FPS | LUT | BRAM36 | DSP | float tensors in accelerator | verified | note |",
             "|---|---|---:|---:|---:|---:|---:|---|---|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['config']} | | | | | | | | {r['error']} |")
            continue
        lines.append(f"| {r['config']} | {r['mapping']} | {r['fps']:.0f} | {r['lut']:.0f} | {r['bram36']:.1f} | "
                     f"{r['dsp']:.0f} | {r['float_tensors_in_accelerator']} | {r['verified_images']} images, "
                     f"{100 * (r['argmax_agreement'] or 0):.0f} % | |")
    (out / "finn_cnv_estimates.md").write_text("\n".join(lines) + "\n")
    if accuracy:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 4))
        for r in rows:
            if "error" not in r and r["config"].split("_")[0] in accuracy:
                ax.scatter(r["lut"], accuracy[r["config"].split("_")[0]])
                ax.annotate(r["config"], (r["lut"], accuracy[r["config"].split("_")[0]]), fontsize=7)
        ax.set_xscale("log")
        ax.set_xlabel("LUT (FINN estimate, full-width CNV)")
        ax.set_ylabel("CIFAR-10 top-1 % (accuracy_sweep)")
        fig.tight_layout()
        fig.savefig(out / "finn_cnv_pareto.png", dpi=100)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "finn_cnv_estimates"))
    parser.add_argument("--target-fps", type=int, default=1000)
    parser.add_argument("--board", default="Pynq-Z1")
    parser.add_argument("--images", type=int, default=20,
                        help="real CIFAR-10 test images to verify on (0: estimates only, no verification)")
    default = list(STOCK) + [f"{a}_{m}" for a in ABC for m in ("bitwise", "fused")]
    parser.add_argument("--configs", nargs="+", default=default, choices=default)
    parser.add_argument("--accuracy", default=str(Path(__file__).resolve().parent / "results" / "accuracy_cifar10" /
                                                  "results.json"),
                        help="the accuracy sweep's CIFAR-10 results.json (or a JSON {config: top1})")
    parser.add_argument("--append", action="store_true",
                        help="keep the rows already in --out (configs run now replace theirs); the recorded command "
                             "becomes 'previous && this'")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    images = cifar_test_images(max(args.images, 1))
    accuracy, accuracy_command = read_accuracy(Path(args.accuracy))
    root = Path(__file__).resolve().parents[1]
    script = Path(__file__).resolve().relative_to(root)
    meta = {"benchmark": "finn_cnv_estimates",
            "command": "python " + " ".join([str(script), *(sys.argv[1:] if argv is None else argv)]),
            "data": f"CIFAR-10 test images for verification ({args.images}; real, JPEG copy); no training",
            "epochs": None, "seed": 0, "board": args.board, "target_fps": args.target_fps,
            "coefficients": COEFFICIENTS, "accuracy_from": accuracy_command,
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    rows = []
    previous = out / "finn_cnv_estimates.json"
    if args.append and previous.is_file():
        old = json.loads(previous.read_text())
        rows = [r for r in old["rows"] if r.get("config") not in args.configs]
        meta["command"] = f"{old['command']} && {meta['command']}"
        meta["date"] = f"{old.get('date', '?')}, {meta['date']}"
    for config in args.configs:
        rows.append(run(config, out, images, args.target_fps, args.board, verify=args.images > 0))
        print(json.dumps(rows[-1]), flush=True)
        write_outputs(rows, out, accuracy, meta)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
