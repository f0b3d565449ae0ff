"""``integer`` ABC mapping: the N activation bases of a fused ABC layer become ONE multi-level activation.

After :class:`~finn_flow.transformations.fuse_weight_bases.FuseBinaryBasesIntoIntegerWeights` an ABC layer with
integer coefficients reads (DESIGN.md 1.3)

    y = s * sum_n MatMul(H_n, W_n),     H_n = 2 b_n - 1,   b_n = 1[x + a_n >= t_n],   W_n = sum_m q_mn B_m,

(``MatMul`` or ``Conv``; ``x`` one tensor shared by the N bases, ``a_n`` the shift ``Add`` in front of base n's
bipolar ``MultiThreshold``, ``t_n`` its threshold). With ``coefficient_bits`` the coefficients are
``alpha_m[c] beta_n = j_m[c] k_n s[c]`` (ABC-Net, Lin et al. 2017, eq. (4) with integer alpha and beta), so
``W_n = k_n W`` with ONE integer weight ``W = sum_m j_m B_m`` and integers ``k_n`` shared by all output channels.
By bilinearity

    sum_n MatMul(H_n, k_n W) = MatMul(sum_n k_n H_n, W) = MatMul(2 L - K, W),
    L = sum_n k_n b_n in 0..K,   K = sum_n k_n,

and ``L`` is ONE ``MultiThreshold`` of ``x`` whose thresholds are ``t_n - a_n`` repeated ``k_n`` times (the count
of thresholds at or below ``x``; sorted, since the count does not depend on the order). This needs ``k_n >= 0``
(the betas of one sign: a negative ``k_n`` is a decreasing step, which no MultiThreshold computes). The rewrite:

    x -> MultiThreshold(L, UINT) -> [Pad(K (v + 1) / 2)] -> Mul(2) -> Add(-K) -> MatMul/Conv(W) -> (the layer's sum)

A ``+-1`` padding ``v`` of every ``H_n`` is the padding ``K (v + 1) / 2`` of ``L``. Streamlining moves ``Mul(2)``
and ``Add(-K)`` past the MatMul (``2 MatMul(L, W) - K colsum(W)``) and into the next thresholds; the padding
becomes FINN's zero ``FMPadding`` plus an integer border bias (:class:`ConvertPadValueToBorderBias`). The
thresholds ``t_n - a_n`` are computed in float32 exactly as FINN's ``AbsorbAddIntoMultiThreshold`` computes them for
the fused mapping, so both mappings compare ``x`` with the same values: exact. One MVAU with a
``ceil(log2(K + 1))``-bit input (at least 2 bits: FINN's HLS MVAU rejects 1-bit {0, 1} inputs with integer weights)
replaces N MVAUs with 1-bit inputs and their sum.

``k`` is found from the fused weights: every column ``(W_1[i], ..., W_N[i])`` is ``W[i] k``; ``k`` is the
primitive integer vector (entries without a common factor, sign normalised) of the largest column, and the
rewrite requires ``W_n == k_n W`` exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import reduce

import numpy as np
from onnx import helper
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.base import Transformation

from finn_flow.transformations.absorb_relu_into_thresholds import _channel_constant

_LINEAR = ("MatMul", "Conv")


class NotMergeable(Exception):
    """Why one fused ABC layer cannot be merged (the message is the reason)."""


@dataclass
class _Base:
    linear: object  # the fused MatMul/Conv reading this activation base
    pad: object  # its Pad node or None
    mt: object  # the bipolar MultiThreshold
    shift: object  # the Add(a_n) in front of it, or None
    source: str  # x, the tensor the base thresholds
    thresholds: np.ndarray  # t_n - a_n, [1 or C, 1] float32


def _sum_leaves(model: ModelWrapper, tensor: str) -> tuple[list, list]:
    """The dynamic ``Add`` tree producing ``tensor`` and its leaf producers (``([adds], [leaves])``)."""
    producer = model.find_producer(tensor)
    if producer is None:
        return [], []
    if producer.op_type == "Add" and all(model.get_initializer(i) is None for i in producer.input):
        adds, leaves = [producer], []
        for inp in producer.input:
            if len(model.find_consumers(inp)) != 1:
                return [], []
            sub_adds, sub_leaves = _sum_leaves(model, inp)
            if not sub_leaves:
                return [], []
            adds += sub_adds
            leaves += sub_leaves
        return adds, leaves
    return [], [producer]


def _base(model: ModelWrapper, linear) -> _Base:
    """Trace ``linear``'s input back through ``[Pad] <- bipolar MultiThreshold <- [Add(a_n)]``."""
    node = model.find_producer(linear.input[0])
    pad = None
    if node is not None and node.op_type == "Pad":
        pad = node
        if len(model.find_consumers(pad.output[0])) != 1:
            raise NotMergeable(f"the padded activation {pad.output[0]} has other consumers")
        node = model.find_producer(pad.input[0])
    if node is None or node.op_type != "MultiThreshold":
        raise NotMergeable(f"{linear.name} does not read a bipolar MultiThreshold (reads "
                           f"{node.op_type if node is not None else 'a graph input'})")
    inst = getCustomOp(node)
    if (inst.get_nodeattr("out_dtype"), inst.get_nodeattr("out_scale"), inst.get_nodeattr("out_bias")) != \
            ("BIPOLAR", 2.0, -1.0):
        raise NotMergeable(f"{node.name} is not a bipolar activation (out_dtype {inst.get_nodeattr('out_dtype')})")
    if len(model.find_consumers(node.output[0])) != 1:
        raise NotMergeable(f"the activation {node.output[0]} of {node.name} has other consumers")
    thresholds = model.get_initializer(node.input[1])
    if thresholds is None or thresholds.ndim != 2 or thresholds.shape[1] != 1:
        raise NotMergeable(f"{node.name} has thresholds of shape "
                           f"{None if thresholds is None else thresholds.shape}, not one per channel")
    thresholds = thresholds.astype(np.float32)
    shift, source = None, node.input[0]
    producer = model.find_producer(source)
    if producer is not None and producer.op_type == "Add" and len(model.find_consumers(producer.output[0])) == 1:
        constant = _channel_constant(model, producer)  # a scalar shift, or one per channel
        if constant is not None:
            shift, source = producer, producer.input[0]
            # what FINN's AbsorbAddIntoMultiThreshold computes: T - A, in float32
            thresholds = (thresholds - constant.reshape(-1, 1)).astype(np.float32)
    return _Base(linear, pad, node, shift, source, thresholds)


def primitive_direction(columns: np.ndarray) -> np.ndarray:
    """The primitive integer vector along the largest of ``columns [N, P]`` (integers), first non-zero entry > 0."""
    column = columns[:, int(np.argmax(np.abs(columns).sum(axis=0)))].astype(np.int64)
    divisor = reduce(math.gcd, (abs(int(v)) for v in column)) or 1
    k = column // divisor
    first = k[np.flatnonzero(k)[0]] if np.any(k) else 1
    return k * int(np.sign(first))


def factor_base_weights(weights: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """``W_n = k_n W`` for the fused weights ``weights`` (integer arrays of one shape): returns ``(k [N], W)``.

    Raises:
        NotMergeable: the weights are not integer multiples ``k_n`` of one integer ``W`` (coefficients that do not
            factor as ``alpha_m[c] beta_n``), or ``k`` has entries of both signs (betas of both signs).
    """
    stack = np.stack([np.asarray(w, dtype=np.float64) for w in weights])
    if not np.array_equal(stack, np.round(stack)):
        raise NotMergeable("the fused weights are not integers")
    columns = stack.reshape(len(weights), -1)
    if not np.any(columns):
        raise NotMergeable("every fused weight is 0")
    k = primitive_direction(columns)
    n_ref = int(np.argmax(np.abs(k)))
    base = stack[n_ref] / k[n_ref]
    if not np.array_equal(base, np.round(base)) or not np.array_equal(stack, k.reshape(-1, *[1] * base.ndim) * base):
        raise NotMergeable("the per-base weights W_n are not k_n times one integer weight W (the coefficients "
                           "alpha_m[c] beta_n do not factor into per-channel alphas and per-layer betas, e.g. "
                           "coefficients set per branch)")
    if np.any(k < 0):
        raise NotMergeable(f"the betas have both signs (k = {k.tolist()}); a negative k_n is a decreasing step, "
                           "which no MultiThreshold computes")
    return k, np.round(base)


def input_datatype(total: int) -> DataType:
    """The unsigned stream type of ``L`` in ``0..total`` (at least UINT2, see the module docstring)."""
    return DataType[f"UINT{max(2, int(total).bit_length())}"]


def weight_datatype(weight: np.ndarray) -> DataType:
    """Smallest signed INT type (at least INT2) holding the integer ``weight``."""
    bound = int(np.abs(weight).max())
    return DataType[f"INT{max(2, bound.bit_length() + 1)}"]


def _scalar(model: ModelWrapper, value: float) -> str:
    name = model.make_new_valueinfo_name()
    model.set_initializer(name, np.asarray(value, dtype=np.float32))
    return name


class MergeActivationBasesIntoIntegerInput(Transformation):
    """Rewrite fused ABC layers (the sums named in ``layers``) to one multi-level activation and one integer MVAU.

    Args:
        layers: ``{layer name: tensor}``, the output tensor of each fused layer's branch sum (before its scale),
            as recorded by :class:`FuseBinaryBasesIntoIntegerWeights` (``fused_outputs``).
        strict: raise ``ValueError`` naming the layer and the reason when a layer with several activation bases
            cannot be merged; otherwise leave it fused and record the reason.

    Attributes:
        merged: ``{layer: {"k": [...], "K": K, "input_datatype": ..., "weight_datatype": ...}}``.
        single_input: layers with one input only (N = 1, or weights-only ``N = None``): already one integer MVAU.
        not_merged: ``{layer: reason}``.
    """

    def __init__(self, layers: dict[str, str], strict: bool = True):
        super().__init__()
        self.layers = dict(layers)
        self.strict = strict
        self.merged: dict[str, dict] = {}
        self.single_input: list[str] = []
        self.not_merged: dict[str, str] = {}

    def apply(self, model: ModelWrapper):
        for layer, tensor in self.layers.items():
            if layer in self.merged or layer in self.single_input or layer in self.not_merged:
                continue
            adds, leaves = _sum_leaves(model, tensor)
            if not adds:
                self.single_input.append(layer)
                continue
            try:
                self._merge(model, layer, tensor, adds, leaves)
            except NotMergeable as error:
                reason = f"ABC layer {layer}: the integer mapping needs one activation of N bases, but {error}"
                if self.strict:
                    raise ValueError(reason + "; build it with abc_mapping='fused' or 'auto'") from None
                self.not_merged[layer] = str(error)
                continue
            return model, True
        return model, False

    def _merge(self, model: ModelWrapper, layer: str, tensor: str, adds: list, leaves: list) -> None:
        if any(leaf.op_type not in _LINEAR or model.get_initializer(leaf.input[1]) is None for leaf in leaves):
            raise NotMergeable("its branch sum has terms that are not MatMul/Conv with constant weights")
        bases = [_base(model, leaf) for leaf in leaves]
        if len({b.source for b in bases}) != 1:
            raise NotMergeable("its activation bases threshold different tensors: "
                               + ", ".join(sorted({b.source for b in bases})))
        first = leaves[0]
        if any(leaf.op_type != first.op_type or list(leaf.attribute) != list(first.attribute) for leaf in leaves):
            raise NotMergeable("its per-base MatMul/Conv nodes differ in type or attributes")
        pads = [b.pad for b in bases]
        if any(p is None for p in pads) != all(p is None for p in pads):
            raise NotMergeable("some of its activation bases are padded and others not")
        pad_value = None
        if pads[0] is not None:
            values = set()
            for pad in pads:
                value = model.get_initializer(pad.input[2]) if len(pad.input) > 2 and pad.input[2] else 0.0
                values.add(None if value is None else float(np.asarray(value)))
                if list(pad.attribute) != list(pads[0].attribute) or not np.array_equal(
                        model.get_initializer(pad.input[1]), model.get_initializer(pads[0].input[1])):
                    raise NotMergeable("its activation bases are padded differently")
            if len(values) != 1 or values.pop() not in (-1.0, 1.0):
                raise NotMergeable(f"its padding values are not one of +-1 ({sorted(map(str, values))})")
            pad_value = float(np.asarray(model.get_initializer(pads[0].input[2])))
        k, weight = factor_base_weights([model.get_initializer(leaf.input[1]) for leaf in leaves])
        total = int(k.sum())
        channels = max(b.thresholds.shape[0] for b in bases)
        rows = [np.repeat(np.broadcast_to(b.thresholds, (channels, 1)), int(k_n), axis=1)
                for b, k_n in zip(bases, k)]
        thresholds = np.sort(np.concatenate(rows, axis=1), axis=1).astype(np.float32)

        graph = model.graph
        position = min(list(graph.node).index(n) for b in bases for n in (b.shift, b.mt) if n is not None)
        source = bases[0].source
        level_dt = input_datatype(total)
        mt = bases[0].mt
        levels = model.make_new_valueinfo_name()
        thr_name = model.make_new_valueinfo_name()
        model.set_initializer(thr_name, thresholds)
        new_mt = helper.make_node("MultiThreshold", [source, thr_name], [levels], name=f"{layer}_integer_act",
                                  domain=mt.domain)
        new_mt.attribute.extend(mt.attribute)
        # it counts the thresholds at or below x: 0..K, out_scale 1, out_bias 0 (set before the node is inserted:
        # protobuf inserts a copy)
        inst = getCustomOp(new_mt)
        inst.set_nodeattr("out_dtype", level_dt.name)
        inst.set_nodeattr("out_scale", 1.0)
        inst.set_nodeattr("out_bias", 0.0)
        nodes = [new_mt]
        shape = model.get_tensor_shape(mt.output[0])
        model.set_tensor_shape(levels, shape)
        current = levels
        if pad_value is not None:
            padded = model.make_new_valueinfo_name()
            pad = pads[0]
            nodes.append(helper.make_node("Pad", [current, pad.input[1], _scalar(model, total * (pad_value + 1) / 2)],
                                          [padded], name=f"{layer}_integer_pad"))
            nodes[-1].attribute.extend(pad.attribute)
            model.set_tensor_shape(padded, model.get_tensor_shape(pad.output[0]))
            current = padded
        doubled, centred = model.make_new_valueinfo_name(), model.make_new_valueinfo_name()
        for name in (doubled, centred):
            model.set_tensor_shape(name, model.get_tensor_shape(current))
        nodes.append(helper.make_node("Mul", [current, _scalar(model, 2.0)], [doubled], name=f"{layer}_integer_times2"))
        nodes.append(helper.make_node("Add", [doubled, _scalar(model, -float(total))], [centred],
                                      name=f"{layer}_integer_minus_K"))
        w_name = model.make_new_valueinfo_name()
        model.set_initializer(w_name, weight.astype(np.float32))
        w_dt = weight_datatype(weight)
        model.set_tensor_datatype(w_name, w_dt)
        linear = helper.make_node(first.op_type, [centred, w_name], [tensor], name=f"{layer}_integer")
        linear.attribute.extend(first.attribute)
        nodes.append(linear)

        for b in bases:
            for node in (b.linear, b.pad, b.mt, b.shift):
                if node is not None:
                    graph.node.remove(node)
        for add in adds:
            graph.node.remove(add)
        for offset, node in enumerate(nodes):
            graph.node.insert(min(position, len(graph.node)) + offset, node)
        model.set_tensor_datatype(levels, level_dt)
        if pad_value is not None:
            model.set_tensor_datatype(current, level_dt)
        self.merged[layer] = {"k": k.tolist(), "K": total, "input_datatype": level_dt.name,
                              "weight_datatype": w_dt.name, "padded": pad_value is not None}
