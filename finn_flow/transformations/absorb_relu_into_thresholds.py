"""Absorb a ``Relu`` that only feeds thresholds into those thresholds.

ABC networks keep the float model's ``BatchNorm -> ReLU`` in front of the next layer's binarised
activations, so after fork duplication the graph reads ``y -> Relu -> [Add(c)] -> MultiThreshold(t)``
on every branch. FINN cannot lower a float ``Relu`` (it becomes a float ElementwiseMax) and cannot move
the BatchNorm affine map past it into the thresholds. But a threshold comparison on ``Relu(y) + c``
only depends on ``y``:

    Relu(y) + c >= t  <=>  y >= t - c            if t - c > 0
    Relu(y) + c >= t  is always true             if t - c <= 0   (Relu(y) >= 0)

so ``MultiThreshold(Relu(y) + c; t) = MultiThreshold(y; t')`` with ``t' = t - c`` where positive and a
threshold below every reachable value otherwise. ``c`` may be a scalar (ABC's shifts) or one value per
channel (Group-Net's per-input-channel sign thresholds); then ``t'`` is per channel. Exact; the Relu and the
Add disappear.
"""

from __future__ import annotations

import numpy as np
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.base import Transformation

ALWAYS_TRUE = np.float32(-(2.0 ** 30))


def _channel_constant(model: ModelWrapper, add) -> np.ndarray | None:
    """The Add's constant as ``[1]`` (scalar) or ``[C]`` (one per channel, axis 1), else None."""
    const = model.get_initializer(add.input[1])
    if const is None or model.get_initializer(add.input[0]) is not None:
        return None
    if const.size == 1:
        return const.reshape(1).astype(np.float32)
    shape = model.get_tensor_shape(add.input[0])
    if shape is None or len(shape) < 2 or const.size != shape[1] or const.ndim > len(shape) \
            or const.shape[const.ndim - len(shape) + 1] != shape[1]:
        return None  # not a per-channel (axis 1) constant
    return const.reshape(-1).astype(np.float32)


def _threshold_chain(model: ModelWrapper, consumer):
    """``(add_or_None, multithreshold, c)`` if consumer is MT or Add(c) -> MT (c scalar or per channel)."""
    if consumer.op_type == "MultiThreshold":
        return None, consumer, np.zeros(1, dtype=np.float32)
    if consumer.op_type != "Add":
        return None
    const = _channel_constant(model, consumer)
    nxt = model.find_consumers(consumer.output[0])
    if const is None or len(nxt) != 1 or nxt[0].op_type != "MultiThreshold":
        return None
    return consumer, nxt[0], const


class AbsorbReluIntoMultiThreshold(Transformation):
    """Remove a Relu all of whose consumers are (Add(c) ->) MultiThreshold; adjust thresholds."""

    def apply(self, model: ModelWrapper):
        for relu in model.get_nodes_by_op_type("Relu"):
            consumers = model.find_consumers(relu.output[0])
            if not consumers or relu.output[0] in [o.name for o in model.graph.output]:
                continue
            chains = [_threshold_chain(model, c) for c in consumers]
            if any(ch is None for ch in chains):
                continue
            for add, mt, c in chains:
                thr = model.get_initializer(mt.input[1]).astype(np.float32)  # [1 or C, T]
                shifted = thr - c.reshape(-1, 1)  # per-channel c gives per-channel thresholds [C, T]
                new_thr = np.where(shifted > 0, shifted, ALWAYS_TRUE).astype(np.float32)
                thr_name = model.make_new_valueinfo_name()  # thresholds may be shared: use a new one
                model.set_initializer(thr_name, new_thr)
                mt.input[1] = thr_name
                mt.input[0] = relu.input[0]
                if add is not None:
                    model.graph.node.remove(add)
            model.graph.node.remove(relu)
            return model, True
        return model, False


class MoveReluPastReshape(Transformation):
    """``Relu -> Reshape/Flatten`` becomes ``Reshape/Flatten -> Relu`` (an elementwise op commutes with a
    reshape). Lets :class:`AbsorbReluIntoMultiThreshold` reach thresholds behind the flatten that
    precedes the first fully connected layer. Exact."""

    def apply(self, model: ModelWrapper):
        for relu in model.get_nodes_by_op_type("Relu"):
            consumers = model.find_consumers(relu.output[0])
            if len(consumers) != 1 or consumers[0].op_type not in ("Reshape", "Flatten"):
                continue
            reshape = consumers[0]
            x, out = relu.input[0], reshape.output[0]
            new_mid = model.make_new_valueinfo_name()
            model.set_tensor_shape(new_mid, model.get_tensor_shape(out))
            reshape.input[0] = x
            reshape.output[0] = new_mid
            relu.input[0] = new_mid
            relu.output[0] = out
            graph = model.graph
            graph.node.remove(relu)
            graph.node.insert(list(graph.node).index(reshape) + 1, relu)
            return model, True
        return model, False


class MoveChannelLinearPastFlatten(Transformation):
    """``Mul/Add(const [1, C, 1, 1]) -> Reshape to [1, C]`` on a 1x1 feature map becomes
    ``Reshape -> Mul/Add(const [1, C])``: on a ``[1, C, 1, 1]`` tensor the flatten keeps the channel
    order, so the per-channel constant moves with it (FINN only moves scalar constants past reshapes).
    Exact."""

    def apply(self, model: ModelWrapper):
        for node in model.graph.node:
            if node.op_type not in ("Mul", "Add"):
                continue
            const = model.get_initializer(node.input[1])
            consumers = model.find_consumers(node.output[0])
            if const is None or len(consumers) != 1 or consumers[0].op_type not in ("Reshape", "Flatten"):
                continue
            producer = model.find_producer(node.input[0])
            if producer is not None and producer.op_type == "MultiThreshold":
                continue  # a quantiser's output bias/scale: streamlining absorbs it into the thresholds
            reshape = consumers[0]
            in_shape = model.get_tensor_shape(node.output[0])
            out_shape = model.get_tensor_shape(reshape.output[0])
            if in_shape is None or out_shape is None or len(in_shape) != 4 or in_shape[2:] != [1, 1] \
                    or list(out_shape) != [in_shape[0], in_shape[1]] or const.size not in (1, in_shape[1]):
                continue
            x, out = node.input[0], reshape.output[0]
            new_mid = model.make_new_valueinfo_name()
            model.set_tensor_shape(new_mid, out_shape)
            reshape.input[0] = x
            reshape.output[0] = new_mid
            new_const = model.make_new_valueinfo_name()
            model.set_initializer(new_const, const.reshape(1, -1) if const.size > 1 else const)
            node.input[0], node.input[1], node.output[0] = new_mid, new_const, out
            graph = model.graph
            graph.node.remove(node)
            graph.node.insert(list(graph.node).index(reshape) + 1, node)
            return model, True
        return model, False
