"""``ABCWeightQuant``: ABC-Net's multi-binary weight approximation as a small module.

Follows Brevitas's tensor-quant contract: ``forward(w) -> (value, scale, zero_point, bit_width)``, where
``value = sum_m alpha_m B_m`` (ABC-Net eq. 1-3), ``scale`` is alpha (``[G, M]``; the quantiser is not
uniform, so one scale per base), ``zero_point`` is 0 and ``bit_width`` is M (M one-bit planes).

With ``coefficient_bits`` set, alpha is constrained to ``alpha_m[g] = s_a[g] j_m[g]`` (integers ``|j| <= Q``,
``s_a`` a power of two per group; :mod:`brevitas_abc.function.integer_coefficients`), the form FINN's integer
mappings need (DESIGN 1.3).
"""
import torch
from torch import Tensor, nn

from brevitas_abc.core.presets import weight_shifts
from brevitas_abc.core.validation import (
    GRANULARITIES,
    check_choice,
    check_coefficient_bits,
    check_non_negative,
    check_num_bases,
)
from brevitas_abc.function.abc_weight import abc_weight_bases, ridge_least_squares_alpha
from brevitas_abc.function.integer_coefficients import power_of_two_integers


class NonFiniteWeightError(ValueError):
    """Raised when a weight to approximate contains NaN or inf."""


class ABCWeightQuant(nn.Module):
    """M binary bases with least-squares coefficients, per tensor or per output channel.

    Args:
        num_bases: M, in [1, 8].
        shifts: "paper" (Table S4), "uniform" (evenly spread over [-1, 1]) or M floats.
        granularity: "per_tensor" (the paper's "as a whole") or "per_channel" (one mean/std/alpha per
            output channel, dim 0 of the weight; with M=1 this is XNOR-Net's BWN).
        train_shifts: make ``u`` a trainable parameter (gradient ``dB_m/du_m = std(W)`` by STE).
        ridge: ridge strength of the least-squares fit, relative to the group size.
        backprop_alpha: also backpropagate through the least-squares solution alpha(W); by default alpha is
            treated as a constant, so ``dC/dW = sum_m alpha_m dC/dB_m`` exactly as in eq. 4.
        coefficient_bits: None (free float alpha) or 2, 3, 4: each group's least-squares alpha is
            replaced by ``s_a j`` with integers ``|j_m| <= 2^(bits-1) - 1`` (round to nearest, full range,
            straight-through) and ``s_a`` a power of two (``2^round(log2(max_m |alpha_m| / Q))``).

    Returns (forward):
        ``(w_hat, alpha, zero_point, bit_width)`` with ``w_hat`` of the weight's shape.

    >>> q = ABCWeightQuant(num_bases=3, granularity="per_channel")
    >>> w_hat, alpha, _, _ = q(torch.randn(4, 2, 3, 3))
    >>> alpha.shape, all(len(torch.unique(w_hat[c])) <= 4 for c in range(4))
    (torch.Size([4, 3]), True)
    """

    def __init__(self, num_bases: int = 3, shifts="uniform", granularity: str = "per_channel",
                 train_shifts: bool = False, ridge: float = 1e-4, backprop_alpha: bool = False,
                 coefficient_bits: int | None = None):
        super().__init__()
        check_num_bases("num_weight_bases", num_bases)
        check_choice("weight_granularity", granularity, GRANULARITIES)
        check_non_negative("ridge", ridge)
        check_coefficient_bits("coefficient_bits", coefficient_bits)
        self.coefficient_bits = coefficient_bits
        self.num_bases = num_bases
        self.granularity = granularity
        self.ridge = float(ridge)
        self.backprop_alpha = backprop_alpha
        u = weight_shifts(shifts, num_bases)
        if train_shifts:
            self.shifts = nn.Parameter(u)
        else:
            self.register_buffer("shifts", u)

    def _groups(self, weight: Tensor) -> Tensor:
        if not torch.isfinite(weight).all():
            raise NonFiniteWeightError(
                f"the weight to approximate (shape {tuple(weight.shape)}) contains NaN or inf; "
                "ABC bases and alpha would be NaN. Check the learning rate or the float initialisation.")
        return weight.reshape(1, -1) if self.granularity == "per_tensor" else weight.reshape(weight.shape[0], -1)

    def _bases_and_float_alpha(self, weight: Tensor) -> tuple[Tensor, Tensor]:
        w_groups = self._groups(weight)
        bases = abc_weight_bases(w_groups, self.shifts)
        alpha = ridge_least_squares_alpha(w_groups, bases, self.ridge)
        if not self.backprop_alpha:
            alpha = alpha.detach()
        return bases.reshape(self.num_bases, *weight.shape), alpha

    def bases_and_alpha(self, weight: Tensor) -> tuple[Tensor, Tensor]:
        """``B`` as ``[M, *weight.shape]`` (exact +-1) and ``alpha`` as ``[G, M]`` (constrained if
        ``coefficient_bits`` is set)."""
        bases, alpha = self._bases_and_float_alpha(weight)
        if self.coefficient_bits is not None:
            j, scale = power_of_two_integers(alpha, self.coefficient_bits, dim=1)
            alpha = scale * j
        return bases, alpha

    def integer_alpha(self, weight: Tensor) -> tuple[Tensor, Tensor]:
        """``(j [G, M], s_a [G, 1])`` with ``alpha = s_a * j`` exactly; needs ``coefficient_bits``."""
        if self.coefficient_bits is None:
            raise ValueError("integer_alpha needs coefficient_bits in (2, 3, 4); this quantiser has "
                             "coefficient_bits=None (free float alpha)")
        _, alpha = self._bases_and_float_alpha(weight)
        j, scale = power_of_two_integers(alpha.detach(), self.coefficient_bits, dim=1)
        return j, scale

    def alpha_per_output(self, alpha: Tensor, num_outputs: int) -> Tensor:
        """``alpha`` broadcast to ``[M, num_outputs]`` (one coefficient per base and output channel)."""
        return alpha.t().expand(self.num_bases, num_outputs)

    def forward(self, weight: Tensor):
        bases, alpha = self.bases_and_alpha(weight)
        coeff = self.alpha_per_output(alpha, weight.shape[0]).reshape(
            self.num_bases, weight.shape[0], *([1] * (weight.dim() - 1)))
        # An explicit loop, not ``.sum(dim=0)``: a vectorised reduction may order the additions differently
        # for different elements, so equal base patterns would not give bitwise-equal values (M+1 levels).
        w_hat = coeff[0] * bases[0]
        for m in range(1, self.num_bases):
            w_hat = w_hat + coeff[m] * bases[m]
        zero_point = torch.zeros((), dtype=weight.dtype, device=weight.device)
        return w_hat, alpha, zero_point, torch.tensor(float(self.num_bases))

    def extra_repr(self) -> str:
        bits = "" if self.coefficient_bits is None else f", coefficient_bits={self.coefficient_bits}"
        return f"num_bases={self.num_bases}, granularity={self.granularity}, ridge={self.ridge}{bits}"
