"""Training concerns as callbacks: latent weight clipping, quantiser statistics, model size, QONNX export,
compiled ABC kernels, progress lines for logs, BatchNorm re-estimation."""
from lightning_modules.callbacks.batchnorm_reestimation import ReestimateBatchNorm
from lightning_modules.callbacks.compiled_kernels import CompiledABCKernels
from lightning_modules.callbacks.progress_lines import ProgressLines
from lightning_modules.callbacks.qonnx_export import ExportBestToQONNX
from lightning_modules.callbacks.quant_stats import QuantStatsLogger, collect_quant_stats
from lightning_modules.callbacks.size_summary import ModelSizeSummary
from lightning_modules.callbacks.weight_clipping import LatentWeightClipping, is_binary_layer

__all__ = ["CompiledABCKernels", "ExportBestToQONNX", "LatentWeightClipping", "ModelSizeSummary", "ProgressLines",
           "QuantStatsLogger", "ReestimateBatchNorm", "collect_quant_stats", "is_binary_layer"]
