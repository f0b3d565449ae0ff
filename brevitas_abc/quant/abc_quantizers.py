"""ABC-Net quantisers in Brevitas's injector grammar, for ``weight_quant=`` / ``input_quant=`` of any Brevitas layer.

>>> from brevitas.nn import QuantConv2d
>>> conv = QuantConv2d(8, 8, 3, weight_quant=ABCWeightPerChannelFloat, weight_num_bases=3,
...                    input_quant=ABCActPerTensorFloat, input_num_bases=3)
>>> conv(torch.randn(2, 8, 6, 6)).shape
torch.Size([2, 8, 4, 4])

Weights (Lin, Zhao, Pan 2017, eq. 1-4): ``W ~ sum_m alpha_m B_m``, ``B_m = sign(W - mean(W) + u_m std(W))``,
alpha by ridge least squares per output channel (``...PerChannel...``) or per tensor (``...PerTensor...``),
straight-through gradient ``dC/dW = sum_m alpha_m dC/dB_m``. Activations (eq. 7-9):
``A = sum_n beta_n H_{v_n}(x)``, ``H_v(x) = sign(x + v - 0.5)`` (sign(0) = +1), gradient ``1[0 <= x + v <= 1]``
for x and v, beta and v trainable. The layer then computes ``conv(sum_m alpha_m B_m, sum_n beta_n H_{v_n}(x))``,
one convolution, equal in value and gradient to ABC-Net's M*N binary branches (eq. 10) and to
:class:`brevitas_abc.nn.ABCConv2d` with the same weights and ``binary_padding``: a padded ``QuantConv2d`` with an
ABC input quantiser pads each binary activation base with ``binary_padding`` (+1.0 by default, as ``ABCConv2d``) and
adds its bias after the convolution, bit for bit ``ABCConv2d``'s forward (:mod:`brevitas_abc.quant.binary_padding`).

Options are injector attributes, given to the layer with Brevitas's prefixes (``weight_num_bases=3``,
``input_shifts="centered"``, ``weight_coefficient_bits=4``; activation layers such as ``QuantIdentity`` take them
without prefix, as Brevitas's own quantisers); a misspelt one raises
:class:`~brevitas_abc.quant.proxy.UnknownQuantizerOptionError` instead of being ignored.

- weights: ``num_bases`` M (1..8), ``shifts`` ("uniform", "paper" or M floats, in units of std(W)),
  ``scaling_per_output_channel`` (set by the class name), ``train_shifts``, ``ridge``, ``backprop_alpha``,
  ``coefficient_bits`` (None or 2..4: alpha as integers times a power-of-two scale, for FINN).
- activations: ``num_bases`` N (1..8), ``shifts`` ("centered", "paper", "uniform" or N floats), ``train_shifts``,
  ``train_betas``, ``coefficient_bits``, ``binary_padding`` (+1.0, -1.0 or 0.0: the value a padded conv pads each
  binary base with; ``input_binary_padding=`` on a ``QuantConv2d``).

The values are not uniform affine, so these quantisers output plain tensors, not Brevitas ``QuantTensor``s
(:mod:`brevitas_abc.quant.proxy`). Export with :func:`brevitas_abc.export_qonnx`, which converts each such layer to
its exact branch form (:func:`brevitas_abc.quant.to_abc_layer`); Brevitas's own exporters raise
:class:`~brevitas_abc.quant.proxy.ABCExportError` naming the layer.
"""
import torch  # noqa: F401 - used by the doctest
from brevitas.inject import ExtendedInjector, value

from brevitas_abc.core import ABCActQuant, ABCWeightQuant
from brevitas_abc.quant.proxy import ABCActQuantProxyFromInjector, ABCWeightQuantProxyFromInjector

__all__ = ["ABCActPerTensorFloat", "ABCWeightPerChannelFloat", "ABCWeightPerTensorFloat"]


class ABCWeightQuantSolver(ExtendedInjector):
    """Shared fragment of the ABC weight quantisers: the proxy, the tensor quantiser and its defaults."""

    proxy_class = ABCWeightQuantProxyFromInjector
    tensor_quant = ABCWeightQuant
    family = "abc"  # brevitas_abc.nn.protocol: the layer is an ABC layer, its weight latent (clipped in training)
    latent_weight = True
    num_bases = 3
    shifts = "uniform"
    train_shifts = False
    ridge = 1e-4
    backprop_alpha = False
    coefficient_bits = None

    @value
    def granularity(scaling_per_output_channel):
        return "per_channel" if scaling_per_output_channel else "per_tensor"


class ABCWeightPerChannelFloat(ABCWeightQuantSolver):
    """ABC weights, one mean/std/alpha set per output channel (float alpha unless ``coefficient_bits``).

    >>> from brevitas.nn import QuantLinear
    >>> fc = QuantLinear(16, 4, bias=False, weight_quant=ABCWeightPerChannelFloat, weight_num_bases=2)
    >>> [len(torch.unique(row)) <= 3 for row in fc.quant_weight()]
    [True, True, True, True]
    """

    scaling_per_output_channel = True


class ABCWeightPerTensorFloat(ABCWeightQuantSolver):
    """ABC weights, one mean/std/alpha set for the whole tensor (the paper's "as a whole")."""

    scaling_per_output_channel = False


class ABCActPerTensorFloat(ExtendedInjector):
    """ABC activations ``sum_n beta_n H_{v_n}(x)``, N shifts and betas shared by the whole tensor.

    >>> from brevitas.nn import QuantIdentity
    >>> act = QuantIdentity(act_quant=ABCActPerTensorFloat, num_bases=3, shifts=(-0.5, 0.0, 0.5))
    >>> act(torch.tensor([-1.0, 0.2, 0.6, 2.0])).tolist()
    [-3.0, -1.0, 1.0, 3.0]
    """

    proxy_class = ABCActQuantProxyFromInjector
    tensor_quant = ABCActQuant
    num_bases = 3
    shifts = "centered"
    train_shifts = True
    train_betas = True
    coefficient_bits = None
    binary_padding = 1.0
