"""Transposes that only move axes of size 1 are reshapes: drop them before a flatten, or hand a final
``Shuffle`` back to the host as an ONNX ``Reshape``.

A network that ends in a convolution at a 1x1 feature map (an all-conv classifier, e.g. an LBC layer
as the last layer) flattens ``[1, 1, 1, C]`` (NHWC inside FINN) to ``[1, C]`` through an NHWC -> NCHW
``Transpose``. ``step_convert_to_hw`` makes that a ``Shuffle`` hardware layer, which has neither an
HLS nor an RTL implementation to generate. When the permutation moves only axes of size 1 the data
order is unchanged, so the node is a plain reshape; at the end of the accelerator it runs on the host
for free. Inside the accelerator (the flatten feeds a fork, as in a Group-Net whose last conv ends at
1x1), FINN's ``RemoveCNVtoFCFlatten`` absorbs a ``Transpose -> Reshape`` only in front of a single MVAU;
:class:`RemoveTrivialTransposeBeforeReshape` drops such a transpose before conversion, and FINN then removes
the flatten left between two hardware layers. Exact.
"""

from __future__ import annotations

import numpy as np
from onnx import helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.base import Transformation
from qonnx.util.basic import get_by_name

from finn_flow.transformations.revert_float_boundary import is_hw_node


def only_unit_axes_move(in_shape, perm) -> bool:
    """True if ``transpose(x, perm)`` keeps the order of the axes of size > 1 (a reshape).

    >>> only_unit_axes_move([1, 1, 1, 10], [0, 3, 1, 2]), only_unit_axes_move([1, 2, 2, 10], [0, 3, 1, 2])
    (True, False)
    """
    moved = [axis for axis in perm if in_shape[axis] > 1]
    return moved == sorted(moved)


class RemoveTrivialTransposeBeforeReshape(Transformation):
    """``Transpose`` (only unit axes move) -> ``Reshape``/``Flatten`` -> thresholds only: the transpose is
    removed, the flatten reads the same data in the same order. Restricted to flattens that feed only
    ``MultiThreshold`` nodes (per-channel parameters, any layout): FINN then removes the flatten, which in
    front of an elementwise layer with a shaped parameter (e.g. a final scale Mul) would break its shapes."""

    def apply(self, model: ModelWrapper):
        for node in model.graph.node:
            if node.op_type != "Transpose" or model.find_producer(node.input[0]) is None:
                continue
            consumers = model.find_consumers(node.output[0])
            if not consumers or any(c.op_type not in ("Reshape", "Flatten") for c in consumers):
                continue
            if not all(user.op_type == "MultiThreshold" for c in consumers
                       for user in model.find_consumers(c.output[0])):
                continue
            perm = get_by_name(node.attribute, "perm")
            in_shape = model.get_tensor_shape(node.input[0])
            if perm is None or in_shape is None or not only_unit_axes_move(in_shape, list(perm.ints)):
                continue
            for consumer in consumers:
                consumer.input[0] = node.input[0]
            model.graph.node.remove(node)
            return model, True
        return model, False


class RevertTrivialShuffleToReshape(Transformation):
    """``Shuffle`` (a transpose that only moves unit axes) with no hardware layer after it -> ``Reshape``."""

    def apply(self, model: ModelWrapper):
        for index, node in enumerate(model.graph.node):
            if node.op_type != "Shuffle" or not is_hw_node(node):
                continue
            if any(is_hw_node(c) for c in model.find_consumers(node.output[0])):
                continue
            inst = getCustomOp(node)
            if not only_unit_axes_move(inst.get_nodeattr("in_shape"), inst.get_nodeattr("perm")):
                continue
            shape = model.make_new_valueinfo_name()
            model.set_initializer(shape, np.asarray(inst.get_nodeattr("out_shape"), dtype=np.int64))
            model.graph.node.remove(node)
            model.graph.node.insert(index, helper.make_node(
                "Reshape", [node.input[0], shape], [node.output[0]], name=node.name))
            return model, True
        return model, False
