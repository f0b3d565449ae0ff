"""Property tests (Hypothesis) for ABC-Net's weight and activation math."""
import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from brevitas_abc.core import ABCWeightQuant
from brevitas_abc.function import abc_weight_bases, ridge_least_squares_alpha, shifted_binary_act_ste, sign_ste

finite = st.floats(-10, 10, allow_nan=False, allow_infinity=False, width=32)
weights = arrays(np.float32, st.tuples(st.integers(1, 6), st.integers(2, 40)), elements=finite)
shift_lists = st.lists(st.floats(-2, 2, allow_nan=False, width=32), min_size=1, max_size=8)


@settings(max_examples=60, deadline=None)
@given(w=weights, shifts=shift_lists)
def test_bases_are_exactly_plus_minus_one(w, shifts):
    bases = abc_weight_bases(torch.from_numpy(w), torch.tensor(shifts))
    assert bases.shape == (len(shifts), *w.shape)
    assert bool(((bases == 1) | (bases == -1)).all())


@settings(max_examples=60, deadline=None)
@given(w=weights, shifts=shift_lists, ridge=st.sampled_from([1e-4, 1e-2, 0.0]))
def test_alpha_solves_the_regularised_least_squares_problem(w, shifts, ridge):
    w_groups = torch.from_numpy(w).double()
    bases = abc_weight_bases(w_groups, torch.tensor(shifts, dtype=torch.float64))
    alpha = ridge_least_squares_alpha(w_groups, bases, ridge)
    k = w.shape[1]
    for g in range(w.shape[0]):
        b = bases[:, g, :].T.numpy()  # [K, M]
        target = w_groups[g].numpy()
        if ridge > 0:
            # normal equations: (B^T B + ridge K I) alpha = B^T w
            lhs = (b.T @ b + ridge * k * np.eye(b.shape[1])) @ alpha[g].numpy()
            np.testing.assert_allclose(lhs, b.T @ target, rtol=1e-6, atol=1e-6 * max(1.0, np.abs(b.T @ target).max()))
        else:
            expected = np.linalg.lstsq(b, target, rcond=None)[0]
            np.testing.assert_allclose(b @ alpha[g].numpy(), b @ expected, atol=1e-6 * max(1.0, np.abs(target).max()))


@settings(max_examples=40, deadline=None)
@given(w=arrays(np.float32, st.tuples(st.integers(1, 5), st.integers(1, 3), st.integers(1, 3), st.integers(1, 3)),
                elements=finite),
       num_bases=st.integers(1, 8), granularity=st.sampled_from(["per_tensor", "per_channel"]))
def test_reconstruction_takes_at_most_m_plus_one_values_per_group(w, num_bases, granularity):
    quant = ABCWeightQuant(num_bases=num_bases, granularity=granularity)
    w_hat = quant(torch.from_numpy(w))[0]
    groups = [w_hat] if granularity == "per_tensor" else list(w_hat)
    for group in groups:
        assert len(torch.unique(group)) <= num_bases + 1


def test_sign_ste_maps_zero_to_plus_one_and_passes_gradient_straight_through():
    x = torch.tensor([-2.0, 0.0, 3.0], requires_grad=True)
    y = sign_ste(x)
    assert y.tolist() == [-1.0, 1.0, 1.0]
    (y * torch.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert x.grad.tolist() == [1.0, 2.0, 3.0]


def test_shifted_binary_activation_gradient_is_the_indicator_of_the_clip_range():
    x = torch.tensor([-0.6, -0.4, 0.0, 0.5, 0.9, 1.1, 1.4], requires_grad=True)
    v = torch.tensor(0.4, requires_grad=True)
    h = shifted_binary_act_ste(x, v)
    assert h.tolist() == [-1.0, -1.0, -1.0, 1.0, 1.0, 1.0, 1.0]  # +1 iff x + v >= 0.5
    h.sum().backward()
    # 1[0 <= x + v <= 1]: x + v = -0.2, 0.0, 0.4, 0.9, 1.3, 1.5, 1.8
    assert x.grad.tolist() == [0.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0]
    assert v.grad.item() == 3.0
