"""Model zoo: ``create_model(name, config=None, **kwargs)``, ``list_models(pattern=None)``, ``@register_model``.

Float models of every network in the seed documents, the Sequential versions the training configs use
(``lfc_seq``, ``lenet5_seq``, ``cnv_seq`` with a ``width`` factor; aliases ``local_*``) and the stock-Brevitas
baseline ``lfc_brevitas_w1a1`` (``brevitas_baselines``, also ``brevitas_quantized``); ``config`` (``ABCConfig``, ``LBCConfig``,
``GroupNetConfig``) swaps them into binary form, initialised from the float weights.
"""
from brevitas_abc.models import (  # noqa: F401 - each module registers its models
    brevitas_baselines,
    densenet,
    densenet_integer,
    finn_nets,
    forest_trail,
    mnist_nets,
    resnet,
    segmentation,
    sequential_nets,
)
from brevitas_abc.models.registry import UnknownModelError, create_model, list_models, register_alias, register_model

__all__ = ["UnknownModelError", "create_model", "list_models", "register_alias", "register_model"]
