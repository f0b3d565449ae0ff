"""Hardware-aware ABC training (``coefficient_bits``): alpha and beta as power-of-two scales times integers.

Checks the form FINN's integer mappings need (every ``alpha_m[c] beta_n = q_mn[c] s[c]`` exactly), the
straight-through gradients, a short training run on real MNIST and the QONNX export.
"""
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from torch import nn

from brevitas_abc import ABCConfig, export_qonnx, swap
from brevitas_abc.core import ABCActQuant, ABCWeightQuant
from brevitas_abc.function import integer_coefficients, max_coefficient_int, power_of_two_integers
from brevitas_abc.nn import ABCConv2d, ABCLinear
from tests.conftest import mnist_tensors


def _is_power_of_two(values: torch.Tensor) -> bool:
    mantissa, _ = torch.frexp(values)
    return bool((mantissa == 0.5).all())


def _layers(bits, granularity):
    torch.manual_seed(bits)
    options = dict(num_weight_bases=3, num_act_bases=3, coefficient_bits=bits, weight_granularity=granularity)
    conv = ABCConv2d(6, 8, 3, padding=1, **options)
    linear = ABCLinear(20, 5, bias=True, **options)
    for layer in (conv, linear):
        with torch.no_grad():  # betas away from their initial 1, as training leaves them
            layer.input_quant.betas.copy_(torch.tensor([0.55, 1.3, 0.9]))
    return [(conv, torch.randn(4, 6, 9, 9)), (linear, torch.randn(4, 20))]


@settings(max_examples=80, deadline=None)
@given(x=arrays(np.float32, st.tuples(st.integers(1, 5), st.integers(1, 8)),
                elements=st.floats(-100, 100, allow_nan=False, width=32)),
       bits=st.sampled_from([2, 3, 4]))
def test_power_of_two_integers_are_bounded_integers_with_full_range(x, bits):
    x = torch.from_numpy(x)
    j, s = power_of_two_integers(x, bits, dim=1)
    q = max_coefficient_int(bits)
    assert torch.equal(j, torch.round(j)) and j.abs().max() <= q
    assert _is_power_of_two(s) and s.shape == (x.shape[0], 1)
    nonzero = x.abs().amax(dim=1) > 1e-30  # smaller groups (subnormal steps) map to 0
    assert torch.equal(j.abs().amax(dim=1)[nonzero], torch.full_like(j[:, 0], q)[nonzero])  # largest -> +-Q
    assert torch.equal(integer_coefficients(s * j, bits, dim=1), s * j)  # idempotent


@pytest.mark.parametrize("granularity", ["per_channel", "per_tensor"])
@pytest.mark.parametrize("bits", [2, 3, 4])
def test_branch_coefficients_are_exact_integer_multiples_per_channel(bits, granularity):
    bound = max_coefficient_int(bits) ** 2
    for layer, _ in _layers(bits, granularity):
        q, s = layer.integer_coefficients()
        assert q.shape == (3, 3, layer.weight.shape[0]) and s.shape == (layer.weight.shape[0],)
        assert torch.equal(q, torch.round(q)) and q.abs().max() <= bound and q.abs().max() > 0
        assert _is_power_of_two(s)
        if granularity == "per_tensor":
            assert torch.equal(s, s[:1].expand_as(s))
        # the export form's constants are exactly q * s (float32), what finn_flow's integer_decomposition needs
        export = layer.to_export_form()
        constants = torch.stack([mul.constant.flatten() for mul in export.scales]).reshape(q.shape)
        assert torch.equal(constants, q * s)


@pytest.mark.parametrize("bits", [2, 3, 4])
def test_finn_flow_integer_decomposition_accepts_the_coefficients_exactly(bits):
    from finn_flow.transformations.abc_branches import integer_decomposition

    for layer, _ in _layers(bits, "per_channel"):
        coefficients = torch.stack([mul.constant.flatten() for mul in layer.to_export_form().scales]).double().numpy()
        q, s = integer_decomposition(coefficients, rtol=0.0)
        assert q is not None and np.array_equal(q * s, coefficients)


@pytest.mark.exact
@pytest.mark.parametrize("bits", [2, 3, 4])
def test_training_forward_branches_and_export_form_agree_bit_for_bit(bits):
    for layer, x in _layers(bits, "per_channel"):
        with torch.no_grad():
            out = layer(x)
            assert torch.equal(out, layer.forward_branches(x))
            assert torch.equal(out, layer.to_export_form()(x))


def test_float_coefficients_stay_the_default():
    layer = ABCLinear(20, 5, num_weight_bases=3, num_act_bases=3)
    assert layer.abc_options.coefficient_bits is None and layer.input_quant.effective_betas() is layer.input_quant.betas
    with torch.no_grad():
        layer.input_quant.betas.copy_(torch.tensor([0.55, 1.3, 0.9]))
    assert torch.equal(layer.to_export_form().scales[1].constant.flatten(),
                       layer.weight_quant.bases_and_alpha(layer.weight)[1][:, 0] * 1.3)


def test_straight_through_gradients_reach_latent_weights_betas_and_shifts():
    torch.manual_seed(0)
    layer = ABCConv2d(4, 6, 3, padding=1, num_weight_bases=3, num_act_bases=3, coefficient_bits=3)
    x = torch.randn(2, 4, 7, 7, requires_grad=True)
    layer(x).square().sum().backward()
    for name, grad in [("weight", layer.weight.grad), ("betas", layer.input_quant.betas.grad),
                       ("shifts", layer.input_quant.shifts.grad), ("x", x.grad)]:
        assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0, name
    # d(s k)/d beta = s / r (r = max|beta| / Q): the gradient of the effective betas, scaled
    betas = torch.tensor([0.4, 1.1, 0.8], requires_grad=True)
    upstream = torch.tensor([1.0, -2.0, 3.0])
    (integer_coefficients(betas, 3) * upstream).sum().backward()
    r = 1.1 / 3
    scale = 2.0 ** round(np.log2(r))
    assert torch.allclose(betas.grad, upstream * scale / r)


def _mlp(bits):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 64, bias=False), nn.BatchNorm1d(64), nn.ReLU(),
                          nn.Linear(64, 10))
    return swap(model, ABCConfig(num_weight_bases=2, num_act_bases=2, act_shifts=(-0.31, 0.21),
                                 coefficient_bits=bits, keep_first=False, keep_last=True), verbose=False)


@pytest.fixture(scope="module")
def trained_integer_mlp():
    """784-64-10 with an ABC(2, 2) first layer at 3 coefficient bits, 150 Adam steps on real MNIST."""
    model = _mlp(3)
    x, y = mnist_tensors("train", 150 * 64)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    losses = []
    for start in range(0, len(x), 64):
        loss = nn.functional.cross_entropy(model(x[start:start + 64]), y[start:start + 64])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return model.eval(), losses


def test_training_a_few_steps_keeps_the_integer_form_and_learns(trained_integer_mlp):
    model, losses = trained_integer_mlp
    assert np.mean(losses[-20:]) < 0.6 * np.mean(losses[:20])
    x, y = mnist_tensors("test", 1000)
    with torch.no_grad():
        accuracy = (model(x).argmax(1) == y).float().mean().item()
    assert accuracy > 0.7, accuracy  # chance is 0.1; 150 steps of a binary-input net
    layer = model[1]
    assert not torch.equal(layer.input_quant.betas, torch.ones(2))  # the latent betas trained
    q, s = layer.integer_coefficients()
    assert torch.equal(q, torch.round(q)) and q.abs().max() <= 9 and _is_power_of_two(s)


def test_qonnx_export_of_a_constrained_model_matches_pytorch(tmp_path, trained_integer_mlp, mnist_test_batch):
    model, _ = trained_integer_mlp
    x, _ = mnist_test_batch
    report = export_qonnx(model, x, tmp_path / "mlp.onnx")
    assert report.argmax_agreement == 1.0 and report.max_abs_diff <= 1e-5


@pytest.mark.exact
def test_qonnx_export_of_a_lone_constrained_conv_with_bias_is_bit_for_bit(tmp_path, mnist_test_batch):
    """Integer sums times powers of two, then the float bias added once, last: exact in the graph too."""
    x, _ = mnist_test_batch
    torch.manual_seed(1)
    conv = ABCConv2d(1, 4, 3, padding=1, num_weight_bases=3, num_act_bases=2, act_shifts=(-0.31, 0.21),
                     coefficient_bits=4)
    with torch.no_grad():
        conv.bias.uniform_(-0.3, 0.3)  # a float term: exactness must not depend on where a kernel adds it
    assert export_qonnx(conv, x[:8], tmp_path / "conv.onnx").max_abs_diff == 0.0


@pytest.mark.parametrize("bad", [0, 1, 5, 8, 3.0, True, "3"])
def test_bad_coefficient_bits_raise_naming_the_argument(bad):
    for build in (lambda: ABCConfig(coefficient_bits=bad), lambda: ABCLinear(4, 2, coefficient_bits=bad),
                  lambda: ABCWeightQuant(coefficient_bits=bad), lambda: ABCActQuant(coefficient_bits=bad)):
        with pytest.raises(ValueError, match=r"coefficient_bits=.* is not allowed: expected None .* \(2, 3, 4\)"):
            build()


def test_integer_coefficients_of_a_float_layer_raise():
    with pytest.raises(ValueError, match="needs coefficient_bits"):
        ABCLinear(4, 2).integer_coefficients()
