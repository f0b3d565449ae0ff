"""Model zoo: ``create_model(name, config=None, **kwargs)``, ``list_models(pattern=None)``, ``@register_model``.

Float models of every network in the seed documents; ``config`` (``ABCConfig``, ``LBCConfig``,
``GroupNetConfig``) swaps them into binary form, initialised from the float weights.
"""
from brevitas_abc.models import densenet, finn_nets, forest_trail, mnist_nets, resnet, segmentation  # noqa: F401
from brevitas_abc.models.registry import UnknownModelError, create_model, list_models, register_model

__all__ = ["UnknownModelError", "create_model", "list_models", "register_model"]
