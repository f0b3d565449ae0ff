"""Clip the thresholds of binary (xnor/popcount) MVAUs to the popcount's range ``[0, MW + 1]``.

An xnor MVAU computes ``popcount(xnor(w, x))`` over a row of ``MW`` binary products, an integer in
``[0, MW]``. FINN annotates the accumulator as signed, so thresholds below 0 (an always-true step)
survive rounding and later steps assert on them (DESIGN.md 6). For an integer ``p`` in ``[0, MW]``,
``p >= t`` has the same truth value for ``t`` and for ``clip(t, 0, MW + 1)``: every ``t <= 0`` is
always true and every ``t >= MW + 1`` is never true. The rewrite is therefore exact.
"""

from __future__ import annotations

import numpy as np
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.base import Transformation


def _is_binary_mvau(node) -> bool:
    return node.op_type.startswith("MVAU") and getCustomOp(node).get_nodeattr("binaryXnorMode") == 1


class ClipXnorThresholdsToPopcountRange(Transformation):
    """Clip thresholds of ``XnorPopcountMatMul -> MultiThreshold`` pairs and of binary MVAUs."""

    def apply(self, model: ModelWrapper):
        modified = False
        for node in model.graph.node:
            if node.op_type == "MultiThreshold":
                producer = model.find_producer(node.input[0])
                if producer is None or producer.op_type != "XnorPopcountMatMul":
                    continue
                mw = model.get_tensor_shape(producer.input[1])[0]
                thr_name = node.input[1]
            elif _is_binary_mvau(node) and len(node.input) > 2:
                mw = getCustomOp(node).get_nodeattr("MW")
                thr_name = node.input[2]
            else:
                continue
            thr = model.get_initializer(thr_name)
            clipped = np.clip(thr, 0, mw + 1).astype(thr.dtype)
            if not np.array_equal(clipped, thr):
                model.set_initializer(thr_name, clipped)
                modified = True
        return model, modified
