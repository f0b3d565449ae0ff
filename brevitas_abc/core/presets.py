"""Shift presets for ABC-Net's weight shifts ``u_m`` and activation shifts ``v_n``.

"paper": Table S4 of Lin, Zhao, Pan (2017) (ResNet-18 settings), where it has an entry for that count;
other counts fall back to "uniform".
"uniform": evenly spread, over [-1, 1] for weights (in units of std(W)) and over [-1.5, 1.5] for
activations (the span of the paper's N=3 preset); a single base gets shift 0.
"centered" (activations only; the default of ``ABCLayerOptions.act_shifts``): thresholds ``t_n = 0.5 - v_n`` at
the bin centres ``(k + 0.5) / N``, k = 0..N-1, of [0, 1], i.e. shifts evenly over ``[-0.5 + 1/(2N), 0.5 - 1/(2N)]``
(N=1: v = 0; N=3: thresholds 1/6, 1/2, 5/6). No threshold sits at 0 or 1, where ReLU outputs (every 0) and
BatchNorm outputs cluster: a threshold exactly at 0 behind a ReLU gives a constant base, and values that land
within float rounding of a threshold make PyTorch and the exported graph disagree. (Until session 5 the preset
put thresholds at the bin edges ``k / (N - 1)``, 0 and 1 included; the measurements below used that form.)
On BatchNorm outputs the wide presets leave bases almost constant and the straight-through windows
``1[0 <= x + v <= 1]`` with gaps between them; measured on LFC, real MNIST (20,000 images, 2 epochs, seed 0):
ABC(1,3) 94.75 % with "paper" (= "uniform" for N=3), 95.84 % with shifts +-1, 96.58 % with +-0.5, 96.40 % with
+-0.25; ABC(3,3) 94.77 % "paper" vs 96.57 % "centered"; ABC(5,5) 96.30 % with +-1 vs 96.74 % "centered";
ABC(1,1) 96.31 %, float 97.02 %.
"""
import torch

from brevitas_abc.core.validation import check_shifts

WEIGHT_SHIFT_PRESETS = ("paper", "uniform")
ACT_SHIFT_PRESETS = ("paper", "uniform", "centered")

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
    elif spec == "centered":
        values = _uniform(num_bases, 0.5 - 0.5 / num_bases)
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
