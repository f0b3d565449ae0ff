"""``bitwise`` ABC mapping with integer coefficients: ``c_k -> q_k`` per branch, one ``Mul(s)`` after the sum.

``sum_k c_k T_k = s * sum_k q_k T_k`` with ``c_k = q_k * s`` (see :mod:`abc_branches`). The integer
``Mul(q_k)`` and the branch ``Add`` tree become integer hardware layers (FINN's ElementwiseMul/Add),
each ``T_k`` stays an xnor/popcount MVAU, and the per-channel ``Mul(s)`` moves into the next
thresholds during streamlining. Exact up to float32 rounding of ``q_k * s`` against ``c_k``.
"""

from __future__ import annotations

import numpy as np
from onnx import helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.base import Transformation

from finn_flow.transformations.abc_branches import find_branch_sums, integer_decomposition


def insert_constant_op_after(model: ModelWrapper, root, op_type: str, constant: np.ndarray, name: str) -> str:
    """Insert ``op_type(root's output, constant)`` right after ``root``, rewiring its consumers (and a graph
    output) to the new node's output; returns the name of the constant's initializer."""
    out = root.output[0]
    result = model.make_new_valueinfo_name()
    const = model.make_new_valueinfo_name()
    model.set_initializer(const, constant.astype(np.float32))
    for consumer in model.find_consumers(out):
        for i, name_in in enumerate(consumer.input):
            if name_in == out:
                consumer.input[i] = result
    for g_out in model.graph.output:
        if g_out.name == out:
            g_out.name = result
    model.set_tensor_shape(result, model.get_tensor_shape(out))
    index = list(model.graph.node).index(root) + 1
    model.graph.node.insert(index, helper.make_node(op_type, [out, const], [result], name=name))
    return const


def insert_scale_after(model: ModelWrapper, root, scale: np.ndarray, shape: tuple, name: str) -> None:
    """Insert ``Mul(scale reshaped to shape)`` after ``root``'s output, rewiring its consumers."""
    insert_constant_op_after(model, root, "Mul", scale.reshape(shape), name)


class ExtractIntegerBranchScales(Transformation):
    """Rewrite every ABC branch sum with integer-multiple coefficients to integer Muls + one scale.

    Args:
        strict: raise ``ValueError`` naming the layer and channel when a branch sum's coefficients
            are not integer multiples of one scale; otherwise leave that sum unchanged (float).
        max_int: largest integer multiple allowed.
        only: names of the branch sums (their root ``Add``) to rewrite; None: every one.
    """

    def __init__(self, strict: bool = False, max_int: int = 127, only=None):
        super().__init__()
        self.strict = strict
        self.max_int = max_int
        self.only = None if only is None else set(only)
        self.rewritten: list[str] = []
        self.left_float: list[str] = []

    def apply(self, model: ModelWrapper):
        for k, branch in enumerate(find_branch_sums(model)):
            if self.only is not None and branch.root.name not in self.only:
                continue
            coeffs = np.stack([t.coefficient for t in branch.terms])
            q, s = integer_decomposition(coeffs, self.max_int)
            if q is None:
                msg = (f"ABC branch sum at {branch.root.name}: coefficients alpha_m*beta_n of output "
                       f"channel {s} are not integer multiples of one scale (<= {self.max_int}); train the ABC layers with "
                       "brevitas_abc's coefficient_bits=2, 3 or 4 to get that form")
                if self.strict:
                    raise ValueError(msg)
                self.left_float.append(msg)
                continue
            for term, q_k in zip(branch.terms, q):
                model.set_initializer(term.mul.input[1], q_k.reshape(branch.const_shape).astype(np.float32))
            insert_scale_after(model, branch.root, s, branch.const_shape, f"{branch.root.name}_abc_scale")
            self.rewritten.append(branch.root.name)
        return model, False
