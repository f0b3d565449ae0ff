"""Model builders for training configs: small float networks, a stock-Brevitas baseline, and the ABC swap."""
from lightning_modules.models.architectures import cnv, lenet5, lfc
from lightning_modules.models.brevitas_baseline import lfc_brevitas_w1a1
from lightning_modules.models.builder import available_architectures, build_model, drop_activations_before_binary_inputs

__all__ = ["available_architectures", "build_model", "cnv", "drop_activations_before_binary_inputs", "lenet5", "lfc",
           "lfc_brevitas_w1a1"]
