"""Put a model's input normalisation ``x = p * a + b`` (per channel) in front of a QONNX graph, so it reads raw pixels.

``finn_flow.preprocessing`` explains the record (``(p * pixel_scale - mean) / std``); for a torch model the build
puts the same map in as a module before export, for a QONNX file (recorded in its metadata by
``brevitas_abc.export_qonnx(..., preprocessing=...)``) this transformation inserts it into the graph:
``Mul(a) -> Add(b)`` right after the graph input, constants of shape ``[1, C, 1, 1]``. Streamlining then absorbs
both into the first thresholds, as it absorbs ``InsertIntegerInputScaling``'s ``Mul``.
"""
from __future__ import annotations

import numpy as np
from onnx import helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.base import Transformation


class InsertInputNormalization(Transformation):
    """Insert ``Mul(a) -> Add(b)`` after the single dynamic graph input (once: nodes tagged by name).

    Args:
        a, b: float32 arrays broadcastable to the input (``[1, C, 1, 1]`` from
            :func:`finn_flow.preprocessing.affine_constants`).
    """

    node_names = ("finn_flow_input_normalization_mul", "finn_flow_input_normalization_add")

    def __init__(self, a: np.ndarray, b: np.ndarray):
        super().__init__()
        self.a = np.asarray(a, dtype=np.float32)
        self.b = np.asarray(b, dtype=np.float32)

    def apply(self, model: ModelWrapper):
        if any(n.name in self.node_names for n in model.graph.node):
            return model, False
        dynamic = [i.name for i in model.graph.input if model.get_initializer(i.name) is None]
        if len(dynamic) != 1:
            raise ValueError(f"the model must have exactly one (non-constant) graph input to normalise, found {dynamic}")
        inp = dynamic[0]
        shape = model.get_tensor_shape(inp)
        scaled, shifted = model.make_new_valueinfo_name(), model.make_new_valueinfo_name()
        a_name, b_name = model.make_new_valueinfo_name(), model.make_new_valueinfo_name()
        model.set_initializer(a_name, self.a)
        model.set_initializer(b_name, self.b)
        for node in model.graph.node:
            for i, name in enumerate(node.input):
                if name == inp:
                    node.input[i] = shifted
        model.graph.node.insert(0, helper.make_node("Add", [scaled, b_name], [shifted], name=self.node_names[1]))
        model.graph.node.insert(0, helper.make_node("Mul", [inp, a_name], [scaled], name=self.node_names[0]))
        model.set_tensor_shape(scaled, shape)
        model.set_tensor_shape(shifted, shape)
        return model, False
