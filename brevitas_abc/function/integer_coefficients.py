"""Integer coefficients for ABC-Net's alpha and beta: ``x ~ s * j`` with small integers j and a power-of-two s.

ABC-Net's layer is ``sum_m sum_n alpha_m beta_n op(B_m, A_n)`` (eq. 10). It lowers to integer hardware (one
integer MVAU, or M*N xnor MVAUs summed with integer weights) only if, per output channel c, every product
``alpha_m[c] beta_n`` is an integer ``q_mn[c]`` times one scale ``s[c]`` (DESIGN 1.3). Writing

    alpha_m[c] = s_a[c] j_m[c],    beta_n = s_b k_n,    j, k integers with |j|, |k| <= Q = 2^(bits-1) - 1,

gives ``alpha_m[c] beta_n = (j_m[c] k_n) (s_a[c] s_b)``: ``q_mn[c] = j_m[c] k_n``, ``|q| <= Q^2``.

Quantiser (per group of coefficients, e.g. the M alphas of one output channel, or the N betas):

    r = max|x| / Q                 (the full-range step, detached)
    j = round_ste(x / r)           (round to nearest, ties to even; in [-Q, Q], the largest |x| maps to +-Q)
    s = 2^round(log2 r)            (the scale, rounded to a power of two, detached)
    x_q = s j                      (forward value; dx_q/dx = s / r in [2^-0.5, 2^0.5], straight through)

The integer pattern j uses the full range; only the group's overall magnitude is rounded (by at most a
factor sqrt(2)), which the following BatchNorm absorbs or training learns around. With power-of-two scales
every ``alpha_m[c] beta_n = q s_a[c] s_b`` is exact in float32, and so is the whole layer: a convolution
of integers times powers of two is exact while its integer sums stay below 2^24 (fan-in * M*N*Q^2 < 2^24),
so the training forward, the M*N-branch reference, the QONNX export and FINN's integer form agree bit for bit.
"""
import torch
from torch import Tensor

COEFFICIENT_BITS = (2, 3, 4)  # Q = 1, 3, 7; |j k| <= Q^2 = 1, 9, 49 <= 127 (an INT8 branch multiplier)


def max_coefficient_int(bits: int) -> int:
    """``Q = 2^(bits-1) - 1``: the largest integer factor of a coefficient (signed, narrow range).

    >>> [max_coefficient_int(b) for b in COEFFICIENT_BITS]
    [1, 3, 7]
    """
    return 2 ** (bits - 1) - 1


class _RoundSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:
        return torch.round(x)

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        return grad


def round_ste(x: Tensor) -> Tensor:
    """Round to nearest (ties to even) with the identity straight-through gradient.

    >>> round_ste(torch.tensor([-1.5, 0.4, 2.5, 2.6]))
    tensor([-2.,  0.,  2.,  3.])
    """
    return _RoundSTE.apply(x)


def power_of_two_integers(x: Tensor, bits: int, dim=None) -> tuple[Tensor, Tensor]:
    """Split ``x`` into integers ``j`` and power-of-two scales ``s`` (see the module docstring): ``x ~ s * j``.

    Args:
        x: coefficients (alpha ``[G, M]`` or beta ``[N]``); may require grad.
        bits: one of ``COEFFICIENT_BITS``; ``|j| <= 2^(bits-1) - 1``.
        dim: the dimension(s) one scale is shared over (kept with size 1 in ``s``); None: all of ``x``.

    Returns:
        ``(j, s)``: ``j`` of ``x``'s shape, integer-valued, with the straight-through gradient
        ``dj/dx = 1/r``; ``s`` detached, broadcastable to ``x``, an exact power of two. A group whose step r
        would be zero or subnormal (all |x| below ~1e-38) gets ``j = 0`` and ``s = 1``.

    >>> j, s = power_of_two_integers(torch.tensor([[0.30, 0.55, 0.28], [0.021, -0.04, 0.01]]), bits=3, dim=1)
    >>> j.tolist(), s.flatten().tolist()
    ([[2.0, 3.0, 2.0], [2.0, -3.0, 1.0]], [0.25, 0.015625])
    """
    q = max_coefficient_int(bits)
    with torch.no_grad():
        top = x.abs().amax() if dim is None else x.abs().amax(dim=dim, keepdim=True)
        step = top / q
        step = torch.where(step >= torch.finfo(step.dtype).tiny, step, torch.ones_like(step))
        scale = torch.exp2(torch.round(torch.log2(step)))
    j = torch.clamp(round_ste(x / step), -q, q)
    return j, scale


def integer_coefficients(x: Tensor, bits: int, dim=None) -> Tensor:
    """``s * j`` of :func:`power_of_two_integers`: ``x`` constrained to a power of two times small integers.

    Gradient ``s / r`` (straight through). Idempotent: constraining a constrained tensor returns it.

    >>> integer_coefficients(torch.tensor([0.9, 1.1, 1.0]), bits=2)
    tensor([1., 1., 1.])
    """
    j, scale = power_of_two_integers(x, bits, dim)
    return scale * j
