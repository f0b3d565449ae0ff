"""Translate a failure inside a FINN/QONNX build step into an error naming the step, the node and the cause.

FINN's transformations and custom ops check their assumptions with bare ``assert`` statements
(``AssertionError: Threshold shape incorrect``) that name neither the node nor what the user could change. When
a step fails, :func:`describe_step_failure` finds the node being processed (the innermost frame of the traceback
that holds an ONNX ``NodeProto`` or a custom op's ``onnx_node``), adds the likely cause for the failures we know
(:data:`KNOWN_CAUSES`) and points at the model the step received (``intermediate_models/<previous step>.onnx``).
"""

from __future__ import annotations

import traceback
from pathlib import Path

#: (substring of FINN's message, the likely cause and what to change)
KNOWN_CAUSES = (
    ("Threshold shape incorrect",
     "a thresholding layer whose thresholds do not have one row per channel of its input: a per-channel scale or "
     "bias (usually a BatchNorm) was merged into thresholds across an op FINN cannot move it past. Write each "
     "quantised layer as Conv/Linear -> BatchNorm -> activation quantiser, with pooling/flatten before the "
     "BatchNorm or after the activation"),
    ("First dimension of thresholds neither 1 nor",
     "thresholds that do not have one row per output channel of the layer they are merged into (see 'Threshold "
     "shape incorrect'): write each quantised layer as Conv/Linear -> BatchNorm -> activation quantiser"),
    ("Channels of threshold matrix are not as expected",
     "a thresholding layer whose thresholds do not have one row per output channel of the layer before it (see "
     "'Threshold shape incorrect'): write each quantised layer as Conv/Linear -> BatchNorm -> activation quantiser"),
    ("Could not find upstream bipolar MultiThreshold",
     "a binary activation feeding several binary layers (fan-out) that FINN's xnor conversion rewrote for the first "
     "consumer only"),
    ("cycle-free graph",
     "branches that leave and re-enter the accelerator (a float op between hardware layers on one branch)"),
    ("Unexpected scale/bias attributes",
     "a binary quantiser reading a ReLU output directly (sign(relu(x)) is constant); remove the ReLU"),
    ("Signed output requires actval < 0",
     "a quantiser's output bias moved away from its thresholds by a layout or fork rewrite"),
)


def failing_node(error: BaseException) -> str | None:
    """``"name (op_type)"`` of the ONNX node the innermost frame of ``error``'s traceback was processing."""
    from onnx import NodeProto

    frames = [frame for frame, _ in traceback.walk_tb(error.__traceback__)]
    for frame in reversed(frames):
        local = frame.f_locals
        candidates = [getattr(local.get("self"), "onnx_node", None)]
        candidates += [local.get(key) for key in ("node", "n", "onnx_node", "consumer", "producer")]
        for node in candidates:
            if isinstance(node, NodeProto):
                return f"{node.name or '<unnamed>'} ({node.op_type})"
    return None


def likely_cause(message: str) -> str | None:
    """The cause in :data:`KNOWN_CAUSES` whose key occurs in ``message``."""
    return next((cause for key, cause in KNOWN_CAUSES if key in message), None)


def describe_step_failure(step_name: str, error: BaseException, output_dir: Path, previous_step: str | None) -> str:
    """One paragraph: the step, the node, FINN's message, the likely cause, the step's input model and the log.

    >>> try:
    ...     raise AssertionError("Threshold shape incorrect")
    ... except AssertionError as e:
    ...     text = describe_step_failure("step_verify_hw_layers", e, Path("out"), "step_check_lowered")
    >>> text.split(":")[0]
    'build step step_verify_hw_layers failed'
    >>> "likely cause: a thresholding layer" in text
    True
    """
    message = str(error).rstrip(". ") or "(no message)"
    node = failing_node(error)
    parts = [f"build step {step_name} failed" + (f" at node {node}" if node else ""),
             f": {type(error).__name__}: {message}."]
    cause = likely_cause(message)
    if cause:
        parts.append(f" The likely cause: {cause}.")
    if previous_step:
        parts.append(f" The model this step received: {output_dir / 'intermediate_models' / (previous_step + '.onnx')}.")
    parts.append(f" Build log: {output_dir / 'build_dataflow.log'}.")
    return "".join(parts)
