"""``abc_mapping="auto"``: per ABC layer, the mapping with the fewest estimated LUTs whose BRAM fits the budget.

The three mappings of one ABC layer (DESIGN.md 1.3) differ only in the MVAUs that compute it:

- ``bitwise``: ``M*N`` xnor MVAUs (BIPOLAR inputs and weights), ``M*N`` integer ``ElementwiseMul`` and ``M*N - 1``
  ``ElementwiseAdd`` layers summing them;
- ``fused``: ``N`` MVAUs with the integer weights ``W_n = sum_m q_mn B_m`` and 1-bit inputs (UINT2 behind a +1
  padding), ``N - 1`` ``ElementwiseAdd`` layers;
- ``integer``: ONE MVAU with ``W = sum_m j_m B_m`` and a ``ceil(log2(K + 1))``-bit input (where the coefficients
  factor, :mod:`finn_flow.transformations.merge_activation_bases`).

All of a layer's MVAUs have the same matrix (``MW = C_in k_h k_w``, ``MH = C_out``) and number of input vectors, so
at a cycle target ``T`` FINN's ``SetFolding`` gives each the same ``PE``/``SIMD`` and every mapping runs at the same
rate, up to the weight-stream width limit (``SIMD * weight bits <= mvau_wwidth_max``) that stops wide integer weights
earlier than 1-bit ones; where it does, all candidates are folded again for the slowest one's cycles. The choice
therefore compares resources at equal throughput: this module builds each candidate's MVAUs as standalone
FINN ``MVAU_hls`` nodes with the layer's shapes and datatypes (weight types from the real weights), folds them with
FINN's own ``SetFolding(T)`` and estimates them with FINN's own ``lut_estimation``/``bram_estimation``
(:func:`finn_flow.fit.estimate_resources`, which adds finn_flow's LUT estimate for the element-wise layers FINN
counts as 0).

The proxy, stated: the thresholds, sliding windows, pooling and padding layers of a layer are left out (they are
nearly the same for every mapping: N one-step Thresholding layers against one K-step layer), and so are the other
layers of the network. ``T`` is the folding the build will aim for: ``1e9 / (clock_ns * target_fps)`` cycles for
a numeric ``target_fps``; fully folded without one; and for ``target_fps="max"`` (fit to the board) the smallest
``T`` of a ladder (halving from the slowest layer's fully folded cycles) at which the chosen MVAUs of all ABC layers
together fit the board's LUT and BRAM budget. At that ``T`` each layer takes its fewest-LUT mapping; if the layers'
BRAM together exceeds the budget, layers move to a mapping with less BRAM, largest BRAM saving per added LUT first.
The fit search (:mod:`finn_flow.fit`) then folds the whole mapped network as usual.
"""

from __future__ import annotations

import math

import numpy as np
from onnx import TensorProto, helper
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.util.basic import qonnx_make_model

from finn_flow.transformations.abc_branches import (
    find_branch_sums,
    integer_datatype,
    integer_decomposition,
    reads_bipolar_activation,
)
from finn_flow.transformations.merge_activation_bases import (
    NotMergeable,
    factor_base_weights,
    input_datatype,
    weight_datatype,
)

MAPPINGS = ("integer", "fused", "bitwise")  # on a tie in LUT and BRAM, the earlier one (fewer layers)
_FULLY_FOLDED = 2**62


def _weights_by_input(model: ModelWrapper, branch, q: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """``[(input tensor, W_n)]``: the fused integer weight per activation base (in ``[MW, MH]`` layout)."""
    groups: dict[str, np.ndarray] = {}
    for term, q_k in zip(branch.terms, q):
        w = model.get_initializer(term.linear.input[1]).astype(np.float64)
        if term.linear.op_type == "Conv":  # [C_out, C_in, kh, kw] -> [C_in kh kw, C_out]
            w = w.reshape(w.shape[0], -1).T
        groups[term.linear.input[0]] = groups.get(term.linear.input[0], 0) + w * q_k[None, :]
    return list(groups.items())


def _padded(model: ModelWrapper, tensor: str) -> bool:
    producer = model.find_producer(tensor)
    return producer is not None and producer.op_type == "Pad"


def layer_candidates(model: ModelWrapper, branch) -> tuple[dict, dict]:
    """``(candidates, refused)`` for one branch sum: ``{mapping: spec}`` where ``spec`` lists the MVAUs
    (``MW, MH, vectors, idt, wdt, xnor``) and the element-wise layers of that mapping, and ``{mapping: reason}``."""
    coeffs = np.stack([t.coefficient for t in branch.terms])
    q, s = integer_decomposition(coeffs)
    if q is None:
        return {}, {m: f"coefficients of output channel {s} are not integer multiples of one scale" for m in MAPPINGS}
    linear = branch.terms[0].linear
    out_shape = model.get_tensor_shape(linear.output[0])
    vectors = [1, *out_shape[2:]] if linear.op_type == "Conv" else list(out_shape[:-1])
    groups = _weights_by_input(model, branch, q)
    mw, mh = groups[0][1].shape
    acc = "INT32"  # FINN's estimate bounds the accumulator by the data types when it is not minimised yet
    terms = len(branch.terms)
    q_type = integer_datatype(q)
    candidates = {"bitwise": {"mvaus": [(mw, mh, vectors, "BIPOLAR", "BIPOLAR", 1)] * terms,
                              "muls": terms, "mul_bits": 0 if q_type == DataType["BIPOLAR"] else q_type.bitwidth(),
                              "adds": terms - 1}}
    fused_inputs = ["UINT2" if _padded(model, name) else "BIPOLAR" for name, _ in groups]
    candidates["fused"] = {"mvaus": [(mw, mh, vectors, idt, weight_datatype(w).name, 0)
                                     for (_, w), idt in zip(groups, fused_inputs)],
                           "muls": 0, "mul_bits": 0, "adds": len(groups) - 1}
    refused = {}
    if not all(reads_bipolar_activation(model, name) for name, _ in groups):
        # a weights-only layer (N = None) reads integers: no xnor form, and streamlining folds the input's float
        # scale into the per-branch integer multipliers (FLOAT32 ElementwiseMul in the accelerator)
        del candidates["bitwise"]
        refused["bitwise"] = "its input is not a bipolar activation (weights-only layer): no xnor form"
    if len(groups) == 1:
        refused["integer"] = "one input (N = 1 or weights-only): the same as fused"
    else:
        try:
            k, w = factor_base_weights([g for _, g in groups])
            candidates["integer"] = {"mvaus": [(mw, mh, vectors, input_datatype(int(k.sum())).name,
                                                weight_datatype(w).name, 0)], "muls": 0, "mul_bits": 0, "adds": 0,
                                     "k": k.tolist()}
        except NotMergeable as error:
            refused["integer"] = str(error)
    for spec in candidates.values():
        spec["acc"] = acc
    return candidates, refused


def _mvau_model(spec: dict) -> ModelWrapper:
    """Standalone ``MVAU_hls`` nodes (and their element-wise layers' sizes) for one candidate."""
    nodes, inputs, outputs = [], [], []
    for k, (mw, mh, vectors, idt, wdt, xnor) in enumerate(spec["mvaus"]):
        inp, out = f"in{k}", f"out{k}"
        inputs.append(helper.make_tensor_value_info(inp, TensorProto.FLOAT, [*vectors, mw]))
        outputs.append(helper.make_tensor_value_info(out, TensorProto.FLOAT, [*vectors, mh]))
        nodes.append(helper.make_node(
            "MVAU_hls", [inp, f"w{k}"], [out], name=f"MVAU_hls_{k}", domain="finn.custom_op.fpgadataflow.hls",
            backend="fpgadataflow", MW=mw, MH=mh, PE=1, SIMD=1, numInputVectors=list(vectors), inputDataType=idt,
            weightDataType=wdt, outputDataType=spec["acc"], accDataType=spec["acc"], binaryXnorMode=xnor,
            noActivation=1, mem_mode="internal_decoupled", ram_style="auto", resType="lut"))
    model = ModelWrapper(qonnx_make_model(helper.make_graph(nodes, "abc_layer", inputs, outputs)))
    for k, (mw, mh, *_rest) in enumerate(spec["mvaus"]):
        model.set_initializer(f"w{k}", np.zeros((mw, mh), dtype=np.float32))
    return model


def estimate_candidate(spec: dict, target_cycles: int, fpgapart: str, mvau_wwidth_max: int = 36) -> dict:
    """LUT/BRAM_18K of one candidate folded by FINN's ``SetFolding(target_cycles)`` (module docstring)."""
    from finn.analysis.fpgadataflow.exp_cycles_per_layer import exp_cycles_per_layer
    from finn.transformation.fpgadataflow.set_folding import SetFolding
    from qonnx.custom_op.registry import getCustomOp

    from finn_flow.fit import estimate_resources, total

    model = _mvau_model(spec)
    model = model.transform(SetFolding(int(target_cycles), mvau_wwidth_max=mvau_wwidth_max,
                                       two_pass_relaxation=False))
    used = total(estimate_resources(model, fpgapart))
    cycles = max(model.analysis(exp_cycles_per_layer).values())
    first = getCustomOp(model.graph.node[0])
    pe = int(first.get_nodeattr("PE"))
    out_bits = min(32, math.ceil(math.log2(spec["mvaus"][0][0] + 1)) + 8)  # an accumulator-sized sum, as fit.py
    # element-wise layers FINN counts as 0 LUT: finn_flow.fit.zero_lut_estimate's model (PE * bits)
    used["LUT"] += spec["adds"] * pe * out_bits + spec["muls"] * pe * out_bits * max(spec["mul_bits"], 1)
    return {"LUT": round(used["LUT"]), "BRAM_18K": used["BRAM_18K"], "cycles": int(cycles), "PE": pe,
            "SIMD": int(first.get_nodeattr("SIMD"))}


def estimate_layer(specs: dict, target_cycles: int, fpgapart: str, mvau_wwidth_max: int = 36) -> dict:
    """Every candidate of one layer at one throughput: each folded for ``target_cycles``, then, if the weight-stream
    width limit kept some slower, all folded again for the slowest one's cycles (so the LUTs compared buy the same
    frame rate)."""
    est = {m: estimate_candidate(s, target_cycles, fpgapart, mvau_wwidth_max) for m, s in specs.items()}
    slowest = max(e["cycles"] for e in est.values())
    if any(e["cycles"] < slowest for e in est.values()):
        est = {m: estimate_candidate(s, slowest, fpgapart, mvau_wwidth_max) for m, s in specs.items()}
    return est


def _choose(estimates: dict[str, dict], bram_allowed: float) -> tuple[dict, dict]:
    """Fewest-LUT mapping per layer, then BRAM moves while the total exceeds ``bram_allowed``."""
    order = {m: i for i, m in enumerate(MAPPINGS)}
    choice, why = {}, {}
    for layer, cands in estimates.items():
        best = min(cands, key=lambda m: (cands[m]["LUT"], cands[m]["BRAM_18K"], order[m]))
        choice[layer] = best
        why[layer] = "fewest estimated LUTs"
    while sum(estimates[l][choice[l]]["BRAM_18K"] for l in choice) > bram_allowed:
        moves = []
        for layer, cands in estimates.items():
            now = cands[choice[layer]]
            for m, est in cands.items():
                saved = now["BRAM_18K"] - est["BRAM_18K"]
                if saved > 0:
                    moves.append((saved / max(est["LUT"] - now["LUT"], 1), layer, m))
        if not moves:
            break
        _, layer, m = max(moves)
        choice[layer] = m
        why[layer] = "less BRAM (the fewest-LUT mappings together exceed the BRAM budget)"
    return choice, why


def choose_abc_mappings(model: ModelWrapper, cfg) -> dict[str, dict]:
    """``{layer: {"mapping", "why", "estimates", "target_cycles", ...}}`` for every ABC branch sum of ``model`` (the
    graph :func:`finn_flow.steps.step_map_abc_branches` receives); see the module docstring for the rule."""
    from finn_flow.fit import board_budget

    fpgapart = cfg._resolve_fpga_part()
    wwidth = getattr(cfg, "mvau_wwidth_max", 36)
    specs, refused, decisions = {}, {}, {}
    for branch in find_branch_sums(model):
        cands, why_not = layer_candidates(model, branch)
        if not cands:  # float coefficients: left as exported, whatever the mapping
            decisions[branch.root.name] = {"mapping": "bitwise", "why": why_not["bitwise"], "estimates": {}}
            continue
        specs[branch.root.name], refused[branch.root.name] = cands, why_not
    if not specs:
        return decisions
    budget = board_budget(cfg.board, cfg.fit_limits, cfg.fit_capacity) if cfg.fit_to_board else None
    if cfg.fit_to_board:
        full = {l: estimate_layer(c, _FULLY_FOLDED, fpgapart, wwidth) for l, c in specs.items()}
        slowest = max(e["cycles"] for c in full.values() for e in c.values())
        allowed = budget.allowed()
        target, estimates = _FULLY_FOLDED, full
        t = slowest
        while t >= 1:
            trial = {l: estimate_layer(c, t, fpgapart, wwidth) for l, c in specs.items()}
            choice, _ = _choose(trial, allowed["BRAM_18K"])
            lut = sum(trial[l][choice[l]]["LUT"] for l in choice)
            bram = sum(trial[l][choice[l]]["BRAM_18K"] for l in choice)
            if lut > allowed["LUT"] or bram > allowed["BRAM_18K"]:
                break
            target, estimates = t, trial
            if t == 1:
                break
            t = max(1, t // 2)
        bram_allowed = allowed["BRAM_18K"]
    else:
        target = _FULLY_FOLDED if not cfg.target_fps else max(
            1, int(1e9 / (cfg.synth_clk_period_ns * cfg.target_fps)))
        estimates = {l: estimate_layer(c, target, fpgapart, wwidth) for l, c in specs.items()}
        bram_allowed = board_budget(cfg.board).allowed()["BRAM_18K"]
    choice, why = _choose(estimates, bram_allowed)
    for layer in specs:
        decisions[layer] = {"mapping": choice[layer], "why": why[layer], "estimates": estimates[layer],
                            "not_candidates": refused[layer],
                            "target_cycles": None if target == _FULLY_FOLDED else int(target)}
    return decisions
