"""build_model: names, swaps, and the float activations an ABC swap makes redundant."""
import brevitas_abc
import pytest
import torch
from torch import nn

from lightning_modules.models import available_architectures, build_model


def test_local_lenet5_abc_drops_only_activations_feeding_binary_inputs():
    model = build_model("local_lenet5", abc={"num_weight_bases": 3, "num_act_bases": 3})
    kinds = [type(m).__name__ for m in model]
    assert kinds[3] == "Identity" and kinds[4] == "ABCConv2d"       # ReLU before an ABC input: dropped
    assert kinds[-2:] == ["ReLU", "Linear"]                          # last layer float, its ReLU kept
    assert model(torch.randn(2, 1, 28, 28)).shape == (2, 10)


def test_weights_only_abc_keeps_activations():
    model = build_model("local_lfc", abc=brevitas_abc.ABCConfig(num_weight_bases=2, num_act_bases=None),
                        arch_kwargs={"width": 0.05})
    assert sum(isinstance(m, nn.ReLU) for m in model) == 3


def test_zoo_models_and_swaps():
    assert {"lfc", "cnv", "resnet18_cifar", "local_lfc", "lfc_brevitas_w1a1"} <= set(available_architectures())
    model = build_model("lfc", abc=brevitas_abc.ABCConfig(num_weight_bases=1, num_act_bases=1))
    assert any(type(m).__name__ == "ABCLinear" for m in model.modules())
    assert model(torch.randn(3, 1, 28, 28)).shape == (3, 10)


def test_unknown_arch_and_two_swaps_are_errors():
    with pytest.raises(ValueError, match="arch='nope' is not allowed"):
        build_model("nope")
    from brevitas_abc.swap.lbc_config import LBCConfig

    with pytest.raises(ValueError, match="at most one"):
        build_model("lfc", abc=brevitas_abc.ABCConfig(), lbc=LBCConfig())
