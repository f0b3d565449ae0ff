"""Benchmark on real CIFAR-10: LBC "full" vs "fused" vs float DenseNet-BC (the trend of the LBC poster's
Table 1: float > fused > full in accuracy and in learned parameters) and a Group-Net K sweep (K = 1..4 binary
branches; Group-Net's claim: more branches, higher accuracy).

Models: ``densenet_bc_cifar`` (``brevitas_abc.models``; growth rate 12, ``lbc`` = "none" / "full" / "fused",
LBC layers with the zoo's default anchors) and ``resnet18_cifar`` with a reduced ``width`` swapped to
Group-Net (``GroupNetConfig(num_bases=K, mode="group")``: K binary branches per stage with soft gates,
stem and classifier float). Recipe: ``benchmarks.training`` (Adam 1e-3, cosine to 0, from scratch, no
augmentation), seed 0, the full 10,000-image test split.

Budgets (``--budget``): quick = 5,000 training images, 1 epoch, DenseNet depth 10, ResNet width 8;
full = 20,000 images, 2 epochs, DenseNet depth 16, ResNet width 16 (~30 minutes on 1 thread).

    python benchmarks/lbc_group_net_cifar.py --budget quick --threads 1

Variants can run in separate processes (``--variants "Group-Net K=4" --out other``) and be merged:
``--merge benchmarks/results/lbc_group_net_cifar other`` (the JSON keeps every source command).

Writes ``benchmarks/results/lbc_group_net_cifar/results.json``, ``table.md`` and ``lbc_group_net.png``.
"""
from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch

from benchmarks.training import DATA_NOTES, ROOT, argv_command, datamodule, metadata, train_and_test, write_json

BUDGETS = {"quick": {"train": 5000, "epochs": 1, "depth": 10, "width": 8},
           "full": {"train": 20000, "epochs": 2, "depth": 16, "width": 16}}
LBC_VARIANTS = ("float", "fused", "full")
GROUP_NET_K = (1, 2, 3, 4)


def specs() -> list[dict]:
    return ([{"family": "lbc", "variant": v, "model": "densenet_bc_cifar"} for v in LBC_VARIANTS] +
            [{"family": "group_net", "variant": f"Group-Net K={k}", "K": k, "model": "resnet18_cifar"}
             for k in GROUP_NET_K])


def build(spec: dict, budget: dict) -> torch.nn.Module:
    from lightning_modules.models import build_model

    torch.manual_seed(0)
    if spec["family"] == "lbc":
        lbc = "none" if spec["variant"] == "float" else spec["variant"]
        return build_model("densenet_bc_cifar", arch_kwargs={"depth": budget["depth"], "lbc": lbc})
    return build_model("resnet18_cifar", arch_kwargs={"width": budget["width"]},
                       group_net={"num_bases": spec["K"], "mode": "group"})


def write_outputs(rows: list[dict], meta: dict, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    write_json(out / "results.json", meta, rows)
    lines = ["| model | variant | top-1 % | learned params | train s |", "|---|---|---:|---:|---:|"]
    lines += [f"| {r['model']} | {r['variant']} | {r['top1']:.2f} | {r['learned']:,} | {r['wall_s']:.0f} |" for r in rows]
    (out / "table.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines), flush=True)
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    for ax, family, title in zip(axes, ("lbc", "group_net"), ("DenseNet-BC: LBC", "ResNet-18: Group-Net")):
        sub = [r for r in rows if r["family"] == family]
        ax.bar([r["variant"].replace("Group-Net ", "") for r in sub], [r["top1"] for r in sub], color="tab:blue")
        for i, r in enumerate(sub):
            ax.text(i, r["top1"], f"{r['top1']:.1f}\n{r['learned'] / 1e3:.0f}k p", ha="center", va="bottom", fontsize=7)
        ax.set_title(title, fontsize=9)
        ax.set_ylabel("CIFAR-10 test top-1 (%)")
        if sub:
            ax.set_ylim(0, max(r["top1"] for r in sub) * 1.25)
    fig.suptitle(f"{meta['train_images']} training images, {meta['epochs']} epoch(s), seed {meta['seed']}", fontsize=9)
    fig.tight_layout()
    fig.savefig(out / "lbc_group_net.png", dpi=110)
    plt.close(fig)


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", choices=list(BUDGETS), default="quick")
    parser.add_argument("--train-subset", type=int, default=None, help="override the budget's training images")
    parser.add_argument("--epochs", type=int, default=None, help="override the budget's epochs")
    parser.add_argument("--variants", nargs="+", default=None, help="names from the sweep (default: all)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "lbc_group_net_cifar")
    parser.add_argument("--merge", type=Path, nargs="+", default=None,
                        help="train nothing: merge the results.json of these folders (same budget) into --out")
    args = parser.parse_args(argv)
    if args.merge:
        return merge(args.merge, args.out)
    torch.set_num_threads(args.threads)
    budget = dict(BUDGETS[args.budget])
    if args.train_subset is not None:
        budget["train"] = args.train_subset
    budget["epochs"] = args.epochs or budget["epochs"]
    chosen = [s for s in specs() if not args.variants or s["variant"] in args.variants]
    if not chosen:
        raise ValueError(f"variants={args.variants} not allowed: expected some of {[s['variant'] for s in specs()]}")
    data = datamodule("cifar10", args.batch_size, budget["train"], None, args.seed)
    meta = metadata(argv_command(__file__, argv), DATA_NOTES["cifar10"], budget["epochs"], args.seed,
                    benchmark="lbc_group_net_cifar", budget=args.budget, train_images=budget["train"],
                    densenet_depth=budget["depth"], resnet_width=budget["width"], batch_size=args.batch_size,
                    recipe="Adam lr 1e-3, cosine to 0, from scratch, no augmentation")
    rows = []
    for spec in chosen:
        model = build(spec, budget)
        learned = sum(p.numel() for p in model.parameters() if p.requires_grad)
        result = train_and_test(model, data, budget["epochs"], args.seed, log_dir=args.out / "logs", name=spec["variant"])
        rows.append({**spec, "learned": learned, **result})
        meta["train_images"] = result["train_images"]
        print(rows[-1], flush=True)
        write_outputs(rows, meta, args.out)
    return rows


def merge(folders: list[Path], out: Path) -> list[dict]:
    """One results.json from several runs of the same budget, rows in ``specs()`` order."""
    import json

    runs = [json.loads((folder / "results.json").read_text()) for folder in folders]
    for key in ("budget", "epochs", "seed", "densenet_depth", "resnet_width", "train_images"):
        if len({str(run.get(key)) for run in runs}) > 1:
            raise ValueError(f"cannot merge runs with different {key}: {[run.get(key) for run in runs]}")
    by_name = {row["variant"]: row for run in runs for row in run["rows"]}
    rows = [by_name[s["variant"]] for s in specs() if s["variant"] in by_name]
    meta = {k: v for k, v in runs[0].items() if k != "rows"}
    merge_command = shlex.join(["python", "benchmarks/lbc_group_net_cifar.py", "--merge", *map(str, folders)])
    meta["command"] = " && ".join([*(run["command"] for run in runs), merge_command])
    meta["date"] = ", ".join(run.get("date", "?") for run in runs)
    out.mkdir(parents=True, exist_ok=True)
    write_outputs(rows, meta, out)
    return rows


if __name__ == "__main__":
    main()
