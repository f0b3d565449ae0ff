"""DuplicateLinearBeforeForkedThresholds + FINN's absorptions (step_absorb_forked_linear_into_thresholds): a scalar
Mul and an Add in front of several thresholds disappear into them; execution before and after is identical."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

from finn_flow.steps import step_absorb_forked_linear_into_thresholds
from finn_flow.transformations import DuplicateLinearBeforeForkedThresholds

from .test_transformations import _model, _mt, _run, _vi

pytestmark = pytest.mark.finn


def _forked(consumer_op="MultiThreshold"):
    """x -> Mul(2^-7) -> Add(b) -> [MultiThreshold_n] (n = 3 ABC activation bases), outputs summed."""
    nodes = [helper.make_node("Mul", ["x", "c"], ["xc"], name="Mul_0"),
             helper.make_node("Add", ["xc", "b"], ["xb"], name="Add_0")]
    inits = {"c": np.float32(2.0 ** -7), "b": np.full((1, 4), 0.25, dtype=np.float32)}
    for n in range(3):
        inits[f"t{n}"] = np.full((4, 1), 0.2 * n - 0.2, dtype=np.float32)
        if consumer_op == "MultiThreshold" or n == 0:
            nodes.append(_mt("xb", f"t{n}", f"h{n}"))
        else:
            nodes.append(helper.make_node("Relu", ["xb"], [f"h{n}"], name=f"Relu_{n}"))
    nodes += [helper.make_node("Add", ["h0", "h1"], ["s01"]), helper.make_node("Add", ["s01", "h2"], ["y"])]
    return _model(nodes, [_vi("x", [1, 4])], [_vi("y", [1, 4])], inits)


def test_forked_scalar_mul_and_add_are_absorbed_exactly():
    model = _forked()
    x = np.array([[-100.0, -26.0, 25.0, 90.0]], dtype=np.float32)  # int8-like values around the thresholds
    before = _run(model, x)
    after_model = step_absorb_forked_linear_into_thresholds(model, None)
    assert not after_model.get_nodes_by_op_type("Mul") and len(after_model.get_nodes_by_op_type("Add")) == 2
    assert len(after_model.get_nodes_by_op_type("MultiThreshold")) == 3
    assert np.array_equal(_run(after_model, x), before)
    assert len(np.unique(before)) > 1


def test_fork_with_another_consumer_is_left_alone():
    model = _forked(consumer_op="Relu")
    _, modified = DuplicateLinearBeforeForkedThresholds().apply(model)
    assert not modified
