"""``finn_flow.build``: a QONNX file or a Brevitas model -> FINN dataflow build, verified per stage."""

from __future__ import annotations

import functools
import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from finn_flow.boards import resolve_board
from finn_flow.checks import check_bipolar_after_relu, check_torch_model
from finn_flow.config import ABC_MAPPINGS
from finn_flow.diagnose import describe_step_failure
from finn_flow.errors import BuildStepError, FinnFlowError
from finn_flow.finn_env import builder_without_vivado, prepare_finn, vivado_available
from finn_flow.transformations.remove_exact_identity_ops import exact_identity_removal
from finn_flow.transformations.round_half_to_even_thresholds import round_half_to_even_thresholds
from finn_flow.validate import check_graph_input, check_output_dir, check_torch_input, check_verify_inputs
from finn_flow.model_io import (
    export_torch,
    images_to_input_shape,
    is_torch_module,
    load_checkpoint,
    load_qonnx,
    torch_outputs,
)


@dataclass
class BuildResult:
    """What a build produced.

    Attributes:
        output_dir: FINN's output folder (``report/``, ``intermediate_models/``, ``verification/``).
        status: ``"complete"`` (every step ran, Vivado included) or ``"stopped_before_vivado"``
            (estimates and HLS/RTL code generation done; :attr:`skipped_steps` need Vivado/Vitis).
        steps_run: names of the steps that ran, in order.
        skipped_steps: finn-plus steps not run because ``XILINX_VIVADO`` is not set.
        message: one paragraph saying what happened.
        estimates: ``report/estimate_network_performance.json`` (FPS, latency, cycles).
        resources: per-layer resources from ``report/estimate_layer_resources.json``.
        verification: per-stage results (images, argmax agreement, max abs diff, ...).
        host_nodes: nodes that run on the host, before or after the accelerator.
        float_in_dataflow: FLOAT32 tensors inside the dataflow partition (empty for integer-only).
        step_times: ``{step: {"wall_s", "cpu_s"}}`` per step that ran, plus ``"total"`` (also in
            ``report/step_times.json``; CPU seconds are this process's, meaningful on a shared machine).
        fit: with ``target_fps="max"``: ``report/fit_to_board.json`` (budget, chosen folding and FPS, every
            folding tried, final utilisation per resource); empty otherwise.
    """

    output_dir: Path
    status: str
    steps_run: list[str]
    skipped_steps: list[str]
    message: str
    estimates: dict = field(default_factory=dict)
    resources: dict = field(default_factory=dict)
    verification: list[dict] = field(default_factory=list)
    host_nodes: list[dict] = field(default_factory=list)
    float_in_dataflow: list[str] = field(default_factory=list)
    fit: dict = field(default_factory=dict)
    step_times: dict = field(default_factory=dict)


def _read_json(path: Path, default):
    return json.loads(path.read_text()) if path.is_file() else default


def _export_example(verify_inputs, example_input, input_scale) -> np.ndarray:
    """The one image a torch model is exported with: the first verification image (scaled), else example_input."""
    if verify_inputs is not None:
        first = np.asarray(verify_inputs[:1], dtype=np.float32)
        if first.ndim == 3:
            first = first[:, None]
        return first * np.float32(input_scale or 1.0)
    return np.asarray(example_input, dtype=np.float32)


def _resolve_preprocessing(model_or_path, preprocessing, input_scale):
    """``(preprocessing or None, input_scale)``: the recorded/given preprocessing wins over ``input_scale="auto"``
    (the graph then reads raw pixels, ``input_scale`` 1); an explicit different ``input_scale`` is an error."""
    from finn_flow.preprocessing import (check_preprocessing, checkpoint_preprocessing, is_plain_scaling,
                                         onnx_preprocessing)

    recorded = None
    if isinstance(model_or_path, (str, Path)) and Path(model_or_path).suffix == ".ckpt":
        recorded = checkpoint_preprocessing(model_or_path)
    elif isinstance(model_or_path, (str, Path)) and Path(model_or_path).is_file():
        recorded = onnx_preprocessing(model_or_path)
    if preprocessing is not None:
        preprocessing = check_preprocessing(preprocessing)
        if recorded is not None and recorded != preprocessing:
            raise ValueError(f"preprocessing={preprocessing} differs from the preprocessing recorded in "
                             f"{model_or_path} ({recorded}); leave preprocessing unset to use the recorded one")
    else:
        preprocessing = recorded
    if isinstance(input_scale, str) and input_scale != "auto":
        raise ValueError(f"input_scale={input_scale!r} is not allowed: expected a positive number, None or \"auto\"")
    if preprocessing is None:
        return None, (1 / 255 if input_scale == "auto" else input_scale)
    if input_scale != "auto":
        if input_scale is not None and is_plain_scaling(preprocessing, input_scale):
            return None, input_scale
        source = f"recorded in {model_or_path}" if recorded is not None else "given"
        raise ValueError(f"input_scale={input_scale!r} conflicts with the preprocessing {source} "
                         f"({preprocessing}: the model sees (pixels * pixel_scale - mean) / std): leave input_scale "
                         "unset, the build applies that preprocessing to the raw pixels itself")
    return preprocessing, 1.0


def _tracked(step, log: list, failure: list, logfile: Path, heartbeat_s: float | None = 30.0,
             times: dict | None = None):
    """Wrap a step so its name is logged, its progress reported (:func:`finn_flow.progress.step_progress`: a
    heartbeat with the transformation running, the duration), its wall and CPU seconds kept in ``times`` and a
    failure kept with the step's name, the node it failed at and the likely cause
    (:func:`finn_flow.diagnose.describe_step_failure`)."""
    from finn_flow.progress import step_progress

    @functools.wraps(step)
    def run(model, cfg):
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            with step_progress(step.__name__, heartbeat_s):
                model = step(model, cfg)
        except FinnFlowError as error:
            failure.append(error)
            raise
        except Exception as error:
            wrapped = BuildStepError(describe_step_failure(step.__name__, error, logfile.parent,
                                                           log[-1] if log else None))
            wrapped.__cause__ = error
            failure.append(wrapped)
            raise wrapped from error
        log.append(step.__name__)
        if times is not None:
            times[step.__name__] = {"wall_s": round(time.perf_counter() - wall, 2),
                                    "cpu_s": round(time.process_time() - cpu, 2)}
        return model

    return run


def build(
    model_or_path,
    output_dir,
    board: str = "Pynq-Z1",
    clock_ns: float = 10.0,
    target_fps: int | str | None = None,
    abc_mapping: str = "bitwise",
    verify_inputs: np.ndarray | None = None,
    *,
    example_input: np.ndarray | None = None,
    input_scale: float | str | None = "auto",
    input_datatype: str = "UINT8",
    allow_float_in_dataflow: bool = False,
    folding_config_file: str | None = None,
    codegen: bool = True,
    summary: bool = True,
    config: str | None = None,
    fit_limits: dict | None = None,
    fit_capacity: dict | None = None,
    preprocessing: dict | None = None,
) -> BuildResult:
    """Build a quantised network into a FINN dataflow accelerator, verifying every stage.

    The flow is finn-plus's ``build_dataflow_cfg`` with the step list of
    :func:`finn_flow.steps.finn_flow_steps`: QONNX -> FINN-ONNX -> streamlined -> hardware layers ->
    dataflow partition -> folded to ``target_fps`` -> estimate reports -> HLS/RTL code generation.
    Without ``XILINX_VIVADO`` it stops there and says which steps it skipped; with it, finn-plus's
    own IP generation, FIFO sizing, stitched IP, bitfile and driver steps follow.

    Args:
        model_or_path: a QONNX/ONNX file path, a Brevitas ``torch.nn.Module`` (exported with
            ``brevitas.export.export_qonnx``; needs ``verify_inputs`` or ``example_input``), or an ``abc-train``
            checkpoint (``.ckpt``, with ``config``).
        output_dir: FINN's output folder; an existing one is replaced if it is empty or an earlier build's (a
            non-empty unrelated folder, or a file, is refused). A failed build leaves ``BUILD_FAILED.txt`` (the
            error) there and no ``report/finn_flow_result.json``.
        board: a FINN board name (``"Pynq-Z1"``, ``"ZCU104"``, ``"U250"``, ...).
        clock_ns: target clock period in ns.
        target_fps: frames per second the folding aims for (None: FINN's default, fully folded), or ``"max"``:
            the highest FPS whose estimated LUT/BRAM/URAM/DSP stay within the board's budget
            (:mod:`finn_flow.fit`; the summary shows the chosen FPS, budget and utilisation).
        abc_mapping: how ABC layers become FINN layers (DESIGN.md 1.3): ``"bitwise"`` (M*N xnor MVAUs), ``"fused"``
            (N integer MVAUs), ``"integer"`` (one integer MVAU on one multi-level activation; a layer it cannot map is
            an :class:`~finn_flow.errors.AbcMappingError`) or ``"auto"`` (per layer the fewest estimated LUTs within
            the BRAM budget, :mod:`finn_flow.abc_auto`). The default stays ``"bitwise"``: it is the paper's structure,
            the one mapping every branch-sum family this flow builds (ABC, Group-Net's layer-wise branches) is tested
            with, and it needs no estimate; ``"auto"`` decides from a proxy (the layer's MVAUs and sums, not its
            thresholds or windows) and changes the graph a given call produces. For ABC models with integer
            coefficients built for a board, pass ``"auto"`` (benchmarks/finn_cnv_cifar10.py does).
        verify_inputs: raw images ``[N, ...]`` (e.g. uint8 pixels) laid out like the model input
            (NCHW; a missing channel axis of 1 is added). Every stage is executed on them and
            compared with PyTorch (module input) or with the QONNX graph (file input).
        example_input: one input ``[1, ...]`` for export, when no ``verify_inputs`` are given.
        input_scale: the model sees ``pixels * input_scale``; None keeps the graph input as exported; ``"auto"``
            (default): the preprocessing recorded with the model (a checkpoint of ``abc-train``), or given as
            ``preprocessing``, else 1/255 (ToTensor-style models). An explicit value that differs from the recorded
            preprocessing is an error.
        input_datatype: FINN DataType of the raw pixels (default ``"UINT8"``).
        allow_float_in_dataflow: build even if FLOAT32 tensors remain in the dataflow partition
            (they are listed in the result); by default that is an error.
        folding_config_file: a FINN folding JSON to apply instead of ``target_fps`` folding.
        codegen: run ``step_hw_codegen`` (HLS C++ / RTL templates) when Vivado is absent; False stops
            after the estimate reports (faster: code generation of large layers takes tens of seconds).
        summary: write ``report/build_summary.md`` and ``report/build_summary.png``.
        config: for a ``.ckpt``: the ``abc-train`` YAML it was trained with (it rebuilds the model;
            :func:`finn_flow.model_io.load_checkpoint`).
        fit_limits: with ``target_fps="max"``: usable fraction per resource, e.g. ``{"LUT": 0.7, "BRAM_18K": 0.8}``
            (default FINN's: 70 % LUT, 80 % BRAM_18K/URAM/DSP).
        fit_capacity: with ``target_fps="max"``: resource counts replacing the board's (e.g. a synthetic budget).
        preprocessing: ``{"pixel_scale": s, "mean": [...], "std": [...]}``: the torch model sees
            ``(pixels * s - mean[c]) / std[c]`` (:mod:`finn_flow.preprocessing`); a checkpoint brings its own (the
            datamodule's, recorded at training), and so does a QONNX file exported with
            ``export_qonnx(..., preprocessing=...)``. The flow puts it in front of the model, so the accelerator reads
            raw ``input_datatype`` pixels and verification runs from the raw pixels.

    Returns:
        A :class:`BuildResult`.

    Raises:
        InvalidModelError, UnknownBoardError, ValueError: bad arguments, before anything is written
            (:mod:`finn_flow.validate`: output folder, verification images, graph input).
        UnsupportedOpError: also before anything is built, for a torch model with modules the flow does not
            lower (Group-Net block/group modes with float residual streams, DenseNets with float concatenated
            streams; :func:`finn_flow.checks.check_torch_model`).
        UnsupportedOpError, FloatInDataflowError, VerificationError, BuildStepError: from the flow,
            naming the node, tensor, stage or step.
    """
    board_info = resolve_board(board)
    if abc_mapping not in ABC_MAPPINGS:
        raise ValueError(f"abc_mapping={abc_mapping!r}; allowed: {ABC_MAPPINGS}")
    if not (isinstance(clock_ns, (int, float)) and clock_ns > 0):
        raise ValueError(f"clock_ns must be a positive number of nanoseconds, got {clock_ns!r}")
    fit = target_fps == "max"
    if target_fps is not None and not fit and not (
            isinstance(target_fps, (int, float)) and not isinstance(target_fps, bool) and target_fps > 0):
        raise ValueError(f"target_fps must be a positive number, \"max\" or None, got {target_fps!r}")
    if fit and folding_config_file is not None:
        raise ValueError("target_fps='max' searches the folding itself; it cannot be combined with "
                         f"folding_config_file={folding_config_file!r}")
    if (fit_limits or fit_capacity) and not fit:
        raise ValueError(f"fit_limits={fit_limits!r} / fit_capacity={fit_capacity!r} need target_fps='max'")
    if fit:
        from finn_flow.fit import board_budget

        board_budget(board_info.name, fit_limits, fit_capacity)  # validates both, before anything is built
    preprocessing, input_scale = _resolve_preprocessing(model_or_path, preprocessing, input_scale)
    if verify_inputs is not None:
        verify_inputs = check_verify_inputs(verify_inputs, input_scale, input_datatype)
    out = check_output_dir(output_dir)
    if isinstance(model_or_path, (str, Path)) and Path(model_or_path).suffix == ".ckpt":
        if config is None:
            raise ValueError(f"model={str(model_or_path)!r} is a Lightning checkpoint: give config=<the abc-train "
                             "YAML it was trained with> (the checkpoint holds weights, not the architecture)")
        model_or_path = load_checkpoint(model_or_path, config)
    torch_module = is_torch_module(model_or_path)
    if torch_module:
        check_torch_model(model_or_path)  # before anything is written
        if verify_inputs is None and example_input is None:
            raise ValueError("a torch model needs verify_inputs or example_input to be exported")
        example = _export_example(verify_inputs, example_input, input_scale)
        if preprocessing is not None:
            from finn_flow.preprocessing import with_preprocessing

            if example.ndim != 4:
                raise ValueError(f"preprocessing needs image inputs [N, C, H, W]; the model's input has shape "
                                 f"{tuple(example.shape)}")
            model_or_path = with_preprocessing(model_or_path, preprocessing, channels=example.shape[1])
        check_torch_input(model_or_path, example, "verify_inputs" if verify_inputs is not None else "example_input")
    else:
        model = load_qonnx(model_or_path)
        check_graph_input(model, str(model_or_path))
        check_bipolar_after_relu(model)
        if verify_inputs is not None:
            images_to_input_shape(verify_inputs, model.get_tensor_shape(model.graph.input[0].name))

    if out.exists():
        shutil.rmtree(out)
    (out / "input").mkdir(parents=True)
    try:
        return _build_into(out, model_or_path, torch_module, board_info, clock_ns=clock_ns, target_fps=target_fps,
                           abc_mapping=abc_mapping, verify_inputs=verify_inputs, example_input=example_input,
                           input_scale=input_scale, input_datatype=input_datatype,
                           allow_float_in_dataflow=allow_float_in_dataflow, folding_config_file=folding_config_file,
                           codegen=codegen, summary=summary, fit=fit, fit_limits=fit_limits, fit_capacity=fit_capacity,
                           preprocessing=None if torch_module else preprocessing)
    except BaseException as error:
        # a failed build must not look finished: no finn_flow_result.json, and a note saying why
        (out / "report" / "finn_flow_result.json").unlink(missing_ok=True)
        (out / "BUILD_FAILED.txt").write_text(f"{type(error).__name__}: {error}\n")
        raise


def _build_into(out: Path, model_or_path, torch_module: bool, board_info, *, clock_ns, target_fps, abc_mapping,
                verify_inputs, example_input, input_scale, input_datatype, allow_float_in_dataflow,
                folding_config_file, codegen, summary, fit, fit_limits, fit_capacity,
                preprocessing=None) -> BuildResult:
    """The build of :func:`build` into ``out`` (created, holding ``input/``), arguments already checked."""
    prepare_finn(out / "finn_tmp")
    if torch_module:
        example = _export_example(verify_inputs, example_input, input_scale)
        qonnx_path = export_torch(model_or_path, example, out / "input" / "model_qonnx.onnx")
        model = load_qonnx(qonnx_path)
        check_graph_input(model, str(qonnx_path))
        check_bipolar_after_relu(model)
    else:
        model = load_qonnx(model_or_path)
        if preprocessing is not None:  # recorded in the file (or given): the graph reads raw pixels from here on
            from finn_flow.preprocessing import affine_constants
            from finn_flow.transformations.insert_input_normalization import InsertInputNormalization

            shape = model.get_tensor_shape(model.graph.input[0].name)
            if len(shape) != 4:
                raise ValueError(f"preprocessing needs image inputs [N, C, H, W]; the graph input has shape {shape}")
            model = model.transform(InsertInputNormalization(*affine_constants(preprocessing, shape[1])))
        qonnx_path = out / "input" / "model_qonnx.onnx"
        model.save(str(qonnx_path))

    from finn.builder.build_dataflow import build_dataflow_cfg
    from finn.builder.build_dataflow_config import DataflowOutputType, ShellFlowType
    from finn.builder.build_dataflow_steps import build_dataflow_step_lookup

    from finn_flow.config import FinnFlowConfig
    from finn_flow.steps import VIVADO_STEPS, finn_flow_steps
    from finn_flow.verify import (collect_report, compare, exact_outputs, execute, verification_dir,
                                  verify_qonnx_stage)

    verifying = verify_inputs is not None
    input_npy = out / "input" / "verify_pixels.npy"
    expected_npy = out / "input" / "verify_expected.npy"
    exact_npy = out / "input" / "verify_exact.npy"
    if verifying:
        # the references (finn_flow.verify): PyTorch's outputs (a graph given as a file: its own float32 run) and the
        # graph's exact (float64) outputs
        pixels = images_to_input_shape(verify_inputs, model.get_tensor_shape(model.graph.input[0].name))
        pixels = pixels.astype(np.float32)
        np.save(input_npy, pixels)
        scaled = pixels * np.float32(input_scale) if input_scale else pixels
        exact = exact_outputs(model, scaled).reshape(len(scaled), -1)
        np.save(exact_npy, exact)
        if torch_module:
            reference = torch_outputs(model_or_path, scaled).reshape(len(scaled), -1)
            np.save(expected_npy, reference)
            verify_qonnx_stage(model, scaled, reference, out, module=model_or_path)
        else:
            reference, _ = execute(model, scaled)
            np.save(expected_npy, reference.reshape(len(reference), -1))
            vdir = verification_dir(type("C", (), {"output_dir": out})())
            row = {"stage": "qonnx", **compare(reference, reference), "passed": True,
                   "reference": "the QONNX graph itself (no PyTorch model given)"}
            (vdir / "qonnx.json").write_text(json.dumps(row, indent=2))

    vivado = vivado_available()
    outputs = [DataflowOutputType.ESTIMATE_REPORTS]
    if vivado:
        outputs += [DataflowOutputType.STITCHED_IP, DataflowOutputType.BITFILE,
                    DataflowOutputType.PYNQ_DRIVER, DataflowOutputType.DEPLOYMENT_PACKAGE]
    steps_run: list[str] = []
    step_times: dict = {}
    failure: list[Exception] = []
    logfile = out / "build_dataflow.log"
    lookup = build_dataflow_step_lookup
    steps = [
        _tracked(lookup[s] if isinstance(s, str) else s, steps_run, failure, logfile, times=step_times)
        for s in finn_flow_steps(vivado, codegen=codegen, fit=fit)
    ]
    cfg = FinnFlowConfig(
        output_dir=str(out),
        synth_clk_period_ns=float(clock_ns),
        target_fps=None if target_fps is None or fit else int(target_fps),
        folding_config_file=folding_config_file,
        board=board_info.name,
        shell_flow_type=ShellFlowType.VITIS_ALVEO if board_info.alveo else ShellFlowType.VIVADO_ZYNQ,
        generate_outputs=outputs,
        steps=steps,
        input_scale=input_scale,
        input_datatype=input_datatype,
        abc_mapping=abc_mapping,
        allow_float_in_dataflow=allow_float_in_dataflow,
        run_verification=verifying,
        verify_input_npy=str(input_npy),
        verify_expected_output_npy=str(expected_npy),
        verify_exact_output_npy=str(exact_npy),
        fit_to_board=fit,
        fit_limits=fit_limits,
        fit_capacity=fit_capacity,
    )
    with builder_without_vivado(), exact_identity_removal(), round_half_to_even_thresholds():
        try:
            code = build_dataflow_cfg(str(qonnx_path), cfg)
        except FinnFlowError:
            raise
        except Exception as error:  # in a pytest session finn-plus re-raises instead of returning
            if failure:
                raise failure[0] from error
            raise BuildStepError(f"finn-plus build failed: {type(error).__name__}: {error} (log: {logfile})") from error
    if failure:
        raise failure[0]
    if code != 0:
        raise BuildStepError(f"finn-plus build returned exit code {code}; see {logfile}")

    report = out / "report"
    skipped = [] if vivado else list(VIVADO_STEPS)
    if vivado:
        status = "complete"
        message = f"Build complete for {board_info.name}: bitfile, driver and deployment package in {out}."
    else:
        status = "stopped_before_vivado"
        message = (
            f"Stopped after {'estimate reports and HLS/RTL code generation' if codegen else 'estimate reports (code generation skipped: codegen=False)'} "
            f"for {board_info.name} ({board_info.part}): XILINX_VIVADO is not set, so these finn-plus steps that need "
            f"Vivado/Vitis HLS were skipped: {', '.join(skipped)}. Set XILINX_VIVADO and rerun to continue."
        )
    result = BuildResult(
        output_dir=out,
        status=status,
        steps_run=steps_run,
        skipped_steps=skipped,
        message=message,
        estimates=_read_json(report / "estimate_network_performance.json", {}),
        resources=_read_json(report / "estimate_layer_resources.json", {}),
        verification=collect_report(out),
        host_nodes=_read_json(report / "host_nodes.json", []),
        float_in_dataflow=_read_json(report / "float_in_dataflow.json", []),
        fit=_read_json(report / "fit_to_board.json", {}),
        step_times={**step_times, "total": {k: round(sum(v[k] for v in step_times.values()), 2)
                                            for k in ("wall_s", "cpu_s")}},
    )
    (report / "step_times.json").write_text(json.dumps(result.step_times, indent=2))
    (report / "verification_report.json").write_text(json.dumps(result.verification, indent=2))
    (report / "finn_flow_result.json").write_text(json.dumps(
        {k: (str(v) if isinstance(v, Path) else v) for k, v in result.__dict__.items() if k != "resources"},
        indent=2))
    if summary:
        from finn_flow.summary import write_summary

        write_summary(result, board_info)
    return result
