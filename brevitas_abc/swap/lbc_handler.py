"""LBC swap handler: plain spatial ``nn.Conv2d`` (3x3 in LBCNN and the poster; any kernel larger than 1x1 here,
e.g. LeNet's 5x5) -> ``LBConv2d`` (``from_float``); 1x1 convs are kept (an LBC layer contains one).

Importing this module registers the handler for ``LBCConfig``.
"""
import weakref

import torch
from torch import nn

from brevitas_abc.nn.lbc.layers import LBConv2d
from brevitas_abc.swap.lbc_config import LBCConfig
from brevitas_abc.swap.registry import SwapError, SwapHandler, register_swap_handler

# id(module) -> index among the candidates of the last ``lbc_candidates`` call, for per-layer seeds.
_CANDIDATE_INDEX: "weakref.WeakKeyDictionary[nn.Module, int]" = weakref.WeakKeyDictionary()


def lbc_candidates(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Plain ``nn.Conv2d`` (exact type) with a kernel larger than 1x1, ``groups == 1`` and int padding."""
    found = [(name, m) for name, m in model.named_modules()
             if type(m) is nn.Conv2d and m.groups == 1 and tuple(m.kernel_size) != (1, 1)
             and not isinstance(m.padding, str)]
    _CANDIDATE_INDEX.clear()
    for index, (_, module) in enumerate(found):
        _CANDIDATE_INDEX[module] = index
    return found


def lbc_replace(module: nn.Module, config: LBCConfig) -> nn.Module:
    if not torch.isfinite(module.weight).all():
        raise SwapError("its float weight contains NaN or inf")
    return LBConv2d.from_float(module, **config.layer_kwargs(_CANDIDATE_INDEX.get(module, 0)))


register_swap_handler(LBCConfig, SwapHandler(
    lbc_candidates, lbc_replace, "plain spatial (kxk, k > 1) nn.Conv2d (groups=1, int padding)"))
