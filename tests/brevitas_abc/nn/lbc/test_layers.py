"""LBConv2d (LBCNN): anchors (seeded, exact density, frozen, saved), from_float, swap, verified QONNX export."""
import hashlib
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
import torch
from torch import nn

from brevitas_abc.export import export_qonnx
from brevitas_abc.nn.lbc.anchors import nonzeros_per_filter, sample_anchors
from brevitas_abc.nn.lbc.layers import LBConv2d
from brevitas_abc.swap.lbc_config import LBCConfig
from brevitas_abc.swap.lbc_handler import lbc_candidates  # noqa: F401 - registers the LBC handler
from brevitas_abc.swap.registry import swap
from lightning_modules.data import load_mnist


def mnist_batch(n=16):
    images, _ = load_mnist("test")
    return torch.as_tensor(images[:n]).float().div(255).unsqueeze(1)


def anchor_digest(layer: LBConv2d) -> str:
    return hashlib.sha256(layer.anchors.numpy().tobytes()).hexdigest()


def test_anchors_identical_across_processes():
    code = ("import hashlib; from brevitas_abc.nn.lbc.layers import LBConv2d; "
            "l = LBConv2d(5, 7, 3, num_anchors=11, density=0.3, seed=1234); "
            "print(hashlib.sha256(l.anchors.numpy().tobytes()).hexdigest())")
    out = subprocess.run([sys.executable, "-W", "ignore", "-c", code], capture_output=True, text=True, check=True)
    torch.manual_seed(999)  # the global RNG must not matter
    here = LBConv2d(5, 7, 3, num_anchors=11, density=0.3, seed=1234)
    assert out.stdout.strip() == anchor_digest(here)
    assert anchor_digest(LBConv2d(5, 7, 3, num_anchors=11, density=0.3, seed=1235)) != anchor_digest(here)


@pytest.mark.parametrize("density", [0.05, 0.1, 1 / 3, 0.5, 0.9, 1.0])
def test_density_is_exact(density):
    anchors = sample_anchors(32, 6, (3, 3), density=density, seed=3)
    fan_in = 6 * 9
    per_filter = (anchors != 0).flatten(1).sum(1)
    assert (per_filter == nonzeros_per_filter(fan_in, density)).all()
    assert nonzeros_per_filter(fan_in, density) == max(1, round(density * fan_in))
    assert set(anchors.unique().tolist()) <= {-1.0, 0.0, 1.0}
    nonzero = anchors[anchors != 0]
    assert 0.3 < (nonzero > 0).float().mean() < 0.7  # signs are balanced


def test_no_gradient_reaches_anchors_and_they_never_change():
    layer = LBConv2d(3, 4, 3, num_anchors=8, density=0.5, seed=0)
    before = layer.anchors.clone()
    assert "anchors" in dict(layer.named_buffers())
    assert all(p.data_ptr() != layer.anchors.data_ptr() for p in layer.parameters())
    optimizer = torch.optim.SGD(layer.parameters(), lr=10.0, weight_decay=0.1)
    for _ in range(3):
        optimizer.zero_grad()
        layer(torch.randn(2, 3, 6, 6)).square().sum().backward()
        optimizer.step()
    assert layer.anchors.grad is None and not layer.anchors.requires_grad
    assert torch.equal(layer.anchors, before)
    assert layer.pointwise.weight.grad is not None


def test_anchors_survive_save_and_load(tmp_path):
    saved = LBConv2d(3, 4, 3, num_anchors=8, density=0.25, seed=42)
    torch.save(saved.state_dict(), tmp_path / "lbc.pt")
    loaded = LBConv2d(3, 4, 3, num_anchors=8, density=0.25, seed=7)
    assert not torch.equal(loaded.anchors, saved.anchors)
    loaded.load_state_dict(torch.load(tmp_path / "lbc.pt"))
    assert torch.equal(loaded.anchors, saved.anchors)
    x = torch.randn(2, 3, 5, 5)
    assert torch.equal(loaded(x), saved(x))


@pytest.mark.parametrize("kwargs, match", [
    (dict(density=0.0), r"density=0.0 is not allowed: expected a float in \(0, 1\]"),
    (dict(density=1.5), r"density=1.5 is not allowed: expected a float in \(0, 1\]"),
    (dict(num_anchors=0), r"num_anchors=0 is not allowed: expected an int >= 1"),
    (dict(num_anchors=3, mirror_anchors=True), r"num_anchors=3 is not allowed with mirror_anchors=True"),
    (dict(seed=-1), r"seed=-1 is not allowed"),
    (dict(activation="tanh"), r"activation='tanh' is not allowed: expected one of \('relu', 'quant_relu'\)"),
    (dict(pointwise="ternary"), r"pointwise='ternary' is not allowed: expected one of \('float', 'binary', 'abc'\)"),
])
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LBConv2d(3, 4, 3, **kwargs)
    with pytest.raises(ValueError, match=match):
        LBCConfig(**kwargs)


def test_from_float_with_mirrored_anchors_reproduces_the_conv():
    torch.manual_seed(0)
    conv = nn.Conv2d(2, 5, 3, padding=1)
    layer = LBConv2d.from_float(conv, num_anchors=2 * 2 * 9 + 4, mirror_anchors=True, density=0.5)
    x = mnist_batch(4).repeat(1, 2, 1, 1)
    assert torch.allclose(layer(x), conv(x), atol=1e-4)


def small_cnn():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 16, 3, padding=1, stride=2), nn.ReLU(), nn.Flatten(), nn.Linear(16 * 4 * 4, 10))


def test_swap_replaces_3x3_convs_with_distinct_seeds():
    model = swap(small_cnn(), LBCConfig(num_anchors=12, density=0.4, seed=10), verbose=False)
    layers = [m for m in model.modules() if isinstance(m, LBConv2d)]
    assert isinstance(model[0], nn.Conv2d) and len(layers) == 2  # keep_first
    assert [layer.seed for layer in layers] == [11, 12]
    assert layers[1].stride == (2, 2)
    again = swap(small_cnn(), LBCConfig(num_anchors=12, density=0.4, seed=10), verbose=False)
    assert all(torch.equal(a.anchors, b.anchors) for a, b in
               zip(layers, [m for m in again.modules() if isinstance(m, LBConv2d)]))


@pytest.mark.parametrize("pointwise, activation", [
    ("float", "relu"), ("float", "quant_relu"), ("binary", "relu"), ("abc", "quant_relu")])
def test_export_qonnx_matches_pytorch_on_mnist(tmp_path, pointwise, activation):
    config = LBCConfig(num_anchors=12, density=0.4, activation=activation, pointwise=pointwise,
                       pointwise_options=dict(num_weight_bases=2, num_act_bases=2) if pointwise == "abc" else {})
    model = swap(small_cnn(), config, verbose=False).eval()
    report = export_qonnx(model, mnist_batch(), tmp_path / "lbc.onnx", atol=1e-4)
    assert report.max_abs_diff <= 1e-4 and report.argmax_agreement == 1.0
    ops = set(report.op_types)
    assert "Quant" in ops  # the ternary anchors are 2-bit Quant, never BipolarQuant
    if pointwise == "float":
        assert "BipolarQuant" not in ops


def test_exported_anchors_are_two_bit_narrow_range_quant(tmp_path):
    import onnx
    from onnx import numpy_helper

    model = nn.Sequential(LBConv2d(1, 4, 3, num_anchors=6, density=0.5, seed=5), nn.Flatten(),
                          nn.Linear(4 * 28 * 28, 10))
    export_qonnx(model.eval(), mnist_batch(4), tmp_path / "anchors.onnx")
    graph = onnx.load(str(tmp_path / "anchors.onnx")).graph
    init = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    quant = [n for n in graph.node if n.op_type == "Quant"]
    assert quant, "the ternary anchors must be a Quant node, not BipolarQuant"
    weights, scale, zero_point, bit_width = (init.get(name) for name in quant[0].input)
    assert float(bit_width) == 2.0 and float(scale) == 1.0 and float(zero_point) == 0.0
    assert {a.name: a.i for a in quant[0].attribute}["narrow"] == 1
    assert set(np.unique(weights).tolist()) <= {-1.0, 0.0, 1.0}


@settings(max_examples=40, deadline=None)
@given(m=st.integers(1, 12), p=st.integers(1, 6), k=st.sampled_from([1, 3, 5]),
       density=st.floats(0.01, 1.0), seed=st.integers(0, 2**31 - 1), mirror=st.booleans())
def test_anchor_properties(m, p, k, density, seed, mirror):
    if mirror and m % 2:
        m += 1
    anchors = sample_anchors(m, p, (k, k), density=density, seed=seed, mirror=mirror)
    fan_in = p * k * k
    assert anchors.shape == (m, p, k, k)
    assert ((anchors != 0).flatten(1).sum(1) == nonzeros_per_filter(fan_in, density)).all()
    assert set(anchors.unique().tolist()) <= {-1.0, 0.0, 1.0}
    if mirror:
        assert torch.equal(anchors[m // 2:], -anchors[: m // 2])
    assert torch.equal(anchors, sample_anchors(m, p, (k, k), density=density, seed=seed, mirror=mirror))


def test_lbc_network_learns_on_real_mnist():
    torch.manual_seed(0)
    images = mnist_batch(128)
    labels = torch.as_tensor(load_mnist("test")[1][:128]).long()
    model = swap(small_cnn(), LBCConfig(num_anchors=16, density=0.5), verbose=False)
    anchors_before = [m.anchors.clone() for m in model.modules() if isinstance(m, LBConv2d)]
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(20):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(images), labels)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
    assert all(torch.equal(a, m.anchors) for a, m in
               zip(anchors_before, [m for m in model.modules() if isinstance(m, LBConv2d)]))
