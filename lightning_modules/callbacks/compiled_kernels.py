"""``CompiledABCKernels``: train with the torch.compile-fused multi-binary activation of ABC layers."""
import pytorch_lightning as pl

from brevitas_abc.function import use_compiled_kernels


class CompiledABCKernels(pl.Callback):
    """Switch ``brevitas_abc.function.use_compiled_kernels`` on for the run and off again at its end.

    In eager PyTorch the N threshold passes of an ABC activation cost 2-4x the convolution on a CPU; the fused
    kernels bring an ABC conv to about 1.15x a float conv (``benchmarks/abc_conv_speed.py``) with identical
    values. The first step of each input shape compiles (tens of seconds with gcc).
    """

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        use_compiled_kernels(True)

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        use_compiled_kernels(False)
