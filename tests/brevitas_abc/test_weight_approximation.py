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


def test_per_channel_fits_at_least_as_well_as_per_tensor(trained_mnist_cnn):
    weight = trained_mnist_cnn[4].weight.detach()
    errors = {g: (ABCWeightQuant(3, granularity=g)(weight)[0] - weight).pow(2).mean().item()
              for g in ("per_tensor", "per_channel")}
    assert errors["per_channel"] <= errors["per_tensor"]
