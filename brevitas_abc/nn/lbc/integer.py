"""LBC blocks whose every tensor is an integer times one scale: the form FINN builds into integer hardware.

An ``LBConv2d`` computes ``y = V * sigma(B * x) + b`` (Juefei-Xu et al. 2017, seed 000, eq. (1)'s layer). FINN
turns it into integer hardware when

1. its input ``x`` is an integer tensor times one per-tensor scale ``s_x`` (raw pixels ``k * 1/255``, or the
   output of a per-tensor ``QuantReLU``): ``B * x = s_x (B * k)``, and ``B * k`` is a ternary-weight
   (INT2: {-1, 0, +1}) integer convolution, one MVAU;
2. ``sigma`` is a quantised ReLU (``activation="quant_relu"``): ``sigma(B * x) = s_a * clip(round(B * x / s_a),
   0, 2^b - 1)``, which FINN turns into thresholds on the integer ``B * k`` (the scales ``s_x / s_a`` move into
   the thresholds), so the stream between the two convolutions is UINT``b``;
3. the pointwise ``V`` has integer weights: ``pointwise="binary"`` gives ``V = diag(alpha) sign(W)`` (one MVAU
   with bipolar weights on the UINT``b`` stream; the per-channel ``alpha`` and the bias are an affine map that
   moves into the next thresholds, or to the host after the last layer);
4. the block ends with ``BatchNorm2d -> QuantReLU`` (per-tensor unsigned quantiser), so the next block's input is
   again an integer tensor times one scale (point 1). Zero padding of such a tensor is exact in hardware (0 is
   the integer 0), so padded LBC blocks need no special padding value.

``integer_lbc_block`` builds exactly that. Nothing in it is float inside the accelerator: in
``tests/finn_flow/test_build_lbc.py`` a three-block MNIST net becomes FINN MVAUs with INT2 weights on
UINT8/UINT2 streams and executes like PyTorch on 200 real test images.
"""
from brevitas.nn import QuantReLU
from torch import nn

from brevitas_abc.nn.lbc.layers import LBConv2d


def integer_lbc_block(in_channels: int, out_channels: int, kernel_size=3, padding=None, *, num_anchors: int,
                      seed: int = 0, density: float = 0.5, act_bit_width: int = 2, pool: bool = False,
                      output_quant: bool = True) -> nn.Sequential:
    """``LBConv2d(quant_relu, binary pointwise) [-> BatchNorm2d -> QuantReLU] [-> MaxPool2d(2)]``.

    Args:
        in_channels, out_channels, kernel_size, padding: as ``LBConv2d`` (``padding=None``: ``kernel_size // 2``).
        num_anchors, seed, density: the anchors (see ``LBConv2d``).
        act_bit_width: bits of both quantised ReLUs (inside the LBC layer and after the BatchNorm), 2..8.
        pool: append a 2x2 max-pooling (after the quantiser: pooling commutes with it, and FINN pools integers).
        output_quant: append ``BatchNorm2d -> QuantReLU`` (False for the last block, whose output are logits).

    >>> import torch
    >>> block = integer_lbc_block(1, 4, 3, num_anchors=6, pool=True)
    >>> block(torch.rand(2, 1, 8, 8)).shape
    torch.Size([2, 4, 4, 4])
    >>> [type(m).__name__ for m in block]
    ['LBConv2d', 'BatchNorm2d', 'QuantReLU', 'MaxPool2d']
    """
    if not isinstance(output_quant, bool) or not isinstance(pool, bool):
        raise ValueError(f"output_quant={output_quant!r}, pool={pool!r} are not allowed: expected True or False")
    if pool and not output_quant:
        raise ValueError("pool=True is not allowed with output_quant=False: pool the quantised output "
                         "(FINN pools integer streams, not logits)")
    layers = [LBConv2d(in_channels, out_channels, kernel_size, padding=padding, num_anchors=num_anchors,
                       density=density, seed=seed, activation="quant_relu", act_bit_width=act_bit_width,
                       pointwise="binary")]
    if output_quant:
        layers += [nn.BatchNorm2d(out_channels), QuantReLU(bit_width=act_bit_width)]
    if pool:
        layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers)
