"""``summary(model)``: learned vs fixed parameters and binary vs float bytes, per layer and in total.

What a deployed layer stores (the training form keeps latent float weights; they are not deployed):

- float ``Conv2d``/``Linear``/``BatchNorm``/other: every parameter and float buffer (running statistics)
  as float32, 4 bytes each.
- ``ABCConv2d``/``ABCLinear`` (ABC-Net eq. 10): M binary bases, 1 bit per weight each, plus alpha
  (M per output channel or per tensor), the activation shifts/betas and the bias as float32.
- ``LBConv2d`` (LBCNN): ternary anchors, 2 bits each, FIXED (never trained), plus its pointwise conv
  (float or ABC) and the quantised ReLU's scale.
- Group-Net layers: K binary branches (1 bit per weight), their scales and gates as float32.
  Modules may define ``summary_counts() -> LayerCounts`` to report themselves.

The LBC parameter ratio (poster eq. (1), seed 000): a ``p -> q`` ``h x w`` conv learns ``p*h*w*q`` weights,
the LBC layer ``m*q``: ratio ``p*h*w*q / (m*q) = p*h*w / m`` (see ``brevitas_abc.nn.lbc_layers``).
"""
from dataclasses import dataclass, field

from torch import nn

from brevitas_abc.nn.abc_layers import ABCConv2d, ABCLinear
from brevitas_abc.nn.lbc_layers import LBConv2d

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


def _learned(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def _float_buffers(module: nn.Module, recurse: bool = True) -> int:
    return sum(b.numel() for name, b in module.named_buffers(recurse=recurse)
               if b.is_floating_point() and not name.endswith("anchors"))


def _float_counts(module: nn.Module, recurse: bool = True) -> LayerCounts:
    params = sum(p.numel() for p in module.parameters(recurse=recurse))
    equivalent = module.weight.numel() if isinstance(module, (nn.Conv2d, nn.Linear)) else 0
    equivalent += module.bias.numel() if equivalent and module.bias is not None else 0
    learned = sum(p.numel() for p in module.parameters(recurse=recurse) if p.requires_grad)
    return LayerCounts(learned=learned, float_values=params + _float_buffers(module, recurse),
                       conv_equivalent=equivalent or params)


def _abc_counts(layer) -> LayerCounts:
    weight_quant = layer.weight_quant
    groups = 1 if weight_quant.granularity == "per_tensor" else layer.weight.shape[0]
    floats = weight_quant.num_bases * groups + (0 if layer.bias is None else layer.bias.numel())
    if layer.input_quant is not None:
        floats += 2 * layer.input_quant.betas.numel()
    equivalent = layer.weight.numel() + (0 if layer.bias is None else layer.bias.numel())
    return LayerCounts(learned=_learned(layer), binary_bits=weight_quant.num_bases * layer.weight.numel(),
                       float_values=floats, conv_equivalent=equivalent)


def _lbc_counts(layer: LBConv2d) -> LayerCounts:
    counts = layer_counts(layer.pointwise)
    counts.learned += _learned(layer.activation)
    counts.float_values += sum(p.numel() for p in layer.activation.parameters())
    counts.fixed += layer.anchors.numel()
    counts.binary_bits += 2 * layer.anchors.numel()
    p, (h, w), q = layer.in_channels, layer.kernel_size, layer.out_channels
    counts.conv_equivalent = p * h * w * q + (q if layer.bias is not None else 0)
    counts.ratio = p * h * w / layer.num_anchors
    return counts


def layer_counts(module: nn.Module) -> LayerCounts:
    """Counts of one layer (see the module docstring for what is stored how)."""
    if callable(getattr(module, "summary_counts", None)):
        return module.summary_counts()
    if isinstance(module, (ABCConv2d, ABCLinear)):
        return _abc_counts(module)
    if isinstance(module, LBConv2d):
        return _lbc_counts(module)
    return _float_counts(module)


def _is_known_layer(module: nn.Module) -> bool:
    return callable(getattr(module, "summary_counts", None)) or isinstance(module, (ABCConv2d, ABCLinear, LBConv2d))


def _has_own_tensors(module: nn.Module) -> bool:
    return any(True for _ in module.parameters(recurse=False)) or _float_buffers(module, recurse=False) > 0


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
        if _is_known_layer(module):
            add(prefix, module, layer_counts(module))
            return
        children = list(module.named_children())
        if _has_own_tensors(module):  # a float layer (leaf), or a container's own tensors only
            add(prefix, module, _float_counts(module, recurse=not children))
        for name, child in children:
            visit(f"{prefix}.{name}" if prefix else name, child)

    visit("", model)
    return result
