"""``ABCLayerOptions``: the validated hyper-parameters of one ABC layer (shared by the layers and ABCConfig)."""
from dataclasses import dataclass, fields
from typing import Sequence, Union

from brevitas_abc.core.presets import ACT_SHIFT_PRESETS, WEIGHT_SHIFT_PRESETS
from brevitas_abc.core.validation import (
    GRANULARITIES,
    check_choice,
    check_coefficient_bits,
    check_non_negative,
    check_num_bases,
    check_shifts,
)

BINARY_PADDING_VALUES = (-1.0, 0.0, 1.0)
ShiftSpec = Union[str, Sequence[float]]


@dataclass(frozen=True)
class ABCLayerOptions:
    """Hyper-parameters of an ABC layer (Lin, Zhao, Pan 2017); validated at construction.

    Args:
        num_weight_bases: M binary weight bases, 1..8.
        num_act_bases: N binary activation bases, 1..8, or None to keep activations full precision
            (the paper's weights-only experiments).
        weight_granularity: "per_tensor" ("as a whole") or "per_channel".
        weight_shifts: "paper", "uniform" or M floats (``u_m``, in units of std(W)).
        act_shifts: "centered" (default: thresholds ``0.5 - v_n`` at the bin centres ``(k + 0.5) / N`` of [0, 1]), "paper" (Table S4),
            "uniform" or N floats (initial ``v_n``). On BatchNorm outputs the paper's wide shifts trained ABC(3,3)
            1.8 points worse than "centered" on MNIST (numbers in :mod:`brevitas_abc.core.presets`).
        train_weight_shifts, train_act_shifts, train_act_betas: which shifts/coefficients are learned.
        ridge: ridge strength of alpha's least-squares fit (relative to the group size).
        backprop_alpha: backpropagate through alpha's least-squares solution too.
        binary_padding: value each binary activation base is padded with, one of -1.0, 0.0, +1.0. Default
            +1: a padded {-1,+1} map stays {-1,+1} (as in Group-Net's official code); 0 makes the padded
            border ternary, i.e. not an xnor/popcount conv.
        coefficient_bits: None (default: free float alpha and beta) or 2, 3, 4 for hardware-aware
            training (DESIGN 1.3): ``alpha_m[c] = s_a[c] j_m[c]`` and ``beta_n = s_b k_n`` with signed
            integers ``|j|, |k| <= Q = 2^(bits-1) - 1`` (round to nearest, straight-through gradient) and
            power-of-two scales ``s_a``, ``s_b`` derived from the current float values (max-abs / Q). Every
            ``alpha_m[c] beta_n`` is then exactly ``q_mn[c] s[c]`` with integer ``|q| <= Q^2`` (1, 9, 49), the
            form finn_flow's "bitwise" and "fused" ABC mappings lower to integer-only hardware.
    """

    num_weight_bases: int = 3
    num_act_bases: int | None = 3
    weight_granularity: str = "per_channel"
    weight_shifts: ShiftSpec = "uniform"
    act_shifts: ShiftSpec = "centered"
    train_weight_shifts: bool = False
    train_act_shifts: bool = True
    train_act_betas: bool = True
    ridge: float = 1e-4
    backprop_alpha: bool = False
    binary_padding: float = 1.0
    coefficient_bits: int | None = None

    def __post_init__(self):
        check_num_bases("num_weight_bases", self.num_weight_bases)
        check_num_bases("num_act_bases", self.num_act_bases, allow_none=True)
        check_choice("weight_granularity", self.weight_granularity, GRANULARITIES)
        check_shifts("weight_shifts", self.weight_shifts, self.num_weight_bases, WEIGHT_SHIFT_PRESETS)
        if self.num_act_bases is not None:
            check_shifts("act_shifts", self.act_shifts, self.num_act_bases, ACT_SHIFT_PRESETS)
        check_non_negative("ridge", self.ridge)
        check_choice("binary_padding", self.binary_padding, BINARY_PADDING_VALUES)
        check_coefficient_bits("coefficient_bits", self.coefficient_bits)
        for name in ("train_weight_shifts", "train_act_shifts", "train_act_betas", "backprop_alpha"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name}={getattr(self, name)!r} is not allowed: expected True or False")
        # Tuples keep the frozen dataclass hashable and the YAML/JSON form stable.
        for name in ("weight_shifts", "act_shifts"):
            value = getattr(self, name)
            if not isinstance(value, str):
                object.__setattr__(self, name, tuple(float(v) for v in value))

    @classmethod
    def from_kwargs(cls, **kwargs) -> "ABCLayerOptions":
        """Build from keyword arguments; a misspelt name is an error that lists the allowed names."""
        allowed = {f.name for f in fields(cls)}
        unknown = sorted(set(kwargs) - allowed)
        if unknown:
            raise TypeError(f"unknown ABC option(s) {unknown}: allowed are {sorted(allowed)}")
        return cls(**kwargs)
