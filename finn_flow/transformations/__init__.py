"""Graph rewrites used by finn_flow's build steps, one rewrite per class (QONNX ``Transformation``).

Each class has ``apply(model) -> (model, graph_modified)`` and a verb-first name that says what
moves where, like FINN's own transformations.
"""

from finn_flow.transformations.clip_xnor_thresholds import ClipXnorThresholdsToPopcountRange
from finn_flow.transformations.duplicate_shared_thresholds import DuplicateSharedBipolarThresholds
from finn_flow.transformations.duplicate_shared_weight_quant import DuplicateSharedWeightQuantizers
from finn_flow.transformations.insert_input_scaling import InsertIntegerInputScaling
from finn_flow.transformations.revert_float_boundary import RevertFloatBoundaryLayersToONNX
from finn_flow.transformations.specialized_to_generic import ConvertSpecializedToGenericLayers

__all__ = [
    "ClipXnorThresholdsToPopcountRange",
    "ConvertSpecializedToGenericLayers",
    "DuplicateSharedBipolarThresholds",
    "DuplicateSharedWeightQuantizers",
    "InsertIntegerInputScaling",
    "RevertFloatBoundaryLayersToONNX",
]
