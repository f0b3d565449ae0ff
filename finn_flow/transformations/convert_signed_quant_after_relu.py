"""Turn a signed integer ``Quant`` that reads a ``Relu`` into the equal unsigned one FINN converts.

A signed b-bit quantiser on a non-negative input, ``clamp(round(x / s), -2^(b-1), 2^(b-1) - 1)`` with ``x >= 0``,
is ``clamp(round(x / s), 0, 2^(b-1) - 1)``: an unsigned (b-1)-bit quantiser with the same scale, rounding and zero
point. FINN's QONNX converter reads ``Relu -> Quant`` as a quantised ReLU and accepts only unsigned, non-narrow
quantisers there ("FINN only supports unsigned and non-narrow Quant nodes for Relu activations"); Group-Net's
integer residual streams (signed) meet exactly this where the first stream quantiser reads the float stem's ReLU.
The rewrite is exact; it gives the node its own bit-width initializer (shared initializers stay untouched).
"""

from __future__ import annotations

import numpy as np
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.base import Transformation


class ConvertSignedQuantAfterReluToUnsigned(Transformation):
    """Signed, non-narrow, zero-point-0 ``Quant(b bits)`` after ``Relu`` -> unsigned ``Quant(b - 1 bits)``."""

    def __init__(self):
        super().__init__()
        self.rewritten: list[str] = []

    def apply(self, model: ModelWrapper):
        for node in model.get_nodes_by_op_type("Quant"):
            producer = model.find_producer(node.input[0])
            if producer is None or producer.op_type != "Relu":
                continue
            inst = getCustomOp(node)
            if not inst.get_nodeattr("signed") or inst.get_nodeattr("narrow"):
                continue
            zero_point, bits = model.get_initializer(node.input[2]), model.get_initializer(node.input[3])
            if zero_point is None or bits is None or np.any(zero_point != 0) or np.asarray(bits).size != 1:
                continue
            bits = float(np.asarray(bits))
            if bits < 2 or bits != round(bits):
                continue
            inst.set_nodeattr("signed", 0)
            name = model.make_new_valueinfo_name()
            model.set_initializer(name, np.asarray(bits - 1, dtype=np.float32))
            node.input[3] = name
            self.rewritten.append(node.name)
            return model, True
        return model, False
