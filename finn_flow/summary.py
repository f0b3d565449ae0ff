"""The build summary: ``report/build_summary.md`` and ``report/build_summary.png``.

FPS and latency from FINN's estimates, per-layer cycles and LUT/BRAM/DSP against the board's
capacity, the verification table, what runs on the host and what (if anything) is float inside the
accelerator. FINN's estimates count Elementwise*, DuplicateStreams and Shuffle layers as 0 LUT
(ENVIRONMENT.md), so totals of branchy (ABC bitwise) graphs are lower bounds; the summary says so.
"""

from __future__ import annotations

import json
from pathlib import Path

ZERO_LUT_OPS = ("Elementwise", "DuplicateStreams", "Shuffle")


def _pct(used, capacity) -> str:
    return f"{100.0 * used / capacity:.1f} %" if capacity else "n/a"


def resource_totals(resources: dict) -> dict:
    """``{"LUT", "BRAM_18K", "URAM", "DSP"}`` totals from ``estimate_layer_resources.json``."""
    if "total" in resources:
        return {k: float(v) for k, v in resources["total"].items()}
    totals: dict[str, float] = {}
    for row in resources.values():
        for key in ("LUT", "BRAM_18K", "URAM", "DSP"):
            totals[key] = totals.get(key, 0.0) + float(row.get(key, 0))
    return totals


def write_summary(result, board) -> tuple[Path, Path]:
    """Write the markdown summary and the PNG chart for a :class:`~finn_flow.build.BuildResult`."""
    report = Path(result.output_dir) / "report"
    cycles = json.loads((report / "estimate_layer_cycles.json").read_text()) \
        if (report / "estimate_layer_cycles.json").is_file() else {}
    layers = {k: v for k, v in result.resources.items() if k != "total"}
    totals = resource_totals(result.resources) if result.resources else {}
    est = result.estimates
    lines = [f"# FINN build summary: {board.name} ({board.part})", "", result.message, ""]
    if est:
        lines += ["## Performance (FINN estimates)", "",
                  f"- estimated throughput: **{est.get('estimated_throughput_fps', 0):,.1f} FPS**",
                  f"- estimated latency: {est.get('estimated_latency_ns', 0) / 1e3:,.1f} us",
                  f"- slowest layer: {est.get('max_cycles_node_name')} ({est.get('max_cycles'):,} cycles)", ""]
    lines += _fit_lines(getattr(result, "fit", None) or {})
    lines += _mapping_lines(report / "abc_mapping.json")
    if totals:
        bram36 = totals.get("BRAM_18K", 0) / 2
        lines += ["## Resources (FINN estimates) against the board", "",
                  "| resource | used | board | share |", "|---|---:|---:|---:|",
                  f"| LUT | {totals.get('LUT', 0):,.0f} | {board.lut or 'n/a'} | {_pct(totals.get('LUT', 0), board.lut)} |",
                  f"| BRAM36 | {bram36:,.1f} | {board.bram36 or 'n/a'} | {_pct(bram36, board.bram36)} |",
                  f"| URAM | {totals.get('URAM', 0):,.0f} | {board.uram if board.uram is not None else 'n/a'} | {_pct(totals.get('URAM', 0), board.uram)} |",
                  f"| DSP | {totals.get('DSP', 0):,.0f} | {board.dsp or 'n/a'} | {_pct(totals.get('DSP', 0), board.dsp)} |", ""]
        if any(name.startswith(ZERO_LUT_OPS) for name in layers):
            lines += ["Note: FINN estimates 0 LUT for Elementwise*, DuplicateStreams and Shuffle layers; "
                      "this graph has some, so the totals are lower bounds.", ""]
        lines += ["## Per layer", "", "| layer | cycles | LUT | BRAM_18K | DSP |", "|---|---:|---:|---:|---:|"]
        for name, row in layers.items():
            lines.append(f"| {name} | {cycles.get(name, '')} | {float(row.get('LUT', 0)):,.0f} | "
                         f"{row.get('BRAM_18K', 0)} | {row.get('DSP', 0)} |")
        lines.append("")
    if result.verification:
        lines += ["## Verification on real images", "",
                  "| stage | images | argmax agreement | max abs diff | accelerator output vs hw_layers |",
                  "|---|---:|---:|---:|---|"]
        for row in result.verification:
            dflow = row.get("dataflow_max_abs_diff_vs_hw_layers")
            lines.append(f"| {row['stage']} | {row['images']} | {100 * row['argmax_agreement']:.1f} % | "
                         f"{row['max_abs_diff']:.3g} | {'' if dflow is None else ('identical' if dflow == 0 else dflow)} |")
        lines.append("")
    lines += ["## Host side and datatypes", ""]
    host = [f"{r['op_type']} ({r['place']}, {r['output_datatype']})" for r in result.host_nodes]
    lines.append("- runs on the host: " + (", ".join(host) if host else "nothing"))
    lines.append("- FLOAT32 tensors inside the accelerator: "
                 + (f"{len(result.float_in_dataflow)} (see report/float_in_dataflow.json)" if result.float_in_dataflow else "none"))
    if result.skipped_steps:
        lines.append("- skipped (need Vivado/Vitis HLS): " + ", ".join(result.skipped_steps))
    md = report / "build_summary.md"
    md.write_text("\n".join(lines) + "\n")
    png = report / "build_summary.png"
    _plot(layers, cycles, png, board)
    return md, png


def _mapping_lines(path: Path) -> list[str]:
    """The "ABC mappings" section: each ABC layer's mapping and why (``report/abc_mapping.json``; auto's estimates)."""
    if not path.is_file():
        return []
    report = json.loads(path.read_text())
    layers = report.get("layers") or {}
    if not layers:
        return []
    lines = [f"## ABC mappings (abc_mapping=\"{report['mapping']}\")", "",
             "| layer | mapping | why | estimated LUT / BRAM_18K per candidate |", "|---|---|---|---|"]
    for name, row in layers.items():
        why = row.get("why") or row.get("note") or ""
        est = "; ".join(f"{m} {e['LUT']:,} / {e['BRAM_18K']:g}" for m, e in (row.get("estimates") or {}).items())
        lines.append(f"| {name} | {row['mapping']} | {why} | {est} |")
    return lines + [""]


def _fit_lines(fit: dict) -> list[str]:
    """The "Fit to the board" section from ``report/fit_to_board.json`` (empty without ``target_fps="max"``)."""
    if not fit:
        return []
    chosen, budget = fit["chosen"], fit["budget"]
    final = fit.get("final", {}).get("resources", chosen["resources"])
    lines = ["## Fit to the board (target_fps=\"max\")", "",
             f"- chosen folding: **{chosen['fps']:,.1f} FPS** (slowest layer {chosen['max_cycles']:,} cycles at "
             f"{fit['clock_ns']} ns), the fastest of {len(fit['tried'])} foldings tried that stays within budget",
             f"- budget: {budget['source']}", "",
             "| resource | used (estimate) | allowed | limit | board | utilisation |", "|---|---:|---:|---:|---:|---:|"]
    for r, cap in budget["capacity"].items():
        used = final.get(r, 0)
        lines.append(f"| {r} | {used:,.0f} | {budget['allowed'][r]:,.0f} | {100 * budget['limits'][r]:.0f} % | "
                     f"{cap:,.0f} | {_pct(used, cap)} |")
    if fit.get("lutram_layers"):
        lines += ["", f"Weights moved from BRAM to LUTRAM (ram_style=\"distributed\") to fit: "
                      f"{', '.join(fit['lutram_layers'])}."]
    if fit.get("mvau_wwidth_max") is not None:
        lines += ["", f"mvau_wwidth_max (SetFolding's weight-stream width cap) used: {fit['mvau_wwidth_max']}."]
    extra = fit.get("finn_flow_lut_estimates") or {}
    if extra:
        lines += ["", f"LUT includes finn_flow's estimate for {len(extra)} layers FINN counts as 0 LUT "
                      f"(Elementwise*, DuplicateStreams): {sum(extra.values()):,.0f} LUT (finn_flow.fit)."]
    return lines + [""]


def _plot(layers: dict, cycles: dict, path: Path, board) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(layers) or list(cycles)
    if not names:
        return
    fig, axes = plt.subplots(1, 2, figsize=(12, max(3, 0.3 * len(names) + 1)), sharey=True)
    y = range(len(names))
    axes[0].barh(y, [cycles.get(n, 0) for n in names], color="tab:blue")
    axes[0].set_xlabel("cycles per frame (estimate)")
    axes[0].set_yticks(list(y), names, fontsize=7)
    axes[0].invert_yaxis()
    axes[1].barh(y, [float(layers.get(n, {}).get("LUT", 0)) for n in names], color="tab:orange")
    axes[1].set_xlabel(f"LUT (estimate; {board.name} has {board.lut or 'n/a'})")
    fig.suptitle(f"FINN estimates per layer, {board.name}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
