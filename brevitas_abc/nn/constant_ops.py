"""Explicit constant shift and scale modules: they export as plain ONNX ``Add`` / ``Mul`` with an initializer.

DESIGN 5: Brevitas's QONNX exporter silently drops whatever a custom quantiser does beyond its stock
semantics, so every shift and scale of an export form is its own visible module.
"""
from torch import Tensor, nn


class AddConstant(nn.Module):
    """``y = x + c`` with a constant (non-trainable) ``c`` broadcast against ``x``."""

    def __init__(self, constant: Tensor):
        super().__init__()
        self.register_buffer("constant", constant.detach().clone().float())

    def forward(self, x: Tensor) -> Tensor:
        return x + self.constant


class MulConstant(nn.Module):
    """``y = x * c`` with a constant (non-trainable) ``c`` broadcast against ``x``."""

    def __init__(self, constant: Tensor):
        super().__init__()
        self.register_buffer("constant", constant.detach().clone().float())

    def forward(self, x: Tensor) -> Tensor:
        return x * self.constant


def channel_shaped(values: Tensor, is_conv: bool) -> Tensor:
    """Per-output-channel values ``[C]`` shaped to broadcast against a conv ``[B, C, H, W]`` or linear ``[B, C]`` output."""
    return values.reshape(1, -1, 1, 1) if is_conv else values.reshape(1, -1)


