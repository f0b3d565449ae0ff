"""``GroupNetConfig``: what ``swap`` needs to turn a float model into Group-Net form (Zhuang et al. 2019).

``mode`` picks the decomposition, and with it what ``swap`` replaces:

- "layer" (eq. 3): every plain ``nn.Conv2d`` / ``nn.Linear`` -> ``GroupNetConv2d`` / ``GroupNetLinear`` (K binary
  branches, learned scales); the first and last stay float by default (``keep_first``, ``keep_last``).
- "block" (eq. 5): every registered residual block -> ``GroupNetBlock`` (K binary copies).
- "group" (eq. 6 + soft gates): every ``nn.Sequential`` stage made only of registered residual blocks ->
  ``GroupNetGroup`` (K binary branches through the whole stage, fusion gates between blocks).

``GroupNetConfig(mode=...)`` returns an instance of the matching subclass (``GroupNetLayerConfig``,
``GroupNetBlockConfig``, ``GroupNetGroupConfig``): the swap registry selects its handler by config type.
"""
from dataclasses import dataclass

from brevitas_abc.nn.group_net_binary import check_num_bases
from brevitas_abc.nn.group_net_integer import check_branch_scale_bits

MODES = ("layer", "block", "group")


@dataclass(frozen=True)
class GroupNetConfig:
    """Frozen, validated Group-Net swap configuration.

    Args:
        num_bases: K >= 1 binary branches / copies.
        mode: "layer", "block" or "group" (see the module docstring).
        gates: "group" mode: learn the soft fusion gates (dynamic decomposition).
        gate_init: initial gate value in (0, 1).
        keep_first: keep the first candidate float (default: True in "layer" mode, the stem conv; else False).
        keep_last: keep the last candidate float (default: True in "layer" mode, the classifier; else False).
        branch_scale_bits: "layer" mode only: None (free float branch scales) or b in 1..6, the branch
            coefficients ``lambda_k alpha_kc`` trained as b-bit integer multiples of one scale per output channel,
            the form FINN builds integer-only (see ``brevitas_abc.nn.group_net_integer``).

    >>> type(GroupNetConfig(num_bases=3, mode="block")).__name__
    'GroupNetBlockConfig'
    >>> GroupNetConfig(num_bases=0)
    Traceback (most recent call last):
    ...
    ValueError: num_bases=0 is not allowed: expected an int >= 1 (K, the number of binary branches)
    """

    num_bases: int = 4
    mode: str = "group"
    gates: bool = True
    gate_init: float = 0.5
    keep_first: bool | None = None
    keep_last: bool | None = None
    branch_scale_bits: int | None = None

    def __new__(cls, *args, **kwargs):
        mode = kwargs.get("mode", args[1] if len(args) > 1 else cls._default_mode())
        if mode not in MODES:
            raise ValueError(f"mode={mode!r} is not allowed: expected one of {MODES}")
        if cls is not GroupNetConfig and _MODE_CLASS[mode] is not cls:
            raise ValueError(f"mode={mode!r} is not allowed for {cls.__name__}: expected {cls._default_mode()!r} "
                             "(build a config of another mode with GroupNetConfig(mode=...))")
        return super().__new__(_MODE_CLASS[mode])

    @classmethod
    def _default_mode(cls) -> str:
        return {v: k for k, v in _MODE_CLASS.items()}.get(cls, "group")

    def __post_init__(self):
        check_num_bases(self.num_bases)
        check_branch_scale_bits(self.branch_scale_bits)
        if self.branch_scale_bits is not None and self.mode != "layer":
            raise ValueError(f"branch_scale_bits={self.branch_scale_bits!r} is not allowed with mode={self.mode!r}: "
                             "expected mode='layer' (integer branch coefficients of GroupNetConv2d/GroupNetLinear)")
        if not isinstance(self.gate_init, (int, float)) or not 0.0 < self.gate_init < 1.0:
            raise ValueError(f"gate_init={self.gate_init!r} is not allowed: expected a float in (0, 1)")
        for name in ("keep_first", "keep_last"):
            if getattr(self, name) is None:
                object.__setattr__(self, name, self.mode == "layer")
        for name in ("gates", "keep_first", "keep_last"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name}={getattr(self, name)!r} is not allowed: expected True or False")


class GroupNetLayerConfig(GroupNetConfig):
    """``GroupNetConfig(mode="layer")``."""


class GroupNetBlockConfig(GroupNetConfig):
    """``GroupNetConfig(mode="block")``."""


class GroupNetGroupConfig(GroupNetConfig):
    """``GroupNetConfig(mode="group")``."""


_MODE_CLASS = {"layer": GroupNetLayerConfig, "block": GroupNetBlockConfig, "group": GroupNetGroupConfig}
