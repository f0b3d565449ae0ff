"""LatentWeightClipping reaches every binary layer of every family (ABC, LBC, Group-Net layer/block/group) and
stock Brevitas quant layers, and leaves float weights alone; it runs inside a real Lightning fit."""
import brevitas_abc
import pytorch_lightning as pl
import torch
from brevitas.nn import QuantLinear
from brevitas.quant import SignedBinaryWeightPerTensorConst
from torch import nn

from brevitas_abc.models.resnet import BasicBlock, ResNet
from brevitas_abc.nn import ABCConv2d, ABCLinear, BinaryConv2d, BinaryLinear
from lightning_modules.callbacks import LatentWeightClipping
from lightning_modules.callbacks.weight_clipping import clipped_weights
from lightning_modules.module import ClassificationModule
from tests.lightning_modules.lightning_test_helpers import digits_loaders, quiet_trainer

BINARY_KINDS = (ABCConv2d, ABCLinear, BinaryConv2d, BinaryLinear)


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
    }


def binary_weights(model: nn.Module) -> list[nn.Parameter]:
    """Latent binary weights found by concrete class, independently of the protocol."""
    return [m.weight for m in model.modules() if isinstance(m, BINARY_KINDS) or isinstance(m, QuantLinear)]


def test_clipping_reaches_every_binary_weight_of_every_family():
    for family, model in family_models().items():
        expected = binary_weights(model)
        assert expected, family
        clipped = {id(p) for _, p in clipped_weights(model)}
        assert clipped == {id(p) for p in expected}, family   # all of them, and no float weight


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
