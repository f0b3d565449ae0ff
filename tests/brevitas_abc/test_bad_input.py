"""Bad input gives a ValueError/TypeError that names the argument and what is allowed."""
import pytest
import torch
from torch import nn

from brevitas_abc import ABCConfig, ABCConv2d, ABCLinear, SwapError, swap


@pytest.mark.parametrize("kwargs, pattern", [
    (dict(num_weight_bases=0), r"num_weight_bases=0 .*\[1, 8\]"),
    (dict(num_weight_bases=9), r"num_weight_bases=9 .*\[1, 8\]"),
    (dict(num_weight_bases=2.0), r"num_weight_bases=2.0 "),
    (dict(num_act_bases=0), r"num_act_bases=0 .*\[1, 8\] or None"),
    (dict(num_act_bases=True), r"num_act_bases=True"),
    (dict(weight_granularity="per_row"), r"weight_granularity='per_row' .*'per_tensor', 'per_channel'"),
    (dict(num_weight_bases=3, weight_shifts=(0.0, 1.0)), r"weight_shifts=.*3 finite floats"),
    (dict(weight_shifts="evenly"), r"weight_shifts='evenly' .*'paper', 'uniform'"),
    (dict(num_act_bases=2, act_shifts=(0.0, float("nan"))), r"act_shifts=.*2 finite floats"),
    (dict(ridge=-1.0), r"ridge=-1.0 .*>= 0"),
    (dict(binary_padding=0.5), r"binary_padding=0.5 .*\(-1.0, 0.0, 1.0\)"),
    (dict(keep_first="yes"), r"keep_first='yes' .*True or False"),
])
def test_invalid_config_raises_value_error_naming_argument(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        ABCConfig(**kwargs)


def test_layers_validate_the_same_arguments():
    with pytest.raises(ValueError, match=r"num_act_bases=12"):
        ABCConv2d(3, 4, 3, num_act_bases=12)
    with pytest.raises(ValueError, match=r"weight_granularity"):
        ABCLinear(3, 4, weight_granularity="per_group")


def test_misspelt_keyword_is_an_error_listing_allowed_names():
    with pytest.raises(TypeError, match=r"unknown ABC option\(s\) \['weight_bit_widht'\].*num_weight_bases"):
        ABCConv2d(3, 4, 3, weight_bit_widht=2)


def test_unsupported_padding_mode_is_refused():
    with pytest.raises(ValueError, match=r"padding_mode='reflect'.*'zeros'"):
        ABCConv2d(3, 4, 3, padding=1, padding_mode="reflect")


def test_swap_on_a_model_with_nothing_to_replace_says_so():
    with pytest.raises(SwapError, match=r"(?s)nothing to replace in Sequential.*nn.Conv2d / nn.Linear"):
        swap(nn.Sequential(nn.ReLU(), nn.Flatten()), ABCConfig())


def test_swap_that_keeps_every_candidate_float_says_why():
    with pytest.raises(SwapError, match=r"(?s)replaced none.*keep_first=True"):
        swap(nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 2)), ABCConfig())


def test_swap_of_a_module_that_cannot_be_converted_names_it():
    model = nn.Sequential(nn.Linear(4, 4), nn.Conv2d(1, 1, 3, padding_mode="reflect", padding=1), nn.Linear(4, 2))
    with pytest.raises(SwapError, match=r"(?s)cannot convert module '1' \(Conv2d\).*padding_mode='reflect'"):
        swap(model, ABCConfig())


def test_swap_of_nan_weights_is_refused():
    model = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 4), nn.Linear(4, 2))
    with torch.no_grad():
        model[1].weight[0, 0] = float("inf")
    with pytest.raises(SwapError, match=r"(?s)module .1..*NaN or inf"):
        swap(model, ABCConfig())


def test_swap_with_an_unknown_config_type_lists_the_allowed_ones():
    with pytest.raises(TypeError, match=r"config of type dict is not allowed.*ABCConfig"):
        swap(nn.Linear(2, 2), {"num_weight_bases": 3})
