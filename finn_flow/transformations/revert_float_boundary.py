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


def _to_onnx(model: ModelWrapper, node):
    if node.op_type in _ELEMENTWISE_TO_ONNX:
        return helper.make_node(_ELEMENTWISE_TO_ONNX[node.op_type], list(node.input), list(node.output),
                                name=node.name)
    if node.op_type == "Reshape":
        shape = model.make_new_valueinfo_name()
        out_shape = getCustomOp(node).get_nodeattr("out_shape")
        model.set_initializer(shape, np.asarray(out_shape, dtype=np.int64))
        return helper.make_node("Reshape", [node.input[0], shape], list(node.output), name=node.name)
    return None


class RevertFloatBoundaryLayersToONNX(Transformation):
    """Rewrite float ``Elementwise*``/``Reshape`` hardware layers at the graph's edges to ONNX ops."""

    def apply(self, model: ModelWrapper):
        for index, node in enumerate(model.graph.node):
            if not is_hw_node(node) or node.op_type not in (*_ELEMENTWISE_TO_ONNX, "Reshape"):
                continue
            if not _is_float(model, list(node.input) + list(node.output)):
                continue
            if not _at_boundary(model, node):
                continue
            new = _to_onnx(model, node)
            model.graph.node.remove(node)
            model.graph.node.insert(index, new)
            return model, True  # re-run: a neighbour may now be at the boundary
        return model, False
