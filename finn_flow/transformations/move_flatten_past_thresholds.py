"""Move a flatten (``Reshape`` to ``[N, C*H*W]``) from before per-tensor thresholds to after them.

ABC nets with a fully connected layer after a pooled feature map (LeNet-5: ``Relu -> MaxPool -> Flatten ->``
the FC's activation bases) read ``MaxPool -> Reshape -> [Add(v_n) ->] MultiThreshold(t_n)`` per base. With the
Reshape in between, the MaxPool and Relu cannot move past / be absorbed into the thresholds
(:class:`MoveMaxPoolPastMultiThreshold`, :class:`AbsorbReluIntoMultiThreshold`), and stay float on the host
side of a hardware layer. A scalar Add and per-tensor thresholds act elementwise, so they commute with a
reshape: each branch becomes ``[Add ->] MultiThreshold -> Reshape`` on the 4-D tensor. Exact.
"""

from __future__ import annotations

from onnx import helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.base import Transformation


def _per_tensor_chain(model: ModelWrapper, node) -> list | None:
    """``[Add(scalar), MultiThreshold]`` or ``[MultiThreshold]`` with per-tensor thresholds, else None."""
    chain = []
    if node.op_type == "Add":
        const = model.get_initializer(node.input[1])
        consumers = model.find_consumers(node.output[0])
        if const is None or const.size != 1 or len(consumers) != 1:
            return None
        chain.append(node)
        node = consumers[0]
    if node.op_type != "MultiThreshold":
        return None
    thresholds = model.get_initializer(node.input[1])
    if thresholds is None or thresholds.shape[0] != 1:
        return None
    return chain + [node]


class MoveFlattenPastMultiThreshold(Transformation):
    """``Reshape -> {[Add(scalar) ->] MultiThreshold(per tensor)}`` becomes ``{[Add ->] MultiThreshold -> Reshape}``."""

    def apply(self, model: ModelWrapper):
        for reshape in model.get_nodes_by_op_type("Reshape"):
            in_shape = model.get_tensor_shape(reshape.input[0])
            out_shape = model.get_tensor_shape(reshape.output[0])
            if in_shape is None or out_shape is None or len(in_shape) != 4 or len(out_shape) != 2 \
                    or model.get_initializer(reshape.input[1]) is None:
                continue
            consumers = model.find_consumers(reshape.output[0])
            chains = [_per_tensor_chain(model, c) for c in consumers]
            if not consumers or any(ch is None for ch in chains) \
                    or reshape.output[0] in [o.name for o in model.graph.output]:
                continue
            x = reshape.input[0]
            for chain in chains:
                chain[0].input[0] = x
                for node in chain[:-1]:
                    model.set_tensor_shape(node.output[0], in_shape)
                mt = chain[-1]
                flat = mt.output[0]
                unflat = model.make_new_valueinfo_name()
                model.set_tensor_shape(unflat, in_shape)
                model.set_tensor_datatype(unflat, model.get_tensor_datatype(flat))
                mt.output[0] = unflat
                index = list(model.graph.node).index(mt) + 1
                model.graph.node.insert(index, helper.make_node(
                    "Reshape", [unflat, reshape.input[1]], [flat], name=f"{mt.name}_flatten"))
            model.graph.node.remove(reshape)
            return model, True
        return model, False


class InsertTransposePairBeforeFlatten(Transformation):
    """``x[N, C, H, W] -> Reshape[N, CHW]`` (H*W > 1) becomes ``x -> Transpose(NHWC) -> Transpose(NCHW) -> Reshape``.

    An identity (exact). It gives FINN's streamlining the ``Transpose`` it needs after the last pooled feature
    map: ``MakeMaxPoolNHWC`` and ``AbsorbTransposeIntoMultiThreshold`` turn ``MultiThreshold -> MaxPool``
    into NHWC layers (FINN's Thresholding and Pool layers are channels-last), and ``RemoveCNVtoFCFlatten``
    absorbs the remaining NHWC -> NCHW transpose into the next fully connected layer's weights. Without it a
    spatial flatten (LeNet-5's 16x5x5 -> 400) leaves NCHW thresholds that FINN's Thresholding misreads.
    """

    def apply(self, model: ModelWrapper):
        for reshape in model.get_nodes_by_op_type("Reshape"):
            in_shape = model.get_tensor_shape(reshape.input[0])
            out_shape = model.get_tensor_shape(reshape.output[0])
            if in_shape is None or out_shape is None or len(in_shape) != 4 or len(out_shape) != 2 \
                    or in_shape[2] * in_shape[3] == 1:
                continue
            producer = model.find_producer(reshape.input[0])
            if producer is not None and producer.op_type == "Transpose" and \
                    list(producer.attribute[0].ints) == [0, 3, 1, 2]:
                continue  # already done
            x = reshape.input[0]
            nhwc, nchw = model.make_new_valueinfo_name(), model.make_new_valueinfo_name()
            model.set_tensor_shape(nhwc, [in_shape[0], in_shape[2], in_shape[3], in_shape[1]])
            model.set_tensor_shape(nchw, in_shape)
            for name in (nhwc, nchw):
                model.set_tensor_datatype(name, model.get_tensor_datatype(x))
            index = list(model.graph.node).index(reshape)
            model.graph.node.insert(index, helper.make_node("Transpose", [x], [nhwc], perm=[0, 2, 3, 1],
                                                            name=f"{reshape.name}_to_nhwc"))
            model.graph.node.insert(index + 1, helper.make_node("Transpose", [nhwc], [nchw], perm=[0, 3, 1, 2],
                                                                name=f"{reshape.name}_to_nchw"))
            reshape.input[0] = nchw
            return model, True
        return model, False
