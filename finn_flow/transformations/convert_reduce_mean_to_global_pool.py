"""Rewrite a spatial ``ReduceMean`` (what torch's exporter makes of ``AdaptiveAvgPool2d(1)``) as ``GlobalAveragePool``.

``ReduceMean(x, axes = {2, 3}, keepdims = 1)`` on an NCHW tensor is ``GlobalAveragePool(x)`` by definition. FINN's
streamlining moves a scalar ``Mul`` past ``GlobalAveragePool`` (``MoveScalarLinearPastInvariants``) but not past
``ReduceMean``; after the rewrite the de-quantisation scale of an integer feature map (Group-Net's integer residual
stream) leaves the accelerator, and the pooling of integers becomes FINN's ``GlobalAccPool`` layer. Exact.
"""

from __future__ import annotations

import numpy as np
from onnx import helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.base import Transformation
from qonnx.util.basic import get_by_name


def _axes(model: ModelWrapper, node) -> list[int] | None:
    if len(node.input) > 1 and node.input[1]:
        axes = model.get_initializer(node.input[1])
        return None if axes is None else [int(a) for a in np.asarray(axes).reshape(-1)]
    attr = get_by_name(node.attribute, "axes")
    return None if attr is None else list(attr.ints)


class ConvertGlobalReduceMeanToGlobalAveragePool(Transformation):
    """``ReduceMean`` over the two spatial axes of a 4D tensor, keeping dims -> ``GlobalAveragePool``."""

    def apply(self, model: ModelWrapper):
        for index, node in enumerate(model.graph.node):
            if node.op_type != "ReduceMean":
                continue
            shape = model.get_tensor_shape(node.input[0])
            keepdims = get_by_name(node.attribute, "keepdims")
            axes = _axes(model, node)
            if shape is None or len(shape) != 4 or axes is None or (keepdims is not None and keepdims.i != 1):
                continue
            if sorted(a % 4 for a in axes) != [2, 3]:
                continue
            pool = helper.make_node("GlobalAveragePool", [node.input[0]], list(node.output), name=node.name)
            model.graph.node.remove(node)
            model.graph.node.insert(index, pool)
            return model, True
        return model, False
