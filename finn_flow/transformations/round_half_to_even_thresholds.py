"""Quant -> MultiThreshold conversion that rounds exact halves to even, as the Quant node does.

A QONNX ``Quant`` node with ``rounding_mode="ROUND"`` (what Brevitas exports; PyTorch's ``torch.round`` and
numpy's ``np.round``) maps ``x`` to the integer level ``q = round_half_even(x / s)``. FINN's
``ConvertQuantActToMultiThreshold`` replaces it by a MultiThreshold with thresholds ``T_t = (b + t + 1/2) s``
(``b`` the lowest level, ``t = 0 .. 2^bits - 2``) and output level ``b + #{t : x >= T_t}``: an input exactly at a
half step, ``x = T_t``, always goes *up*, to level ``b + t + 1``. Round half to even goes up only where that level
is even. So wherever ``b + t + 1`` is odd the MultiThreshold must use a strict comparison, ``x > T_t``, which in
float32 is ``x >= nextafter(T_t, +inf)``.

Such ties are not rare in integer dataflow: a Group-Net residual stream whose gate is 1/2 (a barely trained
``sigmoid(0)``) or whose branches are integer multiples of one power-of-two scale puts many values exactly on the
half steps of the next quantiser; one such build lost 60 % of its argmax agreement at ``step_qonnx_to_finn``.
With a power-of-two scale ``s`` the thresholds are exact float32 numbers and the nudged comparison reproduces
round-half-to-even bit for bit; the streamlining steps that scale thresholds by powers of two and round them up
for integer inputs (``RoundAndClipThresholds``) keep the decision.

:func:`round_half_to_even_thresholds` patches FINN's Relu and identity handlers for the duration of a build (FINN
constructs them inside ``ConvertQONNXtoFINN``), as :func:`~finn_flow.transformations.remove_exact_identity_ops.
exact_identity_removal` does for identity removal.
"""

from __future__ import annotations

import contextlib
from unittest import mock

import numpy as np
from qonnx.custom_op.registry import getCustomOp


def lowest_level(handler) -> float | None:
    """The integer level ``b`` that a count of 0 thresholds stands for, or None where the conversion is not a
    round-half-to-even multi-bit Quant (bipolar, other rounding modes, Selu)."""
    node = handler._q_node
    if node.op_type != "Quant" or getCustomOp(node).get_nodeattr("rounding_mode").upper() != "ROUND":
        return None
    if float(np.asarray(handler._model.get_initializer(node.input[3])).item()) <= 1:
        return None
    predecessors = handler._model.find_direct_predecessors(node) or []
    if type(handler).__name__ == "QuantReluHandler" and (not predecessors or predecessors[0].op_type != "Relu"):
        return None
    bias = np.asarray(handler._calculate_act_bias()).flatten()
    return float(bias[0]) if bias.size == 1 else None


def break_ties_to_even(thresholds: np.ndarray, lowest: float) -> np.ndarray:
    """Move each threshold ``T_t`` whose upper level ``lowest + t + 1`` is odd to the next float32 above it."""
    thresholds = np.asarray(thresholds, dtype=np.float32).copy()
    upper_levels = lowest + 1 + np.arange(thresholds.shape[-1])
    odd = np.mod(upper_levels, 2) != 0
    thresholds[..., odd] = np.nextafter(thresholds[..., odd], np.float32(np.inf))
    return thresholds


def _rounding_half_to_even(calculate_thresholds):
    def calculate(handler):
        thresholds = calculate_thresholds(handler)
        lowest = lowest_level(handler)
        return thresholds if lowest is None else break_ties_to_even(thresholds, lowest)

    return calculate


@contextlib.contextmanager
def round_half_to_even_thresholds():
    """While active, FINN's Quant -> MultiThreshold conversion (Relu and identity quantisers) rounds exact
    half steps to even, as the Quant node it replaces does."""
    from finn.transformation.qonnx.qonnx_activation_handlers import QuantIdentityHandler, QuantReluHandler

    with mock.patch.object(QuantReluHandler, "_calculate_thresholds",
                           _rounding_half_to_even(QuantReluHandler._calculate_thresholds)), \
            mock.patch.object(QuantIdentityHandler, "_calculate_thresholds",
                              _rounding_half_to_even(QuantIdentityHandler._calculate_thresholds)):
        yield
