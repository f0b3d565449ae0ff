"""finn_flow: build Brevitas/QONNX models (stock, ABC-Net) into FINN dataflow accelerators.

``finn_flow.build(model_or_path, output_dir, board=..., clock_ns=..., target_fps=...)`` runs
finn-plus's build flow with our own steps (fan-out of bipolar activations, xnor threshold range,
float layers kept on the host) and verifies every stage on real images. Without Vivado it stops after
the estimate reports and HLS/RTL code generation and names the steps it skipped.

This package works on QONNX graphs and imports no training code (torch and Brevitas only to export a
module the user passes in).
"""

from finn_flow.boards import known_boards, resolve_board
from finn_flow.build import BuildResult, build
from finn_flow.errors import (
    BoardBudgetError,
    BuildStepError,
    FinnFlowError,
    FloatInDataflowError,
    InvalidModelError,
    UnknownBoardError,
    UnsupportedOpError,
    VerificationError,
    VivadoRequiredError,
)

__all__ = [
    "BoardBudgetError",
    "BuildResult",
    "BuildStepError",
    "FinnFlowError",
    "FloatInDataflowError",
    "InvalidModelError",
    "UnknownBoardError",
    "UnsupportedOpError",
    "VerificationError",
    "VivadoRequiredError",
    "build",
    "known_boards",
    "resolve_board",
]
