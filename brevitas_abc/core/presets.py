"""Shift presets for ABC-Net's weight shifts ``u_m`` and activation shifts ``v_n``.

"paper": Table S4 of Lin, Zhao, Pan (2017) (ResNet-18 settings), where it has an entry for that count;
other counts fall back to "uniform".
"uniform": evenly spread, over [-1, 1] for weights (in units of std(W)) and over [-1.5, 1.5] for
activations (the span of the paper's N=3 preset); a single base gets shift 0.
"""
import torch

from brevitas_abc.core.validation import check_shifts

WEIGHT_SHIFT_PRESETS = ("paper", "uniform")
ACT_SHIFT_PRESETS = ("paper", "uniform")

_PAPER_WEIGHT_SHIFTS = {1: (0.0,), 3: (-1.0, 0.0, 1.0), 5: (-1.0, -0.5, 0.0, 0.5, 1.0)}
_PAPER_ACT_SHIFTS = {1: (0.0,), 3: (-1.5, 0.0, 1.5), 5: (-3.5, -2.5, -1.5, 0.0, 2.5)}


def _uniform(num_bases: int, half_span: float) -> tuple[float, ...]:
    if num_bases == 1:
        return (0.0,)
    return tuple(torch.linspace(-half_span, half_span, num_bases).tolist())


def _resolve(spec, num_bases: int, name: str, presets, paper: dict, half_span: float) -> torch.Tensor:
    check_shifts(name, spec, num_bases, presets)
    if spec == "paper":
        values = paper.get(num_bases, _uniform(num_bases, half_span))
    elif spec == "uniform":
        values = _uniform(num_bases, half_span)
    else:
        values = tuple(float(v) for v in spec)
    return torch.tensor(values, dtype=torch.float32)


def weight_shifts(spec, num_bases: int, name: str = "weight_shifts") -> torch.Tensor:
    """Resolve a weight-shift spec ("paper", "uniform" or explicit values) to a ``[M]`` tensor."""
    return _resolve(spec, num_bases, name, WEIGHT_SHIFT_PRESETS, _PAPER_WEIGHT_SHIFTS, 1.0)


def act_shifts(spec, num_bases: int, name: str = "act_shifts") -> torch.Tensor:
    """Resolve an activation-shift spec ("paper", "uniform" or explicit values) to a ``[N]`` tensor."""
    return _resolve(spec, num_bases, name, ACT_SHIFT_PRESETS, _PAPER_ACT_SHIFTS, 1.5)
