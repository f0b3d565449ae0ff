"""Brevitas quant proxies for ABC-Net's quantisers: a plain-tensor output and an export guard.

Brevitas's ``QuantTensor`` models uniform affine quantisation only, ``value = scale * (int - zero_point)``. ABC's
``sum_m alpha_m B_m`` (M+1 non-uniform levels with one coefficient per base) and ``sum_n beta_n H_{v_n}(x)`` are not
of that form, so these proxies return the quantised value as a plain ``Tensor`` (Brevitas's own
``skip_create_quant_tensor`` path): the layer then runs its ordinary convolution / matmul on the reconstructed
weight and activation, ONE op per layer (ABC-Net eq. 10 by bilinearity).

Brevitas's exporters pick a handler by the proxy's exact type and emit ``Quant``/``BipolarQuant`` of the latent
weight; for an ABC quantiser that would keep only ``sign(W)`` (DESIGN 5). These proxy types have no Brevitas
handler, and their forward refuses to run inside a Brevitas or torch ONNX export with an ``ABCExportError`` that
names the layer and points at ``brevitas_abc.export_qonnx`` (which first converts the layer to its exact M*N-branch
export form).
"""
import torch
from brevitas.proxy import ActQuantProxyFromInjector, WeightQuantProxyFromInjector
from torch import nn

from brevitas_abc.core.export_guard import ABCExportError, refuse_stock_export  # noqa: F401 - re-exported
from brevitas_abc.core.validation import check_choice
from brevitas_abc.nn.abc.options import BINARY_PADDING_VALUES
from brevitas_abc.quant.binary_padding import install_binary_padding, pad_binary_input


class UnknownQuantizerOptionError(TypeError):
    """A keyword given to a layer for an ABC quantiser (``weight_*``/``input_*``) is not one of its options."""


def _check_options(quant_injector, allowed: tuple[str, ...], prefixes: str) -> None:
    """Raise ``UnknownQuantizerOptionError`` for an injector attribute that no ABC quantiser reads (a misspelt
    ``weight_num_base=3`` would otherwise be silently ignored by Brevitas)."""
    given = set(getattr(quant_injector, "__dependencies__", {}))
    unknown = sorted(given - set(allowed) - set(_BREVITAS_INTERNAL))
    if unknown:
        raise UnknownQuantizerOptionError(
            f"unknown option(s) {unknown} for the ABC quantiser {_injector_name(quant_injector)}: allowed are "
            f"{sorted(allowed)} (given to the layer with the prefix {prefixes}, e.g. num_bases=3)")


# attributes Brevitas itself sets on every injector it builds a proxy from
_BREVITAS_INTERNAL = ("proxy_module", "module", "proxy_class", "tensor_quant", "act_impl", "passthrough_act",
                      "family", "latent_weight")  # the last two: declared by our quantisers for brevitas_abc.nn.protocol


class _ABCProxyMixin:
    """Plain-tensor output and the export guard, shared by the weight and activation proxies."""

    role = ""

    def _guard_export(self) -> None:
        layer = self.tracked_module_list[0] if self.tracked_module_list else self
        refuse_stock_export(layer, f"the ABC {self.role} quantiser {_injector_name(self.quant_injector)}")

    @property
    def export_mode(self):
        return self._export_mode

    @export_mode.setter
    def export_mode(self, value):
        if value:
            self._guard_export()
        self._export_mode = value


def _injector_name(quant_injector) -> str:
    """The user's quantiser class (Brevitas wraps it in anonymous ``let`` subclasses named ``Injector``)."""
    for cls in quant_injector.__mro__:
        if cls.__name__ not in ("Injector", "ExtendedInjector", "BaseInjector", "object"):
            return cls.__name__
    return quant_injector.__name__


class ABCWeightQuantProxyFromInjector(_ABCProxyMixin, WeightQuantProxyFromInjector):
    """Weight proxy of the ABC weight quantisers: returns ``w_hat = sum_m alpha_m B_m`` as a plain tensor."""

    role = "weight"

    def __init__(self, quant_layer: nn.Module, quant_injector) -> None:
        _check_options(quant_injector, WEIGHT_OPTIONS, "'weight_'")
        super().__init__(quant_layer, quant_injector)
        self.skip_create_quant_tensor = True

    def forward(self, x: torch.Tensor):
        self._guard_export()
        return super().forward(x)


class ABCActQuantProxyFromInjector(_ABCProxyMixin, ActQuantProxyFromInjector):
    """Activation proxy of the ABC activation quantisers: returns ``sum_n beta_n H_{v_n}(x)`` as a plain tensor.

    As the input quantiser of a padded ``QuantConv2d`` it pads the binary activation bases with ``binary_padding``
    (option ``input_binary_padding``, default +1.0 as ``ABCConv2d``; :mod:`brevitas_abc.quant.binary_padding`).
    """

    role = "activation"

    def __init__(self, quant_layer: nn.Module, quant_injector) -> None:
        _check_options(quant_injector, ACT_OPTIONS,
                       "'input_' (QuantConv2d, QuantLinear) or none (QuantIdentity, QuantReLU, ...)")
        padding = quant_injector.binary_padding if "binary_padding" in quant_injector else 1.0
        check_choice("binary_padding", padding, BINARY_PADDING_VALUES)
        super().__init__(quant_layer, quant_injector)
        self.binary_padding = float(padding)
        self.skip_create_quant_tensor = True

    def add_tracked_module(self, module: nn.Module) -> None:
        super().add_tracked_module(module)
        install_binary_padding(module)

    def forward(self, x):
        self._guard_export()
        return super().forward(pad_binary_input(self, x))


#: injector attributes of the ABC weight quantisers (``weight_<name>=`` on a Brevitas layer)
WEIGHT_OPTIONS = ("num_bases", "shifts", "scaling_per_output_channel", "granularity", "train_shifts", "ridge",
                  "backprop_alpha", "coefficient_bits")
#: injector attributes of the ABC activation quantisers (``input_<name>=`` / ``act_<name>=``)
ACT_OPTIONS = ("num_bases", "shifts", "train_shifts", "train_betas", "coefficient_bits", "binary_padding")
