"""Execute a graph at each stage of the build on real images and compare it with the reference.

Stages (in build order): ``qonnx`` (the exported graph), ``streamlined`` (after FINN streamlining:
MultiThreshold + integer MatMul/XnorPopcount), ``hw_layers`` (after conversion to FINN hardware
layers), ``folded`` (the final folded graph; specialised ``*_hls``/``*_rtl`` layers mapped back to
their generic op so that they execute in Python, see
:class:`~finn_flow.transformations.ConvertSpecializedToGenericLayers`).

Two references, because a binary network's float32 programs disagree at near-ties:

- ``qonnx`` (:func:`verify_qonnx_stage`) compares the exported graph, executed in float32 as FINN's
  tools execute it, with PyTorch. An image whose output differs is checked layer by layer
  (:mod:`brevitas_abc.export.layer_check`): it passes only when every binarizer of the graph decides
  like PyTorch's except where PyTorch's input to it lies within the proved float32 rounding bound of
  its threshold (a tie decision), and the output computed from PyTorch's decisions is PyTorch's. A
  tie decision is neither program's mistake: the sign of a sum that is within rounding of 0 depends
  on the order of the summation (the convolution kernel the CPU picks).
- The integer stages (``streamlined`` on) must reproduce, image by image, either the float32
  reference (PyTorch's outputs; the graph's own float32 run for a graph given as a file) or the
  graph's *exact* outputs: the QONNX graph executed in float64
  (:class:`finn_flow.execute.GraphExecutor` with ``float64=True``), rounded to float32 once at the
  end. Their accumulators are integers, exact in any order, compared with float32 thresholds. Where
  a float32 program's summation order decides a near-tie (a convolution of non-integer scales), they
  decide as exact arithmetic does: the trained ABC(5,3) CIFAR-10 CNV's float32 graph differs from
  PyTorch on 9 of 200 images, its float64 graph on 5, and its streamlined, hardware and folded graphs
  equal the float64 graph on all 200 (within 8.9e-7, the output's rounding). Where the design puts a
  value exactly on a threshold (a Group-Net gate of 1/2), FINN's float32 thresholds reproduce the
  float32 programs' cancellation and the float64 graph sees the sub-ulp residue instead: the float32
  reference is the one they reproduce. Each image's row entry says which reference it matched.

For each stage we record the number of images, the argmax agreement with the reference and the
largest absolute difference of the outputs. From ``hw_layers`` on we also record the integer tensor
that leaves the accelerator (the dataflow partition's output) and require the folded graph's to be
identical to it: folding, bit-width minimisation and specialisation must not change a single value.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp

from finn_flow.errors import VerificationError
from finn_flow.transformations.revert_float_boundary import is_hw_node
from finn_flow.transformations.specialized_to_generic import ConvertSpecializedToGenericLayers

STAGES = ("qonnx", "streamlined", "hw_layers", "folded")


def verification_dir(cfg) -> Path:
    d = Path(cfg.output_dir) / "verification"
    d.mkdir(parents=True, exist_ok=True)
    return d


def prepare_for_python(model: ModelWrapper, workdir: Path) -> ModelWrapper:
    """A copy of ``model`` whose hardware layers (also inside partitions) all execute in Python."""
    model = ModelWrapper(model.model.SerializeToString())
    model = model.transform(ConvertSpecializedToGenericLayers())
    for k, node in enumerate(model.get_nodes_by_op_type("StreamingDataflowPartition")):
        inst = getCustomOp(node)
        child = ModelWrapper(inst.get_nodeattr("model"))
        child = child.transform(ConvertSpecializedToGenericLayers())
        path = workdir / f"python_exec_partition_{k}.onnx"
        child.save(str(path))
        inst.set_nodeattr("model", str(path))
    return model


def with_host_layers(partition: ModelWrapper, cfg, workdir: Path) -> ModelWrapper:
    """The whole network around a dataflow partition, ready to execute in Python.

    After ``step_create_dataflow_partition`` finn-plus carries on with the partition alone and saves
    the rest (host-side layers around a ``StreamingDataflowPartition`` node) as
    ``intermediate_models/dataflow_parent.onnx``. We point that node at a Python-executable copy of
    ``partition`` (the folded accelerator), so the outputs are comparable with PyTorch's.
    """
    parent_path = Path(cfg.output_dir) / "intermediate_models" / "dataflow_parent.onnx"
    child = ModelWrapper(partition.model.SerializeToString()).transform(ConvertSpecializedToGenericLayers())
    if not parent_path.is_file():
        return child
    child_path = workdir / "python_exec_folded_partition.onnx"
    child.save(str(child_path))
    parent = ModelWrapper(str(parent_path))
    sdp = parent.get_nodes_by_op_type("StreamingDataflowPartition")
    if len(sdp) != 1:
        raise VerificationError(f"{parent_path} has {len(sdp)} StreamingDataflowPartition nodes, expected 1")
    getCustomOp(sdp[0]).set_nodeattr("model", str(child_path))
    return parent


def dataflow_output_names(model: ModelWrapper) -> list[str]:
    """Sorted names of the tensors the accelerator outputs (partition outputs, else the hardware
    layers' outputs that leave the hardware). Several when float branch sums stay on the host."""
    sdp = model.get_nodes_by_op_type("StreamingDataflowPartition")
    if sdp:
        return sorted(o for node in sdp for o in node.output)
    graph_outputs = {o.name for o in model.graph.output}
    names = []
    for node in model.graph.node:
        if is_hw_node(node):
            for out in node.output:
                consumers = model.find_consumers(out)
                if out in graph_outputs or any(not is_hw_node(c) for c in consumers):
                    names.append(out)
    return sorted(names)


def _single_threaded_blas():
    """One BLAS thread while executing: per-image matmuls are small, and spinning BLAS threads
    slow them down badly on a loaded machine. No-op without threadpoolctl."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(1)


def execute(model: ModelWrapper, inputs: np.ndarray, capture: list[str] | None = None, float64: bool = False):
    """Run ``model`` image by image (in float64 with ``float64``); return the outputs ``[N, ...]`` and the
    captured tensors (flattened and concatenated in the given order) or None."""
    from finn_flow.execute import GraphExecutor

    runner = GraphExecutor(model, float64=float64)
    oname = model.graph.output[0].name
    outs, caps = [], []
    with _single_threaded_blas():
        for x in inputs:
            ctx = runner.run(x[None])
            outs.append(np.asarray(ctx[oname]).reshape(-1))
            if capture is not None:
                caps.append(np.concatenate([np.asarray(ctx[c]).reshape(-1) for c in capture]))
    return np.stack(outs), (np.stack(caps) if capture is not None else None)


def exact_outputs(model: ModelWrapper, inputs: np.ndarray) -> np.ndarray:
    """The graph's outputs ``[N, ...]`` computed in float64 and rounded to float32 once, at the end: the reference
    of the integer stages (module docstring)."""
    outputs, _ = execute(model, inputs, float64=True)
    return outputs.astype(np.float32)


def _disagreeing(outputs: np.ndarray, reference: np.ndarray, tol: float) -> np.ndarray:
    """Per image: True where ``outputs`` differ from ``reference`` by more than ``tol`` or pick a class the
    reference does not rank first (within ``tol``), as :func:`compare` counts them; a NaN anywhere differs."""
    outputs = outputs.reshape(len(outputs), -1)
    reference = reference.reshape(len(reference), -1)
    close = np.all(np.abs(outputs.astype(np.float64) - reference) <= tol, axis=1)  # False where NaN
    return ~close | ~_picks_a_best_class(outputs, reference, tol)


def _picks_a_best_class(outputs: np.ndarray, reference: np.ndarray, tol: float) -> np.ndarray:
    """Per image of ``[N, K]`` arrays: True where the class ``outputs`` picks scores within ``tol`` of the
    reference's best class (False where NaN)."""
    picked = reference[np.arange(len(reference)), outputs.argmax(1)]
    return picked >= reference.max(1) - tol


def compare(outputs: np.ndarray, reference: np.ndarray, tol: float = 0.0) -> dict:
    """Argmax agreement and max abs difference of ``[N, K]`` outputs against ``[N, K]`` reference.

    An image agrees when the class the outputs pick scores within ``tol`` of the reference's best
    class: with integer arithmetic exact ties between classes are common, and which of two equal
    logits wins is float noise, not a difference. ``argmax_exact_matches`` counts plain equality.
    """
    outputs = outputs.reshape(len(outputs), -1)
    reference = reference.reshape(len(reference), -1)
    if outputs.shape != reference.shape:
        raise VerificationError(f"output shape {outputs.shape} differs from reference shape {reference.shape}")
    return {
        "images": int(len(outputs)),
        "argmax_agreement": float(np.mean(_picks_a_best_class(outputs, reference, tol))),
        "argmax_exact_matches": int(np.sum(outputs.argmax(1) == reference.argmax(1))),
        "max_abs_diff": float(np.max(np.abs(outputs.astype(np.float64) - reference))),
    }


def tolerance(reference: np.ndarray, atol: float) -> float:
    """The allowed output difference: ``atol * max(1, max|reference|)``."""
    return atol * max(1.0, float(np.max(np.abs(reference))))


def _write_row(vdir: Path, row: dict, problems: list[str]) -> dict:
    """Write ``verification/<stage>.json``; raise :class:`VerificationError` naming the stage when ``problems``."""
    row["passed"] = not problems
    path = vdir / f"{row['stage']}.json"
    path.write_text(json.dumps(row, indent=2))
    if problems:
        raise VerificationError(f"verification of stage {row['stage']!r} failed on {row['images']} images: "
                                + "; ".join(problems) + f" (details in {path})")
    return row


def verify_qonnx_stage(model: ModelWrapper, inputs: np.ndarray, reference: np.ndarray, output_dir,
                       atol: float = 1e-4, module=None) -> dict:
    """The ``qonnx`` stage: the exported graph in float32 against PyTorch's ``reference`` (module docstring).

    An image whose output differs is checked layer by layer against PyTorch run on that image alone. Its row entry
    ``tie_decisions_per_image[index]`` counts the graph's tie decisions there; 0 means PyTorch itself decided a
    near-tie differently on the image alone than in the batch of ``reference`` (another convolution kernel), and the
    graph computes what PyTorch computes on the image alone.

    Args:
        model: the exported graph (batch 1).
        inputs: what PyTorch was given, ``[N, ...]`` float32.
        reference: PyTorch's outputs on ``inputs``.
        output_dir: the build folder (the row goes to ``verification/qonnx.json``).
        atol: see :func:`tolerance`.
        module: the PyTorch module (eval mode); None, or a module whose binarizers the layer check does not know
            (stock Brevitas ones), leaves only the whole-output comparison.

    Raises:
        VerificationError: an image differs and the layer check cannot explain it by tie decisions.
    """
    vdir = verification_dir(type("C", (), {"output_dir": output_dir})())
    outputs, _ = execute(model, inputs)
    np.save(vdir / "qonnx_outputs.npy", outputs)
    tol = tolerance(reference, atol)
    row = {"stage": "qonnx", "reference": "PyTorch", **compare(outputs, reference, tol), "tolerance": tol}
    differing = np.flatnonzero(_disagreeing(outputs, reference, tol))
    problems, ties = [], {}
    for index in differing:
        check = _layer_check(model, module, inputs[index:index + 1], tol)
        if check is None:
            problems.append(f"image {index} differs from PyTorch (max abs diff "
                            f"{np.abs(outputs[index] - reference[index].reshape(-1)).max():.3g}, tolerance {tol:.3g}) "
                            "and the layer-by-layer check does not apply to this model")
        elif check.problems:
            problems.append(f"image {index}: " + "; ".join(check.problems))
        else:
            ties[str(index)] = check.tie_decisions
        if len(problems) >= 3:
            problems.append("(further images not checked)")
            break
    row.update({"images_checked_layer_by_layer": int(len(differing)), "tie_decisions": sum(ties.values()),
                "tie_decisions_per_image": ties})
    return _write_row(vdir, row, problems)


def _layer_check(model: ModelWrapper, module, image: np.ndarray, tol: float):
    """:func:`brevitas_abc.export.layer_check.check_layer_by_layer` of ``model`` on one image (``[1, ...]``), or
    None without a module, without brevitas_abc, or where the check does not apply."""
    if module is None:
        return None
    try:
        import torch

        from brevitas_abc.export.layer_check import check_layer_by_layer, run_with_binarizer_taps
    except ImportError:  # pragma: no cover - finn_flow without brevitas_abc
        return None
    reference, taps = run_with_binarizer_taps(module, torch.from_numpy(np.asarray(image, dtype=np.float32)))
    return check_layer_by_layer(model, np.asarray(image, dtype=np.float32), taps, reference, tol)


def verify_stage(model: ModelWrapper, cfg, stage: str) -> dict:
    """Execute ``model`` on the verification images, compare, write ``verification/<stage>.json``.

    The images are ``cfg.verify_input_npy`` (raw pixels, which the graph reads from the ``streamlined`` stage on).
    Each image is compared with whichever of its two references is closer: ``cfg.verify_expected_output_npy`` (the
    float32 reference) and ``cfg.verify_exact_output_npy`` (the exported graph in float64; module docstring). The
    row counts the images that only the exact reference explains (``images_matching_only_the_exact_graph``).

    Raises:
        VerificationError: naming the stage, when the argmax agreement is below 100 % or the largest
            difference exceeds :func:`tolerance`, or (``folded``) when the accelerator's integer output differs
            from the ``hw_layers`` stage.
    """
    if stage not in STAGES[1:]:
        raise ValueError(f"stage={stage!r}; allowed: {STAGES[1:]} (the qonnx stage is verify_qonnx_stage's)")
    vdir = verification_dir(cfg)
    inputs = np.load(cfg.verify_input_npy)
    float32_reference = np.load(cfg.verify_expected_output_npy)
    exact = np.load(cfg.verify_exact_output_npy) if cfg.verify_exact_output_npy else float32_reference
    if stage == "folded":
        run_model = with_host_layers(model, cfg, vdir)
    elif stage == "hw_layers":
        run_model = prepare_for_python(model, vdir)
    else:
        run_model = model
    capture = dataflow_output_names(run_model) if stage in ("hw_layers", "folded") else None
    outputs, integer_out = execute(run_model, inputs, capture)
    tol = tolerance(float32_reference, cfg.verify_atol)
    flat = outputs.reshape(len(outputs), -1).astype(np.float64)
    exact_only = (_disagreeing(outputs, float32_reference, tol) & ~_disagreeing(outputs, exact, tol))
    reference = np.where(exact_only[:, None], exact, float32_reference)
    result = {"stage": stage, "reference": "per image the float32 reference or the QONNX graph in float64",
              **compare(flat, reference, tol),
              "images_matching_only_the_exact_graph": [int(i) for i in np.flatnonzero(exact_only)]}
    np.save(vdir / f"{stage}_outputs.npy", outputs)
    problems = []
    if integer_out is not None:
        np.save(vdir / f"{stage}_dataflow_outputs.npy", integer_out)
        result["dataflow_output_tensors"] = capture
        result["dataflow_output_is_integer"] = bool(np.all(integer_out == np.round(integer_out)))
        if not result["dataflow_output_is_integer"]:
            problems.append("the accelerator's output is not integer")
        hw_path = vdir / "hw_layers_dataflow_outputs.npy"
        hw_json = vdir / "hw_layers.json"
        if stage == "folded" and hw_path.exists():
            hw_names = json.loads(hw_json.read_text()).get("dataflow_output_tensors") if hw_json.exists() else None
            if hw_names != capture:
                problems.append(f"the accelerator outputs {capture}, the hw_layers stage {hw_names}")
            hw = np.load(hw_path)
            same_shape = hw.shape == integer_out.shape
            result["dataflow_max_abs_diff_vs_hw_layers"] = (
                float(np.max(np.abs(hw - integer_out))) if same_shape else float("inf"))
            if result["dataflow_max_abs_diff_vs_hw_layers"] != 0:
                problems.append("the folded accelerator's integer output differs from the hw_layers stage")
    result["tolerance"] = tol
    if result["argmax_agreement"] < 1.0:
        problems.append(f"argmax agreement {result['argmax_agreement']:.4f} < 1")
    if not result["max_abs_diff"] <= tol:  # NaN too
        problems.append(f"max abs diff {result['max_abs_diff']:.3g} > tolerance {tol:.3g}")
    return _write_row(vdir, result, problems)


def collect_report(output_dir: str | Path) -> list[dict]:
    """The per-stage results written so far, in stage order."""
    vdir = Path(output_dir) / "verification"
    return [json.loads((vdir / f"{s}.json").read_text()) for s in STAGES if (vdir / f"{s}.json").exists()]
