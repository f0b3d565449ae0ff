"""Forward+backward time of ABCConv2d against nn.Conv2d and against the M*N-branch reference, in one run.

ABC runs in eager PyTorch and with ``use_compiled_kernels()`` (the multi-binary activation fused by
torch.compile; the compile time is excluded by the warm-up run). Shapes (issue 2): batch 64, 64 -> 64 channels, 32x32, 3x3, padding 1. Prints a table of median times and
ratios and writes ``benchmarks/results/abc_conv_speed.json``. Compare the ratios, not the absolute times:
the machine is shared and noisy.

    python benchmarks/abc_conv_speed.py [--repeats 7] [--threads 2]
"""
import argparse
import json
import statistics
import time
from pathlib import Path

import torch
from torch import nn

from brevitas_abc import ABCConv2d
from brevitas_abc.function import use_compiled_kernels

SHAPE = dict(batch=64, channels=64, size=32, kernel=3)


def time_forward_backward(variants: dict, x: torch.Tensor, repeats: int) -> dict:
    """Median seconds of ``forward(x).sum().backward()`` per variant.

    Variants run round-robin (one of each per repeat, after one warm-up each), so load from other processes
    hits all of them alike and the ratios stay meaningful on a shared machine.
    """
    times = {name: [] for name in variants}
    for i in range(repeats + 1):
        for name, (forward, compiled) in variants.items():
            use_compiled_kernels(compiled)
            x_run = x.detach().requires_grad_(True)
            start = time.perf_counter()
            forward(x_run).sum().backward()
            if i:
                times[name].append(time.perf_counter() - start)
    use_compiled_kernels(False)
    return {name: statistics.median(values) for name, values in times.items()}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "abc_conv_speed.json")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    c, k = SHAPE["channels"], SHAPE["kernel"]
    x = torch.randn(SHAPE["batch"], c, SHAPE["size"], SHAPE["size"])
    variants = {"float nn.Conv2d": (nn.Conv2d(c, c, k, padding=1), False)}
    for m, n in ((3, 3), (5, 5)):
        layer = ABCConv2d(c, c, k, padding=1, num_weight_bases=m, num_act_bases=n)
        variants[f"ABCConv2d ({m},{n}) eager"] = (layer, False)
        variants[f"ABCConv2d ({m},{n}) compiled"] = (layer, True)
        variants[f"M*N-branch reference ({m},{n})"] = (layer.forward_branches, False)
    rows = time_forward_backward(variants, x, args.repeats)
    base = rows["float nn.Conv2d"]
    print(f"forward+backward, batch {SHAPE['batch']}, {c}->{c} ch, {SHAPE['size']}x{SHAPE['size']}, "
          f"{k}x{k}, {args.threads} threads, median of {args.repeats}")
    print(f"{'layer':32s} {'ms':>9s} {'x float':>8s}")
    for name, seconds in rows.items():
        print(f"{name:32s} {1000 * seconds:9.1f} {seconds / base:8.2f}")
    for m, n in ((3, 3), (5, 5)):
        abc, ref = rows[f"ABCConv2d ({m},{n}) eager"], rows[f"M*N-branch reference ({m},{n})"]
        print(f"({m},{n}): reference / ABC eager = {ref / abc:.1f}x")
    import sys

    command = "python benchmarks/abc_conv_speed.py " + " ".join(sys.argv[1:] if argv is None else argv)
    result = {"command": command.strip(), "data": "random tensors (torch.randn, timing only)", "epochs": None,
              "seed": 0, "shape": SHAPE, "threads": args.threads, "repeats": args.repeats,
              "seconds": rows, "ratio_to_float": {name: s / base for name, s in rows.items()},
              "goal": "ABCConv2d <= 1.5x float nn.Conv2d"}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"wrote {args.out}")
    return result


if __name__ == "__main__":
    main()
