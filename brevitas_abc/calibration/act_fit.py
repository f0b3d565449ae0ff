"""Fit ABC-Net's activation shifts and betas to a sample of a layer's input (post-training calibration).

ABC-Net's activation ``A(x) = sum_n beta_n H_{v_n}(x)`` with ``H_v(x) = sign(x + v - 0.5)`` (Lin, Zhao, Pan
2017, eq. 7-9) is an (N+1)-level step function of ``x`` (DESIGN 1, "thermometer code"): with the thresholds
``t_n = 0.5 - v_n`` sorted, an input with k thresholds at or below it gets the level
``L_k = -S + 2 (beta_1 + ... + beta_k)``, ``S = sum_n beta_n``. Any increasing levels ``L_0 < ... < L_N`` are
therefore reachable up to one constant ``c = (L_0 + L_N) / 2``:

    beta_n = (L_n - L_{n-1}) / 2,        A(x) = L_{k(x)} - c.

The constant reaches the next layer as ``c * sum(W)`` per output channel, which the layer's bias or the
BatchNorm after it absorbs (``calibrate`` re-estimates BatchNorm statistics and corrects biases).

Given a sample of the layer's input ``x`` and of the float value ``y`` the float network fed to the same layer
(``y = x`` without a reference; ``y = relu(x_float)`` where the ReLU before an ABC layer is dropped), the fit:

1. Levels and thresholds in the space of ``y`` (the bin-centre idea: thresholds midway between levels):
   * ``"uniform"``: levels evenly spaced over ``[q_lo, q_hi]``, the ``clip`` and ``1 - clip`` quantiles of ``y``,
     thresholds at the bin centres ``q_lo + (k + 0.5) (q_hi - q_lo) / N``, k = 0..N-1 (the "centered" preset,
     rescaled from [0, 1] to the observed range).
   * ``"lloyd"``: the minimum squared-error (N+1)-level quantiser of ``y`` (Lloyd-Max): starting from
     "uniform", alternate thresholds = midpoints of neighbouring levels and levels = mean of ``y`` in each bin.
     A mass of exact zeros (ReLU outputs) gets a level of its own at 0, no threshold lands on it.
2. Thresholds carried to ``x`` by quantile matching: ``t_n`` leaves a fraction ``p_n = P(y < t_n)`` below it,
   and the threshold on ``x`` is placed midway between the two sample values of ``x`` around its
   ``p_n`` quantile; where those are equal (a run of ReLU zeros), midway between that value and the next distinct
   one on the nearer side. Never on a sample value, so no input of the calibration set sits on a tie (a threshold
   on the zeros of a ReLU would also make the ReLU matter where the ABC activation replaces it).
3. Levels by least squares of ``y`` on the bins of ``x``: ``min_{beta, c} ||y - sum_n beta_n H_{v_n}(x) - c||^2``.
   The N columns ``H_{v_n}(x)`` and the constant span the N+1 bin indicators, so the solution is
   ``L_k = mean(y | k(x) = k)`` (an empty bin keeps its step-1 level); a decreasing pair is flattened
   (running maximum) so that every beta is positive.
"""
from dataclasses import dataclass

import torch
from torch import Tensor

METHODS = ("lloyd", "uniform")


@dataclass(frozen=True)
class ActFit:
    """The fitted activation of one layer.

    Attributes:
        shifts: ``v_n = 0.5 - t_n`` (``[N]``, thresholds ascending).
        betas: ``[N]``, positive.
        offset: ``c``: ``A(x) ~ y - c``.
        relative_error: ``||y - A(x) - c||^2 / ||y - mean(y)||^2`` on the sample (0: exact; 1: no better than
            the mean).
    """

    shifts: Tensor
    betas: Tensor
    offset: float
    relative_error: float


def _quantile_sorted(values: Tensor, q: float) -> Tensor:
    index = min(max(int(round(q * (values.numel() - 1))), 0), values.numel() - 1)
    return values[index]


def _uniform_levels(y_sorted: Tensor, num_bases: int, clip: float) -> Tensor:
    lo, hi = _quantile_sorted(y_sorted, clip), _quantile_sorted(y_sorted, 1.0 - clip)
    if hi <= lo:  # (almost) constant input: spread the levels around it so that thresholds stay distinct
        spread = max(float(y_sorted[-1] - y_sorted[0]), 1e-3 * max(1.0, float(lo.abs())))
        lo, hi = lo - spread / 2, lo + spread / 2
    return torch.linspace(float(lo), float(hi), num_bases + 1, dtype=torch.float64)


def _bin_means(values_sorted: Tensor, cumsum: Tensor, thresholds: Tensor, fallback: Tensor) -> Tensor:
    """Mean of the sorted ``values`` in each bin ``[t_{k-1}, t_k)``; ``fallback[k]`` for an empty bin."""
    edges = torch.searchsorted(values_sorted, thresholds)  # first index >= t
    starts = torch.cat([edges.new_zeros(1), edges])
    stops = torch.cat([edges, edges.new_full((1,), values_sorted.numel())])
    totals = cumsum[stops] - cumsum[starts]
    counts = (stops - starts).to(torch.float64)
    return torch.where(counts > 0, totals / counts.clamp(min=1), fallback)


def quantiser_levels(y: Tensor, num_bases: int, method: str = "lloyd", clip: float = 1e-3,
                     iterations: int = 50) -> tuple[Tensor, Tensor]:
    """Levels ``[N+1]`` and thresholds ``[N]`` (midpoints of the levels) of an (N+1)-level quantiser of ``y``.

    Args:
        y: a sample (any shape; float).
        num_bases: N.
        method: "lloyd" (minimum squared error) or "uniform" (evenly spaced over the clipped range).
        clip: the fraction of the sample left outside the "uniform" range at each end (Lloyd's start).
        iterations: Lloyd iterations at most (it stops earlier when the levels stop moving).

    >>> levels, thresholds = quantiser_levels(torch.tensor([0.0] * 6 + [2.0, 3.0, 4.0]), 1, "lloyd")
    >>> levels.tolist(), thresholds.tolist()
    ([0.0, 3.0], [1.5])
    """
    if method not in METHODS:
        raise ValueError(f"method={method!r} is not allowed: expected one of {METHODS}")
    if not 0.0 <= clip < 0.5:
        raise ValueError(f"clip={clip!r} is not allowed: expected a fraction in [0, 0.5)")
    y_sorted = y.detach().reshape(-1).to(torch.float64).sort().values
    if y_sorted.numel() == 0:
        raise ValueError("cannot calibrate on an empty sample")
    levels = _uniform_levels(y_sorted, num_bases, clip)
    if method == "lloyd":
        cumsum = torch.cat([y_sorted.new_zeros(1), y_sorted.cumsum(0)])
        for _ in range(iterations):
            thresholds = (levels[1:] + levels[:-1]) / 2
            new = _bin_means(y_sorted, cumsum, thresholds, levels)
            new = torch.cummax(new, 0).values
            if torch.allclose(new, levels, rtol=0, atol=1e-7 * float(y_sorted.abs().max() + 1)):
                levels = new
                break
            levels = new
    return levels, (levels[1:] + levels[:-1]) / 2


def _beside_tie(x_sorted: Tensor, count: int) -> float:
    """A threshold that leaves about ``count`` samples below it when the two samples around position ``count`` are
    equal (a run of one value ``v``, e.g. the zeros of a ReLU): midway between ``v`` and the next distinct value on
    the side whose count is closer, never on ``v`` itself (a threshold on ``v`` would put the tie on the sign)."""
    n = x_sorted.numel()
    value = x_sorted[count]
    first = int(torch.searchsorted(x_sorted, value, right=False))
    after = int(torch.searchsorted(x_sorted, value, right=True))
    options = []
    if after < n:
        options.append((after - count, float(value + x_sorted[after]) / 2))
    if first > 0:
        options.append((count - first, float(x_sorted[first - 1] + value) / 2))
    if not options:  # every sample equal: any threshold off the value
        return float(value) + 1.0
    return min(options)[1]


def _thresholds_on_input(x_sorted: Tensor, y_sorted: Tensor, thresholds_y: Tensor, same: bool) -> Tensor:
    """Quantile matching: the threshold on ``x`` that leaves the fraction ``P(y < t)`` of the sample below it,
    midway between the neighbouring sample values."""
    n = x_sorted.numel()
    below = torch.searchsorted(y_sorted, thresholds_y)  # how many y < t
    out = []
    for t, count in zip(thresholds_y.tolist(), below.tolist()):
        if 0 < count < n and x_sorted[count - 1] == x_sorted[count]:
            out.append(_beside_tie(x_sorted, count))
        elif 0 < count < n:
            out.append(float(x_sorted[count - 1] + x_sorted[count]) / 2)
        elif same:
            out.append(t)
        elif count == 0:
            out.append(float(x_sorted[0]) - 1.0)
        else:
            out.append(float(x_sorted[-1]) + 1.0)
    return torch.tensor(out, dtype=torch.float64)


def fit_multi_binary_act(x: Tensor, num_bases: int, y: Tensor | None = None, method: str = "lloyd",
                         clip: float = 1e-3) -> ActFit:
    """Shifts and betas of ``A(x) = sum_n beta_n H_{v_n}(x)`` fitted to ``y`` (default ``y = x``); see the module
    docstring for the math.

    Args:
        x: a sample of the layer's input.
        num_bases: N.
        y: the float values the layer should see, elementwise paired with ``x`` (same number of elements).
        method, clip: see :func:`quantiser_levels`.

    >>> x = torch.linspace(0.0005, 0.9995, 1000)
    >>> fit = fit_multi_binary_act(x, 1, method="uniform", clip=0.0)
    >>> [round(v, 3) for v in (0.5 - fit.shifts).tolist()], [round(b, 3) for b in fit.betas.tolist()]
    ([0.5], [0.25])
    """
    x_flat = x.detach().reshape(-1).to(torch.float64)
    same = y is None
    y_flat = x_flat if same else y.detach().reshape(-1).to(torch.float64)
    if y_flat.numel() != x_flat.numel():
        raise ValueError(f"y has {y_flat.numel()} elements, x has {x_flat.numel()}: expected one target per input")
    y_sorted = y_flat.sort().values
    x_sorted = y_sorted if same else x_flat.sort().values
    step_levels, thresholds_y = quantiser_levels(y_sorted, num_bases, method, clip)
    thresholds = _thresholds_on_input(x_sorted, y_sorted, thresholds_y, same)
    thresholds = torch.cummax(thresholds, 0).values
    bins = torch.bucketize(x_flat, thresholds, right=True)  # k(x) = #{n : t_n <= x}
    counts = torch.bincount(bins, minlength=num_bases + 1).to(torch.float64)
    sums = torch.bincount(bins, weights=y_flat, minlength=num_bases + 1)
    levels = torch.where(counts > 0, sums / counts.clamp(min=1), step_levels)
    levels = torch.cummax(levels, 0).values
    span = float(levels[-1] - levels[0])
    betas = ((levels[1:] - levels[:-1]) / 2).clamp(min=1e-6 * max(span, 1e-6))
    levels = levels[0] + torch.cat([levels.new_zeros(1), 2 * betas.cumsum(0)])
    offset = float(levels[0] + levels[-1]) / 2
    residual = y_flat - levels[bins]
    variance = float(((y_flat - y_flat.mean()) ** 2).sum())
    relative = float((residual ** 2).sum()) / variance if variance > 0 else 0.0
    return ActFit(shifts=(0.5 - thresholds).to(torch.float32), betas=betas.to(torch.float32), offset=offset,
                  relative_error=relative)
