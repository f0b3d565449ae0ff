"""``export_qonnx``: export to QONNX, then prove it by executing the graph and comparing with PyTorch."""
import contextlib
import io
import logging
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from brevitas.export import export_qonnx as brevitas_export_qonnx
from torch import nn

from brevitas_abc.export.convert import convert
from brevitas_abc.export.layer_check import check_layer_by_layer, run_with_binarizer_taps

QONNX_DOMAIN = "qonnx.custom_op.general"
QONNX_OPS = ("Quant", "BipolarQuant", "Trunc", "MultiThreshold")


class QONNXMismatchError(RuntimeError):
    """Executing the exported QONNX graph did not reproduce PyTorch's output."""


class NonStandardOpError(RuntimeError):
    """The exported graph contains an op outside ONNX and QONNX."""


@dataclass(frozen=True)
class ExportReport:
    """Outcome of a verified export: where, what ops, and how close QONNX execution came to PyTorch."""

    path: Path
    num_inputs: int
    max_abs_diff: float
    argmax_agreement: float | None
    op_types: tuple[str, ...]
    near_tie_inputs: int = 0
    tie_decisions: int = 0
    binarizers_checked: int = 0

    @property
    def op_counts(self) -> dict[str, int]:
        """How many nodes of each op type the graph has, most frequent first (ties by name)."""
        return dict(sorted(Counter(self.op_types).items(), key=lambda item: (-item[1], item[0])))

    def ops_summary(self) -> str:
        """``"Add x24, BipolarQuant x18, Conv x18, ..."``: op types with their counts, and the total."""
        counts = ", ".join(f"{op} x{count}" for op, count in self.op_counts.items())
        return f"{len(self.op_types)} nodes ({counts})"

    def __str__(self) -> str:
        agreement = "n/a" if self.argmax_agreement is None else f"{100 * self.argmax_agreement:.1f} %"
        ties = (f", {self.tie_decisions} binarizer decision(s) at float near-ties (layer by layer) changing "
                f"{self.near_tie_inputs} input(s)" if self.tie_decisions else "")
        if self.binarizers_checked:
            ties = f", {self.binarizers_checked} binarizers checked layer by layer{ties}"
        return (f"QONNX export {self.path}: {self.num_inputs} input(s), max |QONNX - PyTorch| = "
                f"{self.max_abs_diff:.3g}, argmax agreement {agreement}, {self.ops_summary()}{ties}")

    def __repr__(self) -> str:  # the dataclass repr would list every node of the graph (hundreds)
        return (f"ExportReport(path={str(self.path)!r}, num_inputs={self.num_inputs}, "
                f"max_abs_diff={self.max_abs_diff:.3g}, argmax_agreement={self.argmax_agreement}, "
                f"ops={self.ops_summary()!r}, near_tie_inputs={self.near_tie_inputs}, "
                f"tie_decisions={self.tie_decisions}, binarizers_checked={self.binarizers_checked})")


def check_standard_ops(model_wrapper) -> tuple[str, ...]:
    """Raise ``NonStandardOpError`` naming any node that is neither standard ONNX nor QONNX."""
    op_types = []
    for node in model_wrapper.graph.node:
        standard = node.domain in ("", "ai.onnx") or (node.domain == QONNX_DOMAIN and node.op_type in QONNX_OPS)
        if not standard:
            raise NonStandardOpError(
                f"node {node.name!r} has op {node.domain}:{node.op_type}; allowed are standard ONNX ops "
                f"and {QONNX_DOMAIN}:{QONNX_OPS}")
        op_types.append(node.op_type)
    return tuple(op_types)


def execute_qonnx(model_wrapper, inputs: np.ndarray) -> np.ndarray:
    """Run a QONNX graph (single input, single output) with qonnx's node-by-node executor."""
    from qonnx.core.onnx_exec import execute_onnx

    out = execute_onnx(model_wrapper, {model_wrapper.graph.input[0].name: inputs})
    return out[model_wrapper.graph.output[0].name]


@contextlib.contextmanager
def _quiet_exporter():
    """Hide torch.onnx's progress lines and its warnings about torchvision ops (not a dependency here)."""
    onnx_logger = logging.getLogger("torch.onnx")
    level = onnx_logger.level
    onnx_logger.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        onnx_logger.setLevel(level)


#: the ONNX metadata key ``export_qonnx(..., preprocessing=...)`` records the input preprocessing under (JSON)
PREPROCESSING_KEY = "preprocessing"


def export_qonnx(model: nn.Module, example_input: torch.Tensor, path, atol: float = 1e-4,
                 quiet: bool = True, preprocessing: dict | None = None) -> ExportReport:
    """Convert, export to QONNX at ``path``, execute the graph on ``example_input`` and compare with PyTorch.

    Args:
        model: a trained model (ABC/LBC/Group-Net layers are converted to their export form first; the model
            itself is not modified).
        example_input: a real batch; the graph's input shape is fixed to it.
        path: the ``.onnx`` file to write.
        atol: largest allowed ``max |QONNX - PyTorch|``.
        quiet: hide the exporter's progress lines.
        preprocessing: ``{"pixel_scale", "mean", "std"}`` the model's input was made with from raw pixels (a
            datamodule's ``preprocessing``): recorded as JSON in the graph's metadata (key ``"preprocessing"``), where
            ``finn_flow.build`` reads it to take raw pixels.

    Returns:
        An ``ExportReport``.

    Raises:
        QONNXMismatchError: the graph does not compute what PyTorch computes. Checked layer by layer
            (:mod:`brevitas_abc.export.layer_check`): each activation binarizer of the graph against PyTorch's on
            PyTorch's input to it (its input within float tolerance, its signs equal except at near-ties, later
            layers fed PyTorch's signs), then the output within ``atol`` with the same argmax. Tie decisions are
            counted in the report (``tie_decisions``; ``near_tie_inputs``: inputs whose plain graph output they
            change), with a warning. A graph whose binarizers do not map one to one onto the model's (binarizers
            this check does not know) must match PyTorch's output within ``atol`` with the same argmax, no ties.
        NonStandardOpError: the graph contains a non-ONNX/QONNX op.
    """
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.util.cleanup import cleanup_model

    if preprocessing is not None and (not isinstance(preprocessing, dict)
                                      or set(preprocessing) != {"pixel_scale", "mean", "std"}):
        raise ValueError(f"preprocessing={preprocessing!r} is not allowed: expected a mapping with the keys "
                         "pixel_scale, mean, std (a datamodule's preprocessing property)")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    was_training = model.training
    model.eval()
    try:
        reference, taps = run_with_binarizer_taps(model, example_input)
        export_model = convert(model)
        with _quiet_exporter() if quiet else contextlib.nullcontext():
            brevitas_export_qonnx(export_model, args=example_input, export_path=str(path))
    finally:
        model.train(was_training)
    wrapper = cleanup_model(ModelWrapper(str(path)))
    if preprocessing is not None:
        import json

        wrapper.set_metadata_prop(PREPROCESSING_KEY, json.dumps(preprocessing))
    wrapper.save(str(path))
    op_types = check_standard_ops(wrapper)
    inputs = example_input.detach().cpu().numpy()
    check = check_layer_by_layer(wrapper, inputs, taps, reference, atol)
    # with no tie decision the layer-by-layer run is the plain execution of the graph
    produced = execute_qonnx(wrapper, inputs) if check is None or check.tie_decisions else check.output
    max_abs_diff = float(np.abs(produced - reference).max())
    agreement = None
    classes = reference.ndim == 2 and reference.shape[1] > 1
    if classes:
        agreement = float((produced.argmax(1) == reference.argmax(1)).mean())
    differs = np.abs(produced - reference).reshape(len(produced), -1).max(axis=1) > atol
    if classes:
        differs |= produced.argmax(1) != reference.argmax(1)
    report = ExportReport(path, int(example_input.shape[0]), max_abs_diff, agreement, op_types,
                          int(differs.sum()) if check is not None else 0,
                          check.tie_decisions if check is not None else 0, check.binarizers if check is not None else 0)
    if check is not None and not check.problems:
        if check.tie_decisions:
            warnings.warn(f"{report}: the graph takes {check.tie_decisions} binarizer decision(s) differently from "
                          f"PyTorch, each where the binarizer's input is within the proved float32 rounding bound of its "
                          f"threshold (at most {check.max_bound:.3g}), where summation order decides the sign; layer "
                          "by layer it matches PyTorch")
        return report
    if check is None and not differs.any():
        return report
    hint = ""
    if any(type(m) in (nn.BatchNorm1d, nn.BatchNorm2d) for m in model.modules()):
        hint = ("; the model has plain BatchNorm layers, whose torch kernel rounds differently from the exported "
                "graph: brevitas_abc.nn.use_exact_batchnorm(model) makes them compute alike")
    found = "; ".join(check.problems) if check is not None else f"allowed max |diff| is {atol} with identical argmax"
    raise QONNXMismatchError(f"{report}; {found}{hint}")
