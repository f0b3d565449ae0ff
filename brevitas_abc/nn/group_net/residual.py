"""Quantised residual streams for Group-Net's block- and group-wise decompositions: an integer form of the network.

Block-wise (eq. 5) and group-wise (eq. 6) Group-Net add float tensors: the residual sum inside each binary copy
(``bn2(conv2(.)) + shortcut``), the scaled branch outputs ``lambda_k G_k(x)`` and the soft-gate mixes
``g_i h_k + (1 - g_i) mean_j h_j``. No FINN layer adds float streams, so with ``residual_bits = b`` every one of
these terms is put on ONE integer grid per block (block mode) or per group (group mode) by a Brevitas activation
quantiser ``Q`` (signed b-bit integers times one learned scale ``s``, a stock ``QuantIdentity``):

    x_q   = Q(x)                                  the block's / group's input stream
    G_k   = Q(bn2(conv2(.))) + Q(shortcut(x_q))   (shortcut = identity: x_q itself, already on the grid)
    y     = sum_k Q(lambda_k G_k(x_q))            (block)
    h'_k  = Q(g_i h_k) + Q((1 - g_i)/K sum_j h_j)  (group, between blocks i and i + 1)
    y     = sum_k Q(lambda_k h_k)                 (group)

Every summand is ``s * n`` with n an integer, so every sum is ``s`` times an integer sum: FINN moves the one
scale ``s`` past each ``Add`` (the inputs carry the same scale, FINN issue 954's trap does not arise) and absorbs
it, with ``lambda_k``, ``g_i`` and the BatchNorms, into the next thresholds. The float coefficients ``lambda_k``
and ``g_i`` need no integer constraint: each is applied before a quantiser, i.e. it only moves that quantiser's
thresholds. ``Q`` rounds like Brevitas (``clamp(round(v / s), -2^(b-1), 2^(b-1) - 1)``, gradient by the
straight-through estimator) with a learned power-of-two scale ``s = 2^ceil(log2 s')`` (``SignedIntActPerTensorPoT``):
then ``s n_1 + s n_2 = s (n_1 + n_2)`` holds exactly in float32, so moving ``s`` past the adds (what FINN does)
changes no value.

Which tensor of a binary copy is its residual branch's output: the last ``BatchNorm2d`` of the block outside
``downsample`` (``bn2`` of ``BasicBlock``, ``bn3`` of ``Bottleneck``); ``downsample``'s output is the quantised
shortcut.
"""
from brevitas.core.function_wrapper import CeilSte
from brevitas.inject.enum import RestrictValueType
from brevitas.nn import QuantIdentity
from brevitas.quant import Int8ActPerTensorFloatMinMaxInit
from torch import nn

#: allowed residual stream widths (bits): signed integers; 1 bit cannot hold 0, above 8 FINN's thresholds explode
RESIDUAL_BITS = range(2, 9)
#: initial range of the stream quantiser: [-RESIDUAL_INIT_RANGE, RESIDUAL_INIT_RANGE] (BatchNorm-scale values)
RESIDUAL_INIT_RANGE = 4.0


def check_residual_bits(bits) -> int | None:
    if bits is None:
        return None
    if isinstance(bits, bool) or not isinstance(bits, int) or bits not in RESIDUAL_BITS:
        raise ValueError(f"residual_bits={bits!r} is not allowed: expected None (float residual streams) or an int "
                         f"in [{RESIDUAL_BITS.start}, {RESIDUAL_BITS.stop - 1}] (signed integer residual streams)")
    return bits


class SignedIntActPerTensorPoT(Int8ActPerTensorFloatMinMaxInit):
    """Signed integer activations, one learned power-of-two scale per tensor initialised from ``min_val``/``max_val``
    (Brevitas's ``Int8ActPerTensorFloatMinMaxInit`` with the power-of-two restriction of its fixed-point quantisers;
    ``bit_width`` set by the layer)."""

    restrict_scaling_type = RestrictValueType.POWER_OF_TWO
    restrict_value_float_to_int_impl = CeilSte


def residual_quant(bits: int) -> QuantIdentity:
    """The stream quantiser ``Q``: a stock ``QuantIdentity`` with signed ``bits``-bit integers and one learned
    power-of-two scale.

    >>> import torch
    >>> q = residual_quant(4)
    >>> torch.unique(q(torch.linspace(-9, 9, 101)) / q.act_quant.scale()).tolist() == list(range(-8, 8))
    True
    """
    check_residual_bits(bits)
    return QuantIdentity(act_quant=SignedIntActPerTensorPoT, bit_width=bits,
                         min_val=-RESIDUAL_INIT_RANGE, max_val=RESIDUAL_INIT_RANGE, return_quant_tensor=False)


def residual_branch_end(block: nn.Module) -> str:
    """Name of the last ``BatchNorm2d`` of ``block`` outside ``downsample`` (its residual branch's output)."""
    names = [name for name, m in block.named_modules()
             if isinstance(m, nn.BatchNorm2d) and not name.startswith("downsample")]
    if not names:
        raise ValueError(f"block of type {type(block).__name__} has no BatchNorm2d outside 'downsample', which is not "
                         "allowed with residual_bits: expected the residual branch to end in a BatchNorm2d")
    return names[-1]


def quantise_block_outputs(block: nn.Module, quant: QuantIdentity) -> nn.Module:
    """In place: ``quant`` after the residual branch's last BatchNorm and after ``downsample`` (if any)."""
    name = residual_branch_end(block)
    block.set_submodule(name, nn.Sequential(block.get_submodule(name), quant))
    if getattr(block, "downsample", None) is not None:
        block.downsample = nn.Sequential(block.downsample, quant)
    return block
