"""``LBCConfig``: what ``swap`` needs to turn the spatial (3x3, 5x5, ...) convolutions of a float model into LBC
layers."""
from dataclasses import dataclass, field

from brevitas_abc.nn.lbc.anchors import check_density, check_num_anchors, check_seed
from brevitas_abc.nn.lbc.layers import ACTIVATIONS, POINTWISE_KINDS


@dataclass(frozen=True)
class LBCConfig:
    """Frozen, validated configuration of an LBC swap (Juefei-Xu et al. 2017; seed 000).

    Args:
        num_anchors: m anchor filters per layer (int >= 1), or None for m = in_channels of each layer.
        density: fraction of non-zero anchor entries, in (0, 1].
        seed: base seed; the i-th candidate layer (registration order) gets ``seed + i``, so layers differ
            and the whole model is reproducible.
        mirror_anchors: half the anchors are the negation of the other half (see ``LBConv2d.from_float``).
        activation: "relu" or "quant_relu"; act_bit_width: its bits.
        pointwise: "float", "binary" or "abc"; pointwise_options: ABC options for "abc".
        keep_first: keep the first candidate float (the stem sees the raw image).
        keep_last: keep the last candidate float.

    >>> LBCConfig(density=1.5)
    Traceback (most recent call last):
    ...
    ValueError: density=1.5 is not allowed: expected a float in (0, 1] (the fraction of non-zero anchor entries)
    """

    num_anchors: int | None = None
    density: float = 0.5
    seed: int = 0
    mirror_anchors: bool = False
    activation: str = "relu"
    act_bit_width: int = 4
    pointwise: str = "float"
    pointwise_options: dict = field(default_factory=dict)
    keep_first: bool = True
    keep_last: bool = False

    def __post_init__(self):
        if self.num_anchors is not None:
            check_num_anchors(self.num_anchors, self.mirror_anchors)
        check_density(self.density)
        check_seed(self.seed)
        for name, allowed in (("activation", ACTIVATIONS), ("pointwise", POINTWISE_KINDS)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name}={getattr(self, name)!r} is not allowed: expected one of {allowed}")
        for name in ("mirror_anchors", "keep_first", "keep_last"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name}={getattr(self, name)!r} is not allowed: expected True or False")

    def layer_kwargs(self, seed_offset: int) -> dict:
        """Keyword arguments of ``LBConv2d`` for the candidate with index ``seed_offset``."""
        return dict(num_anchors=self.num_anchors, density=self.density, seed=self.seed + seed_offset,
                    mirror_anchors=self.mirror_anchors, activation=self.activation,
                    act_bit_width=self.act_bit_width, pointwise=self.pointwise,
                    pointwise_options=dict(self.pointwise_options) or None)
