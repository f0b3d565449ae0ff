"""summary(model): learned vs fixed parameters, binary vs float bytes, and the LBC parameter ratio."""
import torch
from torch import nn

from brevitas_abc.models import create_model
from brevitas_abc.nn.abc.layers import ABCConv2d
from brevitas_abc.nn.group_net.layers import GroupNetConv2d
from brevitas_abc.nn.lbc.layers import LBConv2d
from brevitas_abc.summary import summary
from brevitas_abc.swap import ABCConfig
from brevitas_abc.swap.lbc_config import LBCConfig
from brevitas_abc.swap.lbc_handler import lbc_candidates  # noqa: F401 - registers the handler
from brevitas_abc.swap.registry import swap


def test_lbc_layer_counts_and_poster_ratio():
    p, q, m = 16, 32, 8
    s = summary(LBConv2d(p, q, 3, num_anchors=m, bias=True))
    (row,) = s.rows
    c = row.counts
    assert c.learned == m * q + q                      # 1x1 weights + bias
    assert c.fixed == m * p * 9                        # anchors, never trained
    assert c.binary_bits == 2 * m * p * 9              # ternary anchors: 2 bits each
    assert c.float_bytes == 4 * (m * q + q)
    assert c.conv_equivalent == p * 9 * q + q
    assert c.ratio == p * 3 * 3 / m                    # p*h*w*q / (m*q), eq. (1)
    assert abs(c.conv_equivalent / c.learned - (p * 9 * q + q) / (m * q + q)) < 1e-12


def test_float_model_summary_equals_parameter_count():
    model = create_model("lenet5")
    s = summary(model)
    params = sum(p.numel() for p in model.parameters())
    assert s.total.learned == params and s.total.fixed == 0 and s.total.binary_bits == 0
    assert s.total.float_bytes == 4 * params
    assert s.float_model_bytes == 4 * params
    assert [r.name for r in s.rows][:2] == ["features.0", "features.3"]


def test_abc_and_group_net_layers_store_bits_per_base():
    abc = ABCConv2d(8, 16, 3, num_weight_bases=3, num_act_bases=2)
    c = summary(abc).rows[0].counts
    assert c.binary_bits == 3 * abc.weight.numel()
    assert c.float_values == 3 * 16 + 16 + 2 * 2      # alpha per base and channel, bias, shifts and betas
    g = GroupNetConv2d(8, 16, 3, num_bases=4)
    c = summary(g).rows[0].counts
    assert c.binary_bits == 4 * 16 * 8 * 9
    assert c.conv_equivalent == 16 * 8 * 9


def test_swapped_model_totals_add_up_and_shrink():
    torch.manual_seed(0)
    float_summary = summary(create_model("cnv"))
    model = swap(create_model("cnv"), ABCConfig(num_weight_bases=2, num_act_bases=2), verbose=False)
    s = summary(model)
    assert s.total.learned == sum(r.counts.learned for r in s.rows)
    assert s.total.conv_equivalent == float_summary.total.conv_equivalent
    assert s.deployed_bytes < float_summary.deployed_bytes / 5
    lbc = summary(swap(create_model("densenet_bc_cifar"), LBCConfig(num_anchors=8), verbose=False))
    assert lbc.total.fixed > 0 and lbc.total.learned < float_summary.total.learned
    text = str(lbc)
    assert "LBConv2d" in text and "total" in text and "smaller" in text


def test_container_with_own_parameters_reports_them_once():
    class Scaled(nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = nn.Parameter(torch.ones(3))
            self.conv = nn.Conv2d(3, 3, 1)

    s = summary(Scaled())
    assert [(r.name, r.counts.learned) for r in s.rows] == [("<root>", 3), ("conv", 12)]
    assert s.total.learned == 15


def test_group_wise_decomposition_counts_k_binary_copies_of_one_float_block():
    from brevitas_abc.models.resnet import BasicBlock
    from brevitas_abc.nn.group_net.blocks import GroupNetBlock, GroupNetGroup

    block = BasicBlock(8, 8)
    float_counts = summary(block).total
    for module in (GroupNetBlock(block, num_bases=3), GroupNetGroup([block, BasicBlock(8, 8)], num_bases=3)):
        (row,) = summary(module).rows
        blocks = 1 if isinstance(module, GroupNetBlock) else 2
        assert row.counts.conv_equivalent == blocks * float_counts.conv_equivalent
        assert row.counts.binary_bits == 3 * blocks * 2 * 8 * 8 * 9    # K copies x 2 convs, 1 bit per weight
    group = GroupNetGroup([block, BasicBlock(8, 8)], num_bases=3)
    assert summary(group).total.learned == sum(p.numel() for p in group.parameters())


def test_brevitas_layer_with_abc_quantizers_counts_as_the_abc_layer_it_equals():
    from brevitas.nn import QuantConv2d

    from brevitas_abc.quant import ABCActPerTensorFloat, ABCWeightPerChannelFloat

    layer = QuantConv2d(8, 16, 3, weight_quant=ABCWeightPerChannelFloat, weight_num_bases=3,
                        input_quant=ABCActPerTensorFloat, input_num_bases=2)
    (row,) = summary(nn.Sequential(layer)).rows
    assert row.kind == "QuantConv2d"
    assert row.counts.binary_bits == 3 * layer.weight.numel()          # 3 one-bit bases, not float32 weights
    assert row.counts.float_values == 3 * 16 + 16 + 2 * 2              # alpha per base and channel, bias, shifts, betas
    assert row.counts.conv_equivalent == layer.weight.numel() + 16


def test_brevitas_layers_with_one_or_two_bit_weights_count_their_bits():
    """Group-Net's binary and LBC's ternary weight quantisers in stock QuantConv2d, and a stock binary QuantLinear,
    store bit_width bits per weight (frozen anchors: fixed); an 8-bit layer still counts as float."""
    from brevitas.nn import QuantConv2d, QuantLinear
    from brevitas.quant import Int8WeightPerTensorFloat, SignedBinaryWeightPerTensorConst
    from torch import nn

    from brevitas_abc.quant import GroupNetBinaryWeightPerChannelFloat, LBCTernaryWeightPerTensorConst

    anchors = QuantConv2d(4, 4, 3, bias=False, weight_quant=LBCTernaryWeightPerTensorConst)
    anchors.weight.requires_grad_(False)
    model = nn.Sequential(QuantConv2d(1, 4, 3, weight_quant=Int8WeightPerTensorFloat), anchors,
                          QuantConv2d(4, 8, 3, bias=False, weight_quant=GroupNetBinaryWeightPerChannelFloat),
                          nn.Flatten(), QuantLinear(32, 10, weight_quant=SignedBinaryWeightPerTensorConst))
    rows = {row.name: row.counts for row in summary(model).rows}
    assert (rows["1"].binary_bits, rows["1"].fixed, rows["1"].learned, rows["1"].float_values) == (2 * 144, 144, 0, 1)
    assert (rows["2"].binary_bits, rows["2"].learned, rows["2"].float_values) == (288, 288, 8)  # alpha per channel
    assert (rows["4"].binary_bits, rows["4"].float_values, rows["4"].conv_equivalent) == (320, 1 + 10, 330)
    assert (rows["0"].binary_bits, rows["0"].float_values) == (0, 36 + 4)
