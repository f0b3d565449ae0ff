"""Make the graph input an integer tensor: ``x = pixels * scale``, with ``pixels`` of an integer type.

FINN's dataflow partition needs integer inputs. A model trained on ``x in [0, 1]`` (ToTensor) receives
raw ``uint8`` pixels in hardware; inserting ``Mul(scale)`` right after the graph input and annotating
the input as ``UINT8`` lets streamlining absorb the scale into the first thresholds, so the first
hardware layer sees integers (FINN's end-to-end CNV example does the same with a ToTensor graph).
"""

from __future__ import annotations

import numpy as np
from onnx import helper
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.base import Transformation


class InsertIntegerInputScaling(Transformation):
    """Insert ``Mul(scale)`` after the single graph input and annotate the input as ``datatype``.

    Args:
        scale: the model's input is ``pixels * scale`` (``1/255`` for ToTensor-style models).
        datatype: FINN datatype name of the raw input (``"UINT8"``, ``"INT8"``, ...); must be integer.

    Applying it twice is a no-op: the inserted node is tagged by name ``finn_flow_input_scaling``.
    """

    node_name = "finn_flow_input_scaling"

    def __init__(self, scale: float, datatype: str = "UINT8"):
        super().__init__()
        if not (np.isfinite(scale) and scale > 0):
            raise ValueError(f"input_scale must be a positive finite number, got {scale!r}")
        try:
            dt = DataType[datatype]
        except KeyError:
            raise ValueError(f"input_datatype {datatype!r} is not a FINN DataType name") from None
        if not dt.is_integer():
            raise ValueError(f"input_datatype must be an integer FINN DataType, got {datatype!r}")
        self.scale = float(scale)
        self.datatype = DataType[datatype]

    def apply(self, model: ModelWrapper):
        if any(n.name == self.node_name for n in model.graph.node):
            return model, False
        dynamic = [i.name for i in model.graph.input if model.get_initializer(i.name) is None]
        if len(dynamic) != 1:
            raise ValueError(f"the model must have exactly one (non-constant) graph input to scale, found {dynamic}")
        inp = dynamic[0]
        scaled = model.make_new_valueinfo_name()
        const = model.make_new_valueinfo_name()
        model.set_initializer(const, np.asarray(self.scale, dtype=np.float32))
        for node in model.graph.node:
            for i, name in enumerate(node.input):
                if name == inp:
                    node.input[i] = scaled
        model.graph.node.insert(0, helper.make_node("Mul", [inp, const], [scaled], name=self.node_name))
        model.set_tensor_shape(scaled, model.get_tensor_shape(inp))
        model.set_tensor_datatype(inp, self.datatype)
        return model, False
