"""The layer protocol: every family layer implements ``BinaryLayer``; its counts, latent weights and export
form are what summary, clipping and convert use."""
import pytest
import torch
from torch import nn

from brevitas_abc.export.convert import convert
from brevitas_abc.models.resnet import BasicBlock
from brevitas_abc.nn import (ABCConv2d, ABCLinear, BinaryConv2d, BinaryLinear, BinaryParallelAtrousConv2d,
                             FusedLBConv2d, GroupNetBlock, GroupNetConv2d, GroupNetGroup, GroupNetLinear, LBConv2d)
from brevitas_abc.nn.protocol import DECOMPOSITIONS, FAMILIES, binary_layers, is_binary_layer, latent_weights
from brevitas_abc.summary import summary


def family_layers() -> dict[str, nn.Module]:
    torch.manual_seed(0)
    return {
        "ABCConv2d": ABCConv2d(4, 4, 3, padding=1, num_weight_bases=2, num_act_bases=2),
        "ABCLinear": ABCLinear(8, 4, num_weight_bases=2, num_act_bases=None),
        "LBConv2d": LBConv2d(4, 4, 3, num_anchors=4, pointwise="binary"),
        "FusedLBConv2d": FusedLBConv2d(4, 4, 3, num_anchors=4, pointwise="abc"),
        "BinaryConv2d": BinaryConv2d(4, 4, 3, padding=1),
        "BinaryLinear": BinaryLinear(8, 4),
        "GroupNetConv2d": GroupNetConv2d(4, 4, 3, padding=1, num_bases=2),
        "GroupNetLinear": GroupNetLinear(8, 4, num_bases=2),
        "BinaryParallelAtrousConv2d": BinaryParallelAtrousConv2d(4, 4, rates=(1, 2)),
        "GroupNetBlock": GroupNetBlock(BasicBlock(4, 4), num_bases=2),
        "GroupNetGroup": GroupNetGroup([BasicBlock(4, 4), BasicBlock(4, 4)], num_bases=2),
    }


def sign_weights(layer: nn.Module) -> list[nn.Parameter]:
    """The latent weights found WITHOUT the protocol: the weight of every ABC layer (and ABC pointwise conv)
    and of every Group-Net binary conv/linear inside ``layer``."""
    kinds = (ABCConv2d, ABCLinear, BinaryConv2d, BinaryLinear)
    return [m.weight for m in layer.modules() if isinstance(m, kinds)]


@pytest.mark.parametrize("name", list(family_layers()))
def test_every_family_layer_implements_the_protocol(name):
    layer = family_layers()[name]
    assert is_binary_layer(layer)
    assert layer.family in FAMILIES and layer.decomposition in DECOMPOSITIONS
    weights = layer.latent_weights()
    assert weights and {id(w) for w in weights} == {id(w) for w in sign_weights(layer)}
    assert all(isinstance(w, nn.Parameter) and w.requires_grad for w in weights)
    counts = layer.summary_counts()
    assert counts.binary_bits >= sum(w.numel() for w in weights)   # at least one bit per latent weight
    assert counts.conv_equivalent > 0
    export = layer.to_export_form()
    assert isinstance(export, nn.Module) and export is not layer


def test_float_modules_and_float_pointwise_are_not_binary_layers():
    assert not any(is_binary_layer(m) for m in (nn.Conv2d(2, 2, 3), nn.Linear(2, 2), nn.BatchNorm2d(2)))
    lbc = LBConv2d(4, 4, 3, num_anchors=4, pointwise="float")
    assert is_binary_layer(lbc) and lbc.latent_weights() == []   # anchors are fixed, the 1x1 conv float


def test_model_walk_finds_nested_layers_and_each_weight_once():
    model = nn.Sequential(GroupNetConv2d(4, 4, 3, padding=1, num_bases=3), nn.ReLU(),
                          LBConv2d(4, 4, 3, num_anchors=4, pointwise="abc"))
    names = [name for name, _ in binary_layers(model)]
    assert names == ["0", "0.branches.0", "0.branches.1", "0.branches.2", "2", "2.pointwise"]
    found = latent_weights(model)
    assert [name for name, _ in found] == ["0.branches.0.weight", "0.branches.1.weight", "0.branches.2.weight",
                                           "2.pointwise.weight"]


def test_group_net_block_export_form_computes_like_the_block():
    torch.manual_seed(0)
    block = GroupNetBlock(BasicBlock(4, 4), num_bases=2).eval()
    x = torch.randn(2, 4, 6, 6)
    exported = convert(block)
    assert not any(isinstance(m, BinaryConv2d) for m in exported.modules())
    torch.testing.assert_close(exported(x), block(x), rtol=0, atol=1e-5)


def test_fused_lbc_summary_is_its_two_halves():
    layer = FusedLBConv2d(8, 6, 3, num_anchors=4)
    (row,) = summary(layer).rows
    assert row.kind == "FusedLBConv2d"
    halves = summary(layer.normal).total.learned + summary(layer.lbc).total.learned
    assert row.counts.learned == halves == sum(p.numel() for p in layer.parameters() if p.requires_grad)
    assert row.counts.conv_equivalent == 8 * 9 * 6
