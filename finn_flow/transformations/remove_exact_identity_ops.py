"""Remove identity ops only where they are exact identities (qonnx's ``RemoveIdentityOps`` without its tolerance).

qonnx's ``RemoveIdentityOps`` removes a ``Mul``/``Div`` whose constant is ``np.isclose`` to 1 and an ``Add``/``Sub``
whose constant is ``np.isclose`` to 0, with ``atol = 1e-5`` plus numpy's default ``rtol = 1e-5``. That is not an
identity: a BatchNorm that was never trained (running variance 1, ``eps = 1e-5``) becomes
``Mul(1 / sqrt(1 + 1e-5)) = Mul(0.999995)``, qonnx removes it, every value behind it moves by 5e-6 relative, and a
binary activation or threshold whose input lies that close to its threshold decides the other way. On an untrained
ABC CNV with an 8-bit input quantiser, 14 of 80 CIFAR-10 images changed their argmax at ``step_qonnx_to_finn``.
FINN and qonnx construct ``RemoveIdentityOps()`` inside their own transformations (``ConvertQONNXtoFINN``,
``cleanup_model``, the streamlining loop), so :func:`exact_identity_removal` makes the class itself exact for the
duration of a build; the removal of zero ``Pad`` s, ``Identity`` and ratio-0 ``Dropout`` is qonnx's unchanged.
"""

from __future__ import annotations

import contextlib
from unittest import mock

import numpy as np
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.base import Transformation
from qonnx.util.basic import get_by_name

_NEUTRAL = {"Add": 0.0, "Sub": 0.0, "Mul": 1.0, "Div": 1.0}


def is_exact_identity(model: ModelWrapper, node) -> bool:
    """True where ``node`` returns its first input unchanged for every input (bit for bit)."""
    if node.op_type in _NEUTRAL:
        const = model.get_initializer(node.input[1])
        return const is not None and bool(np.all(np.asarray(const) == _NEUTRAL[node.op_type]))
    if node.op_type == "Pad":
        pads = get_by_name(node.attribute, "pads")
        pads = np.asarray(pads.ints) if pads is not None else model.get_initializer(node.input[1])
        return pads is not None and bool((np.asarray(pads) == 0).all())
    if node.op_type == "Identity":
        return True
    if node.op_type == "Dropout":
        if model.get_opset_imports().get("", 12) < 12:
            ratio = get_by_name(node.attribute, "ratio")
            return ratio is not None and ratio.f == 0
        return len(node.input) == 1 or model.get_initializer(node.input[1]) == 0
    return False


class RemoveExactIdentityOps(Transformation):
    """Remove ``Add``/``Sub`` of exactly 0, ``Mul``/``Div`` by exactly 1, all-zero ``Pad``, ``Identity`` and
    ratio-0 ``Dropout``, one node per pass like qonnx's ``RemoveIdentityOps`` (same rewiring)."""

    def apply(self, model: ModelWrapper):
        from qonnx.transformation.infer_shapes import InferShapes
        from qonnx.transformation.remove import remove_node_and_rewire

        for node in model.graph.node:
            if is_exact_identity(model, node):
                remove_node_and_rewire(model, node)
                return model.transform(InferShapes()), True
        return model.transform(InferShapes()), False


@contextlib.contextmanager
def exact_identity_removal():
    """While active, every ``qonnx.transformation.remove.RemoveIdentityOps`` (also those FINN constructs inside
    its own transformations) removes exact identities only (:class:`RemoveExactIdentityOps`)."""
    from qonnx.transformation.remove import RemoveIdentityOps

    with mock.patch.object(RemoveIdentityOps, "apply", RemoveExactIdentityOps.apply):
        yield
