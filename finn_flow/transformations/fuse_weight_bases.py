"""``fused`` ABC mapping: the M binary weight bases of each activation base collapse into one integer MVAU.

For the terms of one branch sum that read the same input ``H`` (one activation base n):
``sum_m q_mn * MatMul(H, B_m) = MatMul(H, W_n)`` with ``W_n = sum_m q_mn B_m`` (per output channel),
an integer weight tensor. The layer becomes N integer MVAUs (instead of M*N xnor MVAUs), their sum and
one per-channel ``Mul(s)`` that streamlining absorbs (DESIGN.md 1.3). Needs integer-multiple
coefficients (see :mod:`abc_branches`); exact up to float32 rounding of ``q * s``.
"""

from __future__ import annotations

import numpy as np
from onnx import helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.base import Transformation

from finn_flow.transformations.abc_branches import (
    find_branch_sums,
    integer_datatype,
    integer_decomposition,
)
from finn_flow.transformations.extract_branch_scales import insert_scale_after


def _weighted(weight: np.ndarray, q: np.ndarray, op_type: str) -> np.ndarray:
    if op_type == "MatMul":  # [K, C]
        return weight * q[None, :]
    return weight * q.reshape(-1, *([1] * (weight.ndim - 1)))  # Conv [C, K, kh, kw]


class FuseBinaryBasesIntoIntegerWeights(Transformation):
    """Replace each ABC branch sum by one integer MatMul/Conv per distinct input, summed, then ``Mul(s)``.

    Args:
        strict: raise ``ValueError`` (naming layer and channel) when coefficients are not integer
            multiples of one scale; otherwise leave that sum as it is.
        max_int: largest integer multiple allowed.
        only: names of the branch sums (their root ``Add``) to fuse; None: every one.

    Attributes:
        fused: names of the branch sums fused.
        fused_outputs: ``{name: tensor}``, the tensor each fused sum computes (before its ``Mul(s)``).
        left_float: one message per branch sum left as it was (coefficients not integer multiples of a scale).
    """

    def __init__(self, strict: bool = False, max_int: int = 127, only=None):
        super().__init__()
        self.strict = strict
        self.max_int = max_int
        self.only = None if only is None else set(only)
        self.fused: list[str] = []
        self.fused_outputs: dict[str, str] = {}
        self.left_float: list[str] = []

    def apply(self, model: ModelWrapper):
        from qonnx.transformation.infer_shapes import InferShapes

        model = model.transform(InferShapes())
        graph = model.graph
        for branch in find_branch_sums(model):
            if self.only is not None and branch.root.name not in self.only:
                continue
            coeffs = np.stack([t.coefficient for t in branch.terms])
            q, s = integer_decomposition(coeffs, self.max_int)
            if q is None:
                msg = (f"ABC branch sum at {branch.root.name}: coefficients of output channel {s} are "
                       f"not integer multiples of one scale (<= {self.max_int}); train the ABC layers with "
                       "brevitas_abc's coefficient_bits=2, 3 or 4 to get that form")
                if self.strict:
                    raise ValueError(msg)
                self.left_float.append(msg)
                continue
            by_input: dict[str, list] = {}
            for term, q_k in zip(branch.terms, q):
                by_input.setdefault(term.linear.input[0], []).append((term, q_k))
            position = min(list(graph.node).index(t.linear) for t in branch.terms)
            new_nodes, outputs = [], []
            for group in by_input.values():
                first = group[0][0].linear
                w_int = sum(_weighted(model.get_initializer(t.linear.input[1]), q_k, first.op_type)
                            for t, q_k in group)
                w_name = model.make_new_valueinfo_name()
                model.set_initializer(w_name, w_int.astype(np.float32))
                model.set_tensor_datatype(w_name, integer_datatype(w_int))
                out = model.make_new_valueinfo_name()
                model.set_tensor_shape(out, model.get_tensor_shape(first.output[0]))
                node = helper.make_node(first.op_type, [first.input[0], w_name], [out],
                                        name=f"{first.name}_fused")
                node.attribute.extend(first.attribute)
                new_nodes.append(node)
                outputs.append(out)
            root_out = branch.root.output[0]
            total = outputs[0]
            for k, other in enumerate(outputs[1:]):
                is_last = k == len(outputs) - 2
                summed = root_out if is_last else model.make_new_valueinfo_name()
                if not is_last:
                    model.set_tensor_shape(summed, model.get_tensor_shape(root_out))
                new_nodes.append(helper.make_node("Add", [total, other], [summed], name=f"{branch.root.name}_fused_add{k}"))
                total = summed
            if len(outputs) == 1:  # rename the single MatMul's output to the root's
                new_nodes[0].output[0] = root_out
            for term in branch.terms:
                graph.node.remove(term.mul)
                graph.node.remove(term.linear)
            for add in branch.adds:
                graph.node.remove(add)
            for offset, node in enumerate(new_nodes):
                graph.node.insert(position + offset, node)
            root = [n for n in graph.node if root_out in n.output][0]
            insert_scale_after(model, root, s, branch.const_shape, f"{branch.root.name}_abc_scale")
            self.fused.append(branch.root.name)
            self.fused_outputs[branch.root.name] = root_out
            return model, True  # the node list changed: search again
        return model, False
