"""``MoveEqualTransposesPastJoinConcat``: FINN's ``MoveTransposePastJoinConcat`` that moves only equal permutations.

``concat_axis(T_p(a), T_p(b)) = T_p(concat_{p[axis]}(a, b))`` for one permutation ``p`` shared by every input: after
FINN lowers convolutions (NHWC matmuls between ``Transpose`` pairs) a channel ``Concat`` of NCHW tensors reads
transposes ``p = (0, 3, 1, 2)``; moved past it, the ``Concat`` joins NHWC streams on their last axis (FINN's
``InferConcatLayer`` then makes it a ``StreamingConcat``) and the transpose meets the next layer's inverse one, which
FINN's ``AbsorbConsecutiveTransposes`` removes. Pure data movement, exact.

finn-plus 1.6.1's ``are_producers_identical`` for it compares the permutations but drops the result (``False``
without ``return``), so it would move transposes with different permutations and change the values; here they must
be equal.
"""

from __future__ import annotations

from finn.transformation.streamline.reorder import MoveIdenticalOpPastJoinOp, MoveTransposePastJoinConcat
from qonnx.util.basic import get_by_name


class MoveEqualTransposesPastJoinConcat(MoveTransposePastJoinConcat):
    """Move ``Transpose`` nodes with one common permutation past the ``Concat`` that joins them."""

    def are_producers_identical(self, model, producers) -> bool:
        if not MoveIdenticalOpPastJoinOp.are_producers_identical(self, model, producers):
            return False
        perms = [list(get_by_name(p.attribute, "perm").ints) for p in producers]
        return all(perm == perms[0] for perm in perms[1:])
