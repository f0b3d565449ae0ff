"""ABC swap handler: plain ``nn.Conv2d`` / ``nn.Linear`` -> ``ABCConv2d`` / ``ABCLinear`` from the float weights."""
from dataclasses import asdict

import torch
from torch import nn

from brevitas_abc.nn.abc_layers import ABCConv2d, ABCLinear
from brevitas_abc.swap.abc_config import ABCConfig
from brevitas_abc.swap.registry import SwapError, SwapHandler, register_swap_handler

_ABC_CLASS = {nn.Conv2d: ABCConv2d, nn.Linear: ABCLinear}


def abc_candidates(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Plain ``nn.Conv2d`` and ``nn.Linear`` modules (exact types: quantised subclasses are not float layers)."""
    return [(name, m) for name, m in model.named_modules() if type(m) in _ABC_CLASS]


def abc_replace(module: nn.Module, config: ABCConfig) -> nn.Module:
    if not torch.isfinite(module.weight).all():
        raise SwapError("its float weight contains NaN or inf")
    return _ABC_CLASS[type(module)].from_float(module, **asdict(config.layer_options()))


register_swap_handler(ABCConfig, SwapHandler(abc_candidates, abc_replace, "plain nn.Conv2d / nn.Linear"))
