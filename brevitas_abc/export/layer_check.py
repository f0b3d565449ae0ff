"""Layer-by-layer check of an exported graph: every binarizer's decisions against PyTorch's, on PyTorch's input.

A binary network's output depends on every sign it takes. Where a binarizer's input ``u`` is within float32
rounding of its threshold, PyTorch and the QONNX executor may decide differently (their float sums run in
different orders), and one such flip can change the output. Comparing only the outputs cannot tell that flip
from a systematic error (a wrong shift or coefficient), so this check walks the graph node by node:

1. PyTorch runs the trained model once; a hook on each binarizing layer records, per binarizer ``k``, its
   threshold input ``u_k`` and its decision ``s_k = sign(u_k)`` (sign(0) = +1), in execution order:
   ABC activation base ``n``: ``u = x + (v_n - 0.5)``, ``s = H_{v_n}(x)`` (eq. 8); Group-Net: ``u = x + t``.
2. The graph executes node by node; each activation ``BipolarQuant`` (input ``u'_k``, output ``s'_k``) is
   paired with the not yet paired PyTorch binarizer ``k`` of its shape whose input is closest (graph order need
   not be execution order) and compared with it: ``|u'_k - u_k| <= tol`` everywhere, and ``s'_k != s_k`` only where
   ``|u_k| <= tol`` (a tie decision); then the node's output is replaced by PyTorch's ``s_k``, so every later
   layer is fed PyTorch's values and one tie cannot hide a systematic error downstream.
3. The graph's output, computed from PyTorch's decisions, must equal PyTorch's within ``atol`` with the
   same argmax.

``tol = tie_atol * max(1, max |u_k|)``. A shift off by 0.01 moves ``u'`` by 0.01 everywhere; a coefficient off
by 1 % moves the next binarizer's input, or the output, by about 1 % of its magnitude: both fail on any input.
"""
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

#: relative float tolerance of a binarizer input (and of its distance to the threshold 0), see the docstring
TIE_ATOL = 1e-5


@dataclass
class BinarizerTap:
    """PyTorch's view of one binarizer: the layer's name, threshold input ``u`` and decision ``sign`` (+-1, int8)."""

    layer: str
    u: np.ndarray
    sign: np.ndarray


@dataclass
class LayerCheck:
    """Result of :func:`check_layer_by_layer`.

    Attributes:
        binarizers: binarizers compared (graph ``BipolarQuant`` nodes on activations).
        tie_decisions: binarizer outputs whose graph sign differed from PyTorch's, each at a near-tie.
        max_input_diff: largest ``|u' - u|`` over all binarizers.
        output: the graph's output computed from PyTorch's decisions.
        problems: what failed (empty when the graph computes what PyTorch computes).
    """

    binarizers: int
    tie_decisions: int
    max_input_diff: float
    output: np.ndarray
    problems: list[str] = field(default_factory=list)


def _taps_of(name: str, module: nn.Module, x: torch.Tensor) -> list[BinarizerTap] | None:
    """The binarizer taps of one layer on its input ``x``, or None when ``module`` binarizes nothing we know."""
    input_quant = getattr(module, "input_quant", None)
    if input_quant is not None and callable(getattr(input_quant, "branches", None)):  # ABC activation bases
        signs = input_quant.branches(x)
        return [BinarizerTap(name, (x + torch.tensor(float(v) - 0.5)).numpy(), signs[n].numpy().astype(np.int8))
                for n, v in enumerate(input_quant.shifts.detach())]
    threshold = getattr(module, "act_threshold", None)
    if threshold is not None and callable(getattr(module, "binarize_input", None)):  # Group-Net
        u = x + threshold.detach().view(1, -1, *([1] * (x.dim() - 2)))
        return [BinarizerTap(name, u.numpy(), np.where(u.numpy() >= 0, 1, -1).astype(np.int8))]
    return None


def run_with_binarizer_taps(model: nn.Module, example_input: torch.Tensor) -> tuple[np.ndarray, list[BinarizerTap]]:
    """``model(example_input)`` (no grad, the model's current mode) and every binarizer's tap in execution order.

    ABC layers are tapped by a forward pre-hook (their input); Group-Net layers at ``binarize_input``, which their
    containers call directly (one call per branch).
    """
    taps: list[BinarizerTap] = []
    handles, patched = [], []

    def hook(name):
        def record(module, args):
            taps.extend(_taps_of(name, module, args[0].detach().cpu()) or [])
        return record

    def recording(name, module, original):
        def binarize_input(x):
            taps.extend(_taps_of(name, module, x.detach().cpu()) or [])
            return original(x)
        return binarize_input

    for name, module in model.named_modules():
        input_quant = getattr(module, "input_quant", None)
        if input_quant is not None and callable(getattr(input_quant, "branches", None)):
            handles.append(module.register_forward_pre_hook(hook(name)))
        elif getattr(module, "act_threshold", None) is not None and callable(getattr(module, "binarize_input", None)):
            module.binarize_input = recording(name, module, module.binarize_input)
            patched.append(module)
    try:
        with torch.no_grad():
            out = model(example_input)
    finally:
        for handle in handles:
            handle.remove()
        for module in patched:
            del module.binarize_input  # the class's method again
    return out.detach().cpu().numpy(), _without_repeats(taps)


def _without_repeats(taps: list[BinarizerTap]) -> list[BinarizerTap]:
    """Drop a tap equal to an earlier one of the same parent module (e.g. Group-Net branches whose thresholds are
    all equal: the exporter emits one ``Add -> BipolarQuant`` for them)."""
    kept: list[BinarizerTap] = []
    for tap in taps:
        parent = tap.layer.rpartition(".")[0]
        if not any(k.layer.rpartition(".")[0] == parent and k.u.shape == tap.u.shape and np.array_equal(k.u, tap.u)
                   for k in kept):
            kept.append(tap)
    return kept


def activation_binarizers(model_wrapper) -> list:
    """The graph's ``BipolarQuant`` nodes on activations (not on initializers), in graph order."""
    return [node for node in model_wrapper.graph.node
            if node.op_type == "BipolarQuant" and model_wrapper.get_initializer(node.input[0]) is None]


def check_layer_by_layer(model_wrapper, inputs: np.ndarray, taps: list[BinarizerTap], reference: np.ndarray,
                         atol: float, tie_atol: float = TIE_ATOL) -> LayerCheck | None:
    """Steps 2 and 3 of the module docstring; None when the graph's binarizers do not map one to one onto
    ``taps`` (a different count or shape: a model with binarizers this check does not know)."""
    from qonnx.core.onnx_exec import execute_node
    from qonnx.util.basic import get_preferred_qonnx_opset

    nodes = activation_binarizers(model_wrapper)
    if len(nodes) != len(taps) or not nodes:
        return None
    shapes = [tuple(model_wrapper.get_tensor_shape(node.input[0])) for node in nodes]
    if any(shape != tap.u.shape for shape, tap in zip(shapes, taps)):
        return None
    binarizer_nodes = {node.name for node in nodes}
    unmatched = list(range(len(taps)))
    graph = model_wrapper.graph
    context = model_wrapper.make_empty_exec_context()
    context[graph.input[0].name] = inputs
    opsets = model_wrapper.get_opset_imports()
    problems, ties, max_diff = [], 0, 0.0
    for node in graph.node:
        execute_node(node, context, graph, opsets.get(node.domain, get_preferred_qonnx_opset()))
        if node.name not in binarizer_nodes:
            continue
        u_graph, s_graph = np.asarray(context[node.input[0]]), np.asarray(context[node.output[0]])
        # the PyTorch binarizer this node computes: the unmatched one of its shape with the closest input (graph
        # order need not be PyTorch's order: a base with v = 0.5 has no Add node and can come first)
        candidates = [j for j in unmatched if taps[j].u.shape == u_graph.shape]
        if not candidates:
            return None
        k = min(candidates, key=lambda j: float(np.abs(u_graph - taps[j].u).max()))
        unmatched.remove(k)
        tap = taps[k]
        tol = tie_atol * max(1.0, float(np.abs(tap.u).max()))
        diff = float(np.abs(u_graph - tap.u).max())
        max_diff = max(max_diff, diff)
        flips = s_graph != tap.sign
        unexplained = flips & (np.abs(tap.u) > tol)
        where = f"binarizer {k} (node {node.name!r}, layer {tap.layer!r})"
        if diff > tol:
            problems.append(f"{where}: its input differs from PyTorch's by up to {diff:.3g} (allowed {tol:.3g})")
        if unexplained.any():
            problems.append(f"{where}: {int(unexplained.sum())} sign(s) differ from PyTorch's away from the "
                            f"threshold (|u| > {tol:.3g})")
        ties += int(flips.sum())
        context[node.output[0]] = tap.sign.astype(s_graph.dtype)  # downstream sees PyTorch's decisions
    output = np.asarray(context[graph.output[0].name])
    out_diff = float(np.abs(output - reference).max())
    if out_diff > atol:
        problems.append(f"the output, computed from PyTorch's binarizer decisions, differs by {out_diff:.3g} "
                        f"(allowed {atol})")
    if reference.ndim == 2 and reference.shape[1] > 1 and (output.argmax(1) != reference.argmax(1)).any():
        problems.append("the output, computed from PyTorch's binarizer decisions, picks another argmax")
    return LayerCheck(len(nodes), ties, max_diff, output, problems)
