"""``ABCActQuant``: ABC-Net's N shifted binary activations, ``A = sum_n beta_n H_{v_n}(x)`` (eq. 7-9).

Follows Brevitas's tensor-quant contract: ``forward(x) -> (value, scale, zero_point, bit_width)`` with
``scale`` = beta ``[N]``, ``zero_point`` 0 and ``bit_width`` N.

With ``coefficient_bits`` set, the betas used are ``s_b k_n`` (integers ``|k| <= Q``, ``s_b`` a power of two;
:mod:`brevitas_abc.function.integer_coefficients`), while the trainable latent betas stay float.
"""
import torch
from torch import Tensor, nn

from brevitas_abc.core.presets import act_shifts
from brevitas_abc.core.validation import check_coefficient_bits, check_num_bases
from brevitas_abc.function.integer_coefficients import power_of_two_integers
from brevitas_abc.function.ste import multi_binary_act_ste, shifted_binary_act_ste


class ABCActQuant(nn.Module):
    """N binary activations ``H_v(x) = 2 * 1[clip(x + v, 0, 1) >= 0.5] - 1`` with coefficients beta.

    Args:
        num_bases: N, in [1, 8].
        shifts: "paper" (Table S4), "uniform" (evenly spread over [-1.5, 1.5]) or N floats: initial ``v``.
        train_shifts: learn ``v`` (gradient ``1[0 <= x + v <= 1]``, like BatchNorm's shift).
        train_betas: learn ``beta`` (initialised to 1, like BatchNorm's scale).
        coefficient_bits: None (free float betas) or 2, 3, 4: the betas used are ``s_b k`` with integers
            ``|k_n| <= 2^(bits-1) - 1`` (round to nearest, full range, straight-through to the latent betas)
            and ``s_b = 2^round(log2(max_n |beta_n| / Q))``.

    >>> q = ABCActQuant(num_bases=3)
    >>> a, beta, _, _ = q(torch.linspace(-3, 3, 7))
    >>> a.tolist(), beta.tolist()
    ([-3.0, -3.0, -1.0, -1.0, 1.0, 3.0, 3.0], [1.0, 1.0, 1.0])
    """

    def __init__(self, num_bases: int = 3, shifts="paper", train_shifts: bool = True, train_betas: bool = True,
                 coefficient_bits: int | None = None):
        super().__init__()
        check_num_bases("num_act_bases", num_bases)
        check_coefficient_bits("coefficient_bits", coefficient_bits)
        self.coefficient_bits = coefficient_bits
        self.num_bases = num_bases
        self.shifts = nn.Parameter(act_shifts(shifts, num_bases), requires_grad=train_shifts)
        self.betas = nn.Parameter(torch.ones(num_bases), requires_grad=train_betas)

    def effective_betas(self) -> Tensor:
        """The betas the layer uses: the latent ``betas``, or ``s_b k`` with ``coefficient_bits`` (``[N]``)."""
        if self.coefficient_bits is None:
            return self.betas
        k, scale = power_of_two_integers(self.betas, self.coefficient_bits)
        return scale * k

    def integer_betas(self) -> tuple[Tensor, Tensor]:
        """``(k [N], s_b [])`` with ``effective_betas() = s_b * k`` exactly; needs ``coefficient_bits``."""
        if self.coefficient_bits is None:
            raise ValueError("integer_betas needs coefficient_bits in (2, 3, 4); this quantiser has "
                             "coefficient_bits=None (free float betas)")
        return power_of_two_integers(self.betas.detach(), self.coefficient_bits)

    def branches(self, x: Tensor) -> Tensor:
        """The N binary activations ``H_{v_n}(x)``, stacked as ``[N, *x.shape]`` (exact +-1)."""
        v = self.shifts.view(-1, *([1] * x.dim()))
        return shifted_binary_act_ste(x.unsqueeze(0), v)

    def forward(self, x: Tensor):
        betas = self.effective_betas()
        value = multi_binary_act_ste(x, self.shifts, betas)
        zero_point = torch.zeros((), dtype=x.dtype, device=x.device)
        return value, betas, zero_point, torch.tensor(float(self.num_bases))

    def extra_repr(self) -> str:
        bits = "" if self.coefficient_bits is None else f", coefficient_bits={self.coefficient_bits}"
        return f"num_bases={self.num_bases}{bits}"
