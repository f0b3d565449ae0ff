"""Model-wide swaps: a float model in, ABC / LBC / Group-Net layers out, initialised from the float weights."""
from brevitas_abc.swap import abc_handler as _abc_handler  # noqa: F401 - registers the ABC handler
from brevitas_abc.swap.abc_config import ABCConfig
from brevitas_abc.swap.registry import SwapError, SwapHandler, SwapReport, register_swap_handler, swap

__all__ = ["ABCConfig", "SwapError", "SwapHandler", "SwapReport", "register_swap_handler", "swap"]
