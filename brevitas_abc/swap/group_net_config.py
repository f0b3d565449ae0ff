"""Group-Net swap configurations, one explicit class per decomposition (Zhuang et al. 2019):

- ``GroupNetLayerConfig`` (eq. 3): every plain ``nn.Conv2d`` / ``nn.Linear`` -> ``GroupNetConv2d`` /
  ``GroupNetLinear`` (K binary branches, learned scales); the first and last stay float by default
  (``keep_first``, ``keep_last``); ``branch_scale_bits`` makes the branch coefficients integer (FINN-ready).
- ``GroupNetBlockConfig`` (eq. 5): every registered residual block -> ``GroupNetBlock`` (K binary copies).
- ``GroupNetGroupConfig`` (eq. 6 + soft gates): every ``nn.Sequential`` stage made only of registered residual
  blocks -> ``GroupNetGroup`` (K binary branches through the whole stage, fusion ``gates`` between blocks).

The swap registry selects the handler by config class. ``GroupNetConfig(mode=..., **fields)`` builds the class
of ``mode`` (default "group"), as configs written as a mapping (``build_model(group_net={...})``) need; a field
that the chosen mode does not use is an error, not silently ignored. ``GroupNetConfigBase`` is the common base
(``isinstance`` of any of the three).
"""
from dataclasses import dataclass, fields
from typing import ClassVar

from brevitas_abc.nn.group_net.binary import check_num_bases
from brevitas_abc.nn.group_net.integer import check_branch_scale_bits
from brevitas_abc.nn.group_net.residual import check_residual_bits

MODES = ("layer", "block", "group")


def _check_bool(config, *names: str) -> None:
    for name in names:
        if not isinstance(getattr(config, name), bool):
            raise ValueError(f"{name}={getattr(config, name)!r} is not allowed: expected True or False")


@dataclass(frozen=True)
class GroupNetConfigBase:
    """Fields every mode has: ``num_bases`` K >= 1 binary branches / copies; ``keep_first`` / ``keep_last``: keep
    the first / last candidate float. ``mode`` names the decomposition (a class constant)."""

    mode: ClassVar[str]
    num_bases: int = 4

    def __post_init__(self):
        check_num_bases(self.num_bases)
        _check_bool(self, "keep_first", "keep_last")


@dataclass(frozen=True)
class GroupNetLayerConfig(GroupNetConfigBase):
    """Layer-wise decomposition (eq. 3).

    Args:
        num_bases: K >= 1.
        keep_first, keep_last: keep the first / last candidate float (default True: the stem conv and the
            classifier).
        branch_scale_bits: None (free float branch scales) or b in 1..6, the branch coefficients
            ``lambda_k alpha_kc`` trained as b-bit integer multiples of one scale per output channel, the form
            FINN builds integer-only (see ``brevitas_abc.nn.group_net.integer``).
    """

    mode: ClassVar[str] = "layer"
    keep_first: bool = True
    keep_last: bool = True
    branch_scale_bits: int | None = None

    def __post_init__(self):
        super().__post_init__()
        check_branch_scale_bits(self.branch_scale_bits)


@dataclass(frozen=True)
class GroupNetBlockConfig(GroupNetConfigBase):
    """Block-wise decomposition (eq. 5): ``num_bases`` binary copies of each registered residual block;
    ``keep_first`` / ``keep_last`` (default False) keep the first / last block float; ``residual_bits`` None (float
    residual streams) or b in 2..8: every residual sum and branch output on one signed b-bit integer grid per block
    (a Brevitas activation quantiser), the form FINN builds integer-only (``brevitas_abc.nn.group_net.residual``)."""

    mode: ClassVar[str] = "block"
    keep_first: bool = False
    keep_last: bool = False
    residual_bits: int | None = None

    def __post_init__(self):
        super().__post_init__()
        check_residual_bits(self.residual_bits)


@dataclass(frozen=True)
class GroupNetGroupConfig(GroupNetConfigBase):
    """Group-wise decomposition (eq. 6) with soft gates.

    Args:
        num_bases: K >= 1.
        gates: learn the soft fusion gates between consecutive blocks (dynamic decomposition).
        gate_init: initial gate value in (0, 1).
        keep_first, keep_last: keep the first / last stage float (default False).
        residual_bits: None (float residual streams) or b in 2..8: every residual sum, branch output and gate mix
            on one signed b-bit integer grid per group (a Brevitas activation quantiser), the form FINN builds
            integer-only (``brevitas_abc.nn.group_net.residual``).
    """

    mode: ClassVar[str] = "group"
    gates: bool = True
    gate_init: float = 0.5
    keep_first: bool = False
    keep_last: bool = False
    residual_bits: int | None = None

    def __post_init__(self):
        super().__post_init__()
        check_residual_bits(self.residual_bits)
        _check_bool(self, "gates")
        if isinstance(self.gate_init, bool) or not isinstance(self.gate_init, (int, float)) \
                or not 0.0 < self.gate_init < 1.0:
            raise ValueError(f"gate_init={self.gate_init!r} is not allowed: expected a float in (0, 1)")


MODE_CLASSES = {"layer": GroupNetLayerConfig, "block": GroupNetBlockConfig, "group": GroupNetGroupConfig}


def GroupNetConfig(num_bases: int = 4, mode: str = "group", **options) -> GroupNetConfigBase:  # noqa: N802
    """The configuration class of ``mode`` with ``num_bases`` and ``options`` (its fields; see the classes).

    ``keep_first`` / ``keep_last`` given as None take the mode's default.

    >>> type(GroupNetConfig(num_bases=3, mode="block")).__name__
    'GroupNetBlockConfig'
    >>> GroupNetConfig(num_bases=0)
    Traceback (most recent call last):
    ...
    ValueError: num_bases=0 is not allowed: expected an int >= 1 (K, the number of binary branches)
    >>> GroupNetConfig(mode="block", branch_scale_bits=2)
    Traceback (most recent call last):
    ...
    ValueError: branch_scale_bits=2 is not allowed with mode='block': expected mode='layer' (GroupNetLayerConfig's fields: ['num_bases', 'keep_first', 'keep_last', 'branch_scale_bits'])

    Raises:
        ValueError: an unknown ``mode``, or an option the mode's class does not have (naming the mode that
            has it), or an invalid value.
    """
    if mode not in MODES:
        raise ValueError(f"mode={mode!r} is not allowed: expected one of {MODES}")
    cls = MODE_CLASSES[mode]
    allowed = [f.name for f in fields(cls)]
    options = {k: v for k, v in options.items() if not (k in ("keep_first", "keep_last") and v is None)}
    for name, value in options.items():
        if name not in allowed:
            owners = [m for m, c in MODE_CLASSES.items() if name in [f.name for f in fields(c)]]
            expected = f"mode={owners[0]!r}" if owners else "no such option"
            raise ValueError(f"{name}={value!r} is not allowed with mode={mode!r}: expected {expected} "
                             f"({MODE_CLASSES[owners[0]].__name__ if owners else cls.__name__}'s fields: "
                             f"{[f.name for f in fields(MODE_CLASSES[owners[0]] if owners else cls)]})")
    return cls(num_bases=num_bases, **options)
