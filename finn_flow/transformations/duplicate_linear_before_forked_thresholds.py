"""Give every ``MultiThreshold`` consumer of a constant ``Mul`` / ``Add`` its own copy of that node.

FINN's ``AbsorbMulIntoMultiThreshold`` / ``AbsorbAddIntoMultiThreshold`` skip a node whose output forks. After
``step_streamline`` such a fork remains where an integer layer's output scale feeds several activation
thresholds: a stock Brevitas conv (``int8 input * 2^-7`` times its weight scale) in front of an ABC layer with N
activation bases reads ``MatMul -> Mul(c) -> [MultiThreshold_1 .. MultiThreshold_N]``. The ``Mul`` would stay a
float ``ElementwiseMul`` inside the accelerator. One copy per threshold computes the same values, and FINN's
absorptions then fold each copy into its thresholds (``T / c``, ``T - b``), as for a single consumer.

Only forks whose consumers are ALL ``MultiThreshold`` nodes are touched (a residual fork keeps its form).
"""

from __future__ import annotations

import copy

from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.base import Transformation


class DuplicateLinearBeforeForkedThresholds(Transformation):
    """Copy a ``Mul``/``Add`` with a constant operand once per extra ``MultiThreshold`` consumer."""

    def apply(self, model: ModelWrapper):
        modified = False
        for node in list(model.graph.node):
            if node.op_type not in ("Mul", "Add") or model.get_initializer(node.input[1]) is None:
                continue
            consumers = model.find_consumers(node.output[0])
            if consumers is None or len(consumers) < 2 or any(c.op_type != "MultiThreshold" for c in consumers):
                continue
            position = list(model.graph.node).index(node)
            for k, consumer in enumerate(consumers[1:], start=1):
                copy_node = copy.deepcopy(node)
                copy_node.name = f"{node.name}_fork{k}"
                out = model.make_new_valueinfo_name()
                copy_node.output[0] = out
                model.set_tensor_shape(out, model.get_tensor_shape(node.output[0]))
                model.graph.node.insert(position + k, copy_node)
                consumer.input[0] = out
            modified = True
        return model, modified
