"""finn_flow's build configuration: finn-plus's ``DataflowBuildConfig`` plus our own fields.

Our steps receive this object as ``cfg`` like every finn-plus step, so the extra fields travel with
the stock configuration instead of through globals.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from finn.builder.build_dataflow_config import DataflowBuildConfig

ABC_MAPPINGS = ("bitwise", "fused", "integer", "auto")


@dataclass
class FinnFlowConfig(DataflowBuildConfig):
    """``DataflowBuildConfig`` with finn_flow's options.

    Attributes:
        input_scale: the model's input is ``pixels * input_scale``, pixels of ``input_datatype``;
            None leaves the graph input as exported (then it must already be integer for the
            dataflow partition to be integer-only).
        input_datatype: FINN DataType name of the raw pixels (default ``"UINT8"``).
        abc_mapping: ``"bitwise"`` (one xnor MVAU per ABC base pair, summed), ``"fused"`` (the weight bases
            of each activation base collapsed into one integer MVAU), ``"integer"`` (the whole layer one integer MVAU
            reading one multi-level activation) or ``"auto"`` (per layer the one with the fewest estimated LUTs
            within the BRAM budget, :mod:`finn_flow.abc_auto`); all but bitwise need integer-multiple alphas/betas.
        allow_float_in_dataflow: if False (default) a FLOAT32 tensor inside the dataflow partition
            stops the build with :class:`~finn_flow.errors.FloatInDataflowError`; if True it is only
            listed in the build report.
        run_verification: run our per-stage verification steps on ``verify_input_npy`` (raw pixels)
            against ``verify_expected_output_npy`` (PyTorch's outputs, or the graph's float32 run) and
            ``verify_exact_output_npy`` (the exported graph's outputs computed in float64), :mod:`finn_flow.verify`.
        verify_atol: absolute tolerance (relative to the reference's largest magnitude, at least 1)
            for the float outputs at each verified stage.
        fit_to_board: fold for the highest FPS within the board's resource budget
            (:func:`finn_flow.fit.search_folding`; ``build(target_fps="max")``) instead of ``target_fps``.
        fit_limits: usable fraction per resource (``{"LUT": 0.7, "BRAM_18K": 0.8, ...}``), overriding FINN's
            defaults (:func:`finn_flow.fit.default_limits`).
        fit_capacity: resource counts overriding the board's (e.g. a synthetic budget).
    """

    input_scale: Optional[float] = None
    input_datatype: str = "UINT8"
    abc_mapping: str = "bitwise"
    allow_float_in_dataflow: bool = False
    run_verification: bool = False
    verify_atol: float = 1e-4
    verify_exact_output_npy: Optional[str] = None
    fit_to_board: bool = False
    fit_limits: Optional[dict] = None
    fit_capacity: Optional[dict] = None
