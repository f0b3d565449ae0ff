"""``ExactBatchNorm2d``: inference BatchNorm computed as ``x * a + b`` with two separately rounded ops.

    a = gamma / sqrt(running_var + eps),    b = beta - running_mean * a,    y = x * a + b

Why: a binary network takes a sign right after most BatchNorms, so a 1-ulp difference flips a decision
and the flip propagates. Torch's CPU BatchNorm kernel (fused multiply-add) and ONNX Runtime's
``BatchNormalization`` (multiply, then add) differ by 1 ulp in about a quarter of the elements (measured),
enough for QONNX execution of a binary ResNet to disagree with PyTorch on real images. With this module the
PyTorch eval forward and the exported ``Mul -> Add`` (constants ``a``, ``b`` computed once in torch) are
bit-identical. Training mode is unchanged (batch statistics, running averages).
"""
import torch
from torch import Tensor, nn

from brevitas_abc.nn.constant_ops import AddConstant, MulConstant, channel_shaped


class _ExactBatchNormMixin:
    """Eval forward ``x * a + b`` and export ``Mul(a) -> Add(b)``; ``_is_conv`` picks the channel layout."""

    _is_conv = True

    def folded(self) -> tuple[Tensor, Tensor]:
        """``(a, b)`` per channel."""
        a = self.weight / torch.sqrt(self.running_var + self.eps) if self.affine else \
            1.0 / torch.sqrt(self.running_var + self.eps)
        b = (self.bias if self.affine else 0.0) - self.running_mean * a
        return a, b

    def forward(self, x: Tensor) -> Tensor:
        if self.training or not self.track_running_stats or self.running_mean is None:
            return super().forward(x)
        if not self._is_conv and x.dim() != 2:
            raise ValueError(f"input of shape {tuple(x.shape)} is not allowed for {type(self).__name__}: expected "
                             "[batch, features]")
        a, b = self.folded()
        return x * channel_shaped(a, self._is_conv) + channel_shaped(b, self._is_conv)

    @torch.no_grad()
    def to_export_form(self) -> nn.Sequential:
        a, b = self.folded()
        return nn.Sequential(MulConstant(channel_shaped(a, self._is_conv)),
                             AddConstant(channel_shaped(b, self._is_conv)))

    @classmethod
    def from_batchnorm(cls, bn):
        exact = cls(bn.num_features, bn.eps, bn.momentum, bn.affine, bn.track_running_stats)
        exact.load_state_dict(bn.state_dict())
        exact.train(bn.training)
        return exact.to(bn.running_mean.device if bn.running_mean is not None else "cpu")


class ExactBatchNorm2d(_ExactBatchNormMixin, nn.BatchNorm2d):
    """``nn.BatchNorm2d`` whose eval forward is ``x * a + b`` (see the module docstring); same state dict."""


class ExactBatchNorm1d(_ExactBatchNormMixin, nn.BatchNorm1d):
    """``nn.BatchNorm1d`` on ``[batch, features]`` whose eval forward is ``x * a + b``; same state dict."""

    _is_conv = False


_EXACT = {nn.BatchNorm2d: ExactBatchNorm2d, nn.BatchNorm1d: ExactBatchNorm1d}


def use_exact_batchnorm(model: nn.Module) -> nn.Module:
    """Replace (in place) every plain ``nn.BatchNorm2d`` / ``nn.BatchNorm1d`` of ``model`` by its exact
    counterpart; returns the model."""
    if type(model) in _EXACT:
        return _EXACT[type(model)].from_batchnorm(model)
    for name, module in list(model.named_modules()):
        if type(module) in _EXACT:
            model.set_submodule(name, _EXACT[type(module)].from_batchnorm(module))
    return model
