"""``build_model``: the model argument of a training config. Builds a float network of the
``brevitas_abc.models`` zoo (``create_model``: every architecture a config names lives there, the Sequential
``lfc_seq``/``lenet5_seq``/``cnv_seq`` under their old names ``local_*`` too, and the stock-Brevitas
``lfc_brevitas_w1a1``) and optionally swaps it into ABC-Net, LBC or Group-Net form; with the staged recipe each
stage's config names the same architecture with another swap config and starts from the last stage's
checkpoint (``ClassificationModule(init_from=...)``)."""
from brevitas_abc import ABCConfig, GroupNetConfig, LBCConfig
from brevitas_abc.models import create_model, list_models
from torch import nn

ACTIVATIONS = (nn.ReLU, nn.ReLU6, nn.Hardtanh, nn.LeakyReLU)
TRANSPARENT = (nn.Dropout, nn.Flatten, nn.Identity)


def available_architectures() -> list[str]:
    """Names ``build_model`` accepts: the zoo's models and their aliases (``local_*``)."""
    return list_models(include_aliases=True)


def drop_activations_before_binary_inputs(model: nn.Module) -> list[str]:
    """Inside every ``nn.Sequential``, replace by ``nn.Identity`` each float activation whose next
    sibling (skipping dropout/flatten) binarises its own input (an ABC layer with ``input_quant``): the
    ABC activation ``H_v`` is the activation then, as in the paper. Only siblings of one Sequential are
    looked at, where registration order is data-flow order (a shared ReLU in a residual block is never
    touched). Returns the names replaced."""
    replaced = []
    for seq_name, seq in list(model.named_modules()):
        if not isinstance(seq, nn.Sequential):
            continue
        children = list(seq.named_children())
        for index, (name, module) in enumerate(children):
            if not isinstance(module, ACTIVATIONS):
                continue
            following = next((m for _, m in children[index + 1:] if not isinstance(m, TRANSPARENT)), None)
            if following is not None and getattr(following, "input_quant", None) is not None:
                setattr(seq, name, nn.Identity())
                replaced.append(f"{seq_name}.{name}" if seq_name else name)
    return replaced


def build_model(arch: str, num_classes: int = 10, abc: ABCConfig | None = None, lbc: LBCConfig | None = None,
                group_net: dict | None = None, arch_kwargs: dict | None = None,
                drop_float_activations: bool = True, compiled_kernels: bool | None = None) -> nn.Module:
    """A network by name, optionally swapped into binary form (at most one of ``abc``, ``lbc``, ``group_net``).

    Args:
        arch: one of ``available_architectures()``: a ``brevitas_abc.models`` zoo name (``lfc``, ``lenet5``,
            ``cnv``, ``resnet18_cifar``, ``densenet_bc_cifar``, ...), ``lfc_seq`` / ``lenet5_seq`` / ``cnv_seq``
            (small Sequential versions with a ``width`` factor; also as ``local_lfc`` / ``local_lenet5`` /
            ``local_cnv``), or ``lfc_brevitas_w1a1`` (stock Brevitas W1A1, no swap).
        num_classes: size of the output layer.
        abc: ``brevitas_abc.ABCConfig`` (YAML: its fields as a mapping) for an ABC-Net swap.
        lbc: ``LBCConfig`` for an LBC swap of the 3x3 convolutions.
        group_net: the fields of a ``GroupNetConfig`` (``num_bases``, ``mode`` = "layer", "block" or "group",
            ``gates``, ``gate_init``, ``keep_first``, ``keep_last``, ``branch_scale_bits``) for a Group-Net swap: a
            mapping (``GroupNetConfig(**mapping)`` builds the config class of its mode), or one of those classes.
        arch_kwargs: further keyword arguments of the architecture (``width``, ``in_channels``, ``depth``, ...).
        drop_float_activations: after an ABC swap with binary activations, remove the float activation
            that directly feeds each ABC layer inside a Sequential (``drop_activations_before_binary_inputs``).
        compiled_kernels: after an ABC swap, train with the ``torch.compile`` kernels of the multi-binary
            activation (same values, 2-4x faster training on a CPU; eager fallback with one warning where
            compiling fails). None (default): on, unless ``BREVITAS_ABC_COMPILED_KERNELS=0``
            (``brevitas_abc.function.use_default_kernels``); True/False force it (process-wide).

    Raises:
        ValueError: ``arch`` is unknown (the message lists the allowed names), or several swap configs.
    """
    configs = [c for c in (abc, lbc, group_net) if c is not None]
    if len(configs) > 1:
        raise ValueError("give at most one of abc, lbc, group_net (got "
                         f"{[type(c).__name__ for c in configs]})")
    if arch not in available_architectures():
        raise ValueError(f"arch={arch!r} is not allowed: expected one of {available_architectures()}")
    model = create_model(arch, num_classes=num_classes, **dict(arch_kwargs or {}))
    if configs:
        import brevitas_abc

        config = configs[0]
        if isinstance(config, dict):
            config = GroupNetConfig(**config) if config is group_net else ABCConfig(**config)
        model = brevitas_abc.swap(model, config, verbose=False)
        if drop_float_activations and isinstance(config, ABCConfig):
            drop_activations_before_binary_inputs(model)
        if isinstance(config, ABCConfig):
            from brevitas_abc.function import use_compiled_kernels, use_default_kernels

            use_default_kernels() if compiled_kernels is None else use_compiled_kernels(compiled_kernels)
    return model
