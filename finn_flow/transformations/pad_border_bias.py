"""Replace a non-zero ``Pad`` in front of a convolution by zero padding plus a constant border bias.

ABC-Net and Group-Net pad their binary activations with +1 (so the padded map stays {-1, +1}, DESIGN 3);
FINN's ``FMPadding`` pads with 0 only. After streamlining, a padded binary convolution reads
``b -> Pad(v) -> [Transpose] -> Im2Col -> MatMul/XnorPopcountMatMul`` with ``b`` in {0, 1} (``v = 1`` is the
bipolar +1 after FINN's bipolar -> binary conversion, for both ABC mappings).

A padded position only ever meets the constant ``v``, never data, so for every output position ``(i, j)``
and channel ``c`` the padded result differs from the zero-padded one by a constant:

    F(pad_v(b))[i, j, c] = F(pad_0(b))[i, j, c] + E[i, j, c],      E = F(pad_v(z)) - F(pad_0(z)) for any z,

for the integer MatMul (``E = sum over the padded taps of v * W``) and for the xnor popcount alike
(a padded tap adds ``xnor(v, w)`` instead of ``xnor(0, w)``: ``E = sum over the padded taps of (2w - 1) = W_bipolar``
for ``v = 1``). ``E`` is an integer tensor, non-zero only on the border; it is computed by executing the chain on
``z = 0`` with both pad values. The rewrite sets the Pad to 0 (FINN's FMPadding) and adds ``E`` right after the
MatMul (an integer ElementwiseAdd with a constant). Exact.

Equivalently ``conv(W, pad_{+1}(A)) = conv(W, pad_{-1}(A)) + 2 conv(W, pad_{+1}(0))`` in the bipolar domain; the
other exact route, ``conv(W, pad_{+1}(A)) = conv(-W, pad_{-1}(-A))``, needs the thresholds of ``-A``
(a decreasing step of the accumulator) and, where a max-pooling sits between thresholds and padding, a min-pool:
FINN's Thresholding and Pool layers have neither, so this module adds the border bias instead.
"""

from __future__ import annotations

import copy

import numpy as np
from onnx import TensorProto, helper
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.core.onnx_exec import execute_onnx
from qonnx.transformation.base import Transformation
from qonnx.util.basic import qonnx_make_model

from finn_flow.transformations.extract_branch_scales import insert_constant_op_after

_LAYOUT = ("Transpose", "Im2Col")
_MATMUL = ("MatMul", "XnorPopcountMatMul")


def pad_value(model: ModelWrapper, pad) -> float | None:
    """The constant value of a ``Pad`` node (0 when absent), or None if it is not a constant."""
    if len(pad.input) < 3 or not pad.input[2]:
        return 0.0
    value = model.get_initializer(pad.input[2])
    return None if value is None else float(np.asarray(value).reshape(-1)[0])


def _chain(model: ModelWrapper, pad) -> list | None:
    """``[Pad, (Transpose|Im2Col)..., MatMul]`` with single consumers and constant weights, or None."""
    chain, node = [pad], pad
    while True:
        consumers = model.find_consumers(node.output[0])
        if len(consumers) != 1:
            return None
        node = consumers[0]
        chain.append(node)
        if node.op_type in _MATMUL:
            return chain if model.get_initializer(node.input[1]) is not None else None
        if node.op_type not in _LAYOUT:
            return None


def _run_chain(model: ModelWrapper, chain: list, value: float) -> np.ndarray:
    """Output of ``chain`` on an all-zero input, with the Pad's value set to ``value``."""
    nodes = [copy.deepcopy(n) for n in chain]
    nodes[0].input[2] = "finn_flow_pad_value"
    inp, out = chain[0].input[0], chain[-1].output[0]
    graph = helper.make_graph(
        nodes, "pad_chain",
        [helper.make_tensor_value_info(inp, TensorProto.FLOAT, model.get_tensor_shape(inp))],
        [helper.make_tensor_value_info(out, TensorProto.FLOAT, model.get_tensor_shape(out))])
    sub = ModelWrapper(qonnx_make_model(graph))
    # the default ONNX domain's opset of the whole model (its opset_import may list a custom domain first)
    onnx_opset = model.get_opset_imports().get("")
    if onnx_opset is not None:
        for entry in sub.model.opset_import:
            if entry.domain == "":
                entry.version = onnx_opset
    for node in chain:
        for name in list(node.input) + list(node.output):
            if not name:
                continue
            init = model.get_initializer(name)
            if init is not None:
                sub.set_initializer(name, init)
            shape = model.get_tensor_shape(name)
            if shape is not None and init is None:
                sub.set_tensor_shape(name, shape)
            sub.set_tensor_datatype(name, model.get_tensor_datatype(name))
    sub.set_initializer("finn_flow_pad_value", np.asarray(value, dtype=np.float32))
    zeros = np.zeros(model.get_tensor_shape(inp), dtype=np.float32)
    return np.asarray(execute_onnx(sub, {inp: zeros})[out], dtype=np.float64)


class ConvertPadValueToBorderBias(Transformation):
    """``Pad(v != 0) -> [Transpose] -> Im2Col -> MatMul`` becomes ``Pad(0) -> ... -> MatMul -> Add(E)``.

    Attributes:
        rewritten: names of the Pad nodes rewritten.
    """

    def __init__(self):
        super().__init__()
        self.rewritten: list[str] = []

    def apply(self, model: ModelWrapper):
        for pad in model.get_nodes_by_op_type("Pad"):
            value = pad_value(model, pad)
            if value is None or value == 0.0:
                continue
            chain = _chain(model, pad)
            if chain is None:
                continue
            border = _run_chain(model, chain, value) - _run_chain(model, chain, 0.0)
            if not np.array_equal(border, np.round(border)):
                continue  # float weights: the bias would be float, leave the Pad to the later check
            zero = model.make_new_valueinfo_name()
            model.set_initializer(zero, np.asarray(0.0, dtype=np.float32))
            pad.input[2] = zero
            const = insert_constant_op_after(model, chain[-1], "Add", border, f"{pad.name}_border_bias")
            bound = int(np.abs(border).max())
            model.set_tensor_datatype(const, DataType.get_smallest_possible(-bound - 1 if bound else 0))
            self.rewritten.append(pad.name)
            return model, True
        return model, False
