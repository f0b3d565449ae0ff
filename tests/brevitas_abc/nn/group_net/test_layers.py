"""Group-Net: binary conv (+1 padding), layer-wise / block / group decomposition with gates, BPAC head,
swap from the zoo's float ResNets, and QONNX export that executes like PyTorch on real CIFAR-10 images."""

import pytest
import torch
from torch import nn

from tests.conftest import cifar_normalised

from brevitas_abc.export import export_qonnx
from brevitas_abc.models import create_model
from brevitas_abc.models.densenet import DenseLayer
from brevitas_abc.models.resnet import BasicBlock, Bottleneck, ResNet
from brevitas_abc.nn.exact_batchnorm import ExactBatchNorm2d, use_exact_batchnorm
from brevitas_abc.nn.group_net.binary import BinaryConv2d, channel_scale, residual_binary_weights
from brevitas_abc.nn.group_net.blocks import GroupNetBlock, GroupNetGroup
from brevitas_abc.nn.group_net.layers import BinaryParallelAtrousConv2d, GroupNetConv2d
from brevitas_abc.swap.group_net_config import GroupNetConfig
from brevitas_abc.swap.group_net_handler import layer_candidates  # noqa: F401 - registers the handlers
from brevitas_abc.swap.registry import SwapError, swap



def cifar_test_images(per_class: int = 2) -> torch.Tensor:
    return cifar_normalised(per_class)


@pytest.fixture(scope="module")
def cifar():
    return cifar_test_images()


def calibrate(model: nn.Module, images: torch.Tensor) -> nn.Module:
    """Set BatchNorm running statistics from real images (so the exported BNs are not identities), make every
    BatchNorm bit-exact against ONNX (``use_exact_batchnorm``: a sign follows most of them), then eval."""
    use_exact_batchnorm(model)
    model.train()
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.momentum = None
    with torch.no_grad():
        model(images)
    return model.eval()


def test_residual_binary_weights_approximate_better_with_more_bases():
    torch.manual_seed(0)
    w = torch.randn(8, 4, 3, 3)
    errors = []
    for k in (1, 2, 3, 4, 6):
        approx = sum(channel_scale(wk).view(-1, 1, 1, 1) * torch.where(wk >= 0, 1.0, -1.0)
                     for wk in residual_binary_weights(w, k))
        errors.append(float((approx - w).norm() / w.norm()))
    assert all(a > b for a, b in zip(errors, errors[1:])), errors
    assert errors[-1] < 0.25 * errors[0]


def test_binary_conv_pads_with_plus_one_and_inputs_stay_binary():
    conv = BinaryConv2d(3, 4, 3, padding=2, dilation=2)
    a = conv.binarize_input(torch.randn(2, 3, 5, 5))
    assert set(a.unique().tolist()) == {-1.0, 1.0}
    assert (a[..., :2, :] == 1).all() and (a[..., :, -2:] == 1).all()  # the border is +1, never 0
    x = torch.randn(2, 3, 5, 5, requires_grad=True)
    conv(x).sum().backward()
    assert conv.weight.grad.abs().sum() > 0 and conv.act_threshold.grad is not None and x.grad is not None


@pytest.mark.parametrize("build", [
    lambda k: GroupNetConv2d(3, 4, 3, num_bases=k),
    lambda k: GroupNetBlock(BasicBlock(4, 4), num_bases=k),
    lambda k: GroupNetGroup([BasicBlock(4, 4)], num_bases=k),
    lambda k: GroupNetConfig(num_bases=k),
])
@pytest.mark.parametrize("k", [0, -1, 1.5, True])
def test_num_bases_below_one_is_rejected(build, k):
    with pytest.raises(ValueError, match=r"num_bases=.* is not allowed: expected an int >= 1"):
        build(k)


@pytest.mark.parametrize("block", [nn.Conv2d(4, 4, 3), DenseLayer(8, 4, 2, nn.Conv2d(8, 4, 3, padding=1)),
                                   nn.Sequential(nn.Conv2d(4, 4, 3), nn.ReLU())])
def test_undecomposable_block_error_lists_the_allowed_blocks(block):
    with pytest.raises(ValueError, match=r"is not allowed: group-wise decomposition handles the residual block "
                                         r"types \['BasicBlock', 'Bottleneck'"):
        GroupNetBlock(block)
    with pytest.raises(ValueError, match=r"blocks\[1\] of type .* is not allowed"):
        GroupNetGroup([BasicBlock(4, 4), block])


def test_swap_without_residual_blocks_says_what_it_looked_for():
    with pytest.raises(SwapError, match=r"no nn.Sequential stages made only of residual blocks .*BasicBlock"):
        swap(create_model("lenet5"), GroupNetConfig(num_bases=2, mode="group"), verbose=False)
    with pytest.raises(ValueError, match=r"mode='stage' is not allowed: expected one of \('layer', 'block', 'group'\)"):
        GroupNetConfig(mode="stage")


def test_group_gates_mix_each_branch_with_the_mean():
    torch.manual_seed(0)
    blocks = [BasicBlock(4, 4), BasicBlock(4, 4)]
    group = GroupNetGroup(blocks, num_bases=3, gates=True, gate_init=0.3).eval()
    x = torch.randn(2, 4, 6, 6)
    # manual eq. 6 with the official soft gate
    hs = [branch[0](x) for branch in group.branches]
    mean = sum(hs) / 3
    hs = [0.3 * h + 0.7 * mean for h in hs]
    expected = sum(s * branch[1](h) for s, branch, h in zip(group.scales, group.branches, hs))
    assert torch.allclose(group(x), expected, atol=1e-5)
    group.train()
    group(x).sum().backward()
    assert group.gate_logits.grad is not None and group.gate_logits.grad.abs().sum() > 0
    assert group.scales.grad.abs().sum() > 0
    assert GroupNetGroup(blocks, num_bases=3, gates=False).gate_logits is None


def test_binary_copies_differ_and_drop_relu():
    block = GroupNetBlock(BasicBlock(4, 4), num_bases=3)
    w = [c.conv1.weight for c in block.copies]
    assert not torch.equal(w[0], w[1]) and not torch.equal(w[1], w[2])
    assert all(isinstance(c.conv1, BinaryConv2d) and isinstance(c.relu, nn.Identity) for c in block.copies)
    bottleneck = GroupNetBlock(Bottleneck(16, 4), num_bases=2)
    assert isinstance(bottleneck.copies[1].conv3, BinaryConv2d)


@pytest.mark.parametrize("mode", ["layer", "block", "group"])
def test_resnet_swap_is_initialised_from_float_weights(mode):
    torch.manual_seed(0)
    float_model = create_model("resnet18_cifar", width=8)
    model = create_model("resnet18_cifar", width=8)
    model.load_state_dict(float_model.state_dict())
    model = swap(model, GroupNetConfig(num_bases=3, mode=mode), verbose=False)
    source = float_model.layer2[0].conv1.weight
    if mode == "layer":
        assert isinstance(model.conv1, nn.Conv2d) and not isinstance(model.conv1, BinaryConv2d)  # keep_first
        converted = model.layer2[0].conv1.branches[0].weight
    elif mode == "block":
        converted = model.layer2[0].copies[0].conv1.weight
    else:
        converted = model.layer2.branches[0][0].conv1.weight
    assert torch.equal(converted, source)


def tiny_resnet(block=BasicBlock) -> ResNet:
    """A CIFAR ResNet with 2 blocks in its first stage (so "group" mode has a fusion gate), 1 in the others."""
    return ResNet(block, [2, 1, 1, 1], num_classes=10, cifar_stem=True, width=4)


@pytest.mark.parametrize("mode, block", [("layer", BasicBlock), ("block", BasicBlock), ("group", BasicBlock),
                                         ("block", Bottleneck)])
def test_resnet_group_net_export_matches_pytorch_on_cifar(tmp_path, cifar, mode, block):
    torch.manual_seed(0)
    model = swap(tiny_resnet(block), GroupNetConfig(num_bases=2, mode=mode), verbose=False)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, BinaryConv2d):
                m.act_threshold.uniform_(-0.2, 0.2)
    if mode == "group":
        assert model.layer1.gate_logits is not None
        with torch.no_grad():
            model.layer1.gate_logits.fill_(0.4)
    calibrate(model, cifar)
    report = export_qonnx(model, cifar, tmp_path / f"{mode}.onnx", atol=1e-4)
    assert report.max_abs_diff <= 1e-4 and report.argmax_agreement == 1.0
    if mode == "layer":  # every binarizer checked layer by layer (block/group: the output check alone)
        assert report.binarizers_checked == sum(isinstance(m, BinaryConv2d) for m in model.modules())
    assert "BipolarQuant" in report.op_types


def test_binary_copies_use_exact_batchnorm_and_it_matches_torch_batchnorm():
    torch.manual_seed(0)
    bn = nn.BatchNorm2d(6)
    with torch.no_grad():
        bn.running_mean.normal_()
        bn.running_var.uniform_(0.5, 2.0)
        bn.weight.normal_()
        bn.bias.normal_()
    exact = ExactBatchNorm2d.from_batchnorm(bn).eval()
    x = torch.randn(4, 6, 5, 5)
    assert torch.allclose(exact(x), bn.eval()(x), atol=1e-6)
    a, b = exact.folded()
    assert torch.equal(exact(x), x * a.view(1, -1, 1, 1) + b.view(1, -1, 1, 1))
    assert isinstance(GroupNetBlock(BasicBlock(4, 4), num_bases=2).copies[0].bn1, ExactBatchNorm2d)


def test_bpac_branches_use_their_rates_and_export(tmp_path, cifar):
    bpac = BinaryParallelAtrousConv2d(3, 6, rates=(1, 2, 5), bias=True)
    assert [b.dilation for b in bpac.branches] == [(1, 1), (2, 2), (5, 5)]
    assert [b.padding for b in bpac.branches] == [(1, 1), (2, 2), (5, 5)]
    with pytest.raises(ValueError, match=r"rates=\(\) is not allowed"):
        BinaryParallelAtrousConv2d(3, 6, rates=())
    report = export_qonnx(bpac.eval(), cifar[:4], tmp_path / "bpac.onnx")
    assert report.max_abs_diff <= 1e-4


def test_segmentation_head_group_net_export_matches_pytorch_on_cifar(tmp_path, cifar):
    torch.manual_seed(0)
    model = create_model("resnet18_bpac_seg", width=4, num_classes=5, layers=(2, 1, 1), rates=(1, 2, 3),
                         config=GroupNetConfig(num_bases=2, mode="group"))
    calibrate(model, cifar)
    with torch.no_grad():
        out = model(cifar)
    assert out.shape == (20, 5, 32, 32)
    report = export_qonnx(model, cifar, tmp_path / "seg.onnx", atol=1e-4)
    assert report.max_abs_diff <= 1e-4
    assert "Resize" in report.op_types and "BipolarQuant" in report.op_types


@pytest.mark.slow
def test_resnet18_group_net_export_matches_pytorch_on_cifar(tmp_path, cifar):
    torch.manual_seed(0)
    model = create_model("resnet18_cifar", width=8, config=GroupNetConfig(num_bases=3, mode="group"))
    calibrate(model, cifar)
    report = export_qonnx(model, cifar, tmp_path / "r18.onnx", atol=1e-4)
    assert report.max_abs_diff <= 1e-4 and report.argmax_agreement == 1.0


def test_group_net_with_gates_learns_on_real_cifar(cifar):
    torch.manual_seed(0)
    labels = torch.arange(10).repeat_interleave(2)  # cifar_test_images: 2 images per class, classes sorted
    model = swap(tiny_resnet(), GroupNetConfig(num_bases=2, mode="group"), verbose=False)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(20):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(cifar), labels)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.6 * losses[0]  # measured: 2.29 -> 1.15 in 20 steps
    assert model.layer1.gate_logits.grad is not None


@pytest.mark.exact
def test_integer_branch_scales_train_and_export_exactly(tmp_path, cifar):
    torch.manual_seed(0)
    layer = GroupNetConv2d(3, 6, 3, padding=1, num_bases=3, branch_scale_bits=2)
    with torch.no_grad():
        layer.scales.copy_(torch.tensor([1.3, 0.7, 0.45]))
    coefficients = layer.branch_coefficients()
    q = coefficients / (coefficients.abs().amax(0) / 3)
    assert torch.equal(q, q.round()) and q.abs().max() <= 3  # q_kc * s_c, |q| <= 2^2 - 1
    layer(cifar[:4]).square().mean().backward()
    assert layer.scales.grad is not None and layer.scales.grad.abs().sum() > 0  # STE: lambda keeps learning
    report = export_qonnx(layer.eval(), cifar[:4], tmp_path / "integer_branches.onnx")
    assert report.max_abs_diff == 0.0
    with pytest.raises(ValueError, match="branch_scale_bits=2 is not allowed with mode='block'"):
        GroupNetConfig(num_bases=2, mode="block", branch_scale_bits=2)
    with pytest.raises(ValueError, match=r"branch_scale_bits=9 is not allowed: expected None .* \[1, 6\]"):
        GroupNetConv2d(3, 6, 3, num_bases=2, branch_scale_bits=9)
