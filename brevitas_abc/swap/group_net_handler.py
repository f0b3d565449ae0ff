"""Group-Net swap handlers, one per decomposition mode; importing this module registers them."""
import torch
from torch import nn

from brevitas_abc.nn.group_net.blocks import GroupNetBlock, GroupNetGroup, allowed_group_blocks, check_group_block
from brevitas_abc.nn.group_net.layers import GroupNetConv2d, GroupNetLinear
from brevitas_abc.swap.group_net_config import GroupNetBlockConfig, GroupNetGroupConfig, GroupNetLayerConfig
from brevitas_abc.swap.registry import SwapError, SwapHandler, register_swap_handler


def _is_group_block(module: nn.Module) -> bool:
    try:
        check_group_block(module)
    except ValueError:
        return False
    return True


def layer_candidates(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Plain ``nn.Conv2d`` (exact type, groups 1, int padding) and ``nn.Linear``, in registration order."""
    return [(name, m) for name, m in model.named_modules()
            if (type(m) is nn.Conv2d and m.groups == 1 and not isinstance(m.padding, str)) or type(m) is nn.Linear]


def block_candidates(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Residual blocks of a registered type (``register_group_block``)."""
    return [(name, m) for name, m in model.named_modules() if _is_group_block(m)]


def group_candidates(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """``nn.Sequential`` stages whose children are all registered residual blocks."""
    return [(name, m) for name, m in model.named_modules()
            if type(m) is nn.Sequential and len(m) > 0 and all(_is_group_block(c) for c in m)]


def _check_finite(module: nn.Module) -> None:
    if not all(torch.isfinite(p).all() for p in module.parameters()):
        raise SwapError("its float parameters contain NaN or inf")


def layer_replace(module: nn.Module, config: GroupNetLayerConfig) -> nn.Module:
    _check_finite(module)
    if type(module) is nn.Linear:
        return GroupNetLinear.from_float(module, config.num_bases, config.branch_scale_bits)
    return GroupNetConv2d.from_float(module, config.num_bases, config.branch_scale_bits)


def block_replace(module: nn.Module, config: GroupNetBlockConfig) -> nn.Module:
    _check_finite(module)
    return GroupNetBlock(module, config.num_bases, residual_bits=config.residual_bits)


def group_replace(module: nn.Module, config: GroupNetGroupConfig) -> nn.Module:
    _check_finite(module)
    return GroupNetGroup(module, config.num_bases, gates=config.gates, gate_init=config.gate_init,
                         residual_bits=config.residual_bits)


def _blocks_text() -> str:
    return f"residual blocks of a registered type (now {allowed_group_blocks()})"


class _Describe(str):
    """A description evaluated when the message is built (blocks may be registered after import)."""

    def __new__(cls, fn):
        obj = super().__new__(cls, "")
        obj._fn = fn
        return obj

    def __str__(self):
        return self._fn()

    __format__ = lambda self, spec: format(self._fn(), spec)  # noqa: E731


register_swap_handler(GroupNetLayerConfig, SwapHandler(
    layer_candidates, layer_replace, "plain nn.Conv2d (groups=1, int padding) / nn.Linear"))
register_swap_handler(GroupNetBlockConfig, SwapHandler(block_candidates, block_replace, _Describe(_blocks_text)))
register_swap_handler(GroupNetGroupConfig, SwapHandler(
    group_candidates, group_replace,
    _Describe(lambda: "nn.Sequential stages made only of " + _blocks_text())))
