"""Model-wide swaps: a float model in, ABC / LBC / Group-Net layers out, initialised from the float weights."""
from brevitas_abc.swap import abc_handler as _abc_handler  # noqa: F401 - registers the ABC handler
from brevitas_abc.swap import group_net_handler as _group_net_handler  # noqa: F401 - registers the Group-Net handlers
from brevitas_abc.swap import lbc_handler as _lbc_handler  # noqa: F401 - registers the LBC handler
from brevitas_abc.swap.abc_config import ABCConfig
from brevitas_abc.swap.group_net_config import (
    GroupNetBlockConfig,
    GroupNetConfig,
    GroupNetConfigBase,
    GroupNetGroupConfig,
    GroupNetLayerConfig,
)
from brevitas_abc.swap.lbc_config import LBCConfig
from brevitas_abc.swap.registry import SwapError, SwapHandler, SwapReport, register_swap_handler, swap

__all__ = ["ABCConfig", "GroupNetBlockConfig", "GroupNetConfig", "GroupNetConfigBase", "GroupNetGroupConfig",
           "GroupNetLayerConfig", "LBCConfig", "SwapError", "SwapHandler", "SwapReport", "register_swap_handler", "swap"]
