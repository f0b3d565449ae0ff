"""FINN's ``Streamline`` without the cleanups that cannot change anything: same rewrites, same graph, less time.

finn-plus's ``Streamline.apply`` runs 22 rewrites in a fixed order and, after EACH of them, five whole-graph
cleanups (``RemoveIdentityOps``, ``GiveUniqueNodeNames``, ``GiveReadableTensorNames``, ``InferDataTypes``,
``InferDataLayouts``), whether the rewrite changed the graph or not. Every ``ModelWrapper.transform`` also deep-copies
the model and runs qonnx's own cleanup (``SortGraph``, ...), and qonnx's tensor lookups are linear scans, so each
cleanup costs time proportional to (nodes x tensors): on a bitwise ABC(3, 3) CNV graph (446 nodes, 809 tensors) the
five take about 4 s of CPU per rewrite, and ``step_streamline`` calls ``Streamline`` twice (44 rewrites), while most
rewrites find nothing to do on a given graph.

:class:`StreamlineSkippingIdleCleanups` runs the same rewrites in the same order with the same cleanups, except that
it skips the five cleanups after a rewrite that left the graph byte-for-byte unchanged (serialised protobuf
compared), once they have run at least once: the graph is then the cleanups' own output, and each cleanup is
idempotent (a fixed point: identity ops already removed, node names already unique in the same order, readable
tensor names derived from those node names, data types and layouts already inferred), so running them again would
return the same graph. The result is the graph FINN's ``Streamline`` gives (tested byte for byte on ABC CNV graphs).
"""
from __future__ import annotations

from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.base import Transformation


def streamline_rewrites() -> list[Transformation]:
    """The rewrites of finn-plus 1.6.1's ``Streamline.apply``, in its order."""
    from finn.transformation.streamline import (
        Absorb1BitMulIntoConv,
        Absorb1BitMulIntoMatMul,
        AbsorbAddIntoMultiThreshold,
        AbsorbMulIntoMultiThreshold,
        AbsorbScalarBiasIntoMultiThreshold,
        BatchNormToAffine,
        CollapseRepeatedAdd,
        CollapseRepeatedMul,
        ConvertDivToMul,
        ConvertSignToThres,
        ConvertSubToAdd,
        FactorOutMulSignMagnitude,
        MoveAddPastConv,
        MoveAddPastMul,
        MoveMulPastMaxPool,
        MoveScalarAddPastMatMul,
        MoveScalarLinearPastInvariants,
        MoveScalarMulPastConv,
        MoveScalarMulPastMatMul,
        MoveScalesPastIm2Col,
    )

    return [ConvertSubToAdd(), ConvertDivToMul(), BatchNormToAffine(), ConvertSignToThres(), MoveMulPastMaxPool(),
            AbsorbScalarBiasIntoMultiThreshold(), MoveScalesPastIm2Col(), MoveScalarLinearPastInvariants(),
            MoveAddPastMul(), MoveScalarAddPastMatMul(), MoveAddPastConv(), MoveScalarMulPastMatMul(),
            MoveScalarMulPastConv(), MoveAddPastMul(), CollapseRepeatedAdd(), CollapseRepeatedMul(),
            MoveMulPastMaxPool(), AbsorbAddIntoMultiThreshold(), FactorOutMulSignMagnitude(),
            AbsorbMulIntoMultiThreshold(), Absorb1BitMulIntoMatMul(), Absorb1BitMulIntoConv()]


def _cleanups() -> list[Transformation]:
    from qonnx.transformation.general import GiveReadableTensorNames, GiveUniqueNodeNames
    from qonnx.transformation.infer_data_layouts import InferDataLayouts
    from qonnx.transformation.infer_datatypes import InferDataTypes
    from qonnx.transformation.remove import RemoveIdentityOps

    return [RemoveIdentityOps(), GiveUniqueNodeNames(), GiveReadableTensorNames(), InferDataTypes(),
            InferDataLayouts()]


class StreamlineSkippingIdleCleanups(Transformation):
    """FINN's ``Streamline`` (module docstring), skipping the cleanups after a rewrite that changed nothing.

    Attributes (after ``apply``):
        skipped: names of the rewrites whose cleanups were skipped.
    """

    def __init__(self):
        super().__init__()
        self.skipped: list[str] = []

    def apply(self, model: ModelWrapper):
        cleaned = False
        for rewrite in streamline_rewrites():
            before = model.model.SerializeToString()
            model = model.transform(rewrite)
            if cleaned and model.model.SerializeToString() == before:
                self.skipped.append(type(rewrite).__name__)
                continue
            for cleanup in _cleanups():
                model = model.transform(cleanup)
            cleaned = True
        return model, False
