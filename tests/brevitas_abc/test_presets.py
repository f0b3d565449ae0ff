"""Shift presets follow the ABC paper's Table S4 (ResNet-18) and fall back to evenly spread shifts."""
import pytest
import torch

from brevitas_abc import ABCConv2d
from brevitas_abc.core.presets import act_shifts, weight_shifts


@pytest.mark.parametrize("count, expected", [(1, [0.0]), (3, [-1.0, 0.0, 1.0]), (5, [-1.0, -0.5, 0.0, 0.5, 1.0])])
def test_paper_weight_shifts(count, expected):
    assert weight_shifts("paper", count).tolist() == expected


@pytest.mark.parametrize("count, expected", [(1, [0.0]), (3, [-1.5, 0.0, 1.5]), (5, [-3.5, -2.5, -1.5, 0.0, 2.5])])
def test_paper_activation_shifts(count, expected):
    assert act_shifts("paper", count).tolist() == expected


def test_uniform_and_fallback_shifts_are_evenly_spread():
    assert torch.allclose(weight_shifts("uniform", 4), torch.tensor([-1.0, -1 / 3, 1 / 3, 1.0]))
    assert torch.allclose(act_shifts("paper", 2), torch.tensor([-1.5, 1.5]))  # no Table S4 entry for N=2


def test_shift_trainability_follows_the_options():
    fixed = ABCConv2d(2, 2, 3, num_weight_bases=3, num_act_bases=3, train_act_shifts=False)
    trainable = ABCConv2d(2, 2, 3, num_weight_bases=3, num_act_bases=3, train_weight_shifts=True)
    assert "weight_quant.shifts" in dict(fixed.named_buffers())
    assert not fixed.input_quant.shifts.requires_grad and fixed.input_quant.betas.requires_grad
    assert trainable.weight_quant.shifts.requires_grad
    assert trainable.weight_quant.shifts.tolist() == [-1.0, 0.0, 1.0]


def test_centered_activation_shifts_put_thresholds_at_bin_centres():
    assert act_shifts("centered", 1).tolist() == [0.0]
    for n in range(1, 9):
        thresholds = sorted((0.5 - act_shifts("centered", n)).tolist())
        assert thresholds == pytest.approx([(k + 0.5) / n for k in range(n)], abs=1e-6)
        assert all(0.0 < t < 1.0 for t in thresholds)  # none at 0 (every ReLU zero) or 1
    with pytest.raises(ValueError, match="weight_shifts"):
        weight_shifts("centered", 3)  # an activation preset only
