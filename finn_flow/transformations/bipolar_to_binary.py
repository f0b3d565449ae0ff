"""Bipolar activations that feed integer-weight layers (the ``fused`` ABC mapping): carried as bipolar streams,
or, behind a padding, as binary thresholds plus ``2*b - 1``.

Bipolar streams (:class:`PrepareBipolarThresholdsForHW`): FINN's HLS MVAU reads a BIPOLAR input with integer
weights as one bit per value (``Recast<Binary>``: bit 0 is -1, bit 1 is +1), and its Thresholding layer emits
that bit for a BIPOLAR output (its Python execution gives ``2y - 1``). FINN's converter only takes thresholds
with ``out_scale = 1``, so just before conversion a bipolar MultiThreshold (``out_scale 2, out_bias -1``) is
given ``out_scale 1, out_bias 0`` with its output still annotated BIPOLAR; the Thresholding layer made from it
computes the same +-1 values. One bit per activation, as in the bitwise mapping.

Behind a padding this does not work: FINN's FMPadding pads with 0, which Python executes as the value 0 and the
hardware as bit 0, i.e. -1. There (:class:`ConvertBipolarThresholdsToBinary`)
with ``H = 2b - 1`` (``b`` in {0, 1}):
the thresholds output ``b`` (``out_scale 1, out_bias 0``) and an explicit ``Mul(2) -> Add(-1)``
follows, which streamlining moves past the MatMul (``2 W b - colsum(W)``) and into the next thresholds.
The ``Pad`` between them (ABC pads with +1) is kept before the affine map with its value mapped to the
binary domain, ``(v + 1) / 2`` (so only +1 and -1 padding qualify). Exact.

The thresholds' output is annotated ``UINT2`` (values 0 and 1), not ``BINARY``: FINN's HLS MVAU computes
BINARY inputs only as xnor/popcount with bipolar weights and raises "True binary (non-bipolar) inputs not
yet supported" for integer weights, so a 1-bit {0, 1} stream into an integer MVAU cannot generate code. A
2-bit unsigned stream can; it doubles the input width of the fused MVAUs, which their estimates include.
"""

from __future__ import annotations

import numpy as np
from onnx import helper
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.base import Transformation


BINARY_STREAM_DATATYPE = "UINT2"  # {0, 1} values; see the module docstring for why not BINARY


def _pad_value_name(node):
    return node.input[2] if len(node.input) > 2 and node.input[2] else None


def _integer_weight_consumer(model: ModelWrapper, node) -> bool:
    if node.op_type not in ("MatMul", "Conv"):
        return False
    w = node.input[1]
    return model.get_initializer(w) is not None and model.get_tensor_datatype(w) != DataType["BIPOLAR"]


class ConvertBipolarThresholdsToBinary(Transformation):
    """Bipolar MultiThreshold -> Pad +-1 -> integer-weight MatMul/Conv becomes binary + ``2b - 1``; unpadded paths
    stay bipolar (:class:`PrepareBipolarThresholdsForHW`)."""

    def apply(self, model: ModelWrapper):
        for mt in model.get_nodes_by_op_type("MultiThreshold"):
            inst = getCustomOp(mt)
            if inst.get_nodeattr("out_dtype") != "BIPOLAR":
                continue
            consumers = model.find_consumers(mt.output[0])
            if len(consumers) != 1:
                continue
            tail = mt
            pad = None
            # order-preserving layout ops commute with the increasing map 2b - 1
            while consumers[0].op_type in ("MaxPool", "Reshape", "Flatten", "Transpose"):
                tail = consumers[0]
                consumers = model.find_consumers(tail.output[0])
                if len(consumers) != 1:
                    break
            if len(consumers) != 1:
                continue
            if consumers[0].op_type == "Pad":
                pad = consumers[0]
                value_name = _pad_value_name(pad)
                value = float(model.get_initializer(value_name)) if value_name else 0.0
                nxt = model.find_consumers(pad.output[0])
                if value not in (-1.0, 1.0) or len(nxt) != 1 or not _integer_weight_consumer(model, nxt[0]):
                    continue
                new_value = model.make_new_valueinfo_name()
                model.set_initializer(new_value, np.asarray((value + 1) / 2, dtype=np.float32))
                pad.input[2] = new_value
                tail = pad
            else:
                continue
            inst.set_nodeattr("out_dtype", BINARY_STREAM_DATATYPE)
            inst.set_nodeattr("out_scale", 1.0)
            inst.set_nodeattr("out_bias", 0.0)
            model.set_tensor_datatype(mt.output[0], DataType[BINARY_STREAM_DATATYPE])
            out = tail.output[0]
            doubled, shifted = model.make_new_valueinfo_name(), model.make_new_valueinfo_name()
            two, minus_one = model.make_new_valueinfo_name(), model.make_new_valueinfo_name()
            model.set_initializer(two, np.asarray(2.0, dtype=np.float32))
            model.set_initializer(minus_one, np.asarray(-1.0, dtype=np.float32))
            for consumer in model.find_consumers(out):
                for i, name in enumerate(consumer.input):
                    if name == out:
                        consumer.input[i] = shifted
            shape = model.get_tensor_shape(out)
            model.set_tensor_shape(doubled, shape)
            model.set_tensor_shape(shifted, shape)
            index = list(model.graph.node).index(tail) + 1
            model.graph.node.insert(index, helper.make_node("Mul", [out, two], [doubled], name=f"{mt.name}_times2"))
            model.graph.node.insert(index + 1, helper.make_node("Add", [doubled, minus_one], [shifted], name=f"{mt.name}_minus1"))
            node = mt
            while node is not tail:  # the layout ops between MT and the affine map now carry binary values
                node = model.find_consumers(node.output[0])[0]
                model.set_tensor_datatype(node.output[0], DataType[BINARY_STREAM_DATATYPE])
            return model, True
        return model, False


class PrepareBipolarThresholdsForHW(Transformation):
    """Bipolar MultiThreshold (``out_scale 2, out_bias -1``) -> ``out_scale 1, out_bias 0``, output still BIPOLAR.

    Run only immediately before FINN's ``InferThresholdingLayer``: in between, the graph's Python execution would
    give 0/1 where +-1 is meant; the Thresholding layer made from the node gives +-1 again (see module docstring).
    Thresholds that FINN merges into the MVAU before them are left alone: without ``standalone_thresholds`` (FINN's
    default) a MultiThreshold that is the only consumer of an integer MatMul becomes the MVAU's activation, which
    takes the bipolar ``out_scale 2, out_bias -1`` form itself (``InferQuantizedMatrixVectorActivation``).
    """

    def __init__(self, standalone_thresholds: bool = False):
        super().__init__()
        self.standalone_thresholds = standalone_thresholds

    def _merged_into_mvau(self, model: ModelWrapper, mt) -> bool:
        if self.standalone_thresholds:
            return False
        producer = model.find_producer(mt.input[0])
        return (producer is not None and producer.op_type in ("MatMul", "XnorPopcountMatMul")
                and len(model.find_consumers(producer.output[0])) == 1)

    def apply(self, model: ModelWrapper):
        modified = False
        for mt in model.get_nodes_by_op_type("MultiThreshold"):
            if self._merged_into_mvau(model, mt):
                continue
            inst = getCustomOp(mt)
            if (inst.get_nodeattr("out_dtype") == "BIPOLAR" and inst.get_nodeattr("out_scale") == 2.0
                    and inst.get_nodeattr("out_bias") == -1.0):
                inst.set_nodeattr("out_scale", 1.0)
                inst.set_nodeattr("out_bias", 0.0)
                modified = True
        return model, modified
