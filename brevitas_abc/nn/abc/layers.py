"""``ABCConv2d`` and ``ABCLinear``: drop-in ABC-Net layers (Lin, Zhao, Pan 2017).

Training forward (bilinearity, DESIGN 1.1): ``y = op(sum_m alpha_m B_m, sum_n beta_n H_{v_n}(x))``, ONE
convolution on the reconstructed weight and activation tensors. It equals the M*N-branch form
``sum_m sum_n alpha_m beta_n op(B_m, H_{v_n}(x))`` (eq. 10) in value and gradient; that form is kept as
``forward_branches`` (the reference) and as the export form (``to_export_form``).

Padding of binary activations is explicit: each binary base ``H_n`` is padded with ``binary_padding``
(default +1, so padded maps stay {-1,+1}); the summed activation is therefore padded with
``binary_padding * sum_n beta_n``. With full-precision activations the layer pads with zeros like torch.

With ``coefficient_bits`` (hardware-aware training, DESIGN 1.3) every form above uses the constrained
``alpha_m[c] = s_a[c] j_m[c]`` and ``beta_n = s_b k_n`` (integers j, k; power-of-two scales): the products
``alpha_m[c] beta_n = q_mn[c] s[c]`` are exact in float32, and so are the layer's integer sums (while
fan-in * M*N*Q^2 < 2^24), so the one-convolution forward, ``forward_branches`` and the export form agree
bit for bit (``integer_coefficients()`` returns q and s).

Exact by construction, on any CPU and thread count: a sum of integer multiples of one power of two is exact in
float32 in any order (below 2^24 steps), so the convolution kernel's summation order (which oneDNN picks per
CPU ISA and thread count) cannot change it. A float term inside that sum can: the bias is therefore never
passed to the convolution; every form adds it in one fixed place, last (``_add_bias``):
``y = (sum_m sum_n alpha_m beta_n op(B_m, H_n)) + bias``, one float32 rounding, the same in all three forms.
"""
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from brevitas_abc.core import ABCActQuant, ABCWeightQuant
from brevitas_abc.core.export_guard import refuse_stock_export
from brevitas_abc.nn.abc.export_form import ABCExportLayer, BipolarActBranch, binary_weight_layer
from brevitas_abc.nn.abc.options import ABCLayerOptions
from brevitas_abc.nn.constant_ops import channel_shaped
from brevitas_abc.nn.layer_counts import LayerCounts, learned_count


def binary_pads(conv: nn.Conv2d) -> tuple[int, int, int, int]:
    """``conv``'s padding as explicit ``(left, right, top, bottom)`` for ``F.pad``, resolving 'same'/'valid' like
    torch (shared with a Brevitas ``QuantConv2d`` holding an ABC input quantiser, ``brevitas_abc.quant``)."""
    if isinstance(conv.padding, str):
        if conv.padding == "valid":
            return (0, 0, 0, 0)
        pads = []
        for k, d in zip(reversed(conv.kernel_size), reversed(conv.dilation)):
            total = d * (k - 1)
            pads += [total // 2, total - total // 2]
        return tuple(pads)
    ph, pw = conv.padding
    return (pw, pw, ph, ph)


class ABCLayerMixin:
    """Shared ABC logic; the torch layer class supplies ``weight``, ``bias`` and ``_op``.

    Implements ``brevitas_abc.nn.protocol.BinaryLayer`` (family ``"abc"``).
    """

    family = "abc"
    decomposition = "layer"
    abc_options: ABCLayerOptions

    def _init_abc(self, options: ABCLayerOptions) -> None:
        self.abc_options = options
        self.weight_quant = ABCWeightQuant(
            num_bases=options.num_weight_bases, shifts=options.weight_shifts,
            granularity=options.weight_granularity, train_shifts=options.train_weight_shifts,
            ridge=options.ridge, backprop_alpha=options.backprop_alpha, coefficient_bits=options.coefficient_bits)
        self.input_quant = None if options.num_act_bases is None else ABCActQuant(
            num_bases=options.num_act_bases, shifts=options.act_shifts,
            train_shifts=options.train_act_shifts, train_betas=options.train_act_betas,
            coefficient_bits=options.coefficient_bits)

    @property
    def num_weight_bases(self) -> int:
        return self.abc_options.num_weight_bases

    @property
    def num_act_bases(self) -> int | None:
        return self.abc_options.num_act_bases

    @property
    def _is_conv(self) -> bool:
        return isinstance(self, nn.Conv2d)

    def forward(self, x: Tensor) -> Tensor:
        refuse_stock_export(self, "ABC-Net quantisers")  # brevitas_abc.export_qonnx converts this layer first
        w_hat = self.weight_quant(self.weight)[0]
        if self.input_quant is None:
            out = self._op(x, w_hat, binary_input=False)
        elif not self._is_conv:
            out = self._op(self.input_quant(x)[0], w_hat, binary_input=True)
        else:
            out = self._conv_binary_input(x, w_hat)
        return self._add_bias(out)

    def _add_bias(self, out: Tensor) -> Tensor:
        """``out + bias`` per output channel, outside the kernel (see the module docstring), or ``out``."""
        return out if self.bias is None else out + channel_shaped(self.bias, self._is_conv)

    def forward_branches(self, x: Tensor) -> Tensor:
        """Reference M*N-branch form ``sum_m sum_n alpha_m beta_n op(B_m, H_{v_n}(x)) + bias`` (eq. 10)."""
        bases, alpha = self.weight_quant.bases_and_alpha(self.weight)
        coeff = self.weight_quant.alpha_per_output(alpha, self.weight.shape[0])
        if self.input_quant is None:
            inputs, betas, binary = [x], [None], False
        else:
            inputs, betas, binary = list(self.input_quant.branches(x)), list(self.input_quant.effective_betas()), True
        out = 0
        for m in range(self.num_weight_bases):
            scale = channel_shaped(coeff[m], self._is_conv)
            for h, beta in zip(inputs, betas):
                term = self._op(h, bases[m], binary_input=binary)
                out = out + term * (scale if beta is None else scale * beta)
        return self._add_bias(out)

    @torch.no_grad()
    def integer_coefficients(self) -> tuple[Tensor, Tensor]:
        """``(q [M, N', C], s [C])`` with every branch coefficient ``alpha_m[c] beta_n = q[m, n, c] * s[c]``
        exactly (N' = 1 and ``beta = 1`` with full-precision activations); needs ``coefficient_bits``.

        ``q = j_m[c] k_n`` are integers with ``|q| <= (2^(bits-1) - 1)^2``; ``s = s_a[c] s_b`` a power of two.
        """
        if self.abc_options.coefficient_bits is None:
            raise ValueError("integer_coefficients needs coefficient_bits in (2, 3, 4); this layer has "
                             "coefficient_bits=None (free float alpha/beta)")
        j, s_a = self.weight_quant.integer_alpha(self.weight)  # [G, M], [G, 1]
        channels = self.weight.shape[0]
        j = self.weight_quant.alpha_per_output(j, channels)  # [M, C]
        s = s_a.reshape(-1).expand(channels)
        if self.input_quant is None:
            return j.unsqueeze(1).clone(), s.clone()
        k, s_b = self.input_quant.integer_betas()
        return j.unsqueeze(1) * k.view(1, -1, 1), s * s_b

    @torch.no_grad()
    def to_export_form(self) -> ABCExportLayer:
        """Stock-Brevitas export form with the current (frozen) bases, alpha, beta and shifts."""
        bases, alpha = self.weight_quant.bases_and_alpha(self.weight)
        coeff = self.weight_quant.alpha_per_output(alpha, self.weight.shape[0])  # [M, C]
        if self.input_quant is None:
            act_branches, coefficients = [], coeff.unsqueeze(1)
            weight_padding = self.padding if self._is_conv else None
        else:
            pads = self._binary_pads() if self._is_conv else None
            act_branches = [BipolarActBranch(float(v), pads, self.abc_options.binary_padding)
                            for v in self.input_quant.shifts]
            coefficients = coeff.unsqueeze(1) * self.input_quant.effective_betas().view(1, -1, 1)
            weight_padding = 0
        weight_branches = [binary_weight_layer(self, bases[m], weight_padding) for m in range(self.num_weight_bases)]
        bias = None if self.bias is None else self.bias.detach()
        return ABCExportLayer(act_branches, weight_branches, coefficients, bias, self._is_conv)

    @classmethod
    def from_float(cls, module: nn.Module, **abc_kwargs):
        """An ABC layer with ``module``'s shape, initialised from its float weight and bias."""
        layer = cls._like(module, **abc_kwargs)
        with torch.no_grad():
            layer.weight.copy_(module.weight)
            if module.bias is not None:
                layer.bias.copy_(module.bias)
        return layer.to(module.weight.device)

    def latent_weights(self) -> list[nn.Parameter]:
        """The latent real weight ``W`` whose bases ``B_m = sign(W - mean + u_m std)`` the layer uses."""
        return [self.weight]

    def summary_counts(self) -> LayerCounts:
        """M binary bases (1 bit per weight each); float32 alpha (M per output channel or per tensor), the
        activation shifts and betas (2 per activation base) and the bias."""
        weight_quant = self.weight_quant
        groups = 1 if weight_quant.granularity == "per_tensor" else self.weight.shape[0]
        bias = 0 if self.bias is None else self.bias.numel()
        floats = weight_quant.num_bases * groups + bias
        if self.input_quant is not None:
            floats += 2 * self.input_quant.betas.numel()
        return LayerCounts(learned=learned_count(self), binary_bits=weight_quant.num_bases * self.weight.numel(),
                           float_values=floats, conv_equivalent=self.weight.numel() + bias)


class ABCConv2d(ABCLayerMixin, nn.Conv2d):
    """Drop-in ``nn.Conv2d`` with M binary weight bases and N binary activation bases.

    Same constructor arguments and state-dict keys as ``nn.Conv2d`` (plus ``weight_quant.*`` and
    ``input_quant.*``); ABC options as keywords, see ``ABCLayerOptions``.

    >>> layer = ABCConv2d(3, 8, 3, padding=1, num_weight_bases=3, num_act_bases=3)
    >>> x = torch.randn(2, 3, 8, 8)
    >>> bool(torch.allclose(layer(x), layer.forward_branches(x), atol=1e-5))
    True
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", device=None, dtype=None, *, num_weight_bases=3,
                 num_act_bases=3, **abc_options):
        if padding_mode != "zeros":
            raise ValueError(f"padding_mode={padding_mode!r} is not allowed for ABCConv2d: expected 'zeros' "
                             "(binary activations are padded explicitly with binary_padding)")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, device, dtype)
        self._init_abc(ABCLayerOptions.from_kwargs(
            num_weight_bases=num_weight_bases, num_act_bases=num_act_bases, **abc_options))

    @classmethod
    def _like(cls, conv: nn.Conv2d, **abc_kwargs):
        return cls(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                   conv.dilation, conv.groups, conv.bias is not None, conv.padding_mode, **abc_kwargs)

    def _binary_pads(self) -> tuple[int, int, int, int]:
        """Explicit ``(left, right, top, bottom)`` padding, resolving 'same'/'valid' like torch."""
        return binary_pads(self)

    def _conv_binary_input(self, x: Tensor, w_hat: Tensor) -> Tensor:
        """``conv(w_hat, pad(A))``: each binary base padded with ``binary_padding``.

        For +-1 the *input* is padded with +-inf, which every ``H_v`` maps to +-1 with zero STE gradient:
        one padding pass instead of padding ``A`` and adding ``binary_padding * sum(beta)`` on the border.
        """
        pads = self._binary_pads()
        padding = self.abc_options.binary_padding
        if any(pads) and padding != 0:
            x = F.pad(x, pads, value=padding * float("inf"))
        a = self.input_quant(x)[0]
        if any(pads) and padding == 0:
            a = F.pad(a, pads)
        return F.conv2d(a, w_hat, None, self.stride, 0, self.dilation, self.groups)

    def _op(self, x: Tensor, weight: Tensor, binary_input: bool) -> Tensor:
        """The convolution of one branch, without bias; a binary input is padded with ``binary_padding``."""
        if not binary_input:
            return F.conv2d(x, weight, None, self.stride, self.padding, self.dilation, self.groups)
        x = F.pad(x, self._binary_pads(), value=self.abc_options.binary_padding)
        return F.conv2d(x, weight, None, self.stride, 0, self.dilation, self.groups)


class ABCLinear(ABCLayerMixin, nn.Linear):
    """Drop-in ``nn.Linear`` with M binary weight bases and N binary activation bases.

    >>> layer = ABCLinear(16, 4, num_weight_bases=2, num_act_bases=None)
    >>> x = torch.randn(3, 16)
    >>> bool(torch.allclose(layer(x), layer.forward_branches(x), atol=1e-5))
    True
    """

    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None, *, num_weight_bases=3,
                 num_act_bases=3, **abc_options):
        super().__init__(in_features, out_features, bias, device, dtype)
        self._init_abc(ABCLayerOptions.from_kwargs(
            num_weight_bases=num_weight_bases, num_act_bases=num_act_bases, **abc_options))

    @classmethod
    def _like(cls, linear: nn.Linear, **abc_kwargs):
        return cls(linear.in_features, linear.out_features, linear.bias is not None, **abc_kwargs)

    def _op(self, x: Tensor, weight: Tensor, binary_input: bool) -> Tensor:
        """The matrix product of one branch, without bias."""
        return F.linear(x, weight)
