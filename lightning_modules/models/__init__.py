"""``build_model`` for training configs (over the ``brevitas_abc.models`` zoo, with the swap); ``lfc``, ``lenet5``,
``cnv`` and ``lfc_brevitas_w1a1`` re-exported from the zoo under their former names."""
from lightning_modules.models.architectures import cnv, lenet5, lfc
from lightning_modules.models.brevitas_baseline import lfc_brevitas_w1a1
from lightning_modules.models.builder import available_architectures, build_model, drop_activations_before_binary_inputs

__all__ = ["available_architectures", "build_model", "cnv", "drop_activations_before_binary_inputs", "lenet5", "lfc",
           "lfc_brevitas_w1a1"]
