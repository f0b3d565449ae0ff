"""Brevitas injector quantisers for ABC-Net (``weight_quant=`` / ``input_quant=`` of ``QuantConv2d``, ``QuantLinear``).

See :mod:`brevitas_abc.quant.abc_quantizers` for the math and the options.
"""
from brevitas_abc.quant.abc_quantizers import ABCActPerTensorFloat, ABCWeightPerChannelFloat, ABCWeightPerTensorFloat
from brevitas_abc.quant.proxy import (
    ABCActQuantProxyFromInjector,
    ABCExportError,
    ABCWeightQuantProxyFromInjector,
    UnknownQuantizerOptionError,
)

__all__ = ["ABCActPerTensorFloat", "ABCActQuantProxyFromInjector", "ABCExportError", "ABCWeightPerChannelFloat",
           "ABCWeightPerTensorFloat", "ABCWeightQuantProxyFromInjector", "UnknownQuantizerOptionError"]
