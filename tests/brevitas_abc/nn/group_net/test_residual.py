"""Group-Net block/group modes with integer residual streams (``residual_bits``): every residual sum, branch
output and gate mix is an integer multiple of one power-of-two scale, training works, and the QONNX export
executes like PyTorch on real CIFAR-10 images."""

import pytest
import torch
from torch import nn

from brevitas_abc.export import export_qonnx
from brevitas_abc.models.resnet import BasicBlock, Bottleneck, ResNet
from brevitas_abc.nn.group_net.binary import BinaryConv2d
from brevitas_abc.nn.group_net.blocks import GroupNetBlock, GroupNetGroup
from brevitas_abc.nn.group_net.residual import residual_quant
from brevitas_abc.swap.group_net_config import GroupNetConfig
from brevitas_abc.swap.registry import swap
from tests.brevitas_abc.nn.group_net.test_layers import calibrate, cifar_test_images


@pytest.fixture(scope="module")
def cifar():
    return cifar_test_images()


def integer_resnet(mode: str, block=BasicBlock, bits: int = 4, seed: int = 0) -> ResNet:
    """A tiny CIFAR ResNet (2 blocks in stage 1, so "group" mode has a gate) swapped to Group-Net with integer
    residual streams; sign thresholds, branch scales and gates randomised (not 1/K, 0.5: no exact ties)."""
    torch.manual_seed(seed)
    model = swap(ResNet(block, [2, 1, 1, 1], num_classes=10, cifar_stem=True, width=4),
                 GroupNetConfig(num_bases=2, mode=mode, residual_bits=bits), verbose=False)
    return randomise_group_net(model, seed)


@torch.no_grad()
def randomise_group_net(model: nn.Module, seed: int = 0) -> nn.Module:
    """Seeded generic sign thresholds, branch scales and gates (not 0, 1/K or 0.5, which can make exact rounding
    ties between PyTorch's round-half-to-even and a graph's thresholds)."""
    generator = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, BinaryConv2d):
            m.act_threshold.uniform_(-0.2, 0.2, generator=generator)
        if isinstance(m, (GroupNetBlock, GroupNetGroup)):
            m.scales.copy_(0.3 + 0.5 * torch.rand(m.scales.shape, generator=generator))
        if isinstance(m, GroupNetGroup) and m.gate_logits is not None:
            m.gate_logits.uniform_(-1, 1, generator=generator)
    return model


def test_residual_bits_are_validated():
    with pytest.raises(ValueError, match=r"residual_bits=1 is not allowed: expected None .* \[2, 8\]"):
        GroupNetConfig(mode="group", residual_bits=1)
    with pytest.raises(ValueError, match="residual_bits=4 is not allowed with mode='layer'"):
        GroupNetConfig(mode="layer", residual_bits=4)
    assert GroupNetConfig(mode="block", residual_bits=4).residual_bits == 4


@pytest.mark.parametrize("mode", ["block", "group"])
def test_every_residual_sum_is_an_integer_multiple_of_one_scale(cifar, mode):
    model = calibrate(integer_resnet(mode), cifar)
    decomposed = [m for m in model.modules() if isinstance(m, (GroupNetBlock, GroupNetGroup))]
    adds = []

    def record(module, _inputs, output):
        adds.append((module, output))

    hooks = [m.register_forward_hook(record) for m in decomposed]
    hooks += [copy_.register_forward_hook(record) for m in decomposed
              for copy_ in (m.copies if isinstance(m, GroupNetBlock) else [b for br in m.branches for b in br])]
    with torch.no_grad():
        model(cifar)
    for hook in hooks:
        hook.remove()
    # block mode: 5 blocks, each its own output and 2 copies; group mode: 4 groups, their output and 5 x 2 copies
    assert len(adds) == (15 if mode == "block" else 14)
    owner = {id(c): m for m in decomposed
             for c in (m.copies if isinstance(m, GroupNetBlock) else [b for br in m.branches for b in br])}
    for module, output in adds:
        quant = (owner.get(id(module)) or module).quant
        scale = float(quant.act_quant.scale())
        assert scale == 2.0 ** round(torch.log2(torch.tensor(scale)).item())  # power of two
        steps = output / scale
        assert torch.equal(steps, torch.round(steps)), type(module).__name__
        assert steps.abs().max() > 0


@pytest.mark.slow
@pytest.mark.parametrize("mode, block", [("block", Bottleneck)])
def test_integer_residual_export_matches_pytorch_on_cifar(tmp_path, cifar, mode, block):
    # BasicBlock in block and group mode: the qonnx stage of tests/finn_flow/test_build_group_net_residual.py
    model = calibrate(integer_resnet(mode, block), cifar)
    report = export_qonnx(model, cifar, tmp_path / f"{mode}.onnx", atol=1e-4)
    assert report.max_abs_diff <= 1e-4 and report.argmax_agreement == 1.0
    assert {"Quant", "BipolarQuant", "Add"} <= set(report.op_types)


def test_integer_residual_streams_train_and_learn_their_scale(cifar):
    model = integer_resnet("group")
    labels = torch.arange(len(cifar)) % 10
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    scale_param = model.layer1.quant.act_quant.fused_activation_quant_proxy.tensor_quant.scaling_impl.value
    before = scale_param.detach().clone()
    losses = []
    for _ in range(5):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(cifar), labels)
        loss.backward()
        losses.append(loss.item())
        optimizer.step()
    assert all(torch.isfinite(torch.tensor(losses)))
    assert losses[-1] < losses[0]
    assert not torch.equal(before, scale_param.detach())


def test_residual_quant_is_signed_integers_times_a_power_of_two():
    quant = residual_quant(3)
    out = quant(torch.linspace(-10, 10, 201)) / quant.act_quant.scale()
    assert torch.unique(out).tolist() == list(range(-4, 4))
