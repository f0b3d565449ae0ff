"""Fitting real trained weights: reconstruction RMSE strictly decreases as M goes 1..5 (ABC-Net Fig. S2 trend)."""
import pytest
import torch
from torch import nn

from brevitas_abc.core import ABCWeightQuant


@pytest.mark.parametrize("granularity", ["per_tensor", "per_channel"])
def test_rmse_decreases_strictly_with_the_number_of_bases(trained_mnist_cnn, granularity):
    weights = [m.weight.detach() for m in trained_mnist_cnn.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    for weight in weights:
        rmse = []
        for num_bases in range(1, 6):
            w_hat = ABCWeightQuant(num_bases=num_bases, granularity=granularity)(weight)[0]
            rmse.append(torch.sqrt(torch.mean((w_hat - weight) ** 2)).item())
        assert all(a > b for a, b in zip(rmse, rmse[1:])), (tuple(weight.shape), rmse)
        assert rmse[-1] < 0.5 * rmse[0]


def _errors(weight):
    return {g: (ABCWeightQuant(3, granularity=g)(weight)[0] - weight).pow(2).mean().item()
            for g in ("per_tensor", "per_channel")}


def test_per_channel_fits_better_when_channel_scales_differ(trained_mnist_cnn):
    """Channel-wise statistics and alpha win clearly when output channels differ in scale (why the paper offers
    them); on this trained net's weights, whose channels have similar scales, the two are within 1 % (per
    channel is not guaranteed to be better: its bases differ too, and the margin flips with thread count)."""
    weight = trained_mnist_cnn[4].weight.detach()
    scaled = weight * torch.logspace(-1, 1, weight.shape[0]).view(-1, 1, 1, 1)
    errors = _errors(scaled)
    assert errors["per_channel"] < 0.5 * errors["per_tensor"], errors
    errors = _errors(weight)
    assert errors["per_channel"] <= 1.01 * errors["per_tensor"], errors
