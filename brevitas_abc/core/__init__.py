"""Small modules with one job each, honouring Brevitas's ``(value, scale, zero_point, bit_width)`` contract."""
from brevitas_abc.core.abc_act_quant import ABCActQuant
from brevitas_abc.core.abc_weight_quant import ABCWeightQuant, NonFiniteWeightError

__all__ = ["ABCActQuant", "ABCWeightQuant", "NonFiniteWeightError"]
