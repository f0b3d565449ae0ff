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
        ties = (f", {self.near_tie_inputs} input(s) differing only through float near-ties at binarizers"
                if self.near_tie_inputs else "")
        return (f"QONNX export {self.path}: {self.num_inputs} input(s), max |QONNX - PyTorch| = "
                f"{self.max_abs_diff:.3g}, argmax agreement {agreement}, {self.ops_summary()}{ties}")

    def __repr__(self) -> str:  # the dataclass repr would list every node of the graph (hundreds)
        return (f"ExportReport(path={str(self.path)!r}, num_inputs={self.num_inputs}, "
                f"max_abs_diff={self.max_abs_diff:.3g}, argmax_agreement={self.argmax_agreement}, "
                f"ops={self.ops_summary()!r}, near_tie_inputs={self.near_tie_inputs})")


#: a binarizer input this close to its threshold (0) may flip between PyTorch and ONNX float32 arithmetic
NEAR_TIE = 1e-5


def near_tie_inputs(model_wrapper, inputs: np.ndarray, tolerance: float = NEAR_TIE) -> np.ndarray:
    """Per input (first axis), whether any ``BipolarQuant`` input lies within ``tolerance`` of 0 (exact zeros, as a
    ReLU or zero padding gives them, are exact on both sides and do not count).

    A sign can only differ between two float32 executions (PyTorch's and ONNX's convolutions sum in different
    orders) where the value is within their rounding difference of the threshold: an input whose outputs differ
    but has no such value differs for another reason.
    """
    from qonnx.core.onnx_exec import execute_onnx

    context = execute_onnx(model_wrapper, {model_wrapper.graph.input[0].name: inputs},
                           return_full_exec_context=True)
    ties = np.zeros(len(inputs), dtype=bool)
    for node in model_wrapper.graph.node:
        if node.op_type == "BipolarQuant" and model_wrapper.get_initializer(node.input[0]) is None:
            values = np.abs(np.asarray(context[node.input[0]]))
            if values.ndim and values.shape[0] == len(inputs):
                values = values.reshape(len(inputs), -1)
                ties |= ((values < tolerance) & (values > 0)).any(axis=1)
    return ties


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


def export_qonnx(model: nn.Module, example_input: torch.Tensor, path, atol: float = 1e-4,
                 quiet: bool = True) -> ExportReport:
    """Convert, export to QONNX at ``path``, execute the graph on ``example_input`` and compare with PyTorch.

    Args:
        model: a trained model (ABC/LBC/Group-Net layers are converted to their export form first; the model
            itself is not modified).
        example_input: a real batch; the graph's input shape is fixed to it.
        path: the ``.onnx`` file to write.
        atol: largest allowed ``max |QONNX - PyTorch|``.
        quiet: hide the exporter's progress lines.

    Returns:
        An ``ExportReport``.

    Raises:
        QONNXMismatchError: the executed graph differs from PyTorch eval by more than ``atol`` or picks a
            different argmax (the message gives both numbers). Accepted instead, with a warning and counted in
            ``ExportReport.near_tie_inputs``: differences on at most a quarter of 4 or more inputs, each of which has
            a binarizer input within ``NEAR_TIE`` of its threshold (float32 summation order decides those signs;
            :func:`near_tie_inputs`).
        NonStandardOpError: the graph contains a non-ONNX/QONNX op.
    """
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.util.cleanup import cleanup_model

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            reference = model(example_input).detach().cpu().numpy()
        export_model = convert(model)
        with _quiet_exporter() if quiet else contextlib.nullcontext():
            brevitas_export_qonnx(export_model, args=example_input, export_path=str(path))
    finally:
        model.train(was_training)
    wrapper = cleanup_model(ModelWrapper(str(path)))
    wrapper.save(str(path))
    op_types = check_standard_ops(wrapper)
    produced = execute_qonnx(wrapper, example_input.detach().cpu().numpy())
    max_abs_diff = float(np.abs(produced - reference).max())
    agreement = None
    if reference.ndim == 2 and reference.shape[1] > 1:
        agreement = float((produced.argmax(1) == reference.argmax(1)).mean())
    report = ExportReport(path, int(example_input.shape[0]), max_abs_diff, agreement, op_types)
    if max_abs_diff > atol or (agreement is not None and agreement < 1.0):
        differs = np.abs(produced - reference).reshape(len(produced), -1).max(axis=1) > atol
        if reference.ndim == 2 and reference.shape[1] > 1:
            differs |= produced.argmax(1) != reference.argmax(1)
        ties = near_tie_inputs(wrapper, example_input.detach().cpu().numpy())
        # a systematic difference shows on most inputs; float ties on a few (here: at most a quarter of >= 4)
        few = 4 <= len(differs) and differs.sum() <= len(differs) // 4
        if differs.any() and few and ties[differs].all():
            report = ExportReport(path, report.num_inputs, max_abs_diff, agreement, op_types, int(differs.sum()))
            warnings.warn(f"{report}: each differing input has a binarizer input within {NEAR_TIE} of its "
                          "threshold, where float32 rounding decides the sign; the graph itself matches PyTorch")
            return report
        hint = ""
        if any(type(m) in (nn.BatchNorm1d, nn.BatchNorm2d) for m in model.modules()):
            hint = ("; the model has plain BatchNorm layers, whose torch kernel rounds differently from the exported "
                    "graph: brevitas_abc.nn.use_exact_batchnorm(model) makes them compute alike")
        raise QONNXMismatchError(f"{report}; allowed max |diff| is {atol} with identical argmax{hint}")
    return report
