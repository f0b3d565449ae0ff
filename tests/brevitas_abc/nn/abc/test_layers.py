"""ABCConv2d / ABCLinear: the one-convolution training form equals the M*N-branch reference, in value and gradient."""
import pytest
import torch
from torch import nn

from brevitas_abc import ABCConv2d, ABCLinear

TOL = 1e-5


def _grads(layer, x, forward):
    layer.zero_grad()
    x = x.clone().requires_grad_(True)
    out = forward(x)
    out.backward(torch.linspace(-1, 1, out.numel()).reshape(out.shape))
    grads = {name: p.grad.clone() for name, p in layer.named_parameters() if p.grad is not None}
    return out.detach(), x.grad.clone(), grads


def _assert_same_value_and_gradients(layer, x):
    out, gx, grads = _grads(layer, x, layer)
    out_ref, gx_ref, grads_ref = _grads(layer, x, layer.forward_branches)
    assert (out - out_ref).abs().max() <= TOL
    assert (gx - gx_ref).abs().max() <= TOL
    assert grads.keys() == grads_ref.keys()
    for name in grads:
        scale = max(1.0, grads_ref[name].abs().max().item())
        assert (grads[name] - grads_ref[name]).abs().max() <= TOL * scale, name
    return grads


@pytest.mark.parametrize("num_weight_bases", [1, 2, 3, 5])
@pytest.mark.parametrize("num_act_bases", [1, 3, 5, None])
@pytest.mark.parametrize("granularity", ["per_tensor", "per_channel"])
def test_conv_training_form_equals_branch_reference(num_weight_bases, num_act_bases, granularity):
    torch.manual_seed(num_weight_bases * 10 + (num_act_bases or 0))
    layer = ABCConv2d(4, 6, 3, stride=2, padding=1, num_weight_bases=num_weight_bases,
                      num_act_bases=num_act_bases, weight_granularity=granularity, train_weight_shifts=True)
    x = torch.randn(2, 4, 9, 9)
    grads = _assert_same_value_and_gradients(layer, x)
    assert grads["weight"].abs().sum() > 0
    if num_act_bases is not None:
        assert {"input_quant.shifts", "input_quant.betas"} <= grads.keys()


@pytest.mark.parametrize("binary_padding", [-1.0, 0.0, 1.0])
@pytest.mark.parametrize("padding", [0, 2, "same"])
def test_conv_padding_of_binary_activations(binary_padding, padding):
    torch.manual_seed(1)
    layer = ABCConv2d(3, 4, 3, padding=padding, groups=1, dilation=1, num_weight_bases=2, num_act_bases=2,
                      binary_padding=binary_padding)
    _assert_same_value_and_gradients(layer, torch.randn(2, 3, 7, 7))


@pytest.mark.parametrize("binary_padding, corner", [(1.0, 9.0), (0.0, 4.0), (-1.0, -1.0)])
def test_binary_padding_value_reaches_every_padded_tap(binary_padding, corner):
    # all-ones 3x3 weight (alpha = 1 exactly with ridge=0) on an all-(+1) binary input: an interior output sums
    # 9 taps of +1; the corner output sees 4 real taps and 5 padded taps of value binary_padding
    layer = ABCConv2d(1, 1, 3, padding=1, bias=False, num_weight_bases=1, num_act_bases=1,
                      binary_padding=binary_padding, ridge=0.0)
    with torch.no_grad():
        layer.weight.fill_(1.0)
    out = layer(torch.full((1, 1, 4, 4), 2.0))[0, 0]
    assert out[1, 1].item() == pytest.approx(9.0, abs=1e-5)
    assert out[0, 0].item() == pytest.approx(corner, abs=1e-5)


def test_grouped_and_dilated_conv():
    torch.manual_seed(2)
    layer = ABCConv2d(4, 8, 3, padding=2, dilation=2, groups=2, num_weight_bases=3, num_act_bases=3)
    _assert_same_value_and_gradients(layer, torch.randn(2, 4, 8, 8))


@pytest.mark.parametrize("num_act_bases", [1, 3, None])
def test_linear_training_form_equals_branch_reference(num_act_bases):
    torch.manual_seed(3)
    layer = ABCLinear(20, 7, num_weight_bases=3, num_act_bases=num_act_bases)
    _assert_same_value_and_gradients(layer, torch.randn(5, 20))


def test_drop_in_state_dict_is_a_superset_of_torch():
    conv, abc = nn.Conv2d(3, 8, 3), ABCConv2d(3, 8, 3)
    assert isinstance(abc, nn.Conv2d)
    assert set(conv.state_dict()) < set(abc.state_dict())
    linear, abc_linear = nn.Linear(4, 2), ABCLinear(4, 2)
    assert isinstance(abc_linear, nn.Linear)
    assert set(linear.state_dict()) < set(abc_linear.state_dict())


def test_state_dict_round_trip_reproduces_outputs(tmp_path):
    torch.manual_seed(4)
    layer = ABCConv2d(3, 5, 3, padding=1, num_weight_bases=3, num_act_bases=3, train_weight_shifts=True)
    with torch.no_grad():
        layer.input_quant.betas.mul_(1.7)
        layer.weight_quant.shifts.add_(0.1)
    torch.save(layer.state_dict(), tmp_path / "abc.pt")
    fresh = ABCConv2d(3, 5, 3, padding=1, num_weight_bases=3, num_act_bases=3, train_weight_shifts=True)
    fresh.load_state_dict(torch.load(tmp_path / "abc.pt"))
    x = torch.randn(2, 3, 6, 6)
    assert torch.equal(layer(x), fresh(x))


def test_nan_weights_raise_a_clear_error():
    layer = ABCConv2d(2, 2, 3)
    with torch.no_grad():
        layer.weight[0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN or inf"):
        layer(torch.randn(1, 2, 5, 5))
