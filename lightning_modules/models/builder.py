"""``build_model``: the model argument of a training config. Builds a float network (ours or the zoo's)
and optionally swaps it to ABC-Net form; with the staged recipe, each stage's config names the same
architecture with a different ``abc`` and starts from the last stage's checkpoint
(``ClassificationModule(init_from=...)``)."""
from torch import nn

from lightning_modules.models.architectures import ARCHITECTURES
from lightning_modules.models.brevitas_baseline import lfc_brevitas_w1a1

LOCAL_BUILDERS = {**ARCHITECTURES, "lfc_brevitas_w1a1": lfc_brevitas_w1a1}
ACTIVATIONS = (nn.ReLU, nn.ReLU6, nn.Hardtanh, nn.LeakyReLU)
TRANSPARENT = (nn.Dropout, nn.Flatten, nn.Identity)


def _zoo():
    try:
        from brevitas_abc import models
    except ImportError:
        return None
    return models


def available_architectures() -> list[str]:
    """Names ``build_model`` accepts: ours, plus ``brevitas_abc.models.list_models()`` when the zoo exists."""
    zoo = _zoo()
    names = set(LOCAL_BUILDERS)
    if zoo is not None and hasattr(zoo, "list_models"):
        names |= set(zoo.list_models())
    return sorted(names)


def drop_activations_before_binary_inputs(model: nn.Module) -> list[str]:
    """Replace by ``nn.Identity`` each float activation whose next leaf layer (skipping dropout/flatten)
    binarises its own input (an ABC layer with ``input_quant``): the ABC activation replaces it, as in
    the paper. Returns the names replaced."""
    leaves, inside = [], ()
    for name, m in model.named_modules():
        if inside and name.startswith(inside):
            continue  # the quantisers inside an ABC layer
        binary_input = getattr(m, "input_quant", None) is not None
        if binary_input or not list(m.children()):
            leaves.append((name, m))
        if binary_input:
            inside = name + "."
    replaced = []
    for index, (name, module) in enumerate(leaves):
        if not isinstance(module, ACTIVATIONS):
            continue
        following = next((m for _, m in leaves[index + 1:] if not isinstance(m, TRANSPARENT)), None)
        if following is not None and getattr(following, "input_quant", None) is not None:
            model.set_submodule(name, nn.Identity())
            replaced.append(name)
    return replaced


def build_model(arch: str, num_classes: int = 10, abc=None, arch_kwargs: dict | None = None) -> nn.Module:
    """A network by name, optionally swapped to ABC-Net form.

    Args:
        arch: one of ``available_architectures()``: ``lfc``, ``lenet5``, ``cnv``, ``lfc_brevitas_w1a1``
            (stock Brevitas W1A1) or a ``brevitas_abc.models`` zoo name.
        num_classes: size of the output layer.
        abc: a ``brevitas_abc.ABCConfig`` (or its fields as a dict); None keeps the float model. With
            binary activations the float activations feeding ABC layers are removed (the ABC layer's input
            quantiser is the activation).
        arch_kwargs: further keyword arguments of the architecture (``width``, ``in_channels``, ...).

    Raises:
        ValueError: ``arch`` is unknown (the message lists the allowed names).
    """
    arch_kwargs = dict(arch_kwargs or {})
    if arch in LOCAL_BUILDERS:
        model = LOCAL_BUILDERS[arch](num_classes=num_classes, **arch_kwargs)
    else:
        zoo = _zoo()
        if zoo is None or arch not in available_architectures():
            raise ValueError(f"arch={arch!r} is not allowed: expected one of {available_architectures()}")
        model = zoo.create_model(arch, num_classes=num_classes, **arch_kwargs)
    if abc is not None:
        import brevitas_abc

        config = abc if isinstance(abc, brevitas_abc.ABCConfig) else brevitas_abc.ABCConfig(**dict(abc))
        model = brevitas_abc.swap(model, config, verbose=False)
        drop_activations_before_binary_inputs(model)
    return model
