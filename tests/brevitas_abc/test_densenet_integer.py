"""The integer form of an LBC DenseNet (``brevitas_abc.models.densenet_integer``) on real CIFAR-10 images: every
concatenated stream is an integer multiple of its dense block's one scale, it trains, and bad input is refused."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from brevitas_abc.models import create_model
from brevitas_abc.models.densenet import DenseLayer, Transition, densenet_bc_cifar
from brevitas_abc.models.densenet_integer import integer_densenet

from tests.conftest import cifar_test_uint8


def _net(lbc: str = "full", **kwargs) -> nn.Module:
    torch.manual_seed(0)
    return create_model("densenet_bc_cifar_integer", depth=16, growth_rate=4, bn_size=2, num_anchors=4, lbc=lbc,
                        **kwargs)


@pytest.mark.parametrize("lbc", ["full", "fused"])
def test_every_concatenated_stream_is_an_integer_multiple_of_its_blocks_scale(lbc):
    model = _net(lbc).train()
    images = torch.from_numpy(cifar_test_uint8(2)[0]).float() / 255
    streams = []  # (block index, dense layer output = the concatenated stream)
    block = 0
    for name, module in model.features.named_children():
        if name.startswith("denseblock"):
            block += 1
            for layer in module:
                layer.register_forward_hook(lambda m, i, o, b=block: streams.append((b, o.detach())))
    with torch.no_grad():
        model(images)  # statistics
        model.eval()
        streams.clear()
        model(images)
    scales = [model.features.relu0[1].act_quant.scale()] + [
        t.stream_quant.act_quant.scale() for t in model.features if isinstance(t, Transition)]
    assert len(streams) == 6 and len(scales) == 3
    for b, stream in streams:
        scale = float(scales[b - 1])
        assert scale == 2.0 ** round(torch.log2(torch.tensor(scale)).item())  # power of two
        units = stream / scale
        assert torch.equal(units, units.round()), b
        assert units.min() >= -8 and units.max() <= 7  # signed 4-bit
        assert len(torch.unique(units)) > 4  # not a degenerate stream


def test_integer_densenet_trains_including_the_stream_scales():
    model = _net()
    images = torch.from_numpy(cifar_test_uint8(1)[0]).float() / 255
    loss = nn.functional.cross_entropy(model(images), torch.arange(10))
    loss.backward()
    scale = model.features.relu0[1].act_quant.fused_activation_quant_proxy.tensor_quant.scaling_impl.value
    assert scale.grad is not None and scale.grad.abs().sum() > 0
    lbc = model.features.denseblock1.denselayer1.conv2[0]
    assert lbc.anchors.grad is None and lbc.pointwise.weight.grad.abs().sum() > 0


def test_bad_input_is_refused_naming_the_argument():
    with pytest.raises(ValueError, match="lbc='none' is not allowed"):
        create_model("densenet_bc_cifar_integer", depth=10, lbc="none")
    with pytest.raises(ValueError, match="stream_bits=9 is not allowed"):
        _net(stream_bits=9)
    with pytest.raises(ValueError, match="act_bit_width=1 is not allowed"):
        _net(act_bit_width=1)
    float_lbc = densenet_bc_cifar(depth=10, growth_rate=4, lbc="full", num_anchors=4)
    with pytest.raises(ValueError, match=r"features\.denseblock1\.denselayer1\.conv2 .*activation='relu'"):
        integer_densenet(float_lbc)
    from brevitas_abc.models.densenet import DenseNet

    with pytest.raises(ValueError, match="cifar_stem=True"):
        integer_densenet(DenseNet(4, (1, 1), 8, lbc="full", num_anchors=4))
    assert isinstance(_net().features.denseblock1.denselayer1, DenseLayer)
