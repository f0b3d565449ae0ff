"""Clip thresholds to the range their integer input can take (xnor popcounts: ``[0, MW + 1]``).

An xnor MVAU computes ``popcount(xnor(w, x))`` over a row of ``MW`` binary products, an integer in
``[0, MW]``. FINN annotates the accumulator as signed, so thresholds below 0 (an always-true step)
survive rounding and later steps assert on them (DESIGN.md 6). The same assertion fires for a
threshold below 0 on an unsigned input (e.g. raw UINT8 pixels, after an ABC shift ``v_n`` larger than
0.5 moved the first activation's threshold below 0). For an integer ``p`` in ``[lo, hi]``, ``p >= t``
has the same truth value for ``t`` and for ``clip(t, lo, hi + 1)``: every ``t <= lo`` is always true
and every ``t >= hi + 1`` is never true. The rewrite is therefore exact.
"""

from __future__ import annotations

import numpy as np
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.base import Transformation


def _is_binary_mvau(node) -> bool:
    return node.op_type.startswith("MVAU") and getCustomOp(node).get_nodeattr("binaryXnorMode") == 1


def _input_range(model: ModelWrapper, node):
    """``(lo, hi)`` of the integer values reaching the thresholds, or None if not integer/known."""
    if _is_binary_mvau(node):
        return 0, getCustomOp(node).get_nodeattr("MW")
    producer = model.find_producer(node.input[0])
    if producer is not None and producer.op_type == "XnorPopcountMatMul":
        return 0, model.get_tensor_shape(producer.input[1])[0]
    dt = model.get_tensor_datatype(node.input[0])
    if node.op_type == "MultiThreshold" and dt.is_integer() and dt.name != "BIPOLAR":
        return dt.min(), dt.max()
    return None


class ClipXnorThresholdsToPopcountRange(Transformation):
    """Clip MultiThreshold / binary-MVAU thresholds to ``[lo, hi + 1]`` of their integer input."""

    def apply(self, model: ModelWrapper):
        modified = False
        for node in model.graph.node:
            if node.op_type == "MultiThreshold":
                thr_name = node.input[1]
            elif _is_binary_mvau(node) and len(node.input) > 2:
                thr_name = node.input[2]
            else:
                continue
            bounds = _input_range(model, node)
            if bounds is None:
                continue
            lo, hi = bounds
            thr = model.get_initializer(thr_name)
            clipped = np.clip(thr, lo, hi + 1).astype(thr.dtype)
            if not np.array_equal(clipped, thr):
                model.set_initializer(thr_name, clipped)
                modified = True
        return model, modified
