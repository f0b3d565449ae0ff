"""Argument checks shared by the core modules, the layers and the configs.

Every error names the argument, the value received and what is allowed.
"""
import math
from collections.abc import Sequence

from brevitas_abc.function.integer_coefficients import COEFFICIENT_BITS

MAX_BASES = 8
GRANULARITIES = ("per_tensor", "per_channel")


def check_num_bases(name: str, value, allow_none: bool = False) -> None:
    allowed = f"an int in [1, {MAX_BASES}]" + (" or None (full precision)" if allow_none else "")
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_BASES:
        raise ValueError(f"{name}={value!r} is not allowed: expected {allowed}")


def check_choice(name: str, value, allowed: Sequence) -> None:
    if value not in allowed:
        raise ValueError(f"{name}={value!r} is not allowed: expected one of {tuple(allowed)}")


def check_shifts(name: str, value, num_bases: int, named_presets: Sequence[str]) -> None:
    """``value`` is a preset name or a sequence of ``num_bases`` finite floats."""
    if isinstance(value, str):
        check_choice(name, value, named_presets)
        return
    try:
        values = [float(v) for v in value]
    except (TypeError, ValueError):
        raise ValueError(
            f"{name}={value!r} is not allowed: expected one of {tuple(named_presets)} "
            f"or a sequence of {num_bases} finite floats") from None
    if len(values) != num_bases or not all(math.isfinite(v) for v in values):
        raise ValueError(
            f"{name}={value!r} is not allowed: expected {num_bases} finite floats (one per base) "
            f"or one of {tuple(named_presets)}")


def check_non_negative(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name}={value!r} is not allowed: expected a finite float >= 0")


def check_coefficient_bits(name: str, value) -> None:
    """``value`` is None (float alpha/beta) or one of ``COEFFICIENT_BITS`` (integer alpha/beta factors)."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value not in COEFFICIENT_BITS:
        raise ValueError(
            f"{name}={value!r} is not allowed: expected None (free float alpha/beta) or one of {COEFFICIENT_BITS} "
            "(alpha and beta as a power-of-two scale times signed integers of that many bits; "
            "5 bits or more would let alpha_m*beta_n exceed 127 times the scale)")
