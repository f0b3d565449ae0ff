"""Give xnor MVAUs the accumulator type of their popcount, ``UINT`` holding ``[0, MW]``.

An xnor MVAU (``binaryXnorMode``) computes ``popcount(xnor(w, x))`` over ``MW`` binary products: an integer in
``[0, MW]``. FINN's ``MinimizeAccumulatorWidth`` sizes its accumulator as the ``{0, 1}``-input dot product with the
``+-1`` weights, ``[-(number of -1 weights), number of +1 weights]``, which is too small whenever a row has a
``-1`` weight: with ``MW = 2`` it picks ``INT2`` (``[-2, 1]``) for a popcount that reaches 2. ``RoundAndClipThresholds``
then clips the thresholds to that range plus one: a threshold above every reachable popcount (a step that never
fires) becomes 2 and fires for popcount 2, and the folded accelerator computes other numbers than the layers it
was built from (found by the random-model test: ABC(1, 1), 1x1 convolutions on 2 channels).

``popcount >= t`` is exact with ``t`` clipped to ``[0, MW + 1]``, so the accumulator (and, without an activation,
the output) type ``UINT`` of ``ceil(log2(MW + 1))`` bits is exact; setting it before ``RoundAndClipThresholds``
keeps every threshold's meaning.
"""

from __future__ import annotations

from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.base import Transformation
from qonnx.util.basic import roundup_to_integer_multiple


class SetXnorAccumulatorToPopcountRange(Transformation):
    """Set ``accDataType`` (and ``outputDataType`` when ``noActivation``) of xnor MVAUs to the popcount's range.

    The list of nodes changed is kept in :attr:`changed` (``"name: old -> new"``)."""

    def __init__(self):
        super().__init__()
        self.changed: list[str] = []

    def apply(self, model: ModelWrapper):
        for node in model.graph.node:
            if not node.op_type.startswith("MVAU"):
                continue
            inst = getCustomOp(node)
            if not inst.get_nodeattr("binaryXnorMode"):
                continue
            popcount = DataType.get_smallest_possible(int(inst.get_nodeattr("MW")))  # UINTk holding [0, MW]
            old = inst.get_nodeattr("accDataType")
            if old == popcount.name:
                continue
            inst.set_nodeattr("accDataType", popcount.name)
            if inst.get_nodeattr("noActivation"):
                out = popcount
                if model.find_direct_successors(node) is None:  # as FINN: a graph output is a multiple of 8 bits
                    out = DataType[f"UINT{roundup_to_integer_multiple(popcount.bitwidth(), 8)}"]
                inst.set_nodeattr("outputDataType", out.name)
                model.set_tensor_datatype(node.output[0], out)
            self.changed.append(f"{node.name}: {old} -> {popcount.name}")
        return model, False
