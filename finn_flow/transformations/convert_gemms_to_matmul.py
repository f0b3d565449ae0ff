"""Every ``Gemm`` to ``MatMul`` in one pass (qonnx's ``GemmToMatMul`` converts one per graph pass).

qonnx's ``GemmToMatMul`` rewrites ONE Gemm as ``[Transpose] -> MatMul -> Mul(alpha) -> Add(Mul(C, beta))``, then
runs ``model.transform(RemoveIdentityOps())`` (a deep copy of the model and a cleanup) and returns, so
``ModelWrapper.transform`` restarts it; ``RemoveIdentityOps`` itself removes one identity node per pass, each with
a whole-graph ``InferShapes``. Bitwise ABC has M*N Gemms per dense layer (CNV ABC(3, 3): 27), so this was most of
``step_qonnx_to_finn`` (83 % of its CPU time at width 0.5).

:class:`ConvertGemmsToMatMul` runs qonnx's own per-Gemm rewrite for every Gemm with the identity removal deferred,
then removes the identity ``Mul``/``Div`` by 1 and ``Add``/``Sub`` of 0 in one pass
(:class:`RemoveIdentityLinearOps`, same test and tolerance as ``RemoveIdentityOps``, same
``remove_node_and_rewire``) and infers shapes once. The graph is the one qonnx's transformation gives
(tests/finn_flow/test_fold_unity_scale_weight_quantizers.py compares with finn-plus's step).
"""

from __future__ import annotations

from unittest import mock

import numpy as np
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.base import Transformation


class _DeferredIdentityRemoval(Transformation):
    def apply(self, model):
        return model, False


class RemoveIdentityLinearOps(Transformation):
    """Remove every ``Mul``/``Div`` by a constant 1 and ``Add``/``Sub`` of a constant 0 (within ``atol``, as qonnx's
    ``RemoveIdentityOps``) in one pass over the graph, then infer shapes once.

    Attributes (after ``apply``):
        removed: names of the nodes removed.
    """

    def __init__(self, atol: float = 1e-05):
        super().__init__()
        self.atol = atol
        self.removed: list[str] = []

    def _identity(self, model: ModelWrapper, node) -> bool:
        if node.op_type not in ("Add", "Sub", "Mul", "Div"):
            return False
        const = model.get_initializer(node.input[1])
        if const is None:
            return False
        neutral = np.zeros_like(const) if node.op_type in ("Add", "Sub") else np.ones_like(const)
        return bool(np.isclose(const, neutral, atol=self.atol).all())

    def apply(self, model: ModelWrapper):
        from qonnx.transformation.infer_shapes import InferShapes
        from qonnx.transformation.remove import remove_node_and_rewire

        again = True
        while again:  # a removal can expose another (Mul(C, 1) -> Add(x, C) with C = 0)
            again = False
            for node in list(model.graph.node):
                if self._identity(model, node):
                    remove_node_and_rewire(model, node)
                    if node not in model.graph.node:
                        self.removed.append(node.name)
                        again = True
        return (model.transform(InferShapes()) if self.removed else model), False


class ConvertGemmsToMatMul(Transformation):
    """qonnx's ``GemmToMatMul`` on every Gemm, identity removal deferred to one :class:`RemoveIdentityLinearOps`."""

    def apply(self, model: ModelWrapper):
        import qonnx.transformation.gemm_to_matmul as gemm_module

        converted = False
        with mock.patch.object(gemm_module, "RemoveIdentityOps", _DeferredIdentityRemoval):
            while True:
                model, changed = gemm_module.GemmToMatMul().apply(model)
                if not changed:
                    break
                converted = True
        if converted:
            model = model.transform(RemoveIdentityLinearOps())
        return model, False
