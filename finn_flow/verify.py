"""Execute a graph at each stage of the build on real images and compare it with the reference.

Stages (in build order): ``qonnx`` (the exported graph), ``streamlined`` (after FINN streamlining:
MultiThreshold + integer MatMul/XnorPopcount), ``hw_layers`` (after conversion to FINN hardware
layers), ``folded`` (the final folded graph; specialised ``*_hls``/``*_rtl`` layers mapped back to
their generic op so that they execute in Python, see
:class:`~finn_flow.transformations.ConvertSpecializedToGenericLayers`).

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


def execute(model: ModelWrapper, inputs: np.ndarray, capture: list[str] | None = None):
    """Run ``model`` image by image; return the outputs ``[N, ...]`` and the captured tensors
    (flattened and concatenated in the given order) or None."""
    from finn_flow.execute import GraphExecutor

    runner = GraphExecutor(model)
    oname = model.graph.output[0].name
    outs, caps = [], []
    with _single_threaded_blas():
        for x in inputs:
            ctx = runner.run(x[None])
            outs.append(np.asarray(ctx[oname]).reshape(-1))
            if capture is not None:
                caps.append(np.concatenate([np.asarray(ctx[c]).reshape(-1) for c in capture]))
    return np.stack(outs), (np.stack(caps) if capture is not None else None)


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
    picked = reference[np.arange(len(reference)), outputs.argmax(1)]
    return {
        "images": int(len(outputs)),
        "argmax_agreement": float(np.mean(picked >= reference.max(1) - tol)),
        "argmax_exact_matches": int(np.sum(outputs.argmax(1) == reference.argmax(1))),
        "max_abs_diff": float(np.max(np.abs(outputs.astype(np.float64) - reference))),
    }


def verify_stage(model: ModelWrapper, cfg, stage: str) -> dict:
    """Execute ``model`` on the verification images, compare, write ``verification/<stage>.json``.

    The images are ``cfg.verify_input_npy`` (raw pixels); the ``qonnx`` stage sees
    ``pixels * cfg.input_scale`` (the graph before ``InsertIntegerInputScaling``), later stages the
    pixels. The reference is ``cfg.verify_expected_output_npy``.

    Raises:
        VerificationError: naming the stage, when the argmax agreement is below 100 % or the largest
            difference exceeds ``cfg.verify_atol * max(1, max|reference|)``, or (``folded``) when the
            accelerator's integer output differs from the ``hw_layers`` stage.
    """
    if stage not in STAGES:
        raise ValueError(f"stage={stage!r}; allowed: {STAGES}")
    vdir = verification_dir(cfg)
    pixels = np.load(cfg.verify_input_npy)
    reference = np.load(cfg.verify_expected_output_npy)
    inputs = pixels * np.float32(cfg.input_scale) if (stage == "qonnx" and cfg.input_scale) else pixels
    if stage == "folded":
        run_model = with_host_layers(model, cfg, vdir)
    elif stage == "hw_layers":
        run_model = prepare_for_python(model, vdir)
    else:
        run_model = model
    capture = dataflow_output_names(run_model) if stage in ("hw_layers", "folded") else None
    outputs, integer_out = execute(run_model, inputs, capture)
    tol = cfg.verify_atol * max(1.0, float(np.max(np.abs(reference))))
    result = {"stage": stage, **compare(outputs, reference, tol)}
    if stage == "qonnx" and cfg.verify_tag_qonnx_reference:
        result["note"] = "reference: the QONNX graph itself (no PyTorch model given)"
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
    if result["max_abs_diff"] > tol:
        problems.append(f"max abs diff {result['max_abs_diff']:.3g} > tolerance {tol:.3g}")
    result["passed"] = not problems
    (vdir / f"{stage}.json").write_text(json.dumps(result, indent=2))
    if problems:
        raise VerificationError(f"verification of stage {stage!r} failed on {result['images']} images: "
                                + "; ".join(problems) + f" (details in {vdir / (stage + '.json')})")
    return result


def collect_report(output_dir: str | Path) -> list[dict]:
    """The per-stage results written so far, in stage order."""
    vdir = Path(output_dir) / "verification"
    return [json.loads((vdir / f"{s}.json").read_text()) for s in STAGES if (vdir / f"{s}.json").exists()]
