"""Graph rewrites used by finn_flow's build steps, one rewrite per class (QONNX ``Transformation``).

Each class has ``apply(model) -> (model, graph_modified)`` and a verb-first name that says what
moves where, like FINN's own transformations.
"""

from finn_flow.transformations.absorb_relu_into_thresholds import (
    AbsorbReluIntoMultiThreshold,
    MoveChannelLinearPastFlatten,
    MoveReluPastReshape,
)
from finn_flow.transformations.absorb_pad_into_im2col import AbsorbZeroPadIntoIm2Col
from finn_flow.transformations.bipolar_to_binary import (
    ConvertBipolarThresholdsToBinary,
    PrepareBipolarThresholdsForHW,
)
from finn_flow.transformations.clip_xnor_thresholds import ClipXnorThresholdsToPopcountRange
from finn_flow.transformations.duplicate_linear_before_forked_thresholds import DuplicateLinearBeforeForkedThresholds
from finn_flow.transformations.convert_reduce_mean_to_global_pool import ConvertGlobalReduceMeanToGlobalAveragePool
from finn_flow.transformations.convert_input_quant_to_pixel_thresholds import ConvertInputQuantToPixelThresholds
from finn_flow.transformations.convert_signed_quant_after_relu import ConvertSignedQuantAfterReluToUnsigned
from finn_flow.transformations.duplicate_shared_thresholds import DuplicateSharedBipolarThresholds
from finn_flow.transformations.duplicate_shared_weight_quant import DuplicateSharedWeightQuantizers
from finn_flow.transformations.extract_branch_scales import ExtractIntegerBranchScales
from finn_flow.transformations.convert_gemms_to_matmul import ConvertGemmsToMatMul, RemoveIdentityLinearOps
from finn_flow.transformations.fold_average_pool_into_pointwise_conv import FoldAveragePoolIntoPointwiseConv
from finn_flow.transformations.fold_unity_scale_weight_quantizers import FoldUnityScaleWeightQuantizers
from finn_flow.transformations.fuse_weight_bases import FuseBinaryBasesIntoIntegerWeights
from finn_flow.transformations.insert_input_scaling import InsertIntegerInputScaling
from finn_flow.transformations.move_flatten_past_thresholds import (
    InsertTransposePairBeforeFlatten,
    MoveFlattenPastMultiThreshold,
)
from finn_flow.transformations.move_transpose_past_channel_linear import (
    CollapseForkedTransposes,
    MoveTransposeBeforeMultiThreshold,
    MoveTransposePastChannelLinear,
)
from finn_flow.transformations.merge_activation_bases import MergeActivationBasesIntoIntegerInput
from finn_flow.transformations.move_equal_transposes_past_join_concat import MoveEqualTransposesPastJoinConcat
from finn_flow.transformations.move_maxpool_past_thresholds import MoveMaxPoolPastMultiThreshold
from finn_flow.transformations.pad_border_bias import ConvertPadValueToBorderBias
from finn_flow.transformations.revert_float_boundary import RevertFloatBoundaryLayersToONNX
from finn_flow.transformations.revert_trivial_shuffle import (
    RemoveTrivialTransposeBeforeReshape,
    RevertTrivialShuffleToReshape,
)
from finn_flow.transformations.specialized_to_generic import ConvertSpecializedToGenericLayers
from finn_flow.transformations.set_xnor_accumulator_range import SetXnorAccumulatorToPopcountRange

__all__ = [
    "AbsorbReluIntoMultiThreshold",
    "AbsorbZeroPadIntoIm2Col",
    "ClipXnorThresholdsToPopcountRange",
    "CollapseForkedTransposes",
    "ConvertBipolarThresholdsToBinary",
    "ConvertGemmsToMatMul",
    "ConvertGlobalReduceMeanToGlobalAveragePool",
    "ConvertInputQuantToPixelThresholds",
    "ConvertPadValueToBorderBias",
    "ConvertSignedQuantAfterReluToUnsigned",
    "ConvertSpecializedToGenericLayers",
    "DuplicateLinearBeforeForkedThresholds",
    "DuplicateSharedBipolarThresholds",
    "DuplicateSharedWeightQuantizers",
    "ExtractIntegerBranchScales",
    "FoldAveragePoolIntoPointwiseConv",
    "FoldUnityScaleWeightQuantizers",
    "FuseBinaryBasesIntoIntegerWeights",
    "InsertIntegerInputScaling",
    "InsertTransposePairBeforeFlatten",
    "MergeActivationBasesIntoIntegerInput",
    "MoveChannelLinearPastFlatten",
    "MoveEqualTransposesPastJoinConcat",
    "MoveFlattenPastMultiThreshold",
    "MoveMaxPoolPastMultiThreshold",
    "MoveReluPastReshape",
    "MoveTransposeBeforeMultiThreshold",
    "MoveTransposePastChannelLinear",
    "PrepareBipolarThresholdsForHW",
    "RemoveIdentityLinearOps",
    "RemoveTrivialTransposeBeforeReshape",
    "RevertFloatBoundaryLayersToONNX",
    "RevertTrivialShuffleToReshape",
    "SetXnorAccumulatorToPopcountRange",
]
