"""Move an NHWC -> NCHW ``Transpose`` past a ``Mul``/``Add`` with a constant, permuting the constant.

After conv lowering, every convolution ends in ``MatMul (NHWC) -> Transpose (to NCHW)``. In multi-branch layers
(ABC's M*N branches, Group-Net's K branches) each branch then carries its own integer ``Mul``/``Add`` before the
branch sum, so FINN's ``AbsorbTransposeIntoMultiThreshold`` never sees ``Transpose -> MultiThreshold`` and the
transposes end up as ``Shuffle`` hardware layers (no HLS/RTL code) or leave NCHW thresholds. With ``perm`` the
transpose and ``c`` the constant (broadcastable against the 4-D NCHW output),

    op(transpose(x, perm), c) = transpose(op(x, transpose(c4, inverse(perm))), perm),

``c4`` being ``c`` broadcast to rank 4. After this move FINN's ``MoveTransposePastJoinAdd`` (the branch sum),
``MoveTransposePastFork`` and ``AbsorbTransposeIntoMultiThreshold`` bring the transposes to the thresholds.
Exact (a permutation of constants).
"""

from __future__ import annotations

import numpy as np
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.base import Transformation


class MoveTransposePastChannelLinear(Transformation):
    """``Transpose(perm) -> Mul/Add(const)`` becomes ``Mul/Add(permuted const) -> Transpose(perm)``."""

    def apply(self, model: ModelWrapper):
        for transpose in model.get_nodes_by_op_type("Transpose"):
            perm = list(transpose.attribute[0].ints)
            consumers = model.find_consumers(transpose.output[0])
            if len(perm) != 4 or len(consumers) != 1 or consumers[0].op_type not in ("Mul", "Add"):
                continue
            node = consumers[0]
            const = model.get_initializer(node.input[1])
            if const is None or model.get_initializer(node.input[0]) is not None or const.ndim > 4:
                continue
            const4 = const.reshape((1,) * (4 - const.ndim) + const.shape)
            inverse = list(np.argsort(perm))
            new_const = model.make_new_valueinfo_name()
            model.set_initializer(new_const, np.ascontiguousarray(np.transpose(const4, inverse)))
            model.set_tensor_datatype(new_const, model.get_tensor_datatype(node.input[1]))
            x, out = transpose.input[0], node.output[0]
            mid = model.make_new_valueinfo_name()
            model.set_tensor_shape(mid, model.get_tensor_shape(x))
            node.input[0], node.input[1], node.output[0] = x, new_const, mid
            transpose.input[0], transpose.output[0] = mid, out
            graph = model.graph
            graph.node.remove(transpose)
            graph.node.insert(list(graph.node).index(node) + 1, transpose)
            return model, True
        return model, False


class CollapseForkedTransposes(Transformation):
    """``x -> {Transpose(perm), Transpose(perm), ...}`` (every consumer the same transpose) becomes
    ``x -> Transpose(perm) -> {...}``: one transpose before the fork instead of one per branch. At the graph
    input (several ABC activation bases reading the pixels) that transpose then stays on the host. Exact."""

    def apply(self, model: ModelWrapper):
        for tensor in [i.name for i in model.graph.input] + [o for n in model.graph.node for o in n.output]:
            consumers = model.find_consumers(tensor)
            if len(consumers) < 2 or any(c.op_type != "Transpose" for c in consumers):
                continue
            perms = {tuple(c.attribute[0].ints) for c in consumers}
            if len(perms) != 1:
                continue
            keep, drop = consumers[0], consumers[1:]
            for node in drop:
                for consumer in model.find_consumers(node.output[0]):
                    for i, name in enumerate(consumer.input):
                        if name == node.output[0]:
                            consumer.input[i] = keep.output[0]
                model.graph.node.remove(node)
            return model, True
        return model, False


class MoveTransposeBeforeMultiThreshold(Transformation):
    """``MultiThreshold(NCHW) -> Transpose(NCHW -> NHWC)`` becomes ``Transpose -> MultiThreshold(NHWC)``.

    Thresholds compare element by element with per-channel values, so they commute with a layout change when
    told where the channel axis is (``data_layout``). Moves the input transpose of a padded first layer
    (thresholds on the pixels, then ``Pad``/``Im2Col`` in NHWC) in front of the thresholds, where
    :class:`CollapseForkedTransposes` merges the copies of several activation bases into one host-side
    transpose. Exact."""

    def apply(self, model: ModelWrapper):
        from qonnx.custom_op.registry import getCustomOp

        for mt in model.get_nodes_by_op_type("MultiThreshold"):
            inst = getCustomOp(mt)
            consumers = model.find_consumers(mt.output[0])
            shape = model.get_tensor_shape(mt.input[0])
            if inst.get_nodeattr("data_layout") != "NCHW" or shape is None or len(shape) != 4 \
                    or len(consumers) != 1 or consumers[0].op_type != "Transpose" \
                    or list(consumers[0].attribute[0].ints) != [0, 2, 3, 1]:
                continue
            transpose = consumers[0]
            x, out = mt.input[0], transpose.output[0]
            mid = model.make_new_valueinfo_name()
            model.set_tensor_shape(mid, [shape[0], shape[2], shape[3], shape[1]])
            model.set_tensor_datatype(mid, model.get_tensor_datatype(x))
            transpose.input[0], transpose.output[0] = x, mid
            mt.input[0], mt.output[0] = mid, out
            inst.set_nodeattr("data_layout", "NHWC")
            graph = model.graph
            graph.node.remove(transpose)
            graph.node.insert(list(graph.node).index(mt), transpose)
            return model, True
        return model, False
