"""Every ``Gemm`` to ``MatMul`` in one pass (qonnx's ``GemmToMatMul`` converts one per graph pass).

qonnx's ``GemmToMatMul`` rewrites ONE Gemm as ``[Transpose] -> MatMul -> Mul(alpha) -> Add(Mul(C, beta))``, then
runs ``model.transform(RemoveIdentityOps())`` (a deep copy of the model and a cleanup) and returns, so
``ModelWrapper.transform`` restarts it; ``RemoveIdentityOps`` itself removes one identity node per pass, each with
a whole-graph ``InferShapes``. Bitwise ABC has M*N Gemms per dense layer (CNV ABC(3, 3): 27), so this was most of
``step_qonnx_to_finn`` (83 % of its CPU time at width 0.5).

:class:`ConvertGemmsToMatMul` runs qonnx's own per-Gemm rewrite for every Gemm with the identity removal deferred,
then removes the identity ``Mul``/``Div`` by 1 and ``Add``/``Sub`` of 0 in one pass
(:class:`RemoveIdentityLinearOps`, exact identities only, same ``remove_node_and_rewire``) and infers shapes once. The graph is the one qonnx's transformation gives
(tests/finn_flow/test_fold_unity_scale_weight_quantizers.py compares with finn-plus's step).
"""

from __future__ import annotations

from unittest import mock

from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.base import Transformation

from finn_flow.transformations.remove_exact_identity_ops import is_exact_identity


class _DeferredIdentityRemoval(Transformation):
    def apply(self, model):
        return model, False


class RemoveIdentityLinearOps(Transformation):
    """Remove every ``Mul``/``Div`` by exactly 1 and ``Add``/``Sub`` of exactly 0 in one pass over the graph, then
    infer shapes once. Exact only, unlike qonnx's ``RemoveIdentityOps`` (tolerance 1e-5, which removes an untrained
    BatchNorm's ``Mul(0.999995)``; :mod:`finn_flow.transformations.remove_exact_identity_ops`).

    Attributes (after ``apply``):
        removed: names of the nodes removed.
    """

    def __init__(self):
        super().__init__()
        self.removed: list[str] = []

    @staticmethod
    def _identity(model: ModelWrapper, node) -> bool:
        return node.op_type in ("Add", "Sub", "Mul", "Div") and is_exact_identity(model, node)

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
