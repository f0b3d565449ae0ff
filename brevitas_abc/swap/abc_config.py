"""``ABCConfig``: what ``swap`` needs to turn a float model into ABC-Net form."""
from dataclasses import dataclass, fields

from brevitas_abc.nn.abc.options import ABCLayerOptions


@dataclass(frozen=True)
class ABCConfig(ABCLayerOptions):
    """Frozen, validated configuration of an ABC swap: every ``ABCLayerOptions`` field, plus

    Args:
        keep_first: keep the first candidate layer (in module registration order) float, as the paper does.
        keep_last: keep the last candidate layer float.

    >>> ABCConfig(num_weight_bases=3, num_act_bases=None).layer_options().num_act_bases is None
    True
    >>> ABCConfig(coefficient_bits=3).layer_options().coefficient_bits  # integer alpha/beta for FINN
    3
    >>> ABCConfig(num_weight_bases=9)
    Traceback (most recent call last):
    ...
    ValueError: num_weight_bases=9 is not allowed: expected an int in [1, 8]
    """

    keep_first: bool = True
    keep_last: bool = True

    def __post_init__(self):
        super().__post_init__()
        for name in ("keep_first", "keep_last"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name}={getattr(self, name)!r} is not allowed: expected True or False")

    def layer_options(self) -> ABCLayerOptions:
        return ABCLayerOptions(**{f.name: getattr(self, f.name) for f in fields(ABCLayerOptions)})
