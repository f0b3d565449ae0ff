"""Binary padding of an ABC input quantiser inside a Brevitas ``QuantConv2d``: the layer computes ``ABCConv2d``'s forward.

A padded convolution reads its binary activation bases ``H_{v_n}(x)`` in {-1, +1} beyond the border as well. ABC-Net's
layer (``brevitas_abc.nn.ABCConv2d``) pads each base with ``binary_padding`` (default +1, so padded maps stay binary;
zero padding silently makes a "binary" conv ternary, see docs/DESIGN.md section 3), i.e. the summed activation
``A = sum_n beta_n H_{v_n}(x)`` (ABC-Net eq. 9) is padded with ``binary_padding * sum_n beta_n``. A stock
``QuantConv2d`` would zero-pad ``A`` inside its kernel. With an ABC input quantiser (``input_quant=ABCActPerTensorFloat``,
option ``input_binary_padding``: +1.0 by default, -1.0 or 0.0) the ``QuantConv2d`` computes exactly ``ABCConv2d``'s
training forward instead:

    y = conv(Q(pad(x, binary_padding * inf)), w_hat, padding=0) + bias      (binary_padding = +1 or -1)
    y = conv(pad(Q(x), 0), w_hat, padding=0) + bias                          (binary_padding = 0)

with ``Q(x) = sum_n beta_n H_{v_n}(x)`` and ``w_hat = sum_m alpha_m B_m``:

- the quantiser (``pad_binary_input``, called by the ABC activation proxy) pads its input ``x`` with ``+-inf``, which
  every ``H_v`` maps to ``+-1`` with a zero straight-through gradient ``1[0 <= x + v <= 1]``; the border of ``A``
  is thus ``sum_n beta_n (+-1)`` computed by the quantiser itself, and beta receives its gradient from the border
  as in ``ABCConv2d``;
- the layer's ``inner_forward_impl`` (``BinaryPaddedConvForward``, installed on the layer by the ABC activation
  proxy) convolves with padding 0 and adds the bias last, outside the kernel, as ``ABCConv2d`` does (a float term
  inside the kernel's sum is order dependent; outside it, integer-coefficient layers are exact on any CPU).

Both run the same operations on the same tensors as ``ABCConv2d``, so values and gradients agree bit for bit, and
``brevitas_abc.quant.to_abc_layer`` (hence ``export_qonnx`` and ``finn_flow``) carries ``binary_padding`` over.
"""
import torch.nn.functional as F
from brevitas.quant_tensor import QuantTensor
from torch import Tensor, nn

from brevitas_abc.nn.abc.layers import binary_pads


def reads_binary_input(layer: nn.Module, proxy: nn.Module) -> bool:
    """Whether ``layer`` is a zero-padding-mode ``Conv2d`` whose input quantiser is ``proxy`` (the case handled here;
    reflect/replicate/circular padding of binary values is binary already and stays Brevitas's)."""
    return (isinstance(layer, nn.Conv2d) and layer.padding_mode == "zeros"
            and getattr(layer, "input_quant", None) is proxy)


def _check_static_padding(layer: nn.Module) -> None:
    if getattr(layer, "is_same_padded_strided", False):
        raise ValueError(f"{type(layer).__name__} with an ABC input quantiser: padding='same' with stride "
                         f"{layer.stride} (an input-size dependent padding) is not allowed with binary padding; "
                         "allowed: explicit integer padding, 'valid', or 'same' with stride 1")


def pad_binary_input(proxy: nn.Module, x):
    """``x`` padded with ``proxy.binary_padding * inf`` by the padding of the convolution reading ``proxy``'s output,
    or ``x`` unchanged (no such convolution, no padding, or ``binary_padding`` 0: then the layer zero-pads ``Q(x)``).

    Raises:
        ValueError: ``proxy`` feeds several convolutions with different paddings, or one with ``padding='same'``
            and a stride above 1.
    """
    hosts = [layer for layer in proxy.tracked_module_list if reads_binary_input(layer, proxy)]
    for layer in hosts:
        _check_static_padding(layer)
    pads = {binary_pads(layer) for layer in hosts}
    if len(pads) > 1:
        raise ValueError(f"one ABC input quantiser is shared by convolutions with different paddings {sorted(pads)}; "
                         "allowed: one quantiser per padding")
    if not pads or not any(pad := pads.pop()) or proxy.binary_padding == 0:
        return x
    if isinstance(x, QuantTensor):
        x = x.value
    return F.pad(x, pad, value=proxy.binary_padding * float("inf"))


class BinaryPaddedConvForward:
    """``inner_forward_impl`` of a ``QuantConv2d`` (see the module docstring): while the layer's input quantiser is
    an ABC one (it has ``binary_padding``), ``conv(A, w_hat, padding=0) + bias`` on the quantiser's padded ``A``
    (zero-padded here when ``binary_padding`` is 0); otherwise the layer's own ``inner_forward_impl``.

    Held in the layer's ``__dict__`` (not a submodule, no state-dict entry); copies and pickles of the layer carry
    their own, bound to the copy.
    """

    def __init__(self, layer: nn.Conv2d):
        self.layer = layer

    def __call__(self, a: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
        layer = self.layer
        proxy = layer.input_quant
        padding = getattr(proxy, "binary_padding", None)
        if padding is None or not reads_binary_input(layer, proxy):
            return type(layer).inner_forward_impl(layer, a, weight, bias)
        _check_static_padding(layer)
        pads = binary_pads(layer)
        if any(pads) and padding == 0:
            a = F.pad(a, pads)
        out = F.conv2d(a, weight, None, layer.stride, 0, layer.dilation, layer.groups)
        return out if bias is None else out + bias.view(1, -1, 1, 1)


def install_binary_padding(layer: nn.Module) -> None:
    """Give ``layer`` (a ``Conv2d`` taking an ABC input quantiser) the ``BinaryPaddedConvForward``, once."""
    if isinstance(layer, nn.Conv2d) and not isinstance(vars(layer).get("inner_forward_impl"), BinaryPaddedConvForward):
        layer.inner_forward_impl = BinaryPaddedConvForward(layer)
