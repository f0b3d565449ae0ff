"""Fold every constant weight quantiser with unity scale in one pass (FINN's ``FoldQuantWeights`` does one per pass).

FINN's ``FoldQuantWeights`` folds ONE ``Quant``/``BipolarQuant`` node per ``apply`` and then returns, so
``ModelWrapper.transform`` restarts it: every fold pays a fresh ``make_empty_exec_context`` (every tensor of the
graph allocated), a deep copy of the model and a whole-graph ``InferShapes``. That is quadratic in the number of
weight quantisers, and bitwise ABC has many: ABC(M, N) exports M*N binary weights per layer (CNV ABC(3, 3): 99
quantisers, the costliest part of ``step_qonnx_to_finn``).

For a quantiser with only constant inputs and scale 1 (ABC's bases: ``BipolarQuant(W_m, 1)``), FINN's fold is:
execute the node, make its output an initializer, remove the node. :class:`FoldUnityScaleWeightQuantizers` does
exactly that for all of them at once (the node is executed by the same qonnx custom-op ``execute_node``), then
one ``InferShapes``. Quantisers with another scale (their scale moves behind the consumer), a fork, no consumer or
a non-zero zero point are left to FINN's own transformation, which also raises its errors on them.
"""

from __future__ import annotations

import numpy as np
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.base import Transformation
from qonnx.util.basic import get_preferred_qonnx_opset


class FoldUnityScaleWeightQuantizers(Transformation):
    """Replace each constant ``Quant``/``BipolarQuant`` with scale 1 by its output as an initializer (exact).

    Attributes (after ``apply``):
        folded: names of the quantiser nodes folded.
    """

    def __init__(self):
        super().__init__()
        self.folded: list[str] = []

    def _foldable(self, model: ModelWrapper, node) -> bool:
        if node.op_type not in ("Quant", "BipolarQuant"):
            return False
        if any(model.get_initializer(name) is None for name in node.input):
            return False
        if not (np.asarray(model.get_initializer(node.input[1])).flatten() == 1.0).all():
            return False
        if node.op_type == "Quant" and not np.all(np.asarray(model.get_initializer(node.input[2])) == 0):
            return False
        consumers = model.find_consumers(node.output[0])
        return len(consumers) == 1 and consumers[0].op_type != "DebugMarker"

    def apply(self, model: ModelWrapper):
        from qonnx.transformation.infer_shapes import InferShapes

        graph = model.graph
        foldable = [node for node in graph.node if self._foldable(model, node)]
        if not foldable:
            return model, False
        opsets = model.get_opset_imports()
        for node in foldable:
            context = {name: np.asarray(model.get_initializer(name)) for name in node.input}
            context[node.output[0]] = None
            version = opsets.get(node.domain, get_preferred_qonnx_opset())
            getCustomOp(node, onnx_opset_version=version).execute_node(context, graph)
            model.set_initializer(node.output[0], context[node.output[0]])
            graph.node.remove(node)
            self.folded.append(node.name)
        return model.transform(InferShapes()), False
