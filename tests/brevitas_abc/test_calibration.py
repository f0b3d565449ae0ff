"""calibrate / swap(calibration_data=...): ABC activations fitted to real inputs, Brevitas quantisers by their
calibration_mode, BatchNorm re-estimated; a trained MNIST CNN keeps its accuracy without retraining."""
import copy

import pytest
import torch
from brevitas.nn import QuantIdentity
from brevitas.quant import Int8ActPerTensorFloat
from torch import nn

import brevitas_abc
from brevitas_abc.calibration import calibrate, fit_multi_binary_act, quantiser_levels
from brevitas_abc.calibration.scale_fit import fit_group_net_layer, fit_lbc_layer
from brevitas_abc.calibration.weight_fit import fit_abc_weights
from brevitas_abc.nn import GroupNetConv2d, LBConv2d
from tests.conftest import mnist_tensors


def _accuracy(model, x, y) -> float:
    with torch.no_grad():
        return 100.0 * float((model.eval()(x).argmax(1) == y).float().mean())


def test_lloyd_levels_are_bin_means_and_beat_uniform():
    y = torch.relu(torch.randn(20000, generator=torch.Generator().manual_seed(0)))  # half exact zeros
    for method in ("lloyd", "uniform"):
        levels, thresholds = quantiser_levels(y, 3, method)
        assert torch.allclose(thresholds, (levels[1:] + levels[:-1]) / 2)
    errors = {m: fit_multi_binary_act(y, 3, method=m).relative_error for m in ("lloyd", "uniform")}
    assert errors["lloyd"] < errors["uniform"] < 0.2
    fit = fit_multi_binary_act(y, 3, method="lloyd")
    thresholds = 0.5 - fit.shifts
    assert thresholds[0] > 0  # the zeros get a level of their own, no threshold on them
    assert not torch.isin(thresholds, y).any()  # thresholds sit between samples: no ties on the data


def test_fit_reaches_the_least_squares_levels():
    """A(x) + c equals the mean of y in each bin: moving any beta makes the squared error larger."""
    x = torch.randn(5000, generator=torch.Generator().manual_seed(1))
    y = torch.relu(x)
    fit = fit_multi_binary_act(x, 3, y=y)
    from brevitas_abc.function.ste import multi_binary_act_ste

    def error(betas):
        a = multi_binary_act_ste(x, fit.shifts, betas)
        return float(((y - a - (y - a).mean()) ** 2).sum())

    best = error(fit.betas)
    for n in range(3):
        for delta in (-0.01, 0.01):
            betas = fit.betas.clone()
            betas[n] += delta
            assert error(betas) > best
    assert (0.5 - fit.shifts[0]) > 0  # thresholds carried to x by quantile matching stay above relu's zeros


@pytest.mark.slow
def test_calibrated_swap_of_a_trained_mnist_cnn_keeps_its_accuracy(trained_mnist_cnn):
    x_cal, _ = mnist_tensors("train", 400, offset=20000)
    x_test, y_test = mnist_tensors("test", 1000)
    float_acc = _accuracy(trained_mnist_cnn, x_test, y_test)
    config = brevitas_abc.ABCConfig(num_weight_bases=3, num_act_bases=3)
    plain = brevitas_abc.swap(copy.deepcopy(trained_mnist_cnn), config, verbose=False)
    calibrated = brevitas_abc.swap(copy.deepcopy(trained_mnist_cnn), config, verbose=False,
                                   calibration_data=[x_cal[i:i + 100] for i in range(0, 400, 100)])
    plain_acc, calibrated_acc = _accuracy(plain, x_test, y_test), _accuracy(calibrated, x_test, y_test)
    # measured: float 96.3, calibrated 96.0, uncalibrated 36.7 (1,000 test images)
    assert calibrated_acc > plain_acc + 40, (float_acc, calibrated_acc, plain_acc)
    assert calibrated_acc > float_acc - 2, (float_acc, calibrated_acc)
    # the ReLUs feeding the ABC layers (through max-pooling) can go afterwards: every threshold lies above 0
    assert isinstance(calibrated[2], nn.ReLU) and isinstance(calibrated[6], nn.ReLU)
    calibrated[2] = calibrated[6] = nn.Identity()
    assert _accuracy(calibrated, x_test, y_test) == calibrated_acc


def test_calibrate_runs_brevitas_calibration_mode_on_an_input_quantiser():
    torch.manual_seed(0)
    quant = QuantIdentity(act_quant=Int8ActPerTensorFloat, bit_width=8, return_quant_tensor=False)
    model = nn.Sequential(quant, nn.Linear(16, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 16),
                          nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 4))
    model = brevitas_abc.swap(model, brevitas_abc.ABCConfig(), verbose=False).eval()
    x = 3 * torch.randn(256, 16)
    running_mean = model[5].running_mean.clone()
    report = calibrate(model, [(x[:128], None), (x[128:], None)], verbose=False)
    assert report.brevitas_quantizers == 1 and report.batchnorms == 2 and len(report.layers) == 1
    with torch.no_grad():
        scale = float(quant.act_quant.scale())
        inside = x.abs() < 127 * scale
        assert float((quant(x) - x)[inside].abs().max()) <= scale / 2 + 1e-6  # 8-bit rounding of the real range
    assert not torch.equal(model[5].running_mean, running_mean)  # re-estimated on the swapped network
    assert not model.training


def test_bad_calibration_arguments_are_named():
    model = brevitas_abc.swap(nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 4), nn.Linear(4, 2)),
                              brevitas_abc.ABCConfig(), verbose=False)
    with pytest.raises(ValueError, match="batches is empty"):
        calibrate(model, [])
    with pytest.raises(ValueError, match="method='kmeans' is not allowed"):
        calibrate(model, [torch.randn(8, 4)], method="kmeans")
    with pytest.raises(TypeError, match="calibration batch of type str"):
        calibrate(model, ["images"])
    with pytest.raises(ValueError, match="reference has no module '2'"):
        calibrate(model, [torch.randn(8, 4)], reference=nn.Sequential(nn.Linear(4, 4)))
    with pytest.raises(ValueError, match="no ABC layer with binary activations"):
        calibrate(nn.Sequential(nn.Linear(4, 2)), [torch.randn(8, 4)])


def test_fitted_weight_shifts_approximate_heavy_tailed_weights_better():
    """Lloyd-Max thresholds of the standardised weights beat the default shifts (evenly over [-1, 1] std), which
    give every weight beyond one standard deviation the same level."""
    torch.manual_seed(0)
    layer = nn.Linear(256, 64)
    with torch.no_grad():
        layer.weight.copy_(torch.distributions.Laplace(0.0, 0.05).sample(layer.weight.shape))
    model = brevitas_abc.swap(nn.Sequential(layer), brevitas_abc.ABCConfig(5, None, keep_first=False,
                                                                           keep_last=False), verbose=False)

    def relative_error():
        w = model[0].weight
        return float((model[0].weight_quant(w)[0] - w).norm() / w.norm())

    before = relative_error()
    report = calibrate(model, [torch.randn(32, 256)], fit_weights=False, verbose=False)  # weight space only
    assert report.weight_layers == 1 and report.layers == [] and report.weight_fits == []
    assert relative_error() < 0.8 * before, (relative_error(), before)


def test_a_threshold_never_lands_on_a_run_of_relu_zeros():
    """When the float target has fewer zeros than the layer's input (quantile matching would put a threshold on the
    input's zeros), the threshold goes beside the run of zeros, so x = 0 and x < 0 fall in the same bin."""
    g = torch.Generator().manual_seed(2)
    x = torch.relu(torch.randn(10000, generator=g) - 0.5)           # about 69 % zeros
    y = torch.relu(torch.randn(10000, generator=g))                 # about 50 % zeros
    fit = fit_multi_binary_act(x, 3, y=y)
    thresholds = 0.5 - fit.shifts
    assert (thresholds > 0).all() and not torch.isin(thresholds, x).any()


@pytest.mark.slow
@pytest.mark.parametrize("config,margin", [
    (brevitas_abc.GroupNetConfig(num_bases=4, mode="layer"), 4),   # measured: 94.5 calibrated vs float 96.5
    (brevitas_abc.LBCConfig(num_anchors=32, pointwise="binary"), 10),  # measured: 89.2
])
def test_calibrated_group_net_and_lbc_swaps_of_a_trained_mnist_cnn_start_near_float(trained_mnist_cnn, config,
                                                                                    margin):
    """Uncalibrated, both start at chance (measured 11.0 and 12.6 %: after a ReLU every Group-Net sign is +1; LBC's
    weight-space fit ignores its ReLU); calibrated thresholds and scales bring them near the float network."""
    x_cal, _ = mnist_tensors("train", 400, offset=20000)
    x_test, y_test = mnist_tensors("test", 1000)
    float_acc = _accuracy(trained_mnist_cnn, x_test, y_test)
    plain = brevitas_abc.swap(copy.deepcopy(trained_mnist_cnn), config, verbose=False)
    calibrated = brevitas_abc.swap(copy.deepcopy(trained_mnist_cnn), config, verbose=False,
                                   calibration_data=[x_cal[i:i + 100] for i in range(0, 400, 100)])
    plain_acc, calibrated_acc = _accuracy(plain, x_test, y_test), _accuracy(calibrated, x_test, y_test)
    assert plain_acc < 20 and calibrated_acc > float_acc - margin, (float_acc, calibrated_acc, plain_acc)


def _mnist_features(count=64):
    """A real-MNIST input to a middle layer: 4 channels of fixed random 3x3 filters of 64 test images."""
    x, _ = mnist_tensors("test", count)
    torch.manual_seed(0)
    return [torch.relu(nn.functional.conv2d(x, torch.randn(4, 1, 3, 3), padding=1))]


def test_group_net_fit_recovers_scales_the_layer_can_represent():
    """Target: the same layer with thresholds at the fitted values and known lambda; the least squares gives them
    back (and the intercepts as bias), and every threshold lies between sample values."""
    x = _mnist_features()
    layer = GroupNetConv2d(4, 6, 3, padding=1, bias=True, num_bases=3)
    fit = fit_group_net_layer(layer, x, x, None)
    assert not torch.isin((-layer.branches[0].act_threshold).double(), x[0].double()).any()
    with torch.no_grad():
        layer.scales.copy_(torch.tensor([0.7, -0.2, 1.3]))
        layer.bias.copy_(torch.linspace(-1, 1, 6))
        z = [layer(x[0])]
        layer.scales.fill_(1.0)
        layer.bias.zero_()
    fit = fit_group_net_layer(layer, x, x, z)
    assert torch.allclose(layer.scales, torch.tensor([0.7, -0.2, 1.3]), atol=1e-4)
    assert torch.allclose(layer.bias, torch.linspace(-1, 1, 6), atol=1e-4) and fit["relative_error"] < 1e-6


def test_lbc_fit_recovers_a_pointwise_conv_the_layer_can_represent():
    x = _mnist_features()
    teacher = LBConv2d(4, 6, 3, num_anchors=16, seed=3)
    z = [teacher(x[0]).detach()]
    student = LBConv2d(4, 6, 3, num_anchors=16, seed=3)  # same anchors, other pointwise weights
    error = fit_lbc_layer(student, x, z, ridge=0.0)
    assert error < 1e-8
    assert torch.allclose(student(x[0]), z[0], atol=1e-4)


@pytest.mark.parametrize("num_act_bases,coefficient_bits", [(None, None), (3, None), (3, 4)])
def test_weight_fit_lowers_the_output_error_on_held_out_real_inputs(num_act_bases, coefficient_bits):
    """GPTQ over ABC's levels: fitted on the features of 64 MNIST test images, the layer's output is closer to the
    float convolution's on 64 other images than with the nearest-level weights, and the weight keeps M+1 levels per
    channel (exact integer coefficients with coefficient_bits). Measured (relative error, fitted / held-out images):
    weights only 0.083 -> 0.018 / 0.084 -> 0.017; ABC(3,3) 0.082 -> 0.027 / 0.082 -> 0.026; with 4-bit
    coefficients 0.104 -> 0.056 / 0.104 -> 0.055."""
    x, _ = mnist_tensors("test", 128)
    torch.manual_seed(0)
    features = torch.relu(nn.functional.conv2d(x, torch.randn(8, 1, 3, 3), padding=1))
    fit_on, held_out = features[:64], features[64:]
    float_conv = nn.Conv2d(8, 16, 3, bias=True)  # valid, as the CNV's (no padded border in the comparison)
    config = brevitas_abc.ABCConfig(3, num_act_bases, keep_first=False, keep_last=False,
                                    coefficient_bits=coefficient_bits)
    layer = brevitas_abc.swap(copy.deepcopy(float_conv), config, verbose=False)
    if num_act_bases is not None:  # activations fitted to the features first, as calibrate does
        calibrate(nn.Sequential(layer), [fit_on], fit_weights=False, weight_shifts=True, verbose=False)
    else:
        calibrate(nn.Sequential(layer), [fit_on], fit_weights=False, verbose=False)

    def error(images):
        """Relative squared error of the output per channel up to its mean (which a BatchNorm or the bias absorbs),
        against the float convolution of the input the binary convolution sees (A(x) with binary activations)."""
        with torch.no_grad():
            seen = layer.input_quant(images)[0] if num_act_bases is not None else images
            out, target = layer(images), float_conv(seen)
            diff = (out - target) - (out - target).mean(dim=(0, 2, 3), keepdim=True)
            return float((diff ** 2).mean() / target.var(dim=(0, 2, 3)).mean())

    before_fit, before_held_out = error(fit_on), error(held_out)
    result = fit_abc_weights(layer, [fit_on])
    assert result.groups == 16 and result.groups_fitted >= 12 and result.error_after < 0.5 * result.error_before
    assert error(fit_on) < 0.7 * before_fit and error(held_out) < 0.7 * before_held_out, \
        (error(fit_on), before_fit, error(held_out), before_held_out)
    w_hat = layer.weight_quant(layer.weight)[0]
    assert all(len(torch.unique(w_hat[c])) <= 4 for c in range(16))
    if coefficient_bits is not None:
        q, s = layer.integer_coefficients()
        assert torch.equal(q, q.round()) and q.abs().max() <= 49
