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
   not be execution order) and compared with it: ``|u'_k - u_k| <= b_k`` everywhere, and ``s'_k != s_k`` only where
   ``|u_k| <= b_k`` (a tie decision); then the node's output is replaced by PyTorch's ``s_k``, so every later
   layer is fed PyTorch's values and one tie cannot hide a systematic error downstream.
3. The graph's output, computed from PyTorch's decisions, must equal PyTorch's within ``atol`` with the
   same argmax.

The bound ``b_k`` is proved, per element, not a heuristic (:func:`rounding_bound`). Between two binarizers both
PyTorch and the graph compute the same sums of products of the same inputs (the images, or PyTorch's signs), only
in different orders (oneDNN picks the convolution's summation order per CPU). A float32 program of additions and
multiplications (and exact 1-Lipschitz steps: ReLU, max-pooling, reshapes) whose longest chain from the inputs has
``d`` roundings computes its exact value ``y`` within ``gamma_d * |y|_abs`` (Higham, Accuracy and Stability of
Numerical Algorithms, 2nd ed., Lemma 3.1 and eq. 3.5), where

    gamma_d = d u / (1 - d u),   u = 2^-24 (float32 unit roundoff),

and ``|y|_abs`` is the same program run on the absolute values of its inputs and constants: for a convolution of
``n`` products ``|y|_abs = sum_i |w_i| |x_i|`` (the same convolution on ``|w|`` and ``|x|``) and ``d`` grows by
``n``; a ``Mul``/``Add``/``Sub``/``Div`` by a constant (bias, BatchNorm affine, ABC coefficient, shift) adds one
rounding and ``|c|``. The graph's own chain gives ``d``; PyTorch's training form computes an ABC layer as one
convolution of the reconstructed weights ``sum_m alpha_m B_m`` and activations ``sum_n beta_n A_n`` (M - 1 and
N - 1 more roundings before the products, M, N <= 8) and a plain BatchNorm in its own order, so PyTorch's chain
is at most ``d + SLACK_ROUNDINGS`` long, and

    |u' - u| <= (gamma_d + gamma_{d + SLACK_ROUNDINGS}) |u|_abs = b.

A shift off by 0.01 moves ``u'`` by 0.01 everywhere; a coefficient off by 1 % moves the next binarizer's input,
or the output, by about 1 % of its magnitude: far beyond ``b`` (``gamma_d |u|_abs`` is about ``1e-7 n`` times the
sum of absolute terms), so both fail on any input. A ``Quant`` of a computed value (an input quantiser behind
the input normalisation) gives exact values again where no element lies within its bound of a rounding boundary
(``_AbsoluteProgram._rounds_alike``). Where elements do, the ``Quant`` is treated like a binarizer: its output is
compared with PyTorch's activation quantiser of its shape (a :class:`QuantizerTap`), may differ only at those
elements and by one step (tie decisions, counted), and is replaced by PyTorch's. A graph op outside the rules (a
sigmoid, ...) has no proved bound: the layer-by-layer check then does not apply (None) and the caller compares whole
outputs.
"""
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

#: float32 unit roundoff (round to nearest): ``|fl(a op b) - (a op b)| <= UNIT_ROUNDOFF |a op b|``
UNIT_ROUNDOFF = 2.0 ** -24
#: roundings PyTorch's form of a layer may have beyond the graph's (ABC's reconstruction of M, N <= 8 bases: 14;
#: a plain BatchNorm's kernel), see the module docstring
SLACK_ROUNDINGS = 16


@dataclass
class BinarizerTap:
    """PyTorch's view of one binarizer: the layer's name, threshold input ``u`` and decision ``sign`` (+-1, int8)."""

    layer: str
    u: np.ndarray
    sign: np.ndarray


@dataclass(eq=False)  # compared by identity: field-wise equality would compare arrays
class QuantizerTap:
    """PyTorch's output of one activation quantiser layer (a Brevitas ``QuantIdentity``/``QuantReLU``/...)."""

    layer: str
    value: np.ndarray


@dataclass
class LayerCheck:
    """Result of :func:`check_layer_by_layer`.

    Attributes:
        binarizers: binarizers compared (graph ``BipolarQuant`` nodes on activations).
        tie_decisions: binarizer outputs whose graph sign differed from PyTorch's, each at a near-tie (and
            quantiser outputs one step apart at a near-boundary element).
        max_input_diff: largest ``|u' - u|`` over all binarizers.
        output: the graph's output computed from PyTorch's decisions.
        problems: what failed (empty when the graph computes what PyTorch computes).
        max_bound: largest proved rounding bound ``b`` over all binarizer inputs.
    """

    binarizers: int
    tie_decisions: int
    max_input_diff: float
    output: np.ndarray
    problems: list[str] = field(default_factory=list)
    max_bound: float = 0.0


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


def run_with_binarizer_taps(model: nn.Module, example_input: torch.Tensor
                            ) -> tuple[np.ndarray, list[BinarizerTap | QuantizerTap]]:
    """``model(example_input)`` (no grad, the model's current mode) and every binarizer's tap in execution order,
    followed by every activation quantiser layer's output (:class:`QuantizerTap`).

    ABC layers are tapped by a forward pre-hook (their input); Group-Net layers at ``binarize_input``, which their
    containers call directly (one call per branch); activation quantiser layers (a module with ``act_quant`` and no
    ABC ``input_quant``) by a forward hook (their output).
    """
    taps: list[BinarizerTap] = []
    quantizers: list[QuantizerTap] = []
    handles, patched = [], []

    def hook(name):
        def record(module, args):
            taps.extend(_taps_of(name, module, args[0].detach().cpu()) or [])
        return record

    def output_hook(name):
        def record(module, args, output):
            value = getattr(output, "value", output)  # a QuantTensor's value
            if isinstance(value, torch.Tensor):
                quantizers.append(QuantizerTap(name, value.detach().cpu().numpy()))
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
        elif getattr(module, "act_quant", None) is not None:
            handles.append(module.register_forward_hook(output_hook(name)))
    try:
        with torch.no_grad():
            out = model(example_input)
    finally:
        for handle in handles:
            handle.remove()
        for module in patched:
            del module.binarize_input  # the class's method again
    return out.detach().cpu().numpy(), _without_repeats(taps) + quantizers


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


def gamma(depth: int) -> float:
    """``gamma_d = d u / (1 - d u)`` with ``u`` = :data:`UNIT_ROUNDOFF` (infinite when ``d u >= 1``)."""
    du = depth * UNIT_ROUNDOFF
    return float("inf") if du >= 1 else du / (1 - du)


def rounding_bound(absolute: np.ndarray, depth: int) -> np.ndarray:
    """``b = (gamma_d + gamma_{d + SLACK_ROUNDINGS}) |u|_abs``: how far PyTorch's and the graph's float32 values of
    one tensor can lie apart when both compute it from the same inputs in different orders (module docstring)."""
    return (gamma(depth) + gamma(depth + SLACK_ROUNDINGS)) * absolute


#: ops that move or select values without rounding (1-Lipschitz): |y|_abs is the op applied to |x|_abs
_STRUCTURAL = {"Relu", "MaxPool", "Reshape", "Flatten", "Transpose", "Squeeze", "Unsqueeze", "Identity", "Concat",
               "Pad", "Slice"}


def _attributes(node) -> dict:
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _float32_up(values: np.ndarray) -> np.ndarray:
    """``values`` (float64, >= 0) as float32 rounded upwards, so a bound stays a bound."""
    low = values.astype(np.float32)
    return np.where(low.astype(np.float64) < values, np.nextafter(low, np.float32(np.inf)), low)


class _AbsoluteProgram:
    """Per tensor of the graph: ``|y|_abs`` (float64) and the longest rounding chain ``d`` since the last exact
    values (graph input, constants, binarizer outputs), by the rules of the module docstring; a tensor without an
    entry has no proved bound."""

    def __init__(self, model_wrapper, inputs: np.ndarray):
        self.model = model_wrapper
        self.absolute: dict[str, np.ndarray] = {}
        self.depth: dict[str, int] = {}
        for init in model_wrapper.graph.initializer:
            self.set(init.name, np.abs(np.asarray(model_wrapper.get_initializer(init.name), dtype=np.float64)), 0)
        self.set(model_wrapper.graph.input[0].name, np.abs(np.asarray(inputs, dtype=np.float64)), 0)

    def set(self, name: str, absolute: np.ndarray, depth: int) -> None:
        self.absolute[name], self.depth[name] = absolute, depth

    def bound(self, name: str) -> np.ndarray | None:
        return rounding_bound(self.absolute[name], self.depth[name]) if name in self.absolute else None

    def update(self, node, context: dict) -> None:
        """Record ``node``'s output (executed into ``context``), or nothing when no rule applies."""
        names = [i for i in node.input if i]
        if any(i not in self.absolute for i in names):
            return
        a, d, op, out = [self.absolute[i] for i in names], [self.depth[i] for i in names], node.op_type, node.output[0]
        constant = [self.model.get_initializer(i) is not None for i in names]
        if op in ("Quant", "BipolarQuant"):
            # same inputs (constants, or the exact graph input) -> the same quantised values in PyTorch and here
            if all(c or self.depth[i] == 0 for c, i in zip(constant, names)) or self._rounds_alike(node, context):
                self.set(out, np.abs(np.asarray(context[out], dtype=np.float64)), 0)
        elif op == "Conv":
            self._conv(node, a, d)
        elif op in ("Gemm", "MatMul"):
            attrs = _attributes(node)
            x = a[0].T if attrs.get("transA", 0) else a[0]
            w = a[1].T if attrs.get("transB", 0) else a[1]
            y, depth = np.matmul(x, w), d[0] + d[1] + x.shape[-1]
            if op == "Gemm":
                alpha, beta = abs(attrs.get("alpha", 1.0)), abs(attrs.get("beta", 1.0))
                y, depth = alpha * y, depth + (alpha != 1.0)
                if len(a) > 2:
                    y, depth = y + beta * a[2], max(depth, d[2] + (beta != 1.0)) + 1
            self.set(out, y, depth)
        elif op == "Mul":
            self.set(out, a[0] * a[1], d[0] + d[1] + 1)
        elif op == "Div" and constant[1] and np.all(a[1] > 0):
            self.set(out, a[0] / a[1], d[0] + d[1] + 1)
        elif op in ("Add", "Sub"):
            self.set(out, a[0] + a[1], max(d) + 1)
        elif op == "BatchNormalization" and all(constant[1:]) and len(a) == 5:
            # (x - mean) / sqrt(var + eps) * scale + B: per channel, at most 8 roundings in any arrangement
            eps = _attributes(node).get("epsilon", 1e-5)
            shape = (1, -1) + (1,) * (a[0].ndim - 2)
            var = np.asarray(self.model.get_initializer(names[4]), dtype=np.float64).reshape(shape)
            y = (a[0] + a[3].reshape(shape)) * a[1].reshape(shape) / np.sqrt(var + eps) + a[2].reshape(shape)
            self.set(out, y, d[0] + 8)
        elif op == "GlobalAveragePool":
            window = int(np.prod(a[0].shape[2:]))
            self.set(out, a[0].mean(axis=tuple(range(2, a[0].ndim)), keepdims=True), d[0] + window)
        elif op in _STRUCTURAL:
            self._structural(node, context, d)

    def _rounds_alike(self, node, context: dict) -> bool:
        """True where a ``Quant`` (zero point 0, ``ROUND``) of a computed input gives PyTorch's integers: no element
        of its input lies near a rounding boundary (:meth:`near_boundary`). Both inputs are then within ``b`` of the
        exact value on the same side of every boundary, so both round (and clip, a monotone step) to the same
        integer, and the output is exact again (depth 0). An input quantiser behind an input normalisation is such a
        ``Quant``."""
        near = self.near_boundary(node, context)
        return near is not None and not near.any()

    def near_boundary(self, node, context: dict) -> np.ndarray | None:
        """Per element of a ``Quant``'s (zero point 0, ``ROUND``) input ``x``: True where PyTorch and the graph may
        round differently, ``dist(x / s, Z + 1/2) <= b / |s| + 4 u |x / s|`` (``b`` its rounding bound; the last term
        covers the division, rounded in both programs); None where the rule does not apply (another op, zero point,
        rounding mode, or an input without a bound)."""
        if node.op_type != "Quant" or len(node.input) < 4:
            return None
        scale, zero_point, bits = (self.model.get_initializer(i) for i in node.input[1:4])
        if scale is None or zero_point is None or bits is None or np.any(np.asarray(zero_point) != 0):
            return None
        if _attributes(node).get("rounding_mode", b"ROUND") not in (b"ROUND", "ROUND"):
            return None
        bound = self.bound(node.input[0])
        if bound is None:
            return None
        step = np.abs(np.asarray(scale, dtype=np.float64))
        q = np.asarray(context[node.input[0]], dtype=np.float64) / step
        distance = np.abs(q - np.floor(q) - 0.5)
        return distance <= bound / step + 4 * UNIT_ROUNDOFF * np.abs(q)

    def _conv(self, node, a, d) -> None:
        import torch.nn.functional as F

        attrs = _attributes(node)
        x, w = torch.from_numpy(a[0]), torch.from_numpy(a[1])
        if x.dim() != 4 or attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
            return
        top, left, bottom, right = attrs.get("pads", [0, 0, 0, 0])
        y = F.conv2d(F.pad(x, (left, right, top, bottom)), w, stride=tuple(attrs.get("strides", [1, 1])),
                     dilation=tuple(attrs.get("dilations", [1, 1])), groups=attrs.get("group", 1)).numpy()
        depth = d[0] + d[1] + int(np.prod(w.shape[1:]))  # n = C_in / groups * kH * kW products
        if len(a) > 2:
            y, depth = y + a[2].reshape(1, -1, 1, 1), depth + 1
        self.set(node.output[0], y, depth)

    def _structural(self, node, context, d) -> None:
        from qonnx.core.onnx_exec import execute_node
        from qonnx.util.basic import get_preferred_qonnx_opset

        data = list(range(len(node.input))) if node.op_type == "Concat" else [0]
        local = {}
        for k, name in enumerate(node.input):
            if not name:
                continue
            if k in data:
                local[name] = _float32_up(self.absolute[name])
            elif node.op_type == "Pad" and k == 2:  # the padding value: |value|
                local[name] = np.asarray(np.abs(np.asarray(context[name])))
            else:  # shapes, axes, pads: as they are
                local[name] = context[name]
        local[node.output[0]] = np.zeros_like(context[node.output[0]])
        execute_node(node, local, self.model.graph, self.model.get_opset_imports().get(node.domain,
                                                                                       get_preferred_qonnx_opset()))
        self.set(node.output[0], np.asarray(local[node.output[0]], dtype=np.float64),
                 max(self.depth[node.input[k]] for k in data if node.input[k]))


def _quantizer_ties(program: _AbsoluteProgram, node, context: dict, quantizers: list[QuantizerTap]):
    """A ``Quant`` of a computed input with elements near a rounding boundary, compared with PyTorch's quantiser of
    its shape whose output is closest (removed from ``quantizers``): ``(tie decisions, problems)``, its output
    replaced by PyTorch's and exact again; None where no rule or tap applies (the ``Quant`` then has no bound)."""
    near = program.near_boundary(node, context)
    out = np.asarray(context[node.output[0]])
    candidates = [tap for tap in quantizers if tap.value.shape == out.shape]
    if near is None or not candidates:
        return None
    tap = min(candidates, key=lambda t: float(np.abs(t.value - out).max()))
    quantizers.remove(tap)
    step = np.abs(np.asarray(program.model.get_initializer(node.input[1]), dtype=np.float64))
    gap = np.abs(out.astype(np.float64) - tap.value)
    differs = gap > 0
    problems = []
    if (differs & ~near).any() or (gap > step * (1 + 1e-6)).any():
        problems.append(f"quantiser node {node.name!r} (layer {tap.layer!r}): {int((differs & ~near).sum())} value(s) "
                        f"differ from PyTorch's away from a rounding boundary, by up to {gap.max():.3g}")
    context[node.output[0]] = tap.value.astype(out.dtype)  # downstream sees PyTorch's values
    program.set(node.output[0], np.abs(tap.value.astype(np.float64)), 0)
    return int(differs.sum()), problems


def check_layer_by_layer(model_wrapper, inputs: np.ndarray, taps: list[BinarizerTap | QuantizerTap],
                         reference: np.ndarray, atol: float) -> LayerCheck | None:
    """Steps 2 and 3 of the module docstring; None when the graph's binarizers do not map one to one onto
    ``taps`` (a different count or shape: a model with binarizers this check does not know) or a binarizer's
    input has no proved rounding bound (an op outside the rules of the module docstring)."""
    from qonnx.core.onnx_exec import execute_node
    from qonnx.util.basic import get_preferred_qonnx_opset

    quantizers = [tap for tap in taps if isinstance(tap, QuantizerTap)]
    taps = [tap for tap in taps if isinstance(tap, BinarizerTap)]
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
    problems, ties, max_diff, max_bound = [], 0, 0.0, 0.0
    program = _AbsoluteProgram(model_wrapper, inputs)
    for node in graph.node:
        execute_node(node, context, graph, opsets.get(node.domain, get_preferred_qonnx_opset()))
        if node.name not in binarizer_nodes:
            program.update(node, context)
            if node.op_type == "Quant" and node.output[0] not in program.absolute:
                found = _quantizer_ties(program, node, context, quantizers)
                if found is not None:
                    ties += found[0]
                    problems += found[1]
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
        bound = program.bound(node.input[0])
        if bound is None:
            return None
        gap = np.abs(u_graph.astype(np.float64) - tap.u)
        diff = float(gap.max())
        max_diff, max_bound = max(max_diff, diff), max(max_bound, float(bound.max()))
        flips = s_graph != tap.sign
        unexplained = flips & (np.abs(tap.u) > bound)
        where = f"binarizer {k} (node {node.name!r}, layer {tap.layer!r})"
        if (gap > bound).any():
            worst = np.unravel_index(np.argmax(gap - bound), gap.shape)
            problems.append(f"{where}: its input differs from PyTorch's by up to {diff:.3g}, beyond the float32 "
                            f"rounding bound (e.g. {gap[worst]:.3g} where the bound is {bound[worst]:.3g})")
        if unexplained.any():
            problems.append(f"{where}: {int(unexplained.sum())} sign(s) differ from PyTorch's away from the "
                            f"threshold (|u| beyond the float32 rounding bound, up to {bound.max():.3g})")
        ties += int(flips.sum())
        context[node.output[0]] = tap.sign.astype(s_graph.dtype)  # downstream sees PyTorch's decisions
        program.set(node.output[0], np.ones(s_graph.shape), 0)
    output = np.asarray(context[graph.output[0].name])
    out_diff = float(np.abs(output - reference).max())
    if out_diff > atol:
        problems.append(f"the output, computed from PyTorch's binarizer decisions, differs by {out_diff:.3g} "
                        f"(allowed {atol})")
    if reference.ndim == 2 and reference.shape[1] > 1 and (output.argmax(1) != reference.argmax(1)).any():
        problems.append("the output, computed from PyTorch's binarizer decisions, picks another argmax")
    return LayerCheck(len(nodes), ties, max_diff, output, problems, max_bound)
