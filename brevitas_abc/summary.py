"""``summary(model)``: learned vs fixed parameters and binary vs float bytes, per layer and in total.

What a deployed layer stores (the training form keeps latent float weights; they are not deployed):

- float ``Conv2d``/``Linear``/``BatchNorm``/other: every parameter and float buffer (running statistics)
  as float32, 4 bytes each.
- ``ABCConv2d``/``ABCLinear`` (ABC-Net eq. 10): M binary bases, 1 bit per weight each, plus alpha
  (M per output channel or per tensor), the activation shifts/betas and the bias as float32.
- ``LBConv2d`` (LBCNN): ternary anchors, 2 bits each, FIXED (never trained), plus its pointwise conv
  (float or ABC) and the quantised ReLU's scale.
- Group-Net layers: K binary branches (1 bit per weight), their scales and gates as float32.

Every family layer reports itself through the layer protocol (``brevitas_abc.nn.protocol.BinaryLayer``'s
``summary_counts() -> LayerCounts``); a Brevitas ``QuantConv2d``/``QuantLinear`` holding ABC quantisers
(``brevitas_abc.quant``) counts as the ABC layer it equals; any other Brevitas layer whose enabled weight
quantiser has at most 2 bits (stock binary weights, Group-Net's ``GroupNetBinaryWeightPerChannelFloat``, LBC's
ternary anchors ``LBCTernaryWeightPerTensorConst``: ``brevitas_weight_counts``) stores ``bit_width`` bits per weight
plus its scales and bias as float32 (a frozen weight, as LBC's anchors, is fixed, not learned); wider weights
count as float; any other module may define ``summary_counts()`` too.

The LBC parameter ratio (poster eq. (1), seed 000): a ``p -> q`` ``h x w`` conv learns ``p*h*w*q`` weights,
the LBC layer ``m*q``: ratio ``p*h*w*q / (m*q) = p*h*w / m`` (see ``brevitas_abc.nn.lbc.layers``).
"""
from dataclasses import dataclass, field

from torch import nn

from brevitas_abc.nn.layer_counts import (
    FLOAT_BYTES,
    LayerCounts,
    float_buffer_count,
    float_counts,
    layer_counts,
    learned_count,
)
from brevitas_abc.nn.lbc.layers import LBConv2d  # noqa: F401 - the doctest below uses it
from brevitas_abc.nn.protocol import is_binary_layer
from brevitas_abc.quant.to_abc_layer import holds_abc_quantizer, to_abc_layer

__all__ = ["FLOAT_BYTES", "LayerCounts", "LayerSummary", "ModelSummary", "brevitas_weight_counts", "layer_counts",
           "summary"]


@dataclass
class LayerSummary:
    name: str
    kind: str
    counts: LayerCounts


@dataclass
class ModelSummary:
    """Rows per layer and the totals; ``str()`` gives a table."""

    rows: list[LayerSummary] = field(default_factory=list)
    total: LayerCounts = field(default_factory=LayerCounts)

    @property
    def float_model_bytes(self) -> int:
        """Bytes of the float model of the same shape (every weight float32)."""
        return FLOAT_BYTES * self.total.conv_equivalent

    @property
    def deployed_bytes(self) -> float:
        return self.total.binary_bytes + self.total.float_bytes

    def __str__(self) -> str:
        header = (f"{'layer':<40} {'type':<14} {'learned':>11} {'fixed':>10} {'binary B':>11} {'float B':>12} "
                  f"{'ratio':>7}")
        lines = [header, "-" * len(header)]
        for row in self.rows:
            c = row.counts
            ratio = "" if c.ratio is None else f"{c.ratio:.2f}"
            lines.append(f"{row.name:<40} {row.kind:<14} {c.learned:>11,} {c.fixed:>10,} {c.binary_bytes:>11,.0f} "
                         f"{c.float_bytes:>12,} {ratio:>7}")
        t = self.total
        lines.append("-" * len(header))
        lines.append(f"{'total':<40} {'':<14} {t.learned:>11,} {t.fixed:>10,} {t.binary_bytes:>11,.0f} "
                     f"{t.float_bytes:>12,}")
        lines.append(f"deployed size {self.deployed_bytes:,.0f} B vs float model {self.float_model_bytes:,} B "
                     f"({self.float_model_bytes / max(self.deployed_bytes, 1):.1f}x smaller); learned parameters "
                     f"{t.learned:,} vs float model {t.conv_equivalent:,}")
        return "\n".join(lines)


#: widest Brevitas weight quantiser counted in bits (the "binary" column holds 1- and 2-bit weights)
MAX_COUNTED_BITS = 2


def _low_bit_weight_quant(module: nn.Module):
    """``module.weight_quant`` if it is an enabled Brevitas weight quantiser of at most ``MAX_COUNTED_BITS`` bits."""
    weight_quant = getattr(module, "weight_quant", None)
    if not isinstance(getattr(module, "weight", None), nn.Parameter) or \
            not getattr(weight_quant, "is_quant_enabled", False) or holds_abc_quantizer(module):
        return None
    return weight_quant if float(weight_quant.bit_width()) <= MAX_COUNTED_BITS else None


def brevitas_weight_counts(module: nn.Module) -> LayerCounts:
    """Counts of a Brevitas layer with a low-bit weight quantiser: ``bit_width`` bits per weight; its scale(s) and
    the bias as float32; a frozen weight (LBC's anchors) is fixed, a trainable one learned."""
    weight_quant = _low_bit_weight_quant(module)
    bias = 0 if getattr(module, "bias", None) is None else module.bias.numel()
    weight = module.weight.numel()
    return LayerCounts(learned=learned_count(module), fixed=0 if module.weight.requires_grad else weight,
                       binary_bits=int(float(weight_quant.bit_width())) * weight,
                       float_values=weight_quant.scale().numel() + bias, conv_equivalent=weight + bias)


def _reports_itself(module: nn.Module) -> bool:
    """A family layer (``BinaryLayer``), a Brevitas layer holding ABC quantisers or a low-bit weight quantiser, or any
    module with its own ``summary_counts()``."""
    return (is_binary_layer(module) or holds_abc_quantizer(module) or _low_bit_weight_quant(module) is not None
            or callable(getattr(module, "summary_counts", None)))


def _counts(module: nn.Module) -> LayerCounts:
    """``layer_counts``; a Brevitas ``QuantConv2d``/``QuantLinear`` with ABC quantisers counts as the ``ABCConv2d`` /
    ``ABCLinear`` it equals (``brevitas_abc.quant.to_abc_layer``), one with a low-bit weight quantiser by its bits
    (``brevitas_weight_counts``)."""
    if holds_abc_quantizer(module):
        return to_abc_layer(module).summary_counts()
    if _low_bit_weight_quant(module) is not None:
        return brevitas_weight_counts(module)
    return layer_counts(module)


def _has_own_tensors(module: nn.Module) -> bool:
    return any(True for _ in module.parameters(recurse=False)) or float_buffer_count(module, recurse=False) > 0


def summary(model: nn.Module) -> ModelSummary:
    """Per-layer and total learned/fixed parameters, binary/float bytes and the LBC ratio (poster eq. (1)).

    >>> from torch import nn
    >>> s = summary(nn.Sequential(LBConv2d(8, 16, 3, num_anchors=8), nn.Conv2d(16, 4, 3)))
    >>> [(r.kind, r.counts.learned, r.counts.fixed, r.counts.ratio) for r in s.rows]
    [('LBConv2d', 144, 576, 9.0), ('Conv2d', 580, 0, None)]
    """
    result = ModelSummary()

    def add(prefix: str, module: nn.Module, counts: LayerCounts) -> None:
        result.rows.append(LayerSummary(prefix or "<root>", type(module).__name__, counts))
        result.total += counts

    def visit(prefix: str, module: nn.Module) -> None:
        if _reports_itself(module):
            add(prefix, module, _counts(module))
            return
        children = list(module.named_children())
        if _has_own_tensors(module):  # a float layer (leaf), or a container's own tensors only
            add(prefix, module, float_counts(module, recurse=not children))
        for name, child in children:
            visit(f"{prefix}.{name}" if prefix else name, child)

    visit("", model)
    return result
