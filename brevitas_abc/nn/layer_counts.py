"""``LayerCounts``: what one layer stores when deployed (the ``summary_counts`` part of the layer protocol).

A float ``Conv2d``/``Linear``/``BatchNorm``/other module stores every parameter and float buffer as float32
(``float_counts``); a binary layer stores its 1- and 2-bit weights as bits and its scales as float32, and
reports that itself through ``summary_counts()`` (``brevitas_abc.nn.protocol.BinaryLayer``).
"""
from dataclasses import dataclass

from torch import nn

FLOAT_BYTES = 4


@dataclass
class LayerCounts:
    """Counts of one layer. ``binary_bits``: bits of the 1- and 2-bit weights (bases, anchors)."""

    learned: int = 0
    fixed: int = 0
    binary_bits: int = 0
    float_values: int = 0
    conv_equivalent: int = 0
    ratio: float | None = None

    def __iadd__(self, other: "LayerCounts") -> "LayerCounts":
        self.learned += other.learned
        self.fixed += other.fixed
        self.binary_bits += other.binary_bits
        self.float_values += other.float_values
        self.conv_equivalent += other.conv_equivalent
        return self

    @property
    def binary_bytes(self) -> float:
        return self.binary_bits / 8

    @property
    def float_bytes(self) -> int:
        return FLOAT_BYTES * self.float_values


def learned_count(module: nn.Module) -> int:
    """Trainable parameter elements of ``module`` (all its descendants included)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def float_buffer_count(module: nn.Module, recurse: bool = True) -> int:
    """Float buffer elements (running statistics), excluding LBC anchors (stored as 2-bit values)."""
    return sum(b.numel() for name, b in module.named_buffers(recurse=recurse)
               if b.is_floating_point() and not name.endswith("anchors"))


def float_counts(module: nn.Module, recurse: bool = True) -> LayerCounts:
    """Counts of a float module: every parameter and float buffer is a float32 value."""
    params = sum(p.numel() for p in module.parameters(recurse=recurse))
    equivalent = module.weight.numel() if isinstance(module, (nn.Conv2d, nn.Linear)) else 0
    equivalent += module.bias.numel() if equivalent and module.bias is not None else 0
    learned = sum(p.numel() for p in module.parameters(recurse=recurse) if p.requires_grad)
    return LayerCounts(learned=learned, float_values=params + float_buffer_count(module, recurse),
                       conv_equivalent=equivalent or params)


def layer_counts(module: nn.Module) -> LayerCounts:
    """``module.summary_counts()`` when the module reports itself (every family layer does), else
    ``float_counts(module)``."""
    if callable(getattr(module, "summary_counts", None)):
        return module.summary_counts()
    return float_counts(module)
