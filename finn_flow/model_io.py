"""Turn the user's model argument into a QONNX file, and images into the graph's input layout.

A checkpoint argument goes through ``finn_flow.checkpoint_hook.load_checkpoint`` (the training side's loader,
resolved only then)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from finn_flow.checkpoint_hook import load_checkpoint  # noqa: F401 - the model argument may be a checkpoint
from finn_flow.errors import InvalidModelError


def is_torch_module(obj) -> bool:
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency of the project
        return False
    return isinstance(obj, torch.nn.Module)


def load_qonnx(path: str | Path):
    """Read an ONNX/QONNX file into a ``ModelWrapper``.

    Raises:
        InvalidModelError: when the path does not exist or is not a readable ONNX graph with one input.
    """
    import onnx
    from qonnx.core.modelwrapper import ModelWrapper

    path = Path(path)
    if not path.is_file():
        raise InvalidModelError(f"model={str(path)!r}: no such file (expected an .onnx QONNX file or a torch.nn.Module)")
    try:
        proto = onnx.load(str(path))
        onnx.checker.check_model(proto)
    except Exception as error:  # onnx raises DecodeError, ValidationError, ... depending on the damage
        raise InvalidModelError(f"model={str(path)!r} is not a valid ONNX/QONNX file: {type(error).__name__}: {error}") from error
    if len(proto.graph.node) == 0:
        raise InvalidModelError(f"model={str(path)!r} has an empty graph")
    model = ModelWrapper(proto)
    if len(model.graph.input) < 1:
        raise InvalidModelError(f"model={str(path)!r} has no graph input")
    return model


def export_torch(module, example_input: np.ndarray, path: Path) -> Path:
    """Export a Brevitas/PyTorch module to QONNX (eval mode).

    ``brevitas_abc.export_qonnx`` when that package is installed: it converts ABC/LBC/Group-Net layers
    to their stock-Brevitas export form first and checks that the graph executes like the module.
    Otherwise ``brevitas.export.export_qonnx``.
    """
    import torch

    module.eval()
    x = torch.from_numpy(np.asarray(example_input, dtype=np.float32))
    try:
        try:
            import brevitas_abc
        except ImportError:
            brevitas_abc = None
        if brevitas_abc is not None:
            brevitas_abc.export_qonnx(module, x, path)
        else:
            from brevitas.export import export_qonnx

            export_qonnx(module, input_t=x, export_path=str(path))
    except Exception as error:
        raise InvalidModelError(f"QONNX export of the {type(module).__name__} failed: {type(error).__name__}: {error}") from error
    return path


def torch_outputs(module, inputs: np.ndarray, batch: int = 256) -> np.ndarray:
    """``module(inputs)`` in eval mode, no grad, in batches; float32 numpy ``[N, ...]``."""
    import torch

    module.eval()
    outs = []
    with torch.no_grad():
        for i in range(0, len(inputs), batch):
            y = module(torch.from_numpy(np.asarray(inputs[i:i + batch], dtype=np.float32)))
            outs.append(y.detach().cpu().numpy() if hasattr(y, "detach") else np.asarray(y))
    return np.concatenate(outs)


def images_to_input_shape(images: np.ndarray, input_shape) -> np.ndarray:
    """Reshape ``[N, ...]`` images to ``[N, *input_shape[1:]]`` (adds a missing channel axis of 1).

    Raises:
        ValueError: naming both shapes when the per-image size does not match.
    """
    images = np.asarray(images)
    per_image = tuple(int(d) for d in input_shape[1:])
    if images.shape[1:] == per_image:
        return images
    if int(np.prod(images.shape[1:])) == int(np.prod(per_image)) and (
        images.ndim == len(per_image) and per_image[0] == 1
    ):
        return images.reshape((len(images), *per_image))
    raise ValueError(
        f"verify_inputs has images of shape {images.shape[1:]}, the model input is {tuple(input_shape)} "
        "(batch first); pass images laid out like the model input (NCHW), without the batch size 1"
    )
