"""Hand float layers at the edges of the graph back to the host, out of the dataflow partition.

finn-plus's ``step_convert_to_hw`` converts every elementwise ``Mul``/``Add`` and static ``Reshape``
into a hardware layer, including the float output de-quantisation at the end of a network
(``logits = acc * scale + bias``). Those float layers would then sit inside the dataflow partition
as FLOAT32 streams. A float hardware layer at the start or the end of the graph (no hardware layer
before it, or none after it) is rewritten back to its ONNX op, so ``create_dataflow_partition``
leaves it on the host and the accelerator stays integer-only. Layers in the middle are left alone:
``finn_flow.checks`` reports them.
"""

from __future__ import annotations

import numpy as np
from onnx import helper
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.base import Transformation

HW_DOMAIN = "finn.custom_op.fpgadataflow"
_ELEMENTWISE_TO_ONNX = {f"Elementwise{op}": op for op in ("Add", "Sub", "Mul", "Div", "Max", "Min")}


def is_hw_node(node) -> bool:
    """True for FINN hardware layers (generic or specialised to HLS/RTL)."""
    return node.domain.startswith(HW_DOMAIN)


def _is_float(model: ModelWrapper, names) -> bool:
    return any(n and model.get_tensor_datatype(n) == DataType["FLOAT32"] for n in names)


def _at_boundary(model: ModelWrapper, node) -> bool:
    dynamic_in = [i for i in node.input if i and model.get_initializer(i) is None]
    producers = [model.find_producer(i) for i in dynamic_in]
    at_start = all(p is None or not is_hw_node(p) for p in producers)
    consumers = [c for o in node.output for c in model.find_consumers(o)]
    at_end = all(not is_hw_node(c) for c in consumers)
    return at_start or at_end


def _constant_shape(model: ModelWrapper, shape) -> str:
    name = model.make_new_valueinfo_name()
    model.set_initializer(name, np.asarray(shape, dtype=np.int64))
    return name


def _to_onnx(model: ModelWrapper, node) -> list:
    if node.op_type in _ELEMENTWISE_TO_ONNX:
        return [helper.make_node(_ELEMENTWISE_TO_ONNX[node.op_type], list(node.input), list(node.output),
                                 name=node.name)]
    if node.op_type == "Reshape":
        shape = _constant_shape(model, getCustomOp(node).get_nodeattr("out_shape"))
        return [helper.make_node("Reshape", [node.input[0], shape], list(node.output), name=node.name)]
    if node.op_type == "Shuffle":  # Reshape -> Transpose -> Reshape, as FINN's Shuffle executes it
        inst = getCustomOp(node)
        shapes = [inst.get_nodeattr("transpose_in_shape"), inst.get_nodeattr("transpose_out_shape")]
        mid = [model.make_new_valueinfo_name() for _ in shapes]
        for name, shape in zip(mid, shapes):
            model.set_tensor_shape(name, list(shape))
            model.set_tensor_datatype(name, DataType["FLOAT32"])
        return [
            helper.make_node("Reshape", [node.input[0], _constant_shape(model, shapes[0])], [mid[0]],
                             name=node.name + "_in_reshape"),
            helper.make_node("Transpose", [mid[0]], [mid[1]], perm=list(inst.get_nodeattr("perm")), name=node.name),
            helper.make_node("Reshape", [mid[1], _constant_shape(model, inst.get_nodeattr("out_shape"))],
                             list(node.output), name=node.name + "_out_reshape"),
        ]
    return []


class RevertFloatBoundaryLayersToONNX(Transformation):
    """Rewrite float ``Elementwise*``/``Reshape``/``Shuffle`` hardware layers at the graph's edges to ONNX ops.

    A float ``Shuffle`` (the NHWC -> NCHW transpose before a float classifier's flatten, behind the last binary
    layer's float BatchNorm) becomes ``Reshape -> Transpose -> Reshape``; then the float layers before it are at
    the edge too."""

    def apply(self, model: ModelWrapper):
        for index, node in enumerate(model.graph.node):
            if not is_hw_node(node) or node.op_type not in (*_ELEMENTWISE_TO_ONNX, "Reshape", "Shuffle"):
                continue
            if not _is_float(model, list(node.input) + list(node.output)):
                continue
            if not _at_boundary(model, node):
                continue
            new = _to_onnx(model, node)
            model.graph.node.remove(node)
            for offset, replacement in enumerate(new):
                model.graph.node.insert(index + offset, replacement)
            return model, True  # re-run: a neighbour may now be at the boundary
        return model, False
