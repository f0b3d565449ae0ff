"""Give every consumer of a quantised constant (a weight) its own quantiser node and initializer.

ABC's export form uses each binary weight base ``B_m`` once per activation base (N consumers of one
``BipolarQuant(B_m)``). QONNX's cleanup turns each ``Gemm(transB=1)`` into ``Transpose -> MatMul`` and
``FoldTransposeIntoQuantInit`` then transposes the *shared* initializer once per consumer: with two
consumers of a square weight the second branch silently gets ``B_m`` transposed twice, i.e. wrong
weights and no error (seen on an ABC TFC: 64x64 hidden layers). Separate copies make the folding
per-consumer and exact.
"""

from __future__ import annotations

import copy

import numpy as np
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.base import Transformation

_QUANT_OPS = ("Quant", "BipolarQuant", "BinaryQuant", "IntQuant", "Trunc")


class DuplicateSharedWeightQuantizers(Transformation):
    """Copy a quantiser whose inputs are all constant, with its inputs, once per extra consumer."""

    def apply(self, model: ModelWrapper):
        graph = model.graph
        for node in list(graph.node):
            if node.op_type not in _QUANT_OPS:
                continue
            if any(i and model.get_initializer(i) is None for i in node.input):
                continue
            consumers = model.find_consumers(node.output[0])
            if len(consumers) < 2:
                continue
            for k, consumer in enumerate(consumers[1:], start=1):
                dup = copy.deepcopy(node)
                dup.name = f"{node.name}_copy{k}"
                for j, name in enumerate(node.input):
                    if not name:
                        continue
                    new_in = model.make_new_valueinfo_name()
                    model.set_initializer(new_in, np.array(model.get_initializer(name), copy=True))
                    dt = model.get_tensor_datatype(name)
                    model.set_tensor_datatype(new_in, dt)
                    dup.input[j] = new_in
                new_out = model.make_new_valueinfo_name()
                model.set_tensor_shape(new_out, model.get_tensor_shape(node.output[0]))
                dup.output[0] = new_out
                graph.node.insert(list(graph.node).index(consumer), dup)
                for j, name in enumerate(consumer.input):
                    if name == node.output[0]:
                        consumer.input[j] = new_out
            return model, True
        return model, False
