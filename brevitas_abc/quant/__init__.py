"""Brevitas injector quantisers (``weight_quant=`` / ``input_quant=`` of ``QuantConv2d``, ``QuantLinear``) for ABC-Net
(:mod:`brevitas_abc.quant.abc_quantizers`), Group-Net's binary and LBC's ternary weights
(:mod:`brevitas_abc.quant.group_net_quantizers`).
"""
from brevitas_abc.quant.abc_quantizers import ABCActPerTensorFloat, ABCWeightPerChannelFloat, ABCWeightPerTensorFloat
from brevitas_abc.quant.group_net_quantizers import GroupNetBinaryWeightPerChannelFloat, LBCTernaryWeightPerTensorConst
from brevitas_abc.quant.proxy import (
    ABCActQuantProxyFromInjector,
    ABCExportError,
    ABCWeightQuantProxyFromInjector,
    UnknownQuantizerOptionError,
)

__all__ = ["ABCActPerTensorFloat", "ABCActQuantProxyFromInjector", "ABCExportError", "ABCWeightPerChannelFloat",
           "ABCWeightPerTensorFloat", "ABCWeightQuantProxyFromInjector", "GroupNetBinaryWeightPerChannelFloat",
           "LBCTernaryWeightPerTensorConst", "UnknownQuantizerOptionError"]
