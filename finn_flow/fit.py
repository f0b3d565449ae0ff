"""Fit to the board: the folding with the highest frame rate whose estimated resources stay within budget.

FINN's ``SetFolding`` folds for a cycle target and never looks at resources; the board budgets in
``finn.util.platforms`` (``DEFAULT_RES_LIMITS``: 70 % of the LUTs, 80 % of BRAM/URAM/DSP, Xilinx's guideline
for timing closure) are only used for multi-FPGA partitioning. :func:`search_folding` closes that gap
without whole builds: for a candidate cycle target ``T`` it runs ``SetFolding(T)`` on a copy of the
specialised dataflow graph and FINN's own analysis passes (``exp_cycles_per_layer``, ``res_estimation``),
which take milliseconds per layer. The frame rate of a folding is ``f_clk / max_l cycles_l``; FINN's
``SetFolding`` raises each layer's PE/SIMD until ``cycles_l <= T``, so resources grow (not strictly, but
nearly monotonically) as ``T`` falls. The search therefore

1. folds fully (``T`` = infinity, every PE = SIMD = 1); BRAM is not monotone in the folding, so if that does not
   fit it tries a ladder of faster foldings (``T`` divided by 4, 16, ...); if none fits,
   :class:`~finn_flow.errors.BoardBudgetError` names the largest layers for the resource that overflows;
2. unfolds fully (``T = 1``): if that fits, it is the answer;
3. otherwise bisects ``log T`` between the two (about a dozen foldings), keeping the fitting folding with the
   highest estimated FPS.

Two limits of a plain ``SetFolding`` are lifted on the way:

- **BRAM-bound foldings move weights to LUTRAM.** A folding that overflows BRAM but not LUT is tried again with
  the weight memories of MVAUs moved to distributed RAM (FINN's ``ram_style="distributed"``), smallest memory
  (``MW * MH * W`` bits) first, while BRAM overflows and the LUT budget holds (:func:`move_weights_to_lutram`).
  FINN's estimates account for it: such an MVAU's BRAM estimate is 0 and its LUT estimate gains
  ``PE * SIMD * W * ceil(WMEM / 64)`` (one 64-deep LUTRAM per weight bit of the stream, ``WMEM = MW MH / (PE SIMD)``
  words). If the moves do not make the folding fit, they are undone and it counts as not fitting.
- **The weight-stream width cap is raised.** ``SetFolding`` stops raising an MVAU's ``SIMD`` when
  ``SIMD * W > mvau_wwidth_max`` (default 36). When the chosen folding's slowest layer is an MVAU held there
  (:func:`layers_capped_by_wwidth`), the search is repeated with ``mvau_wwidth_max`` doubled, up to
  ``mvau_wwidth_bound`` (FINN's ``MAX_ALLOWED_AP_INT_W`` = 8191 by default), as long as it finds a faster
  folding within budget; the value used is recorded with the folding.

FINN estimates 0 LUT for ``Elementwise*`` and ``DuplicateStreams`` layers (the sums and forks of branchy
graphs such as bitwise ABC). :func:`zero_lut_estimate` adds our own estimate for them so that the budget
check does not undercount: an adder or other element-wise operation costs one LUT per result bit and lane
(``PE * out_bits``; a multiplier ``PE * a_bits * b_bits``), a stream duplicator one LUT per output bit
(``PE * in_bits * NumOutputStreams``). These are models, not synthesis results; the report marks them.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

RESOURCES = ("LUT", "BRAM_18K", "URAM", "DSP")
ZERO_LUT_PREFIXES = ("Elementwise", "DuplicateStreams")
_NEVER = 2**62  # a cycle target every layer meets fully folded


def default_limits() -> dict[str, float]:
    """FINN's recommended utilisation limits (``finn.util.platforms.DEFAULT_RES_LIMITS``) per resource."""
    from finn.util.platforms import DEFAULT_RES_LIMITS

    lut, _ff, bram, uram, dsp = (float(v) for v in DEFAULT_RES_LIMITS)
    return {"LUT": lut, "BRAM_18K": bram, "URAM": uram, "DSP": dsp}


@dataclass(frozen=True)
class ResourceBudget:
    """What the folding may use: ``capacity[r] * limits[r]`` of each resource ``r`` in :data:`RESOURCES`.

    Attributes:
        capacity: the device's LUT, BRAM_18K, URAM and DSP counts (all SLRs together).
        limits: the usable fraction of each (0 < limit <= 1).
        source: where the capacity came from (a FINN platform, a board table, or given).
    """

    capacity: dict
    limits: dict
    source: str = ""

    def allowed(self) -> dict[str, float]:
        """Units of each resource the design may use."""
        return {r: self.capacity[r] * self.limits[r] for r in RESOURCES}

    def overflow(self, used: dict) -> dict[str, float]:
        """``{resource: used / allowed}`` for each resource used beyond its allowance (empty: it fits)."""
        allowed = self.allowed()
        over = {}
        for r in RESOURCES:
            u = float(used.get(r, 0))
            if u > allowed[r]:
                over[r] = math.inf if allowed[r] == 0 else u / allowed[r]
        return over

    def as_dict(self) -> dict:
        return {"capacity": dict(self.capacity), "limits": dict(self.limits), "allowed": self.allowed(),
                "source": self.source}


def board_budget(board: str, limits: dict | None = None, capacity: dict | None = None) -> ResourceBudget:
    """The budget of a FINN board.

    Args:
        board: a board name FINN knows (``"Pynq-Z1"``, ``"ZCU104"``, ``"U250"``, ...).
        limits: fractions per resource overriding :func:`default_limits` (e.g. ``{"LUT": 0.5}``); keys from
            :data:`RESOURCES`, values in (0, 1].
        capacity: absolute counts overriding the board's (e.g. a synthetic ``{"LUT": 5000, "BRAM_18K": 8}``;
            resources not given keep the board's).

    The capacity is FINN's ``finn.util.platforms`` model of the board (``compute_resources``, summed over its
    SLRs) where it has one, else :mod:`finn_flow.boards`' table.

    Raises:
        ValueError: an unknown resource name or a limit outside (0, 1], a negative capacity.
    """
    from finn.util.platforms import platforms

    from finn_flow.boards import resolve_board

    info = resolve_board(board)
    if board in platforms:
        rows = platforms[board]().compute_resources
        cap = {"LUT": sum(r[0] for r in rows), "BRAM_18K": sum(r[2] for r in rows),
               "URAM": sum(r[3] for r in rows), "DSP": sum(r[4] for r in rows)}
        source = f"finn.util.platforms[{board!r}]"
    else:
        cap = {"LUT": info.lut or 0, "BRAM_18K": 2 * (info.bram36 or 0), "URAM": info.uram or 0,
               "DSP": info.dsp or 0}
        source = f"finn_flow.boards ({info.part})"
    lim = default_limits()
    for name, given, check in (("fit_limits", limits, lambda v: 0 < v <= 1),
                               ("fit_capacity", capacity, lambda v: v >= 0)):
        for key, value in (given or {}).items():
            if key not in RESOURCES:
                raise ValueError(f"{name} has resource {key!r}; allowed: {', '.join(RESOURCES)}")
            if not (isinstance(value, (int, float)) and check(float(value))):
                allowed = "a fraction in (0, 1]" if name == "fit_limits" else "a non-negative count"
                raise ValueError(f"{name}[{key!r}]={value!r}; allowed: {allowed}")
    lim.update({k: float(v) for k, v in (limits or {}).items()})
    if capacity:
        cap.update({k: float(v) for k, v in capacity.items()})
        source += " with capacity " + ", ".join(f"{k}={v:g}" for k, v in capacity.items())
    if not any(cap[r] for r in ("LUT",)):
        raise ValueError(f"board={board!r}: no LUT capacity known for part {info.part}; give fit_capacity")
    return ResourceBudget({r: float(cap[r]) for r in RESOURCES}, lim, source)


def zero_lut_estimate(inst) -> int:
    """Our LUT estimate for a layer FINN counts as 0 LUT (module docstring: one LUT per result bit and lane).

    ``Elementwise<Op>``: ``PE * out_bits`` (``PE * lhs_bits * rhs_bits`` for ``ElementwiseMul``);
    ``DuplicateStreams``: ``PE * in_bits * NumOutputStreams``.
    """
    op = inst.onnx_node.op_type
    pe = int(inst.get_nodeattr("PE"))
    if op.startswith("DuplicateStreams"):
        return pe * inst.get_input_datatype(0).bitwidth() * int(inst.get_nodeattr("NumOutputStreams"))
    if op.startswith("ElementwiseMul"):
        return pe * inst.get_input_datatype(0).bitwidth() * inst.get_input_datatype(1).bitwidth()
    return pe * inst.get_output_datatype().bitwidth()


def estimate_resources(model, fpgapart: str) -> dict[str, dict]:
    """Per-layer LUT/BRAM_18K/URAM/DSP: FINN's ``res_estimation``, plus :func:`zero_lut_estimate` for the layers
    whose logic FINN counts as 0 LUT (it counts at most their parameter storage); those rows get
    ``"LUT_added_by_finn_flow"``."""
    from finn.analysis.fpgadataflow.res_estimation import res_estimation
    from finn.util.basic import getHWCustomOp

    finn = model.analysis(lambda m: res_estimation(m, fpgapart))
    rows = {}
    for node in model.graph.node:
        if node.name not in finn:
            continue
        row = {r: float(finn[node.name].get(r, 0)) for r in RESOURCES}
        if node.op_type.startswith(ZERO_LUT_PREFIXES):  # FINN counts at most their parameter storage
            extra = float(zero_lut_estimate(getHWCustomOp(node)))
            row["LUT"] += extra
            row["LUT_added_by_finn_flow"] = extra
        rows[node.name] = row
    return rows


def total(rows: dict) -> dict[str, float]:
    """Sum of :func:`estimate_resources` rows per resource."""
    return {r: float(sum(row[r] for row in rows.values())) for r in RESOURCES}


@dataclass
class Folding:
    """One candidate: the folding ``SetFolding(target_cycles)`` chose and what FINN estimates for it."""

    target_cycles: int
    max_cycles: int
    fps: float
    resources: dict
    layers: dict = field(repr=False)
    fits: bool = False
    overflow: dict = field(default_factory=dict)
    mvau_wwidth_max: int = 36
    lutram_layers: list = field(default_factory=list)

    def summary(self) -> dict:
        return {"target_cycles": self.target_cycles, "max_cycles": self.max_cycles, "fps": self.fps,
                "resources": self.resources, "fits": self.fits, "overflow": self.overflow,
                "mvau_wwidth_max": self.mvau_wwidth_max, "lutram_layers": list(self.lutram_layers)}


LUTRAM_OPS = ("MVAU_hls",)  # FINN's LUT estimate of MVAU_rtl is 0 whatever its ram_style: LUTRAM would look free


def weight_memory_bits(inst) -> int:
    """``MW * MH * W``: the bits of an MVAU's weight memory."""
    return int(inst.get_nodeattr("MW")) * int(inst.get_nodeattr("MH")) * inst.get_input_datatype(1).bitwidth()


def move_weights_to_lutram(model, fpgapart: str, budget: ResourceBudget) -> tuple[list[str], dict]:
    """Move MVAU weight memories from BRAM to LUTRAM (``ram_style="distributed"``), smallest first, while the
    model overflows BRAM and the LUT budget holds (module docstring); changes ``model`` in place.

    Only ``MVAU_hls`` layers with ``mem_mode="internal_decoupled"`` (where FINN honours ``ram_style``) and a
    non-zero BRAM estimate are moved. A move that makes LUT overflow is undone and ends the moves.

    Returns:
        ``(moved layer names, estimate rows)``: the names are empty and every move is undone unless the model
        then fits the whole budget.
    """
    from finn.util.basic import getHWCustomOp

    candidates = []
    for node in model.graph.node:
        if node.op_type not in LUTRAM_OPS:
            continue
        inst = getHWCustomOp(node)
        if inst.get_nodeattr("mem_mode") != "internal_decoupled" or inst.get_nodeattr("ram_style") == "distributed":
            continue
        if inst.bram_estimation(fpgapart) > 0:
            candidates.append((weight_memory_bits(inst), node.name, inst))
    rows = estimate_resources(model, fpgapart)
    moved = []  # (name, inst, previous ram_style)
    for _bits, name, inst in sorted(candidates, key=lambda c: (c[0], c[1])):
        if "BRAM_18K" not in budget.overflow(total(rows)):
            break
        previous = inst.get_nodeattr("ram_style")
        inst.set_nodeattr("ram_style", "distributed")
        trial = estimate_resources(model, fpgapart)
        if "LUT" in budget.overflow(total(trial)):
            inst.set_nodeattr("ram_style", previous)
            break
        rows = trial
        moved.append((name, inst, previous))
    if budget.overflow(total(rows)):
        for _name, inst, previous in moved:
            inst.set_nodeattr("ram_style", previous)
        return [], estimate_resources(model, fpgapart)
    return [name for name, _inst, _previous in moved], rows


def layers_capped_by_wwidth(model, mvau_wwidth_max: int) -> list[str]:
    """The slowest layers that are MVAUs whose ``SIMD`` ``SetFolding`` could not raise to the next divisor of
    ``MW`` because ``SIMD * W`` would exceed ``mvau_wwidth_max``."""
    from finn.analysis.fpgadataflow.exp_cycles_per_layer import exp_cycles_per_layer
    from finn.util.basic import getHWCustomOp

    cycles = model.analysis(exp_cycles_per_layer)
    if not cycles:
        return []
    slowest = max(cycles.values())
    capped = []
    for node in model.graph.node:
        if not node.op_type.startswith("MVAU") or cycles.get(node.name) != slowest:
            continue
        inst = getHWCustomOp(node)
        mw, simd = int(inst.get_nodeattr("MW")), int(inst.get_nodeattr("SIMD"))
        wider = [d for d in range(simd + 1, mw + 1) if mw % d == 0]
        if wider and wider[0] * inst.get_input_datatype(1).bitwidth() > mvau_wwidth_max:
            capped.append(node.name)
    return capped


def fold(model, target_cycles: int, clock_ns: float, fpgapart: str, budget: ResourceBudget,
         mvau_wwidth_max: int = 36, two_pass_relaxation: bool = True, lutram: bool = True):
    """``SetFolding(target_cycles)`` on a copy of ``model``; returns ``(folded model, Folding)``. With ``lutram``,
    a folding that overflows BRAM only is tried again with weights moved to LUTRAM (:func:`move_weights_to_lutram`)."""
    from finn.analysis.fpgadataflow.exp_cycles_per_layer import exp_cycles_per_layer
    from finn.transformation.fpgadataflow.set_folding import SetFolding
    from qonnx.core.modelwrapper import ModelWrapper

    folded = ModelWrapper(copy.deepcopy(model.model))
    folded = folded.transform(SetFolding(int(target_cycles), mvau_wwidth_max=mvau_wwidth_max,
                                         two_pass_relaxation=two_pass_relaxation))
    cycles = folded.analysis(exp_cycles_per_layer)
    max_cycles = int(max(cycles.values())) if cycles else 1
    rows = estimate_resources(folded, fpgapart)
    moved = []
    if lutram and set(budget.overflow(total(rows))) == {"BRAM_18K"}:
        moved, rows = move_weights_to_lutram(folded, fpgapart, budget)
    used = total(rows)
    over = budget.overflow(used)
    fps = 1e9 / (clock_ns * max(max_cycles, 1))
    return folded, Folding(int(target_cycles), max_cycles, fps, used, rows, not over, over, int(mvau_wwidth_max),
                           moved)


def largest_layers(folding: Folding, resource: str, count: int = 5) -> list[str]:
    """The ``count`` layers using most of ``resource``, as ``"name (N resource)"``."""
    rows = sorted(folding.layers.items(), key=lambda kv: -kv[1][resource])[:count]
    return [f"{name} ({row[resource]:,.0f} {resource})" for name, row in rows if row[resource] > 0]


def search_folding(model, budget: ResourceBudget, clock_ns: float, fpgapart: str, mvau_wwidth_max: int = 36,
                   two_pass_relaxation: bool = True, max_steps: int = 24, lutram: bool = True,
                   mvau_wwidth_bound: int | None = None):
    """The folding with the highest estimated FPS within ``budget`` (module docstring: the search), raising
    ``mvau_wwidth_max`` (doubling, up to ``mvau_wwidth_bound``) while the slowest layer is held by it and a faster
    folding fits.

    Args:
        model: the specialised dataflow graph (after ``step_specialize_layers``).
        budget: a :class:`ResourceBudget`.
        clock_ns: clock period in ns (FPS = 1e9 / (clock_ns * max cycles)).
        fpgapart: the FPGA part for FINN's resource estimates.
        mvau_wwidth_max, two_pass_relaxation: passed to FINN's ``SetFolding`` (the first width tried).
        max_steps: most bisection steps (each one folding and estimate).
        lutram: try BRAM-bound foldings again with MVAU weights in LUTRAM (:func:`move_weights_to_lutram`).
        mvau_wwidth_bound: the largest ``mvau_wwidth_max`` tried (default FINN's ``MAX_ALLOWED_AP_INT_W``);
            ``mvau_wwidth_max`` itself keeps the cap fixed.

    Returns:
        ``(folded model, chosen Folding, every Folding tried in order)``.

    Raises:
        BoardBudgetError: no folding tried (fully folded and the ladder) is within the budget; names the
            resource(s), the fully folded estimate against the allowance, and the largest layers.
    """
    from finn.util.basic import MAX_ALLOWED_AP_INT_W

    bound = MAX_ALLOWED_AP_INT_W if mvau_wwidth_bound is None else int(mvau_wwidth_bound)
    if bound < mvau_wwidth_max:
        raise ValueError(f"mvau_wwidth_bound={mvau_wwidth_bound!r} is below mvau_wwidth_max={mvau_wwidth_max!r}; "
                         "allowed: at least mvau_wwidth_max (equal keeps the cap fixed)")
    width = int(mvau_wwidth_max)
    best_model, best, tried = _search_at_width(model, budget, clock_ns, fpgapart, width, two_pass_relaxation,
                                               max_steps, lutram)
    while 2 * width <= bound and layers_capped_by_wwidth(best_model, width):
        width *= 2
        wider_model, wider, more = _search_at_width(model, budget, clock_ns, fpgapart, width, two_pass_relaxation,
                                                    max_steps, lutram)
        tried += more
        if wider.fps <= best.fps:
            break
        best_model, best = wider_model, wider
    return best_model, best, tried


def _search_at_width(model, budget, clock_ns, fpgapart, mvau_wwidth_max, two_pass_relaxation, max_steps, lutram):
    """:func:`search_folding` at one ``mvau_wwidth_max``."""
    from finn_flow.errors import BoardBudgetError

    tried = []

    def attempt(target):
        folded, result = fold(model, target, clock_ns, fpgapart, budget, mvau_wwidth_max, two_pass_relaxation,
                              lutram)
        tried.append(result)
        return folded, result

    best_model, best = attempt(_NEVER)
    if not best.fits:
        # BRAM is not monotone in the folding (a 1-wide weight memory is deep; a moderately folded one can pack
        # into fewer blocks): try a ladder of faster foldings before giving up
        for target in sorted({max(1, best.max_cycles // 4**k) for k in range(1, 12)}, reverse=True):
            folded, result = attempt(target)
            if result.fits:
                best_model, best = folded, result
                break
        else:
            full, allowed = tried[0], budget.allowed()
            parts = [f"{r} {full.resources[r]:,.0f} > {allowed[r]:,.0f} allowed ({100 * budget.limits[r]:.0f} % of "
                     f"{budget.capacity[r]:,.0f}); largest layers: {', '.join(largest_layers(full, r))}"
                     for r in full.overflow]
            raise BoardBudgetError(
                f"the model does not fit the board at any of the {len(tried)} foldings tried, from fully folded "
                "(PE = SIMD = 1) to fully unfolded; fully folded: " + "; ".join(parts) + f" [budget: {budget.source}]")
    lo_model, lo = attempt(1)
    if lo.fits:
        return lo_model, lo, tried
    hi, lo_t = best.max_cycles, 1  # hi fits, lo_t does not
    for _ in range(max_steps):
        if hi - lo_t <= 1 or hi <= lo_t * 1.01:
            break
        mid = max(lo_t + 1, min(hi - 1, int(round(math.sqrt(hi * lo_t)))))
        folded, result = attempt(mid)
        if result.fits:
            hi = min(mid, result.max_cycles)
            if result.fps > best.fps:
                best_model, best = folded, result
        else:
            lo_t = mid
    return best_model, best, tried
