"""The torch.compile-fused multi-binary activation gives the eager values and gradients."""
import pytest
import torch

from brevitas_abc import ABCConv2d
from brevitas_abc.function import use_compiled_kernels


@pytest.mark.slow
def test_compiled_kernels_match_eager():
    torch.manual_seed(0)
    layer = ABCConv2d(3, 4, 3, padding=1, num_weight_bases=3, num_act_bases=3)
    x = torch.randn(2, 3, 8, 8)
    results = []
    for compiled in (False, True):
        use_compiled_kernels(compiled)
        try:
            layer.zero_grad()
            xr = x.clone().requires_grad_(True)
            out = layer(xr)
            out.backward(torch.linspace(-1, 1, out.numel()).reshape(out.shape))
            results.append((out.detach(), xr.grad, layer.input_quant.betas.grad.clone(),
                            layer.input_quant.shifts.grad.clone(), layer.weight.grad.clone()))
        finally:
            use_compiled_kernels(False)
    assert torch.equal(results[0][0], results[1][0])  # identical threshold decisions and values
    for eager, compiled in zip(results[0][1:], results[1][1:]):
        assert torch.allclose(eager, compiled, atol=1e-5)
