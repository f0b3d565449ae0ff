"""``factor_base_weights``: the per-base fused weights ``W_n = k_n W`` of the integer ABC mapping, factored exactly."""

from __future__ import annotations

import numpy as np
import pytest

from finn_flow.transformations.merge_activation_bases import (
    NotMergeable,
    factor_base_weights,
    input_datatype,
    weight_datatype,
)


def _weights(rng, k, shape=(4, 3, 3, 3)):
    base = rng.integers(-5, 6, size=shape)
    return [k_n * base for k_n in k], base


@pytest.mark.parametrize("k", [(1, 1), (2, 3), (3, 0, 1), (1,)])
def test_factor_recovers_k_and_weight(k):
    weights, base = _weights(np.random.default_rng(0), k)
    found_k, found_w = factor_base_weights(weights)
    assert found_k.tolist() == list(k)
    assert np.array_equal(found_w, base)


def test_factor_takes_the_primitive_k_and_a_negative_common_sign_into_w():
    weights, base = _weights(np.random.default_rng(1), (-2, -4))
    k, w = factor_base_weights(weights)
    assert k.tolist() == [1, 2] and np.array_equal(w, -2 * base)  # sum_n k_n W_n unchanged, K smallest


def test_factor_refuses_weights_that_are_not_multiples_of_one_weight():
    rng = np.random.default_rng(2)
    weights = [rng.integers(-3, 4, size=(4, 8)), rng.integers(-3, 4, size=(4, 8))]  # coefficients per branch
    with pytest.raises(NotMergeable, match="not k_n times one integer weight W"):
        factor_base_weights(weights)


def test_factor_refuses_betas_of_both_signs():
    weights, _ = _weights(np.random.default_rng(3), (2, -3))
    with pytest.raises(NotMergeable, match=r"both signs \(k = \[2, -3\]\)"):
        factor_base_weights(weights)


def test_stream_and_weight_types():
    assert [input_datatype(k).name for k in (1, 2, 3, 4, 5, 7, 8)] == ["UINT2"] * 3 + ["UINT3"] * 3 + ["UINT4"]
    assert weight_datatype(np.array([-1, 1])).name == "INT2"  # never BIPOLAR: the input is not bipolar
    assert weight_datatype(np.array([-9, 3])).name == "INT5"
