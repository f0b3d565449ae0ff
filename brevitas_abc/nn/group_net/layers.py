"""Group-Net layer-wise binary decomposition and binary parallel atrous convolution (Zhuang et al. 2019).

Layer-wise decomposition (paper eq. 3, Fig. 1c): a float conv is approximated by K binary conv branches with
learned scales,

    y = sum_k lambda_k B_k(x) + b,        B_k = BinaryConv2d with its own latent weight and threshold.

Binary parallel atrous convolution (BPAC, paper sec. 2.3): the K branches are dilated with different rates
``r_k`` (padding ``r_k`` keeps the size of a 3x3 conv), so the bases see several receptive fields at the
cost of K binary convs:  ``y = sum_k lambda_k B_k^{(r_k)}(x) + b``.

Both export as K independent stock-Brevitas branches (each with its own thresholding node, which FINN's
streamlining needs, DESIGN 6) summed with ``Add``.
"""
import torch
from torch import Tensor, nn
from torch.nn.modules.utils import _pair

from brevitas_abc.nn.constant_ops import AddConstant, MulConstant, channel_shaped
from brevitas_abc.nn.group_net.binary import (
    BinaryConv2d,
    BinaryLinear,
    channel_scale,
    check_num_bases,
    residual_binary_weights,
)
from brevitas_abc.nn.group_net.integer import check_branch_scale_bits, integer_multiples
from brevitas_abc.nn.layer_counts import LayerCounts, layer_counts


class BranchSum(nn.Module):
    """``sum_k branch_k(x) [+ bias]``: the export form of a multi-branch Group-Net layer."""

    def __init__(self, branches: list[nn.Module], bias: Tensor | None = None, is_conv: bool = True):
        super().__init__()
        self.branches = nn.ModuleList(branches)
        self.bias = None if bias is None else AddConstant(channel_shaped(bias.detach(), is_conv))

    def forward(self, x: Tensor) -> Tensor:
        out = self.branches[0](x)
        for branch in self.branches[1:]:
            out = out + branch(x)
        return out if self.bias is None else self.bias(out)


class _ScaledBranches(nn.Module):
    """K ``BinaryConv2d`` / ``BinaryLinear`` branches, learned ``lambda_k`` (init 1) and an optional float bias.

    ``y = sum_k c_k * P_k(x) + b`` with ``P_k = branch_k.binary_op`` (the unscaled +-1 op) and per-output-channel
    coefficients ``c_kc = lambda_k alpha_kc`` (``alpha_k`` the branch's XNOR scale), or their projection onto
    integer multiples of one scale per channel when ``branch_scale_bits`` is set (``brevitas_abc.nn.group_net.integer``).
    Exports as ``sum_k Mul(c_k) <- P_k`` (one constant per branch), which is what ``finn_flow`` maps to xnor
    MVAUs summed with integer weights.

    Implements ``brevitas_abc.nn.protocol.BinaryLayer`` (family ``"group_net"``, layer-wise decomposition).
    """

    family = "group_net"
    decomposition = "layer"
    _is_conv = True

    def _init_branches(self, branches: list[BinaryConv2d], bias: bool, out_channels: int,
                       branch_scale_bits: int | None = None) -> None:
        self.branches = nn.ModuleList(branches)
        self.scales = nn.Parameter(torch.ones(len(branches)))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.branch_scale_bits = check_branch_scale_bits(branch_scale_bits)

    @property
    def num_bases(self) -> int:
        return len(self.branches)

    def branch_coefficients(self) -> Tensor:
        """``c [K, C]``: ``lambda_k alpha_kc``, projected to integer multiples if ``branch_scale_bits`` is set."""
        alphas = torch.stack([channel_scale(branch.weight) for branch in self.branches])
        coefficients = self.scales.view(-1, 1) * alphas
        if self.branch_scale_bits is None:
            return coefficients
        return integer_multiples(coefficients, self.branch_scale_bits)

    def forward(self, x: Tensor) -> Tensor:
        coefficients = self.branch_coefficients()
        out = None
        for branch, c in zip(self.branches, coefficients):
            term = branch.binary_op(x) * channel_shaped(c, self._is_conv)
            out = term if out is None else out + term
        return out if self.bias is None else out + channel_shaped(self.bias, self._is_conv)

    @torch.no_grad()
    def to_export_form(self) -> BranchSum:
        coefficients = self.branch_coefficients()
        return BranchSum([nn.Sequential(*branch.binary_op_export_form(),
                                        MulConstant(channel_shaped(c, self._is_conv)))
                          for branch, c in zip(self.branches, coefficients)], self.bias, self._is_conv)

    def latent_weights(self) -> list[nn.Parameter]:
        """The latent weights of the K binary branches."""
        return [weight for branch in self.branches for weight in branch.latent_weights()]

    def summary_counts(self) -> LayerCounts:
        counts = LayerCounts(learned=self.scales.numel(), float_values=self.scales.numel())
        for branch in self.branches:
            counts += layer_counts(branch)
        if self.bias is not None:
            counts.learned += self.bias.numel()
            counts.float_values += self.bias.numel()
        first = self.branches[0]
        counts.conv_equivalent = first.weight.numel() + (0 if self.bias is None else self.bias.numel())
        return counts


class GroupNetConv2d(_ScaledBranches):
    """Layer-wise decomposition: ``sum_k lambda_k BinaryConv2d_k(x) + b`` (see the module docstring).

    Args:
        in_channels, out_channels, kernel_size, stride, padding, dilation, bias: as ``nn.Conv2d``.
        num_bases: K >= 1 binary branches.
        branch_scale_bits: None (free float ``lambda_k alpha_kc``) or b in 1..6: the branch coefficients are
            trained and exported as b-bit integer multiples of one scale per output channel, which FINN builds
            as integer arithmetic (``brevitas_abc.nn.group_net.integer``).

    >>> layer = GroupNetConv2d(4, 8, 3, padding=1, num_bases=3)
    >>> layer(torch.randn(2, 4, 5, 5)).shape, layer.num_bases
    (torch.Size([2, 8, 5, 5]), 3)
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 bias: bool = False, *, num_bases: int = 4, branch_scale_bits: int | None = None):
        super().__init__()
        check_num_bases(num_bases)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride = _pair(kernel_size), _pair(stride)
        self.padding, self.dilation = _pair(padding), _pair(dilation)
        self._init_branches([BinaryConv2d(in_channels, out_channels, kernel_size, stride, padding, dilation)
                             for _ in range(num_bases)], bias, out_channels, branch_scale_bits)

    @classmethod
    def from_float(cls, conv: nn.Conv2d, num_bases: int = 4,
                   branch_scale_bits: int | None = None) -> "GroupNetConv2d":
        """K branches initialised with ``residual_binary_weights`` (their sum approximates the float weight
        greedily) and the float bias."""
        if conv.groups != 1 or isinstance(conv.padding, str):
            raise ValueError(f"groups={conv.groups}, padding={conv.padding!r} is not allowed for GroupNetConv2d: "
                             "expected groups=1 and int padding")
        layer = cls(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                    conv.dilation, conv.bias is not None, num_bases=num_bases, branch_scale_bits=branch_scale_bits)
        with torch.no_grad():
            for branch, weight in zip(layer.branches, residual_binary_weights(conv.weight, num_bases)):
                branch.weight.copy_(weight)
            if conv.bias is not None:
                layer.bias.copy_(conv.bias)
        return layer.to(conv.weight.device)


class GroupNetLinear(_ScaledBranches):
    """Layer-wise decomposition of an ``nn.Linear``: ``sum_k lambda_k BinaryLinear_k(x) + b`` (for MLPs such as
    FINN's LFC/TFC; the paper decomposes convolutions, the math is the same).

    >>> GroupNetLinear(16, 4, num_bases=2)(torch.randn(3, 16)).shape
    torch.Size([3, 4])
    """

    _is_conv = False

    def __init__(self, in_features: int, out_features: int, bias: bool = False, *, num_bases: int = 4,
                 branch_scale_bits: int | None = None):
        super().__init__()
        check_num_bases(num_bases)
        self.in_features, self.out_features = in_features, out_features
        self._init_branches([BinaryLinear(in_features, out_features) for _ in range(num_bases)], bias, out_features,
                            branch_scale_bits)

    @classmethod
    def from_float(cls, linear: nn.Linear, num_bases: int = 4,
                   branch_scale_bits: int | None = None) -> "GroupNetLinear":
        layer = cls(linear.in_features, linear.out_features, linear.bias is not None, num_bases=num_bases,
                    branch_scale_bits=branch_scale_bits)
        with torch.no_grad():
            for branch, weight in zip(layer.branches, residual_binary_weights(linear.weight, num_bases)):
                branch.weight.copy_(weight)
            if linear.bias is not None:
                layer.bias.copy_(linear.bias)
        return layer.to(linear.weight.device)


class BinaryParallelAtrousConv2d(_ScaledBranches):
    """BPAC: K = len(rates) binary 3x3 branches, branch k dilated by ``rates[k]`` (padding ``rates[k]``).

    >>> bpac = BinaryParallelAtrousConv2d(8, 4, rates=(1, 2, 4))
    >>> bpac(torch.randn(1, 8, 9, 9)).shape
    torch.Size([1, 4, 9, 9])
    """

    def __init__(self, in_channels: int, out_channels: int, rates=(1, 2, 4, 8), bias: bool = False,
                 branch_scale_bits: int | None = None):
        super().__init__()
        rates = tuple(rates)
        if not rates or any(isinstance(r, bool) or not isinstance(r, int) or r < 1 for r in rates):
            raise ValueError(f"rates={rates!r} is not allowed: expected a non-empty sequence of ints >= 1 "
                             "(one dilation rate per binary branch)")
        self.in_channels, self.out_channels, self.rates = in_channels, out_channels, rates
        self._init_branches([BinaryConv2d(in_channels, out_channels, 3, padding=r, dilation=r) for r in rates],
                            bias, out_channels, branch_scale_bits)
