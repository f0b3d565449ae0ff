"""Move a ``MaxPool`` (or a flattening ``Reshape``) that feeds thresholds to after them, one copy per branch.

ABC CNV-style nets keep the float model's ``conv -> BN -> ReLU -> MaxPool`` and the next layer
binarises the pooled tensor N times: ``MaxPool -> [Add(c_n) -> MultiThreshold_n]``. FINN cannot pool
the float tensor in hardware. Thresholding is elementwise and nondecreasing (``out_scale > 0``), so
it commutes with max-pooling: ``MT(MaxPool(z) + c) = MaxPool(MT(z + c))``. After the move the pool
acts on the bipolar activations (as in FINN's own CNV) and the Relu in front can be absorbed into the
thresholds (:class:`AbsorbReluIntoMultiThreshold`). A ``Reshape``/``Flatten`` (before the last FC
layer) commutes with thresholds that are one scalar for all channels, which ABC's are. Exact.
"""

from __future__ import annotations

import copy

from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.base import Transformation
from qonnx.transformation.infer_shapes import InferShapes

from finn_flow.transformations.absorb_relu_into_thresholds import _threshold_chain


# Reshape/Flatten are NOT moved: after streamlining the thresholds become per-channel and FINN's
# Thresholding reads the last axis as channels, so an NCHW tensor would be misread.
_MOVABLE = ("MaxPool",)


class MoveMaxPoolPastMultiThreshold(Transformation):
    """``MaxPool -> [scalar Add ->] MultiThreshold`` (every consumer) becomes ``[Add ->] MT -> MaxPool``;
    the same for ``Reshape``/``Flatten`` when the thresholds are scalars."""

    def apply(self, model: ModelWrapper):
        for pool in [n for n in model.graph.node if n.op_type in _MOVABLE]:
            if pool.op_type != "MaxPool" and model.get_initializer(pool.input[0]) is not None:
                continue
            consumers = model.find_consumers(pool.output[0])
            if not consumers:
                continue
            chains = [_threshold_chain(model, c) for c in consumers]
            if any(ch is None for ch in chains):
                continue
            if any(getCustomOp(mt).get_nodeattr("out_scale") <= 0 for _, mt, _ in chains):
                continue
            if pool.op_type != "MaxPool" and any(model.get_initializer(mt.input[1]).size != 1 for _, mt, _ in chains):
                continue
            in_shape = model.get_tensor_shape(pool.input[0])
            graph = model.graph
            for k, (add, mt, _) in enumerate(chains):
                first = add if add is not None else mt
                first.input[0] = pool.input[0]
                if add is not None:
                    model.set_tensor_shape(add.output[0], in_shape)
                pooled = mt.output[0]
                pre = model.make_new_valueinfo_name()
                model.set_tensor_shape(pre, in_shape)
                model.set_tensor_datatype(pre, model.get_tensor_datatype(pooled))
                mt.output[0] = pre
                new_pool = copy.deepcopy(pool)
                new_pool.name = f"{pool.name}_after_{mt.name}"
                new_pool.input[0] = pre
                new_pool.output[0] = pooled
                graph.node.insert(list(graph.node).index(mt) + 1, new_pool)
            graph.node.remove(pool)
            return model.transform(InferShapes()), True
        return model, False
