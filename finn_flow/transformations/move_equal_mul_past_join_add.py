"""``MoveEqualMulPastJoinAdd``: FINN's ``MoveMulPastJoinAdd`` with array constants compared as arrays.

``Add(Mul(a, s), Mul(b, s)) = Mul(Add(a, b), s)``: exact in float32 for a power-of-two ``s`` (and a join whose
inputs are integer streams becomes an integer ``ElementwiseAdd``). finn-plus 1.6.1 compares the two ``s`` with
``!=``, which raises "The truth value of an array ... is ambiguous" for per-channel scales (bitwise ABC branch
sums have them) and so aborted every build that reached it. Here equal constants (same shape, same values) whose
every value is a power of two move (for any other ``s`` the two sides differ by float rounding); anything else is
left alone.
"""

from __future__ import annotations

import numpy as np
from finn.transformation.streamline.reorder import MoveIdenticalOpPastJoinOp, MoveMulPastJoinAdd


class MoveEqualMulPastJoinAdd(MoveMulPastJoinAdd):
    """Move two ``Mul`` nodes with equal constants past the ``Add`` that joins them (one ``Mul`` after it)."""

    def are_producers_identical(self, model, producers) -> bool:
        if not MoveIdenticalOpPastJoinOp.are_producers_identical(self, model, producers):
            return False
        constants = [model.get_initializer(p.input[1]) for p in producers]
        if any(c is None for c in constants):
            return False
        first = np.asarray(constants[0])
        if not all(np.asarray(c).shape == first.shape and np.array_equal(np.asarray(c), first) for c in constants[1:]):
            return False
        mantissa, _ = np.frexp(first)
        return bool(np.all(np.abs(mantissa) == 0.5))  # every s = +-2^k: s a + s b == s (a + b) exactly
