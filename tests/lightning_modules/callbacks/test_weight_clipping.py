"""LatentWeightClipping reaches every binary layer of every family (ABC, LBC, Group-Net layer/block/group), the
Brevitas layers holding brevitas_abc quantisers (made by swap of a brevitas_examples model, or written by hand) and
stock Brevitas quant layers, and leaves float weights and LBC's fixed anchors alone; it runs inside a real Lightning
fit."""
from collections import OrderedDict

import brevitas_abc
import pytorch_lightning as pl
import torch
from brevitas.nn import QuantConv2d, QuantLinear
from brevitas.quant import SignedBinaryWeightPerTensorConst
from brevitas_abc.quant import (
    ABCActPerTensorFloat,
    ABCWeightPerChannelFloat,
    ABCWeightPerTensorFloat,
    GroupNetBinaryWeightPerChannelFloat,
    LBCTernaryWeightPerTensorConst,
)
from torch import nn

from brevitas_abc.models.resnet import BasicBlock, ResNet
from brevitas_abc.nn import ABCConv2d, ABCLinear, BinaryConv2d, BinaryLinear
from brevitas_abc.nn.protocol import latent_weights
from lightning_modules.callbacks import LatentWeightClipping
from lightning_modules.callbacks.weight_clipping import clipped_weights
from lightning_modules.module import ClassificationModule
from tests.lightning_modules.lightning_test_helpers import digits_loaders, quiet_trainer

BINARY_KINDS = (ABCConv2d, ABCLinear, BinaryConv2d, BinaryLinear)
HOSTED_ABC = dict(weight_quant=ABCWeightPerChannelFloat, weight_num_bases=2, input_quant=ABCActPerTensorFloat,
                  input_num_bases=2)


def tiny_resnet() -> nn.Module:
    torch.manual_seed(0)
    return ResNet(BasicBlock, [2, 1, 1, 1], num_classes=10, cifar_stem=True, in_channels=1, width=2)


def family_models() -> dict[str, nn.Module]:
    """One small model per family and decomposition, for 1x8x8 digit images."""
    return {
        "abc": brevitas_abc.swap(tiny_resnet(), brevitas_abc.ABCConfig(num_weight_bases=2, num_act_bases=2),
                                 verbose=False),
        "lbc": brevitas_abc.swap(tiny_resnet(), brevitas_abc.LBCConfig(num_anchors=4, pointwise="binary"),
                                 verbose=False),
        "group_net_layer": brevitas_abc.swap(tiny_resnet(), brevitas_abc.GroupNetConfig(num_bases=2, mode="layer"),
                                             verbose=False),
        "group_net_block": brevitas_abc.swap(tiny_resnet(), brevitas_abc.GroupNetConfig(num_bases=2, mode="block"),
                                             verbose=False),
        "group_net_group": brevitas_abc.swap(tiny_resnet(), brevitas_abc.GroupNetConfig(num_bases=2, mode="group"),
                                             verbose=False),
        "brevitas": nn.Sequential(nn.Flatten(), QuantLinear(64, 10, bias=False,
                                                            weight_quant=SignedBinaryWeightPerTensorConst)),
        "brevitas_swapped": brevitas_abc.swap(bnn_pynq_tfc(), brevitas_abc.ABCConfig(num_weight_bases=2,
                                                                                   num_act_bases=2), verbose=False),
        "brevitas_hosted": hosted_model(),
    }


def bnn_pynq_tfc() -> nn.Module:
    """brevitas_examples' BNN-PYNQ TFC (784-64-64-64-10 QuantLinear), untrained."""
    from brevitas_examples.bnn_pynq.models import model_with_cfg

    torch.manual_seed(0)
    return model_with_cfg("tfc_1w1a", pretrained=False)[0]


def hosted_model() -> nn.Module:
    """Hand-written Brevitas layers holding brevitas_abc quantisers, for 1x8x8 digits: a float stem
    (``weight_quant=None``), a fixed LBC anchor conv, an ABC conv, a Group-Net binary conv and an ABC classifier."""
    torch.manual_seed(0)
    anchors = QuantConv2d(4, 4, 3, padding=1, bias=False, weight_quant=LBCTernaryWeightPerTensorConst)
    with torch.no_grad():
        anchors.weight.copy_(torch.randint(-1, 2, anchors.weight.shape).float())
    anchors.weight.requires_grad_(False)
    return nn.Sequential(OrderedDict(
        stem=QuantConv2d(1, 4, 3, padding=1, weight_quant=None), anchors=anchors, bn0=nn.BatchNorm2d(4),
        abc=QuantConv2d(4, 4, 3, padding=1, bias=False, **HOSTED_ABC), bn1=nn.BatchNorm2d(4),
        group_net=QuantConv2d(4, 4, 3, padding=1, bias=False, weight_quant=GroupNetBinaryWeightPerChannelFloat),
        flatten=nn.Flatten(),
        head=QuantLinear(256, 10, weight_quant=ABCWeightPerTensorFloat, weight_num_bases=2)))


def binary_weights(model: nn.Module) -> list[nn.Parameter]:
    """Latent binary weights found by concrete class and quantiser, independently of the protocol: the family
    layers' weights, and those of Brevitas layers with an enabled weight quantiser, except frozen (LBC anchor)
    weights."""
    return [m.weight for m in model.modules() if isinstance(m, BINARY_KINDS) or (
        isinstance(m, (QuantConv2d, QuantLinear)) and m.weight_quant.is_quant_enabled and m.weight.requires_grad)]


def test_clipping_reaches_every_binary_weight_of_every_family():
    for family, model in family_models().items():
        expected = binary_weights(model)
        assert expected, family
        clipped = {id(p) for _, p in clipped_weights(model)}
        assert clipped == {id(p) for p in expected}, family   # all of them, and no float weight


def test_brevitas_hosted_family_layers_are_reached_through_the_protocol():
    model = hosted_model()
    assert [name for name, _ in latent_weights(model)] == ["abc.weight", "group_net.weight", "head.weight"]
    swapped = family_models()["brevitas_swapped"]
    abc = [m.weight for m in swapped.modules() if isinstance(m, ABCLinear)]
    assert len(abc) == 2 and {id(p) for _, p in latent_weights(swapped)} == {id(p) for p in abc}


def test_clipping_bounds_group_net_and_lbc_latent_weights_during_fit():
    train, _ = digits_loaders()
    for family in ("lbc", "group_net_block", "group_net_group"):
        pl.seed_everything(0)
        model = family_models()[family]
        float_conv = model.conv1   # the stem stays float in every swap
        assert type(float_conv) is nn.Conv2d
        with torch.no_grad():
            for weight in binary_weights(model) + [float_conv.weight]:
                weight.view(-1)[0] = 5.0
        module = ClassificationModule(model, optimizer=lambda p: torch.optim.Adam(p, lr=1e-2))
        quiet_trainer(max_epochs=1, limit_train_batches=1, callbacks=[LatentWeightClipping(1.0)]).fit(module, train)
        assert all(w.abs().max() <= 1.0 for w in binary_weights(model)), family
        assert float_conv.weight.view(-1)[0] > 4.0, family


def test_clipping_bounds_brevitas_hosted_latent_weights_during_fit():
    train, _ = digits_loaders()
    pl.seed_everything(0)
    model = hosted_model()
    with torch.no_grad():
        for weight in binary_weights(model) + [model.stem.weight]:
            weight.view(-1)[0] = 5.0
    module = ClassificationModule(model, optimizer=lambda p: torch.optim.Adam(p, lr=1e-2))
    quiet_trainer(max_epochs=1, limit_train_batches=1, callbacks=[LatentWeightClipping(1.0)]).fit(module, train)
    assert all(w.abs().max() <= 1.0 for w in binary_weights(model))
    assert model.stem.weight.view(-1)[0] > 4.0   # the float Brevitas stem is not clipped
