"""Benchmark on real CIFAR-10: Group-Net ResNet-18 (group mode, K binary branches, soft gates) with float residual
streams against integer residual streams (``GroupNetConfig(residual_bits=b)``, the form ``finn_flow.build`` lowers;
``brevitas_abc.nn.group_net.residual``), same model, data, recipe and budget for both.

Model: ``resnet18_cifar`` with a reduced ``width``, every stage swapped to ``GroupNetConfig(num_bases=K,
mode="group")``; the stem conv and classifier stay float in both variants. Recipe: ``benchmarks.training`` (Adam
1e-3, cosine to 0, from scratch, no augmentation), seed 0, 1 thread, the full 10,000-image test split.

    python benchmarks/group_net_residual_cifar.py --train-subset 2000 --epochs 1 --width 8 --threads 1

Writes ``benchmarks/results/group_net_residual_cifar/results.json`` and ``table.md``.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch

from benchmarks.training import DATA_NOTES, ROOT, argv_command, datamodule, metadata, train_and_test, write_json


def build(width: int, num_bases: int, residual_bits: int | None) -> torch.nn.Module:
    from lightning_modules.models import build_model

    torch.manual_seed(0)
    return build_model("resnet18_cifar", arch_kwargs={"width": width},
                       group_net={"num_bases": num_bases, "mode": "group", "residual_bits": residual_bits})


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-subset", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--width", type=int, default=8, help="channels of the first stage (64 in the paper)")
    parser.add_argument("--num-bases", type=int, default=2)
    parser.add_argument("--residual-bits", type=int, nargs="+", default=[4], help="integer variants to train")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "group_net_residual_cifar")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    data = datamodule("cifar10", args.batch_size, args.train_subset, None, args.seed)
    meta = metadata(argv_command(__file__, argv), DATA_NOTES["cifar10"], args.epochs, args.seed,
                    benchmark="group_net_residual_cifar", width=args.width, num_bases=args.num_bases,
                    batch_size=args.batch_size, recipe="Adam lr 1e-3, cosine to 0, from scratch, no augmentation")
    rows = []
    for bits in [None, *args.residual_bits]:
        model = build(args.width, args.num_bases, bits)
        variant = "float residuals" if bits is None else f"INT{bits} residuals"
        result = train_and_test(model, data, args.epochs, args.seed, log_dir=args.out / "logs", name=variant)
        rows.append({"variant": variant, "residual_bits": bits, **result})
        print(rows[-1], flush=True)
        write_json(args.out / "results.json", meta, rows)
    lines = ["| residual streams | top-1 % | train s |", "|---|---:|---:|"]
    lines += [f"| {r['variant']} | {r['top1']:.2f} | {r['wall_s']:.0f} |" for r in rows]
    (args.out / "table.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines), flush=True)
    return rows


if __name__ == "__main__":
    main()
