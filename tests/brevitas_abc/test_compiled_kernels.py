"""The torch.compile-fused multi-binary activation gives the eager values and gradients; it is the training default
with an eager fallback."""
import pytest
import torch

from brevitas_abc import ABCConv2d
from brevitas_abc.function import compiled_kernels_enabled, use_compiled_kernels


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


def test_a_failing_compile_falls_back_to_eager_with_one_warning(monkeypatch):
    """Where torch.compile cannot build the kernels (no C compiler, ...), training goes on eagerly: same values,
    one warning, and the process stays eager."""
    import brevitas_abc.function.ste as ste

    calls = []

    def broken_compile(fn, dynamic=True):
        def run(*args):
            calls.append(fn.__name__)
            raise RuntimeError("inductor: no working C compiler")
        return run

    saved = dict(ste._KERNELS)
    monkeypatch.setattr(torch, "compile", broken_compile)
    for key in ("compiled_forward", "compiled_backward"):
        ste._KERNELS.pop(key, None)
    try:
        use_compiled_kernels(True)
        x, shifts, betas = torch.randn(4, 6, requires_grad=True), torch.tensor([-0.3, 0.0, 0.3]), torch.ones(3)
        with pytest.warns(UserWarning, match="fall back to the eager kernels"):
            out = ste.multi_binary_act_ste(x, shifts, betas)
        out.sum().backward()  # backward finds the process already eager: no second warning, no compiled call
        expected = ste._multi_binary_forward(x.detach(), shifts - 0.5, betas)
        assert torch.equal(out.detach(), expected)
        assert calls == ["_multi_binary_forward"]
        assert not compiled_kernels_enabled()
    finally:
        ste._KERNELS.clear()
        ste._KERNELS.update(saved)
        use_compiled_kernels(False)


@pytest.mark.parametrize("env, expected", [("0", False), ("1", True)])
def test_build_model_turns_compiled_kernels_on_unless_the_environment_says_0(monkeypatch, env, expected):
    from lightning_modules.models import build_model

    monkeypatch.setenv("BREVITAS_ABC_COMPILED_KERNELS", env)
    try:
        build_model("local_lfc", abc={"num_weight_bases": 1, "num_act_bases": 1}, arch_kwargs={"width": 0.05})
        assert compiled_kernels_enabled() is expected
    finally:
        use_compiled_kernels(False)


def test_an_invalid_kernel_setting_is_an_error_naming_the_variable(monkeypatch):
    from brevitas_abc.function import use_default_kernels

    monkeypatch.setenv("BREVITAS_ABC_COMPILED_KERNELS", "yes")
    with pytest.raises(ValueError, match="BREVITAS_ABC_COMPILED_KERNELS='yes'.*0 or 1"):
        use_default_kernels()
