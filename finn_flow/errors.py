"""Errors raised by finn_flow. Each names the argument, node or value at fault and what is allowed."""


class FinnFlowError(Exception):
    """Base class of every error finn_flow raises on purpose."""


class InvalidModelError(FinnFlowError, ValueError):
    """The model argument is not a readable ONNX/QONNX graph or torch module."""


class UnknownBoardError(FinnFlowError, ValueError):
    """The board name is not one FINN has a part number for."""


class UnsupportedOpError(FinnFlowError):
    """A node cannot be lowered to FINN hardware layers (named in the message)."""


class FloatInDataflowError(FinnFlowError):
    """A FLOAT32 tensor or parameter is left inside the dataflow partition."""


class VerificationError(FinnFlowError):
    """A verified stage does not execute like the reference."""


class BuildStepError(FinnFlowError):
    """A finn-plus build step failed; the message names the step and the build log."""


class VivadoRequiredError(FinnFlowError, RuntimeError):
    """Something that needs Vivado/Vitis HLS was requested on a machine without them."""


class BoardBudgetError(FinnFlowError):
    """The model exceeds the board's resource budget even fully folded (names the resource and largest layers)."""


class AbcMappingError(FinnFlowError, ValueError):
    """The requested ABC mapping cannot map a layer (names the layer, the reason and the mappings that can)."""
