"""One command for ``docs/RESULTS.md``: (a) run the benchmarks under ``benchmarks/`` in a stated budget, or
reuse their committed JSON, then (b) write the report (tables, figures under ``docs/figures/``) from that JSON.

By default nothing is re-run: each section reads its benchmark's committed JSON under ``benchmarks/results/``.
``--rerun`` re-runs every benchmark this script runs (``BENCHMARKS``) in ``--budget`` (quick: minutes each;
full: up to ~30 minutes each on 1 thread), ``--only NAME ...`` re-runs just those. Every section states the
data, epochs, seed and command recorded in its JSON, and compares with the paper's trend by computing the
ordering from the numbers (``ordering_sentence``); a missing JSON makes the section name the command that
produces it.

    python benchmarks/make_results.py                      # report from the committed JSON
    python benchmarks/make_results.py --only weight_rmse   # re-run one benchmark (quick), then the report
    python benchmarks/make_results.py --rerun --budget full
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
DOCS = ROOT / "docs"

# name -> (script, {budget: arguments}); the lead's LFC benchmark and the integer-coefficient benchmark are
# re-run only when named with --only (they are owned and re-run elsewhere).
BENCHMARKS = {
    "weight_rmse": ("weight_rmse.py", {"quick": ["--budget", "quick"], "full": ["--budget", "full"]}),
    "model_size": ("model_size.py", {"quick": [], "full": []}),
    **{f"accuracy_{d}": ("accuracy_sweep.py", {b: ["--dataset", d, "--budget", b] for b in ("quick", "full")})
       for d in ("mnist", "fashion-mnist", "cifar10")},
    "lbc_group_net_cifar": ("lbc_group_net_cifar.py", {"quick": ["--budget", "quick"], "full": ["--budget", "full"]}),
    "finn_cnv_estimates": ("finn_cnv_estimates.py", {"quick": ["--images", "0"], "full": ["--images", "20"]}),
    "abc_conv_speed": ("abc_conv_speed.py", {"quick": ["--repeats", "3", "--threads", "1"],
                                             "full": ["--repeats", "7", "--threads", "1"]}),
}
ONLY_ON_REQUEST = {
    "lfc_mnist": ("train_lfc_mnist.py", {"quick": ["--epochs", "1", "--train-subset", "10000", "--threads", "1",
                                                   "--from-float", "--out", "benchmarks/results/lfc_mnist_staged"],
                                         "full": ["--epochs", "20", "--threads", "1",
                                                  "--from-float", "--out", "benchmarks/results/lfc_mnist_staged"]}),
    "integer_coefficients": ("integer_coefficients.py", {"quick": ["--quick", "--threads", "1"],
                                                         "full": ["--threads", "1"]}),
    "calibration": ("calibration.py", {"quick": ["--threads", "1", "--nets", "lenet5", "--train-subset", "5000",
                                                 "--float-epochs", "1"],
                                       "full": ["--threads", "1"]}),
}


# ---------------------------------------------------------------- trend sentences (pure, tested)

def ordering_sentence(claim: str, items: list[tuple[str, float | None]], higher_is_better: bool = True,
                      tolerance: float = 0.0, unit: str = "") -> str:
    """``"<claim>: ordering a >= b >= c: holds (a 98.1, b 97.3, c 96.0)"`` or ``"... does not hold (b 97.3 <
    c 97.9)"``, computed from ``items`` in the claimed order (best first when ``higher_is_better``, else
    smallest first with ``<=``). Items with value None are listed as missing and skipped. ``tolerance``: a
    violation smaller than it still counts as holding (stated in the sentence)."""
    present = [(name, value) for name, value in items if value is not None]
    missing = [name for name, value in items if value is None]
    sign = ">=" if higher_is_better else "<="
    chain = f" {sign} ".join(name for name, _ in present)
    if len(present) < 2:
        return f"{claim}: not enough results to check ({', '.join(missing) or 'none'} missing)."
    breaks = []
    for (a, va), (b, vb) in zip(present, present[1:]):
        worse = vb - va if higher_is_better else va - vb
        if worse > tolerance:
            breaks.append(f"{a} {_fmt(va)}{unit} {'<' if higher_is_better else '>'} {b} {_fmt(vb)}{unit}")
    values = ", ".join(f"{n} {_fmt(v)}{unit}" for n, v in present)
    tol = f" within {tolerance:g}{unit}" if tolerance else ""
    verdict = f"holds{tol} ({values})" if not breaks else f"does not hold ({'; '.join(breaks)})"
    extra = f"; missing: {', '.join(missing)}" if missing else ""
    return f"{claim}: ordering {chain}: {verdict}{extra}."


def _fmt(value: float) -> str:
    """Two decimals, thousands separated and no decimals from 1,000 on, four significant digits below 0.1."""
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.4g}" if abs(value) < 0.1 else f"{value:.2f}"


def pareto_front(points: list[tuple[str, float, float]]) -> list[str]:
    """Names of the points ``(name, cost, accuracy)`` that no other point beats on both (lower cost,
    higher accuracy), sorted by cost."""
    front = []
    for name, cost, acc in points:
        dominated = any((c <= cost and a >= acc) and (c < cost or a > acc) for _, c, a in points)
        if not dominated:
            front.append((cost, name))
    return [name for _, name in sorted(front)]


# ---------------------------------------------------------------- helpers

def load(path: Path):
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def provenance(meta: dict) -> str:
    """The line every figure/table carries: data, epochs, seed, command (from the JSON)."""
    parts = [f"**Data:** {meta.get('data', 'not recorded')}", f"**epochs:** {'n/a (no training)' if 'epochs' in meta and meta['epochs'] is None else meta.get('epochs', 'not recorded')}",
             f"**seed:** {meta.get('seed', 'not recorded')}"]
    if meta.get("date"):
        parts.append(f"**run:** {meta['date']}, {meta.get('threads', '?')} thread(s)")
    return "; ".join(parts) + f".  \n**Command:** `{meta.get('command', 'not recorded')}`"


def missing(name: str, command: str) -> str:
    return f"\n*No results yet* (`{name}` not found). Produce them with:\n\n    {command}\n"


def figure(src: Path, figures: Path, name: str, alt: str) -> str:
    """Copy a benchmark's PNG into ``docs/figures/`` and return the markdown that embeds it."""
    if not src.is_file():
        return f"*(figure {src.relative_to(ROOT) if src.is_relative_to(ROOT) else src} missing)*\n"
    figures.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, figures / name)
    return f"![{alt}](figures/{name})\n"


def table(header: list[str], rows: list[list], align: str | None = None) -> str:
    align = align or "|" + "---|" + "---:|" * (len(header) - 1)
    return "\n".join(["| " + " | ".join(header) + " |", align,
                      *("| " + " | ".join(str(c) for c in row) + " |" for row in rows)]) + "\n"


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


# ---------------------------------------------------------------- sections

def section_weight_rmse(results: Path, figures: Path) -> str:
    out = ["## Weight approximation: relative error against M (ABC paper Fig. S2)\n"]
    data = load(results / "weight_rmse" / "results.json")
    if data is None:
        return out[0] + missing("benchmarks/results/weight_rmse/results.json",
                                "python benchmarks/weight_rmse.py --budget full --threads 1")
    rows = [r for r in data["rows"] if r["layer"] == "all"]
    grans = list(dict.fromkeys(r["granularity"] for r in rows))
    ms = sorted({r["M"] for r in rows})
    value = {(r["granularity"], r["M"]): r["relative_rmse"] for r in rows}
    out.append(f"Relative error `||W - sum_m alpha_m B_m||_F / ||W||_F` over every Conv/Linear weight of "
               f"{data.get('arch', '?')} trained on MNIST ({data.get('train_images', '?')} images), alpha by least "
               f"squares (eq. 1), shifts {data.get('shifts', '?')}.\n")
    out.append(table(["M", *grans], [[m, *(f"{value[(g, m)]:.4f}" for g in grans)] for m in ms]))
    out.append(figure(results / "weight_rmse" / "weight_rmse.png", figures, "weight_rmse.png", "relative RMSE vs M"))
    out.append(provenance(data) + "\n")
    for g in grans:
        out.append("- " + ordering_sentence(f"Paper trend (error falls as M grows), {g}",
                                            [(f"M={m}", value[(g, m)]) for m in reversed(ms)],
                                            higher_is_better=False))
    return "\n".join(out) + "\n"


ACC_TITLES = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST", "cifar10": "CIFAR-10"}


def accuracy_trend_sentences(rows: list[dict]) -> list[str]:
    """ABC Table 2's trends, checked on one dataset's sweep."""
    top1 = {r["variant"]: r["top1"] for r in rows}
    abc = sorted((r for r in rows if r.get("kind") == "abc"), key=lambda r: (-r["M"] * r["N"], -r["M"]))
    chain = [("float", top1.get("float"))] + [(r["variant"], r["top1"]) for r in abc]
    sentences = [ordering_sentence("ABC Table 2 trend (float first, then more bases M*N higher)", chain)]
    for m in sorted({r["M"] for r in abc}):
        same_m = sorted((r for r in abc if r["M"] == m), key=lambda r: -r["N"])
        if len(same_m) > 1:
            sentences.append(ordering_sentence(f"more activation bases at M={m}",
                                               [(r["variant"], r["top1"]) for r in same_m]))
    for base in ("Brevitas W1A1", "Brevitas W2A2"):
        if base in top1 and abc:
            best = max(abc, key=lambda r: r["top1"])
            sentences.append(ordering_sentence(f"best ABC beats stock {base.split()[1]}",
                                               [(best["variant"], best["top1"]), (base, top1[base])]))
    if "ABC(1,1)" in top1 and "Brevitas W1A1" in top1:
        sentences.append(ordering_sentence("ABC(1,1) (learned scales, float first/last layer) vs stock W1A1",
                                           [("ABC(1,1)", top1["ABC(1,1)"]), ("Brevitas W1A1", top1["Brevitas W1A1"])]))
    return sentences


def seed_spread(results: Path) -> float | None:
    """The largest top-1 standard deviation over seeds measured by the integer-coefficient benchmark (the only
    benchmark here run with several seeds), as a yardstick for seed noise."""
    data = load(results / "integer_coefficients" / "results.json")
    stds = [r["top1_std"] for r in (data or {}).get("summary", []) if r.get("top1_std") is not None]
    return max(stds) if stds else None


def why_note(sentences: list[str], meta: dict, results: Path) -> str | None:
    """When an ordering fails, the facts that bear on why: the budget, and the measured seed noise."""
    if not any("does not hold" in s for s in sentences):
        return None
    spread = seed_spread(results)
    noise = (f" Seed-to-seed spread measured elsewhere in this report (integer-coefficient benchmark, 3 seeds): "
             f"up to {spread:.2f} points std; gaps of that size are noise." if spread is not None else "")
    return (f"- Why an ordering can fail here: one seed, {meta.get('epochs')} epoch(s) on "
            f"{meta.get('train_images')} training images from scratch, against the paper's training to convergence "
            f"on ImageNet."
            + noise)


def section_accuracy(results: Path, figures: Path) -> str:
    out = ["## Accuracy against (M, N) with float and stock-Brevitas baselines (ABC paper Table 2 trend)\n",
           "One recipe per dataset for every variant (`benchmarks/training.py`). ABC keeps the first and last "
           "layer float as the paper does; the stock-Brevitas baselines quantise every layer.\n"]
    for dataset, title in ACC_TITLES.items():
        out.append(f"### {title}\n")
        data = load(results / f"accuracy_{dataset}" / "results.json")
        if data is None:
            out.append(missing(f"benchmarks/results/accuracy_{dataset}/results.json",
                               f"python benchmarks/accuracy_sweep.py --dataset {dataset} --budget full --threads 1"))
            continue
        rows = data["rows"]
        out.append(f"Network `{data.get('arch')}` {data.get('arch_kwargs') or ''}, {data.get('train_images')} training "
                   f"images, full test split. Recipe: {data.get('recipe', '')}.\n")
        out.append(table(["variant", "top-1 %", "top-5 %", "epochs", "train s"],
                         [[r["variant"], f"{r['top1']:.2f}", f"{r['top5']:.2f}", r["epochs"], f"{r['wall_s']:.0f}"]
                          for r in rows]))
        out.append(figure(results / f"accuracy_{dataset}" / "accuracy.png", figures, f"accuracy_{dataset}.png",
                          f"{title} accuracy"))
        out.append(provenance(data) + "\n")
        sentences = accuracy_trend_sentences(rows)
        out += ["- " + s for s in sentences]
        note = why_note(sentences, data, results)
        if note:
            out.append(note)
        out.append("")
    return "\n".join(out) + "\n"


def section_lbc_group_net(results: Path, figures: Path) -> str:
    out = ["## LBC full vs fused vs float, and a Group-Net K sweep, on CIFAR-10 (poster Table 1 trend)\n"]
    data = load(results / "lbc_group_net_cifar" / "results.json")
    if data is None:
        return out[0] + missing("benchmarks/results/lbc_group_net_cifar/results.json",
                                "python benchmarks/lbc_group_net_cifar.py --budget full --threads 1")
    rows = data["rows"]
    out.append(table(["model", "variant", "top-1 %", "learned params", "epochs", "train s"],
                     [[r["model"], r["variant"], f"{r['top1']:.2f}", f"{r['learned']:,}", r["epochs"],
                       f"{r['wall_s']:.0f}"] for r in rows]))
    out.append(figure(results / "lbc_group_net_cifar" / "lbc_group_net.png", figures, "lbc_group_net.png",
                      "LBC and Group-Net on CIFAR-10"))
    out.append(provenance(data) + "\n")
    lbc = {r["variant"]: r for r in rows if r["family"] == "lbc"}
    out.append("- " + ordering_sentence("Poster Table 1 accuracy trend", [
        (n, lbc[n]["top1"] if n in lbc else None) for n in ("float", "fused", "full")]))
    out.append("- " + ordering_sentence("Poster Table 1 learned-parameter trend", [
        (n, lbc[n]["learned"] if n in lbc else None) for n in ("float", "fused", "full")], tolerance=0))
    gn = sorted((r for r in rows if r["family"] == "group_net"), key=lambda r: -r["K"])
    sentences = [s for s in out[-3:-1] if s.startswith("- ")]
    out.append("- " + ordering_sentence("Group-Net: more branches K, higher accuracy",
                                        [(r["variant"], r["top1"]) for r in gn]))
    note = why_note(sentences + [out[-1]], data, results)
    if note:
        out.append(note)
    return "\n".join(out) + "\n"


def section_model_size(results: Path, figures: Path) -> str:
    out = ["## Model size in bytes against the number of bases (seed 002 Table III)\n"]
    data = load(results / "model_size" / "results.json")
    if data is None:
        return out[0] + missing("benchmarks/results/model_size/results.json", "python benchmarks/model_size.py")
    rows = data["rows"]
    models = list(dict.fromkeys(r["model"] for r in rows))
    ms = sorted({r["M"] for r in rows if r["M"] > 0})
    by = {(r["model"], r["M"]): r for r in rows}
    out.append(f"Counting: {data.get('counting', '')}.\n")
    out.append(table(["model", "float32 B", *(f"M={m} B" for m in ms)],
                     [[n, f"{by[(n, 0)]['bytes']:,.0f}",
                       *(f"{by[(n, m)]['bytes']:,.0f} ({by[(n, 0)]['bytes'] / by[(n, m)]['bytes']:.1f}x)" for m in ms)]
                      for n in models]))
    out.append(figure(results / "model_size" / "model_size.png", figures, "model_size.png", "model size vs M"))
    out.append(provenance(data) + "\n")
    for n in models:
        out.append("- " + ordering_sentence(f"Table III trend for {n} (float largest, fewer bases smaller)",
                                            [("float32", by[(n, 0)]["bytes"])] +
                                            [(f"M={m}", by[(n, m)]["bytes"]) for m in reversed(ms)], unit=" B"))
    return "\n".join(out) + "\n"


def section_finn(results: Path, figures: Path) -> str:
    out = ["## FINN estimates of the ABC mappings on an untrained full-width CNV\n"]
    path = results / "finn_cnv_estimates" / "finn_cnv_estimates.json"
    data = load(path)
    if data is None:
        return out[0] + missing(str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path),
                                "python benchmarks/finn_cnv_estimates.py --images 20")
    meta, rows = (data, data["rows"]) if isinstance(data, dict) else ({}, data)
    body = []
    for r in rows:
        if "error" in r:
            body.append([r["config"], "", "", "", "", "error: " + r["error"][:120]])
        else:
            body.append([r["config"], r.get("mapping", ""), f"{r['fps']:.0f}", f"{r['lut']:,.0f}",
                         f"{r['bram36']:.1f}", f"{r.get('float_tensors_in_accelerator', '?')} float tensors"])
    out.append(f"Board {meta.get('board', '?')}, target {meta.get('target_fps', '?')} FPS; coefficients: "
               f"{meta.get('coefficients', 'not recorded')}.\n")
    out.append(table(["config", "mapping", "est. FPS", "LUT", "BRAM36", "note"], body))
    expected = ["w1a1", "w1a2", "w2a2", *(f"abc{mn}_{m}" for mn in ("11", "31", "33") for m in ("bitwise", "fused"))]
    absent_builds = [c for c in expected if c not in {r["config"] for r in rows}]
    if absent_builds:
        out.append(f"Not in this run (no estimate): {', '.join(absent_builds)}; produce them with "
                   f"`python benchmarks/finn_cnv_estimates.py --images 0 --target-fps 1000 --configs "
                   f"{' '.join(absent_builds)} --append` (adds them to this JSON).\n")
    out.append("\n" + provenance(meta) + "\n")
    out.append("These are untrained full-width CNVs with injected coefficients at one fixed target rate: they compare "
               "the mappings with each other. Accuracy against LUT and FPS, from one set of trained networks on real "
               "boards' budgets, is in the section on the trained CIFAR-10 CNVs built by FINN.\n")
    lut = {r["config"]: r.get("lut") for r in rows if "error" not in r}
    bram = {r["config"]: r.get("bram36") for r in rows if "error" not in r}
    for mapping in ("bitwise", "fused"):
        chain = [(c, lut.get(f"{c}_{mapping}")) for c in ("abc11", "abc31", "abc33")]
        out.append("- " + ordering_sentence(f"LUT grows with M*N ({mapping} mapping)", chain,
                                            higher_is_better=False))
    for c in ("abc11", "abc31", "abc33"):
        if lut.get(f"{c}_bitwise") is not None and lut.get(f"{c}_fused") is not None:
            text = f"- {c}: fused uses {lut[f'{c}_fused'] / lut[f'{c}_bitwise']:.2f}x the LUT of bitwise"
            if bram.get(f"{c}_bitwise") and bram.get(f"{c}_fused") is not None:
                ratio = bram[f"{c}_fused"] / bram[f"{c}_bitwise"]
                text += f" and {ratio:.2f}x its BRAM36" + (
                    " (the summed bases' integer weights are wider than the M binary ones)" if ratio > 1.05 else "")
            out.append(text + ".")
    out.append("- FINN counts 0 LUT for Elementwise*/DuplicateStreams nodes (ENVIRONMENT.md), so the bitwise "
               "mapping's totals are lower bounds.")
    return "\n".join(out) + "\n"


def section_speed(results: Path, figures: Path) -> str:
    out = ["## Training step time: ABC vs float vs the M*N-branch reference\n"]
    data = load(results / "abc_conv_speed.json")
    if data is None:
        return out[0] + missing("benchmarks/results/abc_conv_speed.json", "python benchmarks/abc_conv_speed.py")
    ratios = data["ratio_to_float"]
    out.append(f"Forward+backward of one conv layer, shape {data.get('shape')}, median of {data.get('repeats')} "
               f"repeats on {data.get('threads')} thread(s); goal: {data.get('goal', '')}.\n")
    out.append(table(["variant", "seconds", "ratio to float"],
                     [[k, f"{data['seconds'][k]:.4f}", f"{v:.2f}x"] for k, v in ratios.items()]))
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 3.6))
    ax.barh(list(ratios), list(ratios.values()), color="tab:blue")
    ax.axvline(1.5, color="tab:red", linestyle="--", label="goal 1.5x float")
    ax.set_xscale("log")
    ax.set_xlabel("time / float nn.Conv2d (forward+backward)")
    ax.legend(fontsize=8)
    ax.tick_params(axis="y", labelsize=8)
    fig.tight_layout()
    figures.mkdir(parents=True, exist_ok=True)
    fig.savefig(figures / "abc_conv_speed.png", dpi=110)
    plt.close(fig)
    out.append("![step time ratios](figures/abc_conv_speed.png)\n")
    out.append(provenance({"data": data.get("data", "random tensors (timing only)"), "epochs": "n/a",
                           "seed": data.get("seed", "0 (torch.manual_seed(0) in the script)"),
                           "command": data.get("command", "python benchmarks/abc_conv_speed.py "
                                               f"--repeats {data.get('repeats')} --threads {data.get('threads')}")})
               + "\n")
    for mn in ("(3,3)", "(5,5)"):
        names = [f"ABCConv2d {mn} compiled", f"ABCConv2d {mn} eager", f"M*N-branch reference {mn}"]
        if all(n in ratios for n in names):
            out.append("- " + ordering_sentence(f"ABC {mn}: compiled faster than eager faster than the branch reference",
                                                [(n, ratios[n]) for n in names], higher_is_better=False, unit="x"))
            verdict = "met" if ratios[names[0]] <= 1.5 else "not met"
            out.append(f"- ABC {mn} compiled at {ratios[names[0]]:.2f}x float: goal <= 1.5x {verdict}.")
    return "\n".join(out) + "\n"


def section_lfc(results: Path, figures: Path) -> str:
    out = ["## LFC on MNIST (issue 4 benchmark)\n"]
    folders = sorted(p.parent for p in results.glob("lfc_mnist*/results.json"))
    if not folders:
        return out[0] + missing("benchmarks/results/lfc_mnist*/results.json",
                                "python benchmarks/train_lfc_mnist.py --epochs 20 --from-float "
                                "--out benchmarks/results/lfc_mnist_staged")
    for folder in folders:
        data = load(folder / "results.json")
        meta, rows = (data, data["rows"]) if isinstance(data, dict) else ({}, data)
        out.append(f"### {folder.name}\n")
        out.append(table(["variant", "top-1 %", "epochs", "train images", "train s"],
                         [[r["variant"], f"{r['top1']:.2f}", r["epochs"], r.get("train_images", "?"),
                           f"{r['wall_s']:.0f}"] for r in rows]))
        out.append(figure(folder / "lfc_mnist.png", figures, f"{folder.name}.png", folder.name))
        meta = {"data": meta.get("data", "MNIST (real, 60,000 train / 10,000 test)"),
                "epochs": meta.get("epochs", rows[0].get("epochs") if rows else "?"),
                "seed": meta.get("seed", "not recorded in the JSON (the script's default is 0)"),
                "command": meta.get("command", "not recorded in the JSON; see the docstring of "
                                               "benchmarks/train_lfc_mnist.py")}
        out.append(provenance(meta) + "\n")
        top1 = {r["variant"].replace(" from float", ""): r["top1"] for r in rows}
        sentence = ordering_sentence("ABC Table 2 trend on LFC", [
            (n, top1.get(n)) for n in ("float", "ABC(5,5)", "ABC(3,3)", "ABC(1,1)") if n in top1])
        out.append("- " + sentence)
        if "ABC(3,3)" in top1:
            reached = "reached" if top1["ABC(3,3)"] >= 98.9 else "not reached"
            out.append(f"- Issue 4 target ABC(3,3) >= 98.9 % (above Brevitas's published LFC W1A1 98.88 %): {reached} "
                       f"(ABC(3,3) {top1['ABC(3,3)']:.2f} %, after {meta['epochs']} float + {meta['epochs']} binary "
                       "epochs; the published figure comes from hundreds of epochs).")
        recipe = next((r["recipe"] for r in rows if (r.get("recipe") or {}).get("act_shifts")),
                      rows[-1].get("recipe") if rows else None)  # an ABC row names the activation shifts
        if recipe:
            out.append("- Recipe: " + ", ".join(f"{k} {v}" for k, v in recipe.items()) + ".")
        note = why_note([sentence], {"epochs": meta["epochs"], "train_images": rows[0].get("train_images", "?")
                                     if rows else "?"}, results)
        if note:
            out.append(note)
        out.append("")
    return "\n".join(out) + "\n"


def section_integer(results: Path, figures: Path) -> str:
    out = ["## Integer (hardware) coefficients: effect on accuracy\n"]
    folders = sorted(p.parent for p in results.glob("integer_coefficients*/results.json"))
    if not folders:
        return out[0] + missing("benchmarks/results/integer_coefficients/results.json",
                                "python benchmarks/integer_coefficients.py --quick --threads 1")
    for folder in folders:
        out += integer_run(load(folder / "results.json"), folder, figures)
    return "\n".join(out) + "\n"


def integer_run(data: dict, folder: Path, figures: Path) -> list[str]:
    """Table, figure, provenance and per-variant sentences of one integer-coefficient run (``folder``)."""
    summary = data.get("summary") or data.get("rows") or []
    out = [f"### {folder.name}\n",
           f"Model: {data.get('model', '?')}; hidden {data.get('hidden', '?')}; {data.get('train_images', '?')} "
           f"training images; {data.get('optimizer', '')}; ABC act_shifts {data.get('act_shifts', 'paper')}.\n"]
    body = []
    for r in summary:
        top1 = r.get("top1_mean", r.get("top1"))
        std = r.get("top1_std")
        delta = r.get("delta_vs_float_mean")
        body.append([r.get("variant", "?"), r.get("coefficient_bits") or "float",
                     "?" if top1 is None else f"{top1:.2f}" + (f" ± {std:.2f}" if std is not None else ""),
                     "" if delta is None else f"{delta:+.2f}"])
    out.append(table(["variant", "coefficient bits", "top-1 % (mean ± std over seeds)", "vs float coefficients"],
                     body, align="|---|---:|---:|---:|"))
    out.append(figure(folder / "integer_coefficients.png", figures, f"{folder.name}.png", folder.name))
    seeds = data.get("seeds")
    out.append(provenance({**data, "seed": data.get("seed", ", ".join(map(str, seeds)) if seeds else None)}) + "\n")
    for r in summary:
        delta, std = r.get("delta_vs_float_mean"), r.get("top1_std")
        if delta is not None:
            size = "within" if std is not None and abs(delta) <= 2 * std else "beyond"
            out.append(f"- {r['variant']}: {delta:+.2f} points against float coefficients "
                       f"({size} two standard deviations of its top-1 over seeds{'' if std is not None else ': no std'}).")
    out.append("")
    return out



CNV_VARIANTS = ("float", "w1a1", "w1a2", "w2a2", "abc11", "abc31", "abc33", "abc53")
CNV_NAMES = {"float": "float", "w1a1": "Brevitas W1A1", "w1a2": "Brevitas W1A2", "w2a2": "Brevitas W2A2",
             "abc11": "ABC(1,1)", "abc31": "ABC(3,1)", "abc33": "ABC(3,3)", "abc53": "ABC(5,3)"}
PUBLISHED_CNV_W1A1 = 84.22  # Brevitas bnn_pynq CNV W1A1, full width, 500 epochs


def cnv_targets(top1: dict[str, float]) -> list[str]:
    """Issue 12's three targets for ABC(3,3), computed from ``{variant: top-1 %}``, each with its gap."""
    if "abc33" not in top1:
        return ["Targets for ABC(3,3): not yet measured (its run has not finished)."]
    abc = top1["abc33"]
    lines = [f"ABC(3,3) >= {PUBLISHED_CNV_W1A1} % (Brevitas's published full-width CNV W1A1, 500 epochs): "
             + ("met" if abc >= PUBLISHED_CNV_W1A1 else f"NOT met, {PUBLISHED_CNV_W1A1 - abc:.2f} points short")
             + f" ({abc:.2f} %)."]
    if "float" in top1:
        gap = top1["float"] - abc
        lines.append(f"ABC(3,3) within 3 points of the float CNV trained here ({top1['float']:.2f} %): "
                     + ("met" if gap <= 3 else "NOT met") + f" (gap {gap:.2f} points).")
    if "w2a2" in top1:
        lines.append(f"ABC(3,3) > Brevitas W2A2 trained here ({top1['w2a2']:.2f} %): "
                     + ("met" if abc > top1["w2a2"] else "NOT met") + f" ({abc - top1['w2a2']:+.2f} points).")
    else:
        lines.append("ABC(3,3) > Brevitas W2A2 trained here: not yet measured (the W2A2 run has not finished).")
    return lines


def cnv_figure(rows: list[dict], path: Path, reestimated: dict[str, float] | None = None) -> None:
    """Test top-1 against epoch for every variant (from the JSON histories), and the final top-1 as bars (with
    BatchNorm re-estimated where ``reestimated`` has the variant)."""
    plt = _plt()
    fig, (curves, bars) = plt.subplots(1, 2, figsize=(11, 4))
    for row in rows:
        points = [(h["epoch"] + 1, h["val_acc1"]) for h in row.get("history", []) if "val_acc1" in h]
        if points:
            curves.plot(*zip(*points), marker=".", label=CNV_NAMES.get(row["variant"], row["variant"]))
    curves.set_xlabel("epoch of its own stage")
    curves.set_ylabel("CIFAR-10 test top-1 (%)")
    curves.set_title("learning curves (float from scratch, binary from float)")
    curves.legend(fontsize=7)
    names = [CNV_NAMES.get(r["variant"], r["variant"]) for r in rows]
    reestimated = reestimated or {}
    finals = [reestimated.get(r["variant"], r["top1"]) for r in rows]
    bars.bar(names, finals, color="tab:blue")
    bars.axhline(PUBLISHED_CNV_W1A1, color="tab:red", linestyle="--",
                 label=f"Brevitas CNV W1A1 published ({PUBLISHED_CNV_W1A1} %)")
    bars.set_ylim(max(0, min(finals) - 5), 100)
    bars.tick_params(axis="x", rotation=30)
    bars.legend(fontsize=7, loc="lower right")
    bars.set_title("final test top-1" + (" (BatchNorm re-estimated)" if reestimated else ""))
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def cnv_epoch_speed(results: Path) -> str:
    """The training-speed paragraph: one CNV epoch float vs ABC(3,3), from ``cnv_epoch_speed.json``."""
    data = load(results / "cnv_epoch_speed" / "cnv_epoch_speed.json")
    if data is None:
        return "\n*Epoch speed not measured yet* (`python benchmarks/cnv_epoch_speed.py --threads 1`).\n"
    rows = [[r["variant"], f"{r['median_step_s'] * 1000:.0f}", f"{r['epoch_s']:.0f}", f"{r['ratio_to_float']:.2f}x"]
            for r in data["rows"]]
    ratio = {r["variant"]: r["ratio_to_float"] for r in data["rows"]}.get("ABC(3,3) compiled")
    verdict = "not measured" if ratio is None else ("met" if ratio <= data["goal_ratio"] else "NOT met") + f" ({ratio:.2f}x)"
    return ("\n**Training speed** (one epoch of 50,000 images scaled from the median of interleaved steps, "
            f"{data['threads']} thread(s), {data['date']}; `{data['command']}`): goal ABC(3,3) <= "
            f"{data['goal_ratio']}x float: {verdict}.\n\n"
            + table(["variant", "step ms", "epoch s", "x float"], rows))


def other_cnv_recipes(results: Path, float_top1: float | None) -> str:
    """Runs of ``train_cnv_cifar10.py`` with another recipe (``--results benchmarks/results/cnv_cifar10_<name>``,
    e.g. a lower learning rate): one table row each, ABC(3,3) rows with the float gap, so that what was tried for
    a missed target stays on record beside the main table."""
    rows, notes = [], []
    for folder in sorted(results.glob("cnv_cifar10_*")):
        for path in sorted(folder.glob("*.json")):
            run = load(path)
            if not run or "top1" not in run:
                continue
            gap = f"{float_top1 - run['top1']:.2f}" if float_top1 is not None else "-"
            rows.append([CNV_NAMES.get(run["variant"], run["variant"]), folder.name.removeprefix("cnv_cifar10_"),
                         f"{run['top1']:.2f}", gap, run["recipe"]["optimizer"], run["epochs"], f"`{run['command']}`"])
            if run.get("note"):
                notes.append(f"- {rows[-1][0]} ({rows[-1][1]}): {run['note']}")
    if not rows:
        return ""
    return ("\n**Other recipes tried** (same network, data and seed; each in its own results folder):\n\n"
            + table(["variant", "recipe", "top-1 %", "gap to float", "optimizer", "epochs", "command"], rows)
            + "\n" + "".join(line + "\n" for line in notes))


def cnv_bn_reestimation(results: Path, float_top1: float | None) -> str:
    """``benchmarks/cnv_bn_reestimation.py``: each trained CNV before and after re-estimating its BatchNorm
    statistics (weights unchanged), with the gap to float after."""
    rows, command = [], None
    for path in sorted((results / "cnv_bn_reestimation").glob("*.json")):
        run = load(path)
        if not run:
            continue
        gap = f"{float_top1 - run['top1_bn_reestimated']:.2f}" if float_top1 is not None else "-"
        rows.append([CNV_NAMES.get(run["variant"], run["variant"]), run["recipe"], f"{run['top1_trained']:.2f}",
                     f"{run['top1_bn_reestimated']:.2f}", f"{run['top1_bn_reestimated'] - run['top1_trained']:+.2f}",
                     gap])
        command, images = run["command"], run["calibration_images"]
    if not rows:
        return ""
    return (f"\n**BatchNorm statistics re-estimated after training** on {images:,} seeded random, unaugmented "
            "training images (weights, quantisers and coefficients unchanged; saved as `final_bn.pt`, which the "
            f"FINN builds below use). Command: `{command}`\n\n"
            + table(["variant", "recipe", "trained top-1 %", "re-estimated top-1 %", "change", "gap to float"], rows)
            + "\n")


def section_cnv_cifar10(results: Path, figures: Path) -> str:
    out = ["## CNV on CIFAR-10 at a real budget (issue 12)\n"]
    rows = [load(results / "cnv_cifar10" / f"{v}.json") for v in CNV_VARIANTS]
    rows = [r for r in rows if r]
    command = "bash benchmarks/run_cnv_cifar10.sh --threads 1   # or one variant: python benchmarks/train_cnv_cifar10.py --variant abc33"
    if not rows:
        return out[0] + missing("benchmarks/results/cnv_cifar10/<variant>.json", command)
    def recipe_text(recipe: dict) -> str:
        return ", ".join(f"{k} {v}" for k, v in recipe.items() if k not in ("bases", "bits", "init") and v is not None)

    width = rows[0]["recipe"]["width"]
    out.append(f"CNV at width {width} on all {rows[0]['train_images']:,} training images, "
               f"top-1 on the {rows[0]['test_images']:,} test images after the last epoch (no model selection). "
               "Float trains from scratch; every binary variant starts from the float weights and distils from "
               "the float network.")
    for kind, chosen in (("float", [r for r in rows if r["variant"] == "float"]),
                         ("binary variants", [r for r in rows if r["variant"] != "float"])):
        if chosen:
            out.append(f"Recipe ({kind}): {recipe_text(chosen[-1]['recipe'])}.")
    # the recipe's last step: BatchNorm statistics re-estimated (benchmarks/cnv_bn_reestimation.py), where measured
    runs = {v: run for v in CNV_VARIANTS if (run := load(results / "cnv_bn_reestimation" / f"main_{v}.json"))}
    reestimated = {v: run["top1_bn_reestimated"] for v, run in runs.items()}
    if runs:
        largest = max(runs.values(), key=lambda run: run["top1_bn_reestimated"] - run["top1_trained"])
        out.append(f"Last step of the recipe, for every variant: BatchNorm statistics re-estimated on "
                   f"{largest['calibration_images']:,} seeded random, unaugmented training images (`python "
                   "benchmarks/cnv_bn_reestimation.py --threads 1`; weights unchanged). The statistics kept during "
                   "training drift from what the final binary network computes (the largest change: "
                   f"{CNV_NAMES.get(largest['variant'], largest['variant'])} tested at {largest['top1_trained']:.2f} % "
                   f"after its last epoch, {largest['top1_bn_reestimated']:.2f} % re-estimated); the FINN builds "
                   "below use the re-estimated networks, and the targets are stated both ways.")
    out.append("")
    out.append(table(["variant", "top-1 % as trained", "top-1 % BN re-estimated", "top-5 %", "epochs",
                      "train time (h)", "command"],
                     [[CNV_NAMES.get(r["variant"], r["variant"]), f"{r['top1']:.2f}",
                       f"{reestimated[r['variant']]:.2f}" if r["variant"] in reestimated else "-", f"{r['top5']:.2f}",
                       r["epochs"], f"{r['train_wall_s'] / 3600:.2f}", f"`{r['command']}`"] for r in rows]))
    done = {r["variant"] for r in rows}
    waiting = [CNV_NAMES[v] for v in CNV_VARIANTS if v not in done]
    if waiting:
        out.append(f"Not yet trained: {', '.join(waiting)} (`{command}` resumes and skips finished variants).\n")
    cnv_figure(rows, results / "cnv_cifar10" / "cnv_cifar10.png", reestimated)
    out.append(figure(results / "cnv_cifar10" / "cnv_cifar10.png", figures, "cnv_cifar10.png", "CNV CIFAR-10"))
    trained = {r["variant"]: r["top1"] for r in rows}
    if not all(v in reestimated for v in trained):
        out.append("\n".join("- " + line for line in cnv_targets(trained)) + "\n")
    else:
        changes = ", ".join(f"{CNV_NAMES.get(v, v)} {reestimated[v] - trained[v]:+.2f}" for v in trained)
        out.append("Targets as trained (`final.pt`):\n")
        out.append("\n".join("- " + line for line in cnv_targets(trained)) + "\n")
        images = min(run["calibration_images"] for run in runs.values())
        out.append("Targets after the recipe's last step, BatchNorm re-estimated for every variant (`final_bn.pt`, "
                   f"the networks FINN builds below; change in points: {changes}; the sample is {images:,} images, "
                   "so a few tenths are sampling noise):\n")
        out.append("\n".join("- " + line for line in cnv_targets(reestimated)) + "\n")
    out.extend(f"- {CNV_NAMES.get(r['variant'], r['variant'])}: {r['note']}" for r in rows if r.get("note"))
    float_top1 = next((r["top1"] for r in rows if r["variant"] == "float"), None)
    out.append(other_cnv_recipes(results, float_top1))
    out.append(cnv_bn_reestimation(results, float_top1))
    out.append(cnv_epoch_speed(results))
    out.append(f"\n**Data:** CIFAR-10 (real, JPEG re-encoded copy; a few points below the original images); "
               f"**seed:** {rows[0]['seed']}; times are wall-clock on a shared 2-core machine.\n")
    return "\n".join(out) + "\n"


FINN_BOARDS = ("Pynq-Z1", "ZCU104")
FINEXAMPLES_CNV_W1A1_FPS = 3000  # finn-examples' CNV-W1A1 on Pynq-Z1


def fit_limit(fit: dict | None) -> str:
    """What stops a fit-to-board folding from going faster, from ``report/fit_to_board.json``: the resource(s)
    the next faster folding tried exceeds, or that the folding is already fully unfolded."""
    if not fit or "chosen" not in fit:
        return "not recorded"
    chosen = fit["chosen"]
    faster = [t for t in fit.get("tried", []) if t["fps"] > chosen["fps"] and not t["fits"]]
    if not faster:
        if chosen.get("target_cycles", 0) < 0.9 * chosen.get("max_cycles", 0):
            return (f"FINN's SetFolding, which stops at {chosen['max_cycles']:,} cycles for a target of "
                    f"{chosen['target_cycles']:,} (its per-layer limits, e.g. mvau_wwidth_max)")
        return "fully unfolded (no faster folding exists)"
    nearest = min(faster, key=lambda t: t["fps"])
    return ", ".join(f"{r} ({nearest['resources'][r]:,.0f} > {fit['budget']['allowed'][r]:,.0f})"
                     for r in nearest["overflow"]) + f" at {nearest['fps']:,.0f} FPS"


def finn_cnv_figure(rows: list[dict], path: Path) -> None:
    """Per board: test top-1 against LUT and against estimated FPS, one point per variant."""
    plt = _plt()
    boards = [b for b in FINN_BOARDS if any(r["board"] == b for r in rows)] or sorted({r["board"] for r in rows})
    fig, axes = plt.subplots(2, len(boards), figsize=(5.5 * len(boards), 7.5), squeeze=False)
    for col, board in enumerate(boards):
        mine = [r for r in rows if r["board"] == board]
        for row_i, (key, label) in enumerate((("LUT", "LUT (estimate)"), ("fps", "frames/s (estimate, log)"))):
            ax = axes[row_i][col]
            for r in mine:
                x = r["resources"].get("LUT") if key == "LUT" else r.get("fps")
                if x:
                    ax.scatter(x, r["top1"], color="tab:red" if r["variant"].startswith("abc") else "tab:blue")
                    ax.annotate(CNV_NAMES.get(r["variant"], r["variant"]), (x, r["top1"]), fontsize=7,
                                xytext=(3, 3), textcoords="offset points")
            if key == "fps":
                ax.set_xscale("log")
                if board == "Pynq-Z1":
                    ax.axvline(FINEXAMPLES_CNV_W1A1_FPS, color="grey", linestyle=":", linewidth=0.8)
            ax.set_xlabel(label)
            ax.set_ylabel("CIFAR-10 test top-1 (%)")
            ax.set_title(f"{board}: accuracy vs {'LUT' if key == 'LUT' else 'FPS'}")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def tie_lines(rows: list[dict]) -> str:
    """One line per build whose verification needed the tie rules: images checked layer by layer, tie decisions,
    and images whose integer stages only the float64 graph explains."""
    lines = []
    for r in rows:
        checks = {c["stage"]: c for c in r.get("verification", [])}
        qonnx = checks.get("qonnx", {})
        exact_only = max((len(c.get("images_matching_only_the_exact_graph") or []) for c in checks.values()), default=0)
        if qonnx.get("images_checked_layer_by_layer") or exact_only:
            lines.append(f"- {CNV_NAMES.get(r['variant'], r['variant'])} on {r['board']}: the QONNX graph differs from "
                         f"PyTorch on {qonnx.get('images_checked_layer_by_layer', 0)} of {qonnx.get('images', '?')} "
                         f"images, each passing the layer-by-layer check ({qonnx.get('tie_decisions', 0)} tie "
                         "decisions); " + (f"on {exact_only} images the integer stages reproduce the QONNX graph "
                                           "computed in float64 and not PyTorch (near-ties that exact arithmetic "
                                           "decides)" if exact_only else "the integer stages reproduce PyTorch on "
                                           "every image") + ".\n")
    return "".join(lines)


def section_finn_cnv_cifar10(results: Path, figures: Path) -> str:
    out = ["## The trained CIFAR-10 CNVs built by FINN, fitted to Pynq-Z1 and ZCU104 (issue 12)\n"]
    folder = results / "finn_cnv_cifar10"
    rows = sorted((load(p) for p in folder.glob("*.json")), key=lambda r: (
        FINN_BOARDS.index(r["board"]) if r["board"] in FINN_BOARDS else 9,
        CNV_VARIANTS.index(r["variant"]) if r["variant"] in CNV_VARIANTS else 99)) if folder.is_dir() else []
    rows = [r for r in rows if r]
    command = "python benchmarks/finn_cnv_cifar10.py --boards Pynq-Z1 ZCU104 --images 200"
    if not rows:
        return out[0] + missing("benchmarks/results/finn_cnv_cifar10/<variant>_<board>.json", command)
    weights = sorted({r.get("weights", "final.pt") for r in rows})
    out.append(f"The same networks as the section above (their {' / '.join(f'`{w}`' for w in weights)}; "
               "`final_bn.pt` is `final.pt` with BatchNorm re-estimated), exported and built by `finn_flow.build` "
               "with `target_fps=\"max\"` (the fastest folding whose estimated resources stay within FINN's "
               "limits of the board: 70 % LUT, 80 % BRAM) to the estimate reports and code generation. Inputs are "
               "raw uint8 pixels; every stage runs on the same seeded test images: the QONNX graph against "
               "PyTorch (an image that differs checked layer by layer: a sign flip passes only at a proved float32 "
               "near-tie), each integer stage against PyTorch or the QONNX graph computed in float64 per image "
               "(`finn_flow/verify.py`, docs/DESIGN.md).\n")
    failed = [r for r in rows if "error" in r]
    rows = [r for r in rows if "error" not in r]
    body = []
    for r in rows:
        res, checks = r["resources"], r.get("verification", [])
        images = max((c.get("images", 0) for c in checks), default=0)
        exact = "yes" if r.get("all_stages_exact") else "NO: " + ", ".join(
            f"{c['stage']} {100 * c.get('argmax_agreement', 0):.1f} %" for c in checks if not c.get("passed"))
        body.append([r["board"], CNV_NAMES.get(r["variant"], r["variant"]), f"{r['top1']:.2f}",
                     r.get("abc_mapping", "") if r["variant"].startswith("abc") else "-",
                     f"{r['fps']:,.0f}" if r.get("fps") else "?", f"{res.get('LUT', 0):,.0f}",
                     f"{res.get('BRAM_18K', 0):,.0f}", f"{res.get('DSP', 0):,.0f}", fit_limit(r.get("fit")),
                     f"{exact} ({images} images)", f"{r.get('build_s', 0) / 60:.1f}"])
    for board in FINN_BOARDS:
        points = [(CNV_NAMES.get(r["variant"], r["variant"]), r["resources"].get("LUT", 0), r["top1"])
                  for r in rows if r["board"] == board and r["resources"].get("LUT")]
        if len(points) > 1:
            out.append(f"Pareto-optimal on {board} (fewest LUT for their accuracy): {', '.join(pareto_front(points))}.\n")
    out.append(table(["board", "variant", "top-1 %", "ABC mapping", "est. FPS", "LUT", "BRAM18", "DSP",
                      "faster folding stopped by", "every stage exact", "build (min)"], body))
    if failed:
        out.append("".join(f"- **{CNV_NAMES.get(r['variant'], r['variant'])} on {r['board']}: build failed** "
                           f"({r.get('weights', 'final.pt')}, top-1 {r['top1']:.2f} %): {r['error'][:300]}\n"
                           for r in failed))
    out.append(tie_lines(rows))
    finn_cnv_figure(rows, folder / "finn_cnv_cifar10.png")
    out.append(figure(folder / "finn_cnv_cifar10.png", figures, "finn_cnv_cifar10.png",
                      "accuracy against LUT and FPS per board"))
    abc33 = [r for r in rows if r["variant"] == "abc33" and r["board"] == "Pynq-Z1"]
    if abc33:
        fps = abc33[0].get("fps") or 0
        out.append(f"- Goal ABC(3,3) >= {FINEXAMPLES_CNV_W1A1_FPS:,} FPS on a Pynq-Z1 (finn-examples' CNV-W1A1 rate): "
                   + ("met" if fps >= FINEXAMPLES_CNV_W1A1_FPS else "NOT met")
                   + f" ({fps:,.0f} FPS; a faster folding is stopped by {fit_limit(abc33[0].get('fit'))}).")
    else:
        out.append(f"- Goal ABC(3,3) >= {FINEXAMPLES_CNV_W1A1_FPS:,} FPS on a Pynq-Z1: not yet built.")
    built = {(r["variant"], r["board"]) for r in rows + failed}
    trained = [v for v in CNV_VARIANTS[1:] if (results / "cnv_cifar10" / f"{v}.json").is_file()]
    waiting = [f"{CNV_NAMES[v]} on {b}" for v in trained for b in FINN_BOARDS if (v, b) not in built]
    if waiting:
        out.append(f"- Trained but not yet built: {', '.join(waiting)} (`{command}`).")
    commands = "; ".join(f"`{c}`" for c in dict.fromkeys(r.get("command", command) for r in rows + failed))
    out.append(f"\n**Commands:** {commands}; estimates from FINN (finn-plus) plus "
               "finn_flow's own LUT estimate for the element-wise layers FINN counts as 0 LUT; no Vivado here, so "
               "these are estimates, not post-synthesis numbers.\n")
    return "\n".join(out) + "\n"


GROUP_LBC_NAMES = {"groupnet": "Group-Net ResNet-18-CIFAR", "lbc_densenet": "LBC DenseNet-BC"}


def section_finn_group_lbc(results: Path, figures: Path) -> str:
    out = ["## Group-Net and LBC DenseNet built by FINN (issue 15)\n"]
    folder = results / "finn_group_lbc"
    rows = [load(p) for p in sorted(folder.glob("*.json")) if p.name != "summary.json"] if folder.is_dir() else []
    rows = [r for r in rows if r]
    command = "python benchmarks/finn_group_lbc.py --models lbc_densenet groupnet --images 200 --threads 1"
    if not rows:
        return out[0] + missing("benchmarks/results/finn_group_lbc/<model>_<board>.json", command)
    out.append("Trained briefly on real CIFAR-10 (the point is the lowering, not the accuracy), exported and built by "
               "`finn_flow.build` with `target_fps=\"max\"` to the estimate reports and code generation; every stage "
               "verified on real test images (`finn_flow/verify.py`). Streams between layers are integers (Group-Net's "
               "`residual_bits`, the DenseNet's shared concat grid), so adds and concatenations lower to "
               "AddStreams/StreamingConcat.\n")
    body = []
    for r in rows:
        name = GROUP_LBC_NAMES.get(r["model"], r["model"])
        if r["model"] == "groupnet":
            name += f" ({r.get('mode', 'group')}, K={r.get('num_bases', '?')})"
        if "error" in r:
            body.append([name, r.get("board", "?"), "", "", "", "", "", "", "", "error: " + str(r["error"])[:120]])
            continue
        res, checks = r["resources"], r.get("verification", [])
        images = max((c.get("images", 0) for c in checks), default=0)
        joins = ", ".join(f"{n} {k.split('_')[0]}" for k, n in sorted(r.get("hardware_layers", {}).items())
                          if k.split("_")[0] in ("StreamingConcat", "AddStreams", "ElementwiseAdd", "DuplicateStreams"))
        exact = "yes" if r.get("all_stages_exact") else "NO"
        body.append([name, r["board"], f"{r['top1']:.2f} ({r.get('train_steps', '?')} steps)",
                     f"{r['fps']:,.0f}" if r.get("fps") else "?", f"{res.get('LUT', 0):,.0f}",
                     f"{res.get('BRAM_18K', 0):,.0f}", f"{res.get('URAM', 0):,.0f}", joins or "-",
                     fit_limit(r.get("fit")), f"{exact} ({images} images)"])
    out.append(table(["model", "board", "top-1 % (brief training)", "est. FPS", "LUT", "BRAM18", "URAM",
                      "join layers", "faster folding stopped by", "every stage exact"], body))
    commands = list(dict.fromkeys(r.get("command", command) for r in rows))
    out.append(f"**Data:** {rows[0].get('data', 'not recorded')}; **recipe:** {rows[0].get('recipe', 'not recorded')}."
               "  \n**Commands:** " + "; ".join(f"`{c}`" for c in commands) + "\n")
    return "\n".join(out) + "\n"


def section_group_net_residual(results: Path, figures: Path) -> str:
    out = ["## Group-Net with integer residual streams against float ones, on CIFAR-10 (issue 15)\n"]
    data = load(results / "group_net_residual_cifar" / "results.json")
    if data is None:
        return out[0] + missing("benchmarks/results/group_net_residual_cifar/results.json",
                                "python benchmarks/group_net_residual_cifar.py --train-subset 2000 --epochs 1 --width 8")
    rows = data["rows"]
    out.append(f"Group-Net ResNet-18-CIFAR (group mode, K = {data.get('num_bases', '?')}, width {data.get('width', '?')}) "
               "with float residual sums against integer ones (`GroupNetConfig(residual_bits=b)`, the form "
               "`finn_flow.build` lowers), same model, data, recipe and budget.\n")
    out.append(table(["residual streams", "top-1 %", "top-5 %", "train images", "test images", "train s"],
                     [[r["variant"], f"{r['top1']:.2f}", f"{r['top5']:.2f}", f"{r['train_images']:,}",
                       f"{r['test_images']:,}", f"{r['wall_s']:.0f}"] for r in rows]))
    by_bits = {r["residual_bits"]: r for r in rows}
    if None in by_bits:
        for bits, r in sorted((b, r) for b, r in by_bits.items() if b is not None):
            out.append(f"- INT{bits} residual streams cost {by_bits[None]['top1'] - r['top1']:.2f} points of top-1 "
                       f"at this budget (one seed, {rows[0].get('epochs', '?')} epoch on {r['train_images']:,} "
                       "images: a short run, so the gap is a first measurement, not a converged one).")
    out.append("\n" + provenance(data) + "\n")
    return "\n".join(out) + "\n"


def section_calibration(results: Path, figures: Path) -> str:
    out = ["## Calibration: pretrained float nets swapped to ABC without training (issue 16)\n"]
    path = results / "calibration" / "results.json"
    if not path.is_file():
        return out[0] + missing("benchmarks/results/calibration/results.json", "python benchmarks/calibration.py --threads 1")
    runs = load(path)["runs"]
    out.append((results / "calibration" / "table.md").read_text())
    out.append(figure(results / "calibration" / "calibration.png", figures, "calibration.png",
                      "calibration: top-1 without training and after one epoch"))
    for run in runs:
        subsets = ", ".join(f"{k} {run[k]}" for k in ("train_subset", "cnv_train_subset", "test_subset",
                                                        "calibration_images", "finetune_lr", "cnv_float_epochs")
                            if k in run)
        note = f"  \n**Note:** {run['note']}" if run.get("note") else ""
        out.append(provenance(run) + f"  \n**Nets:** {', '.join(run['nets'])}; {subsets}.{note}\n")
    rows = [r for run in runs for r in run["rows"] if r["variant"] != "float"]
    for r in rows:
        if r["calibrated"] and r["variant"] == "ABC(5,5)":
            gap = r["float_top1"] - r["top1_no_training"]
            out.append(f"- {r['net']}: calibrated ABC(5,5) without training is {gap:.2f} points below float "
                       f"({r['top1_no_training']:.2f} vs {r['float_top1']:.2f} %): issue-16 target (within 10 points) "
                       f"{'met' if gap <= 10 else 'not met'}.")
    return "\n".join(out) + "\n"


SECTIONS = [section_cnv_cifar10, section_finn_cnv_cifar10, section_finn_group_lbc, section_group_net_residual,
            section_weight_rmse, section_accuracy, section_lbc_group_net,
            section_model_size, section_finn,
            section_speed, section_lfc, section_integer, section_calibration]


def write_report(results: Path = RESULTS, docs: Path = DOCS) -> Path:
    """Write ``docs/RESULTS.md`` (and ``docs/figures/*.png``) from the JSON under ``results``."""
    figures = docs / "figures"
    figures.mkdir(parents=True, exist_ok=True)
    parts = ["# Results\n",
             "Generated by `python benchmarks/make_results.py` (or `scripts/results.sh`) from the JSON under "
             "`benchmarks/results/`; do not edit by hand. Every section states the data, epochs, seed and the "
             "command that produced its numbers, and checks the paper's trend against those numbers (the "
             "sentences are computed, not written). Budgets are small (2-core CPU machine), so absolute "
             "accuracies are far below the papers'; only trends are compared.\n",
             "**Note on activation shifts.** Since 2026-11-29 the `\"centered\"` preset puts the thresholds at the bin "
             "centres `(k + 0.5) / N`; runs recorded before that date with `act_shifts centered` used the earlier "
             "bin edges `k / (N - 1)` (thresholds at 0 and 1). The MNIST/Fashion-MNIST/CIFAR-10 sweeps, the LFC "
             "benchmark and both `integer_coefficients` runs were re-run with the bin-centre shifts on 2026-11-29.\n"]
    for section in SECTIONS:
        try:
            parts.append(section(results, figures))
        except Exception as error:  # one malformed JSON must not hide the other sections
            parts.append(f"## {section.__name__}\n\n*Could not render*: {type(error).__name__}: {error}\n")
    path = docs / "RESULTS.md"
    path.write_text("\n".join(parts))
    return path


def run_benchmark(name: str, budget: str) -> int:
    script, budgets = {**BENCHMARKS, **ONLY_ON_REQUEST}[name]
    command = [sys.executable, str(ROOT / "benchmarks" / script), *budgets[budget]]
    if name == "finn_cnv_estimates":
        command += ["--out", str(RESULTS / "finn_cnv_estimates")]
    print(f"[make_results] {name}: {' '.join(command[1:])}", flush=True)
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    return subprocess.run(command, cwd=ROOT, env=env).returncode


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", choices=("quick", "full"), default="quick")
    parser.add_argument("--rerun", action="store_true", help=f"re-run every benchmark in {list(BENCHMARKS)}")
    parser.add_argument("--only", nargs="+", default=[], choices=[*BENCHMARKS, *ONLY_ON_REQUEST],
                        help="re-run only these benchmarks")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--docs", type=Path, default=DOCS)
    args = parser.parse_args(argv)
    names = args.only or (list(BENCHMARKS) if args.rerun else [])
    failed = [name for name in names if run_benchmark(name, args.budget) != 0]
    path = write_report(args.results, args.docs)
    print(f"[make_results] wrote {path}" + (f"; failed benchmarks: {failed}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
