"""finn_flow's build steps and the step lists they are chained in.

Each step is a plain function ``step_<what>(model, cfg) -> model`` (cfg is a
:class:`~finn_flow.config.FinnFlowConfig`), mixed in one list with the names of finn-plus's stock
steps; finn-plus saves the model after each under ``intermediate_models/<step name>.onnx``.

Without Vivado the list ends after ``step_hw_codegen`` and the folded-graph verification. With
``XILINX_VIVADO`` set, finn-plus's own remaining steps follow unchanged (IP generation, FIFO sizing,
stitched IP, synthesis, driver, deployment package).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.infer_datatypes import InferDataTypes

from finn_flow.checks import check_lowered, float_tensors_in
from finn_flow.errors import FloatInDataflowError
from finn_flow.transformations import (
    ClipXnorThresholdsToPopcountRange,
    CollapseForkedTransposes,
    AbsorbReluIntoMultiThreshold,
    AbsorbZeroPadIntoIm2Col,
    ConvertBipolarThresholdsToBinary,
    ConvertGlobalReduceMeanToGlobalAveragePool,
    ConvertInputQuantToPixelThresholds,
    ConvertPadValueToBorderBias,
    DuplicateLinearBeforeForkedThresholds,
    ConvertSignedQuantAfterReluToUnsigned,
    DuplicateSharedBipolarThresholds,
    DuplicateSharedWeightQuantizers,
    ConvertGemmsToMatMul,
    ExtractIntegerBranchScales,
    FoldAveragePoolIntoPointwiseConv,
    FoldUnityScaleWeightQuantizers,
    FuseBinaryBasesIntoIntegerWeights,
    InsertIntegerInputScaling,
    InsertTransposePairBeforeFlatten,
    MergeActivationBasesIntoIntegerInput,
    MoveChannelLinearPastFlatten,
    MoveEqualTransposesPastJoinConcat,
    MoveFlattenPastMultiThreshold,
    MoveMaxPoolPastMultiThreshold,
    MoveReluPastReshape,
    MoveTransposeBeforeMultiThreshold,
    MoveTransposePastChannelLinear,
    PrepareBipolarThresholdsForHW,
    RevertFloatBoundaryLayersToONNX,
    RemoveTrivialTransposeBeforeReshape,
    RevertTrivialShuffleToReshape,
    SetXnorAccumulatorToPopcountRange,
)
from finn_flow.verify import verify_stage


def _verifying(cfg) -> bool:
    return bool(getattr(cfg, "run_verification", False))


def _write_report(cfg, name: str, data) -> None:
    path = Path(cfg.output_dir) / "report" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))


def step_insert_input_scaling(model: ModelWrapper, cfg) -> ModelWrapper:
    """Make the graph input integer: ``x = pixels * cfg.input_scale`` (no-op if input_scale is None)."""
    if cfg.input_scale is None:
        return model
    return model.transform(InsertIntegerInputScaling(cfg.input_scale, cfg.input_datatype))


def step_quantize_pixels_exactly(model: ModelWrapper, cfg) -> ModelWrapper:
    """An input quantiser reading the integer pixels through the input scaling/normalisation (an 8-bit
    ``QuantIdentity`` in front of a CNV) becomes thresholds midway between the pixel values where its output steps,
    computed from all pixel values with the graph's own float32 operations
    (:class:`ConvertInputQuantToPixelThresholds`): exact, where FINN's float thresholds with the normalisation
    absorbed can put a pixel value on the wrong side. Listed in ``report/pixel_thresholds.json``."""
    rewrite = ConvertInputQuantToPixelThresholds()
    model = model.transform(rewrite)
    _write_report(cfg, "pixel_thresholds.json", {"converted": rewrite.converted, "skipped": rewrite.skipped})
    return model


def step_qonnx_to_finn(model: ModelWrapper, cfg) -> ModelWrapper:
    """finn-plus's ``step_qonnx_to_finn``, with every Gemm made a MatMul (:class:`ConvertGemmsToMatMul`) and the
    constant unity-scale weight quantisers folded (:class:`FoldUnityScaleWeightQuantizers`) in one pass each first:
    qonnx's ``GemmToMatMul`` and FINN's ``FoldQuantWeights`` do one node per graph pass, which made this step
    quadratic in bitwise ABC's M*N weights per layer. The same cleanup and the rewrites
    ``ConvertQONNXtoFINN`` runs before its fold come first, so the graph is the one FINN's fold would give."""
    from finn.builder.build_dataflow_steps import step_qonnx_to_finn as finn_step_qonnx_to_finn
    from finn.transformation.qonnx.convert_qonnx_to_finn import InferMissingConvKernelShape, InferMissingGemmBias
    from qonnx.transformation.extract_conv_bias import ExtractBiasFromConv
    from qonnx.transformation.quant_constant_folding import FoldTransposeIntoQuantInit
    from qonnx.util.cleanup import cleanup_model

    if any(n.op_type in ("Quant", "BipolarQuant") for n in model.graph.node):
        model = cleanup_model(model)
        for rewrite in (InferMissingConvKernelShape(), ExtractBiasFromConv(), InferMissingGemmBias(),
                        ConvertGemmsToMatMul(), FoldTransposeIntoQuantInit(), InferDataTypes(),
                        FoldUnityScaleWeightQuantizers()):
            model = model.transform(rewrite)
    return finn_step_qonnx_to_finn(model, cfg)


def step_duplicate_shared_weight_quantizers(model: ModelWrapper, cfg) -> ModelWrapper:
    """One weight quantiser (and initializer) per consumer before QONNX -> FINN conversion."""
    return model.transform(DuplicateSharedWeightQuantizers())


def step_convert_signed_quant_after_relu(model: ModelWrapper, cfg) -> ModelWrapper:
    """A signed ``Quant`` reading a ``Relu`` (Group-Net's first integer residual stream) -> the equal unsigned one
    FINN's converter accepts (:class:`ConvertSignedQuantAfterReluToUnsigned`; exact)."""
    return model.transform(ConvertSignedQuantAfterReluToUnsigned())


def step_map_abc_branches(model: ModelWrapper, cfg) -> ModelWrapper:
    """Map ABC branch sums (DESIGN.md 1.3) as ``cfg.abc_mapping`` says.

    ``"bitwise"``: keep the M*N xnor branches; integer-multiple coefficients become integer ``Mul``s
    and one scale after the sum (:class:`ExtractIntegerBranchScales`); a layer without xnor form (a weights-only
    layer reading integers) is fused instead. ``"fused"``: collapse the M
    weight bases per activation base into one integer weight (:class:`FuseBinaryBasesIntoIntegerWeights`).
    ``"integer"``: fused, then the N activation bases merged into one multi-level activation and ONE integer MVAU
    (:class:`MergeActivationBasesIntoIntegerInput`); a layer it cannot map (float coefficients, betas of both
    signs) is an :class:`~finn_flow.errors.AbcMappingError` naming the layer and the reason. ``"auto"``: per layer
    the mapping :func:`finn_flow.abc_auto.choose_abc_mappings` picks from FINN's estimates (a layer it maps
    ``integer`` that cannot be merged stays fused).
    Branch sums with free float coefficients are left as they are (bitwise, fused, auto) and listed in
    ``report/abc_mapping.json`` (their Mul/Add stay float, which ``step_check_integer_dataflow`` reports); the
    report also names each layer's mapping (and, for auto, why, with the estimates of every candidate).
    """
    from qonnx.transformation.general import SortGraph
    from qonnx.transformation.infer_shapes import InferShapes

    from finn_flow.errors import AbcMappingError
    from finn_flow.transformations.abc_branches import find_branch_sums, reads_bipolar_activation

    mapping = cfg.abc_mapping
    branches = find_branch_sums(model)
    names = [branch.root.name for branch in branches]
    decisions: dict = {}
    if mapping == "auto":
        from finn_flow.abc_auto import choose_abc_mappings

        decisions = choose_abc_mappings(model, cfg)
        per_layer = {name: decisions[name]["mapping"] for name in names}
    else:
        per_layer = {name: mapping for name in names}
    # a branch sum that reads no bipolar activation (a weights-only layer behind an 8-bit input) has no xnor form;
    # as "bitwise" FINN's streamlining folds the input's float scale into its per-branch multipliers (FLOAT32
    # ElementwiseMul in the accelerator): it is fused, one integer MVAU
    no_xnor = [b.root.name for b in branches
               if not all(reads_bipolar_activation(model, t.linear.input[0]) for t in b.terms)]
    if mapping == "bitwise":
        per_layer.update({name: "fused" for name in no_xnor})
    strict = mapping == "integer"
    try:
        bitwise = ExtractIntegerBranchScales(only=[n for n, m in per_layer.items() if m == "bitwise"])
        model = model.transform(bitwise)
        fuse = FuseBinaryBasesIntoIntegerWeights(
            strict=strict, only=[n for n, m in per_layer.items() if m in ("fused", "integer")])
        model = model.transform(fuse)
        merge = MergeActivationBasesIntoIntegerInput(
            {n: fuse.fused_outputs[n] for n in fuse.fused if per_layer[n] == "integer"}, strict=strict)
        model = model.transform(merge)
    except ValueError as error:
        raise AbcMappingError(f"abc_mapping={mapping!r}: {error}") from error
    layers = {}
    for name in names:
        chosen = per_layer[name]
        row = {"mapping": chosen if name in bitwise.rewritten + fuse.fused else "float (left as exported)"}
        if name in merge.merged:
            row.update(merge.merged[name])
        elif mapping == "bitwise" and name in no_xnor and name in fuse.fused:
            row["note"] = "no xnor form (its input is not a bipolar activation: a weights-only layer): fused"
        elif name in merge.single_input:
            row["mapping"] = "fused"
            row["note"] = "one input (N = 1 or weights-only): fused is already one integer MVAU"
        elif name in merge.not_merged:
            row["mapping"] = "fused"
            row["note"] = f"not merged: {merge.not_merged[name]}"
        if name in decisions:
            row.update({k: v for k, v in decisions[name].items() if k != "mapping"})
        layers[name] = row
    model = model.transform(SortGraph()).transform(InferShapes()).transform(InferDataTypes())
    _write_report(cfg, "abc_mapping.json", {
        "mapping": mapping, "integer_branch_sums": bitwise.rewritten + fuse.fused,
        "float_branch_sums": bitwise.left_float + fuse.left_float, "layers": layers})
    return model


def step_move_scales_past_residual_adds(model: ModelWrapper, cfg) -> ModelWrapper:
    """Integer residual streams (Group-Net ``residual_bits``): a spatial ``ReduceMean`` becomes ``GlobalAveragePool``
    (:class:`ConvertGlobalReduceMeanToGlobalAveragePool`, so streamlining moves the stream's scale past it); every
    ``Add`` of two streams that carry the same
    scale ``Mul(s)`` becomes ``Mul(s)`` after an integer ``Add`` (:class:`MoveEqualMulPastJoinAdd`, FINN's ``MoveMulPastJoinAdd`` fixed for array constants, which splits a
    forked ``Mul`` per consumer first, so the forked residual graphs of FINN issue 881 stay intact), repeated until
    nothing moves. Exact for the power-of-two ``s`` of ``SignedIntActPerTensorPoT``: ``s n_1 + s n_2 = s (n_1 + n_2)``
    in float32. The adds then take integer streams (``ElementwiseAdd``) and ``s`` moves into the next thresholds."""
    from finn_flow.transformations.move_equal_mul_past_join_add import MoveEqualMulPastJoinAdd

    model = model.transform(ConvertGlobalReduceMeanToGlobalAveragePool())
    for _ in range(64):
        model, moved = MoveEqualMulPastJoinAdd().apply(model)
        if not moved:
            break
    return model.transform(InferDataTypes())


def step_fold_average_pools_into_convs(model: ModelWrapper, cfg) -> ModelWrapper:
    """A 1x1 convolution followed by a ``k x k`` stride-``k`` average pooling (a DenseNet transition) becomes one
    ``k x k`` stride-``k`` convolution with the weights repeated and ``Mul(1/k^2)``
    (:class:`FoldAveragePoolIntoPointwiseConv`; exact: an integer sum and a power-of-two scale), so no pooling of an
    unquantised tensor is left for FINN, which has no hardware layer for it."""
    if not model.get_nodes_by_op_type("AveragePool"):
        return model
    rewrite = FoldAveragePoolIntoPointwiseConv()
    model = model.transform(rewrite).transform(InferDataTypes())
    _write_report(cfg, "folded_average_pools.json", {"folded": [list(pair) for pair in rewrite.folded]})
    return model


def step_move_scales_past_concats(model: ModelWrapper, cfg) -> ModelWrapper:
    """Integer concatenated streams (an integer LBC DenseNet, ``brevitas_abc.models.densenet_integer``): a ``Concat``
    whose inputs all carry the same scalar scale ``Mul(s)`` becomes ``Mul(s)`` after a ``Concat`` of the integer
    streams (FINN's ``MoveMulPastJoinConcat``, which first splits a forked ``Mul`` per consumer), repeated until
    nothing moves: ``concat(s a, s b) = s concat(a, b)``, exact. The concatenations then join integer streams
    (``StreamingConcat``) and ``s`` moves into the next thresholds. Inputs with different float scales (FINN issue
    954) are left, and ``step_check_lowered`` names the Concat."""
    from finn.transformation.streamline.reorder import MoveMulPastJoinConcat

    if not model.get_nodes_by_op_type("Concat"):
        return model
    for _ in range(256):
        model, moved = MoveMulPastJoinConcat().apply(model)
        if not moved:
            break
    return model.transform(InferDataTypes())


def step_duplicate_shared_bipolar_thresholds(model: ModelWrapper, cfg) -> ModelWrapper:
    """Prepare forks for streamlining (all rewrites exact):

    1. BatchNorm -> affine Mul/Add; scalar Mul/Add past layout ops and past forks (one copy per
       branch, so each can be absorbed into its branch's thresholds);
    2. a flatten between a MaxPool and per-tensor thresholds moves after them
       (:class:`MoveFlattenPastMultiThreshold`), and a MaxPool that feeds thresholds moves after them
       (:class:`MoveMaxPoolPastMultiThreshold`);
       every consumer of a bipolar MultiThreshold gets its own copy (DESIGN.md 6, fan-out trap);
    3. Mul/Add past the forks created by 2; a Relu that now only feeds (Add ->) thresholds is
       absorbed into them (:class:`AbsorbReluIntoMultiThreshold`); Mul/Add past the new forks.
    """
    from finn.transformation.streamline.reorder import MoveLinearPastFork, MoveScalarLinearPastInvariants
    from qonnx.transformation.batchnorm_to_affine import BatchNormToAffine

    from finn_flow.transformations.absorb_scalar_bias_in_one_pass import AbsorbScalarBiasIntoMultiThresholdInOnePass

    # first absorb quantisers' output biases (as FINN's Streamline does first), or the moves below
    # would carry them away from their MultiThreshold (CNV W1A2: "Signed output requires actval < 0");
    # FINN's AbsorbScalarBiasIntoMultiThreshold does the same, one whole-graph pass per absorbed Add
    model = model.transform(AbsorbScalarBiasIntoMultiThresholdInOnePass())
    model = model.transform(BatchNormToAffine())
    model = model.transform(MoveScalarLinearPastInvariants())
    model = model.transform(MoveLinearPastFork())
    model = model.transform(MoveFlattenPastMultiThreshold())
    model = model.transform(MoveMaxPoolPastMultiThreshold())
    model = model.transform(DuplicateSharedBipolarThresholds())
    model = model.transform(MoveLinearPastFork())
    model = model.transform(MoveReluPastReshape())
    model = model.transform(AbsorbReluIntoMultiThreshold())
    model = model.transform(MoveChannelLinearPastFlatten())
    model = model.transform(MoveLinearPastFork())
    # a flatten of a pooled map (H*W > 1) gets the transposes FINN's streamlining makes NHWC layers from
    model = model.transform(InsertTransposePairBeforeFlatten())
    # fused ABC layers: bipolar activations behind a +-1 padding into integer weights -> binary + 2b - 1
    # (unpadded ones stay bipolar streams: step_convert_to_hw)
    return model.transform(ConvertBipolarThresholdsToBinary())


def step_streamline(model: ModelWrapper, cfg) -> ModelWrapper:
    """finn-plus's ``step_streamline`` (same transformations, same order, same graph), with its ``Streamline`` run as
    :class:`StreamlineSkippingIdleCleanups`: the five whole-graph cleanups FINN repeats after each of its 22 rewrites
    are skipped after a rewrite that changed nothing (they would return the same graph); they cost most of this
    step on bitwise ABC graphs."""
    import finn.transformation.streamline.absorb as absorb
    from finn.transformation.streamline.reorder import MakeMaxPoolNHWC
    from qonnx.transformation.bipolar_to_xnor import ConvertBipolarMatMulToXnorPopcount
    from qonnx.transformation.general import RemoveUnusedTensors
    from qonnx.transformation.infer_data_layouts import InferDataLayouts
    from qonnx.transformation.lower_convs_to_matmul import LowerConvsToMatMul

    from finn_flow.transformations.streamline_skipping_idle_cleanups import StreamlineSkippingIdleCleanups

    model = model.transform(absorb.AbsorbScalarBiasIntoMultiThreshold())
    model = model.transform(StreamlineSkippingIdleCleanups())
    if model.get_nodes_by_op_type("Conv"):
        model = model.transform(LowerConvsToMatMul())
        model = model.transform(MakeMaxPoolNHWC())
        model = model.transform(absorb.AbsorbTransposeIntoMultiThreshold())
        model = model.transform(MakeMaxPoolNHWC())
        model = model.transform(absorb.AbsorbConsecutiveTransposes())
    model = model.transform(ConvertBipolarMatMulToXnorPopcount())
    model = model.transform(StreamlineSkippingIdleCleanups())
    model = model.transform(absorb.AbsorbScalarMulAddIntoTopK())
    model = model.transform(InferDataLayouts())
    return model.transform(RemoveUnusedTensors())


def step_absorb_forked_linear_into_thresholds(model: ModelWrapper, cfg) -> ModelWrapper:
    """A constant Mul/Add that streamlining left in front of several thresholds (a stock Brevitas layer's output
    scale feeding an ABC layer's N activation bases) gets one copy per threshold
    (:class:`DuplicateLinearBeforeForkedThresholds`), which FINN's absorptions fold into each. Exact."""
    from finn.transformation.streamline.absorb import AbsorbAddIntoMultiThreshold, AbsorbMulIntoMultiThreshold

    for _ in range(4):  # a chain Mul -> Add -> fork: the Adds are absorbed first, then the Mul forks; fixed point
        model, forked = DuplicateLinearBeforeForkedThresholds().apply(model)
        if not forked:
            break
        model = model.transform(AbsorbMulIntoMultiThreshold()).transform(AbsorbAddIntoMultiThreshold())
    return model.transform(InferDataTypes())


def step_absorb_relus_into_thresholds(model: ModelWrapper, cfg) -> ModelWrapper:
    """Networks written ``Conv -> ReLU -> BatchNorm`` (the ReLU before the BatchNorm): FINN's streamlining absorbs
    the BatchNorm into the next layer's thresholds but stops at the float ``Relu`` in front of them, which FINN
    would then lower as a float ``ElementwiseMaximum`` inside the accelerator. A threshold on ``Relu(y)`` is a
    threshold on ``y`` (``Relu(y) >= t <=> y >= t`` for ``t > 0``, always true for ``t <= 0``;
    :class:`AbsorbReluIntoMultiThreshold`), after which the layer's scale and bias in front of the (forked)
    thresholds move past the fork (``MoveLinearPastFork``) and into them (``AbsorbAddIntoMultiThreshold``,
    ``AbsorbMulIntoMultiThreshold``: positive scales only). Repeated to a fixed point; exact, and checked by
    ``step_verify_streamlined``. A ReLU followed by a BatchNorm with a negative scale is left (a threshold on
    ``-Relu(y)`` is an upper bound on ``y``): :func:`finn_flow.checks.check_lowered` names it."""
    from finn.transformation.streamline.absorb import AbsorbAddIntoMultiThreshold, AbsorbMulIntoMultiThreshold
    from finn.transformation.streamline.reorder import MoveLinearPastFork

    if not model.get_nodes_by_op_type("Relu"):
        return model
    for _ in range(16):  # each pass moves each scale/bias one node on
        before = model.model.SerializeToString()
        for rewrite in (AbsorbReluIntoMultiThreshold(), MoveLinearPastFork(), AbsorbAddIntoMultiThreshold(),
                        AbsorbMulIntoMultiThreshold()):
            model = model.transform(rewrite)
        model = model.transform(InferDataTypes())
        if model.model.SerializeToString() == before:
            break
    return model


def step_clip_xnor_thresholds(model: ModelWrapper, cfg) -> ModelWrapper:
    """Clip xnor-popcount thresholds to [0, MW + 1] (exact; DESIGN.md 6, threshold-range trap)."""
    model = model.transform(ClipXnorThresholdsToPopcountRange())
    return model.transform(InferDataTypes())


def step_move_transposes_to_thresholds(model: ModelWrapper, cfg) -> ModelWrapper:
    """Bring the NHWC -> NCHW transposes of lowered multi-branch convolutions to the thresholds, where FINN
    absorbs them (channels-last Thresholding), instead of leaving them as ``Shuffle`` layers: each branch's
    Mul/Add (:class:`MoveTransposePastChannelLinear`), the branch sum (``MoveTransposePastJoinAdd``), a concatenation
    of equally transposed streams (:class:`MoveEqualTransposesPastJoinConcat`: it then joins NHWC streams) and forks
    (``MoveTransposePastFork``); then FINN's ``AbsorbTransposeIntoMultiThreshold``, ``MakeMaxPoolNHWC`` and
    ``AbsorbConsecutiveTransposes``; identical transposes on every branch of a fork become one before it
    (:class:`CollapseForkedTransposes`, once at the end). All exact."""
    from finn.transformation.streamline.absorb import (
        AbsorbConsecutiveTransposes,
        AbsorbTransposeIntoMultiThreshold,
    )
    from finn.transformation.streamline.reorder import (
        MakeMaxPoolNHWC,
        MoveTransposePastFork,
        MoveTransposePastJoinAdd,
    )
    from qonnx.transformation.infer_data_layouts import InferDataLayouts
    from qonnx.transformation.infer_shapes import InferShapes

    for _ in range(8):  # each pass moves every transpose one op further; stop at a fixed point
        before = model.model.SerializeToString()
        for rewrite in (MoveTransposePastChannelLinear(), MoveTransposePastJoinAdd(), MoveEqualTransposesPastJoinConcat(),
                        MoveTransposePastFork(), AbsorbTransposeIntoMultiThreshold(), MakeMaxPoolNHWC(),
                        AbsorbConsecutiveTransposes()):
            model = model.transform(rewrite)
        model = model.transform(InferShapes()).transform(InferDataTypes()).transform(InferDataLayouts())
        if model.model.SerializeToString() == before:
            break
    # after the loop: MoveTransposePastFork would split them again
    model = model.transform(CollapseForkedTransposes())
    # a transpose of a 1x1 map before a flatten is a reshape (FINN removes a flatten between hardware layers)
    return model.transform(RemoveTrivialTransposeBeforeReshape()).transform(InferShapes())


def step_convert_pad_values_to_border_bias(model: ModelWrapper, cfg) -> ModelWrapper:
    """Binary activations padded with +1 (ABC, Group-Net) -> zero padding plus a constant integer border bias
    after the convolution (:class:`ConvertPadValueToBorderBias`), then every zero Pad in front of a lowered
    convolution into its ``Im2Col`` (:class:`AbsorbZeroPadIntoIm2Col`), from which FINN makes ``FMPadding``.
    Both exact. The Pads rewritten are listed in ``report/pad_border_bias.json``."""
    from qonnx.transformation.infer_shapes import InferShapes

    rewrite = ConvertPadValueToBorderBias()
    model = model.transform(rewrite).transform(AbsorbZeroPadIntoIm2Col())
    from finn.transformation.streamline.absorb import AbsorbConsecutiveTransposes

    # thresholds on the pixels, then an input transpose per activation base: one host-side transpose instead
    model = model.transform(MoveTransposeBeforeMultiThreshold()).transform(CollapseForkedTransposes())
    model = model.transform(AbsorbConsecutiveTransposes())
    model = model.transform(InferShapes()).transform(InferDataTypes())
    _write_report(cfg, "pad_border_bias.json", {"rewritten_pads": rewrite.rewritten})
    return model


def step_check_padding(model: ModelWrapper, cfg) -> ModelWrapper:
    """Fail clearly on explicit padding FINN cannot build (before ``step_convert_to_hw`` crashes).

    FINN's FMPadding pads with zeros only. ``step_convert_pad_values_to_border_bias`` has already rewritten
    every constant Pad in front of a lowered convolution with integer or bipolar weights (ABC's and Group-Net's
    +1 padding, DESIGN.md 3); a Pad left here (a non-zero value in front of anything else, or of float
    weights) has no hardware layer, and FINN's own converter fails on it with an IndexError.
    """
    from finn_flow.errors import UnsupportedOpError

    bad = []
    for node in model.get_nodes_by_op_type("Pad"):
        value = model.get_initializer(node.input[2]) if len(node.input) > 2 and node.input[2] else 0.0
        if value is None or float(np.asarray(value)) != 0.0:
            bad.append(f"{node.name} (pad value {None if value is None else float(np.asarray(value))})")
    if bad:
        raise UnsupportedOpError(
            "FINN cannot lower these Pad nodes: its FMPadding layer pads with 0 only, and they do not feed a "
            "convolution with integer or bipolar weights (where finn_flow turns a padding value into a border "
            "bias): " + "; ".join(bad) + ".")
    return model


def step_verify_streamlined(model: ModelWrapper, cfg) -> ModelWrapper:
    """Execute the streamlined graph (MultiThreshold + integer matmuls) and compare."""
    if _verifying(cfg):
        verify_stage(model, cfg, "streamlined")
    return model


def step_convert_to_hw(model: ModelWrapper, cfg) -> ModelWrapper:
    """finn-plus's ``step_convert_to_hw``, with bipolar thresholds that feed integer-weight layers (fused ABC)
    first given the ``out_scale 1`` FINN's converter takes (:class:`PrepareBipolarThresholdsForHW`): they become
    Thresholding layers with a 1-bit BIPOLAR output, read by the MVAUs as +-1."""
    from finn.builder.build_dataflow_steps import step_convert_to_hw as finn_step_convert_to_hw

    prepare = PrepareBipolarThresholdsForHW(standalone_thresholds=cfg.standalone_thresholds)
    return finn_step_convert_to_hw(model.transform(prepare), cfg)


def step_revert_float_boundary_layers(model: ModelWrapper, cfg) -> ModelWrapper:
    """Send float layers at the graph's edges (output de-quantisation) back to the host, and a final
    layout change that is only a reshape (:class:`RevertTrivialShuffleToReshape`) with them."""
    model = model.transform(RevertFloatBoundaryLayersToONNX())
    model = model.transform(RevertTrivialShuffleToReshape())
    return model.transform(RevertFloatBoundaryLayersToONNX())


def step_check_lowered(model: ModelWrapper, cfg) -> ModelWrapper:
    """Fail on nodes FINN could not lower inside the accelerator; list host-side nodes."""
    _write_report(cfg, "host_nodes.json", check_lowered(model))
    return model


def step_verify_hw_layers(model: ModelWrapper, cfg) -> ModelWrapper:
    """Execute the graph of (generic) hardware layers in Python and compare."""
    if _verifying(cfg):
        verify_stage(model, cfg, "hw_layers")
    return model


def step_check_integer_dataflow(model: ModelWrapper, cfg) -> ModelWrapper:
    """No FLOAT32 stream or parameter inside the dataflow partition (or list them, if allowed)."""
    # finn-plus continues with the partition's own graph after step_create_dataflow_partition
    found = float_tensors_in(model)
    for node in model.get_nodes_by_op_type("StreamingDataflowPartition"):
        child = ModelWrapper(getCustomOp(node).get_nodeattr("model"))
        found += float_tensors_in(child)
    _write_report(cfg, "float_in_dataflow.json", found)
    if found and not cfg.allow_float_in_dataflow:
        raise FloatInDataflowError(
            f"{len(found)} FLOAT32 tensors inside the dataflow partition, e.g. " + "; ".join(found[:5])
            + ". Float per-branch scales cannot be absorbed into thresholds: train with integer-multiple "
            "coefficients (ABC: ABCConfig(coefficient_bits=3); Group-Net: GroupNetConfig(mode='layer', "
            "branch_scale_bits=3)), or pass allow_float_in_dataflow=True to build anyway."
        )
    return model


def step_fit_folding_to_board(model: ModelWrapper, cfg) -> ModelWrapper:
    """Fold for the highest estimated FPS within the board's budget (:func:`finn_flow.fit.search_folding`;
    replaces ``step_target_fps_parallelization`` when ``cfg.fit_to_board``). Writes the candidates tried and
    the chosen folding to ``report/fit_to_board.json`` (with the MVAUs whose weights moved to LUTRAM and the
    ``mvau_wwidth_max`` used) and the folding to ``report/auto_folding_config.json``."""
    from finn.transformation.qonnx.give_unique_node_names_recursive import GiveUniqueNodeNamesRecursive
    from finn.util.config import extract_model_config_to_json

    from finn_flow.fit import board_budget, search_folding

    budget = board_budget(cfg.board, cfg.fit_limits, cfg.fit_capacity)
    model, chosen, tried = search_folding(
        model, budget, cfg.synth_clk_period_ns, cfg._resolve_fpga_part(), mvau_wwidth_max=cfg.mvau_wwidth_max,
        two_pass_relaxation=cfg.folding_two_pass_relaxation)
    model = model.transform(GiveUniqueNodeNamesRecursive())
    _write_report(cfg, "fit_to_board.json", {
        "board": cfg.board, "clock_ns": cfg.synth_clk_period_ns, "budget": budget.as_dict(),
        "chosen": chosen.summary(), "tried": [t.summary() for t in tried],
        "mvau_wwidth_max": chosen.mvau_wwidth_max, "lutram_layers": chosen.lutram_layers,
        "finn_flow_lut_estimates": {k: v["LUT_added_by_finn_flow"] for k, v in chosen.layers.items()
                                    if "LUT_added_by_finn_flow" in v}})
    extract_model_config_to_json(model, Path(cfg.output_dir) / "report" / "auto_folding_config.json",
                                 ["PE", "SIMD", "parallel_window", "ram_style", "resType", "mem_mode"])
    return model


def step_report_fit(model: ModelWrapper, cfg) -> ModelWrapper:
    """After the estimate reports: the final graph's estimates (FINN's plus finn_flow's for 0-LUT layers)
    against the budget, added to ``report/fit_to_board.json`` as ``"final"`` (the summary shows them)."""
    from finn_flow.fit import board_budget, estimate_resources, total

    path = Path(cfg.output_dir) / "report" / "fit_to_board.json"
    if not cfg.fit_to_board or not path.is_file():
        return model
    budget = board_budget(cfg.board, cfg.fit_limits, cfg.fit_capacity)
    used = total(estimate_resources(model, cfg._resolve_fpga_part()))
    report = json.loads(path.read_text())
    report["final"] = {"resources": used, "overflow": budget.overflow(used),
                       "utilisation": {r: (used[r] / budget.capacity[r] if budget.capacity[r] else None)
                                       for r in used}}
    path.write_text(json.dumps(report, indent=2))
    return model


def _minimize_bit_width(model: ModelWrapper, cfg) -> ModelWrapper:
    """finn-plus's bit-width minimisation (weights, accumulators, then thresholds rounded and clipped to their
    input's range) with xnor MVAUs' accumulators set to their popcount's range before the clipping
    (:class:`SetXnorAccumulatorToPopcountRange`: FINN's range is too small and the clipping changed results)."""
    from finn.transformation.fpgadataflow.minimize_accumulator_width import MinimizeAccumulatorWidth
    from finn.transformation.fpgadataflow.minimize_weight_bit_width import MinimizeWeightBitWidth
    from finn.transformation.streamline.round_thresholds import RoundAndClipThresholds

    if cfg.minimize_bit_width:
        model = model.transform(MinimizeWeightBitWidth(), apply_to_subgraphs=True)
        model = model.transform(MinimizeAccumulatorWidth(), apply_to_subgraphs=True)
    model = model.transform(SetXnorAccumulatorToPopcountRange(), apply_to_subgraphs=True)
    model = model.transform(InferDataTypes(), apply_to_subgraphs=True)
    model = model.transform(RoundAndClipThresholds(), apply_to_subgraphs=True)
    model = model.transform(InferDataTypes(), apply_to_subgraphs=True)
    if cfg.minimize_bit_width:
        model = model.transform(MinimizeWeightBitWidth(), apply_to_subgraphs=True)
        model = model.transform(InferDataTypes(), apply_to_subgraphs=True)
    return model


def step_minimize_bit_width_initial(model: ModelWrapper, cfg) -> ModelWrapper:
    """finn-plus's ``step_minimize_bit_width_initial`` (right after the conversion to hardware layers), exact for
    xnor MVAUs (:func:`_minimize_bit_width`)."""
    return _minimize_bit_width(model, cfg)


def step_minimize_bit_width(model: ModelWrapper, cfg) -> ModelWrapper:
    """finn-plus's ``step_minimize_bit_width`` (after folding), exact for xnor MVAUs (:func:`_minimize_bit_width`).
    finn-plus's cppsim preparation in that step is not needed: finn_flow verifies in Python."""
    return _minimize_bit_width(model, cfg)


def step_verify_folded(model: ModelWrapper, cfg) -> ModelWrapper:
    """Execute the final folded graph (specialised layers mapped to generic ones) and compare."""
    if _verifying(cfg):
        verify_stage(model, cfg, "folded")
    return model


# finn-plus's default flow after the estimate reports: these need Vivado or Vitis HLS
# (step_assign_ddr_weight_offsets is bookkeeping for them).
VIVADO_STEPS = [
    "step_assign_ddr_weight_offsets",
    "step_generate_hardware",
    "step_create_stitched_ip",
    "step_measure_rtlsim_performance",
    "step_out_of_context_synthesis",
    "step_prepare_synthesis",
    "step_synthesize_bitfile",
    "step_make_driver",
    "step_deployment_package",
]


def finn_flow_steps(vivado: bool, codegen: bool = True, fit: bool = False) -> list:
    """The step list: finn-plus's estimate flow with our steps in between, then codegen or Vivado.

    Args:
        vivado: True to continue with finn-plus's own Vivado steps (:data:`VIVADO_STEPS`) after the
            estimates; False to stop after ``step_hw_codegen`` (HLS C++ and RTL templates).
        codegen: without Vivado, run ``step_hw_codegen`` (False: stop after the estimate reports).
        fit: fold to the board's budget (:func:`step_fit_folding_to_board` instead of
            ``step_target_fps_parallelization``, and :func:`step_report_fit` after the estimates).
    """
    steps = [
        step_insert_input_scaling,
        step_quantize_pixels_exactly,
        step_duplicate_shared_weight_quantizers,
        step_convert_signed_quant_after_relu,
        step_qonnx_to_finn,
        "step_tidy_up",
        step_map_abc_branches,
        step_move_scales_past_residual_adds,
        step_fold_average_pools_into_convs,
        step_move_scales_past_concats,
        step_duplicate_shared_bipolar_thresholds,
        step_streamline,
        step_absorb_relus_into_thresholds,
        step_absorb_forked_linear_into_thresholds,
        step_clip_xnor_thresholds,
        step_move_transposes_to_thresholds,
        step_convert_pad_values_to_border_bias,
        step_verify_streamlined,
        step_check_padding,
        step_convert_to_hw,
        step_revert_float_boundary_layers,
        step_check_lowered,
        step_verify_hw_layers,
        step_minimize_bit_width_initial,
        "step_create_dataflow_partition",
        step_check_integer_dataflow,
        "step_specialize_layers",
        step_fit_folding_to_board if fit else "step_target_fps_parallelization",
        "step_apply_folding_config",
        step_minimize_bit_width,
        "step_transpose_decomposition",
        "step_generate_estimate_reports",
    ] + ([step_report_fit] if fit else [])
    if vivado:
        return steps + [step_verify_folded] + VIVADO_STEPS
    return steps + (["step_hw_codegen"] if codegen else []) + [step_verify_folded]
