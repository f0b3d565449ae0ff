"""Checks of ``finn_flow.build``'s arguments, run before anything is written or built.

Each check raises an error that names the argument, the value received and what is allowed, so that a bad
argument never reaches FINN (whose own failures on it are assertions deep inside a step) and never leaves an
output folder behind:

* :func:`check_output_dir`: the output folder is a folder (or absent), its parent is writable, and an existing
  folder is only replaced when it is empty or an earlier build's output (never a user's unrelated folder).
* :func:`check_verify_inputs`: images are a numeric array ``[N, ...]`` with ``N >= 1``, finite, and, when the
  graph input is made integer (``input_scale``), integers inside ``input_datatype``'s range: the accelerator
  reads ``x = pixels * input_scale`` with ``pixels`` of that type, so images already scaled to [0, 1] would be
  verified against a graph that hardware never computes.
* :func:`check_graph_input`: the QONNX graph has one dynamic input of rank 2 (``[1, C]``) or 4 (``[1, C, H, W]``)
  with batch size 1, the layouts FINN lowers.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from finn_flow.errors import InvalidModelError

#: files and folders a finn_flow/finn-plus build writes into its output folder; an existing folder holding any of
#: them is an earlier build and may be replaced
BUILD_MARKERS = ("build_dataflow.log", "intermediate_models", "input", "report", "BUILD_FAILED.txt")


def check_output_dir(output_dir) -> Path:
    """``output_dir`` as a Path, after checking it can hold a build.

    Raises:
        ValueError: ``output_dir`` is an existing file, a non-empty folder that is not an earlier build's output
            (finn_flow replaces the folder and will not delete unrelated files), or its nearest existing parent
            is not writable.
    """
    out = Path(output_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"output_dir={str(out)!r} is an existing file, not a folder: give a folder path "
                         "(it is created; an earlier build's folder is replaced)")
    if out.is_dir():
        entries = [e.name for e in out.iterdir()]
        if entries and not any(name in BUILD_MARKERS for name in entries):
            raise ValueError(f"output_dir={str(out)!r} is a non-empty folder that is not a finn_flow build "
                             f"(it holds {', '.join(sorted(entries)[:5])}{' ...' if len(entries) > 5 else ''}); "
                             "the build replaces its output folder, so give a new or empty folder")
    # replacing an existing folder removes it from its parent; a new one is created under the nearest existing one
    parent = out.absolute().parent if out.is_dir() else next((p for p in out.absolute().parents if p.exists()), None)
    for folder in [f for f in (parent, out if out.is_dir() else None) if f is not None]:
        if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
            raise ValueError(f"output_dir={str(out)!r} cannot be written: {str(folder)!r} is not a writable folder")
    return out


def check_verify_inputs(images, input_scale: float | None, input_datatype: str) -> np.ndarray:
    """``images`` as a numpy array after checking they can verify a build.

    Args:
        images: verification images ``[N, ...]``.
        input_scale: the model sees ``pixels * input_scale`` (None: the images are the graph input as is).
        input_datatype: FINN DataType name of the raw pixels, checked when ``input_scale`` is given.

    Raises:
        ValueError: naming ``verify_inputs`` and what is wrong: not numeric (dtype named), fewer than 2 axes,
            no images, NaN or infinite values (how many, first index), or values that are not pixels of
            ``input_datatype`` (non-integers or outside its range; the range found and the allowed one).
    """
    from qonnx.core.datatype import DataType

    array = np.asarray(images)
    if array.dtype.kind not in "biuf":
        raise ValueError(f"verify_inputs has dtype {array.dtype}; allowed: a numeric array (uint8 pixels, ints or "
                         "floats) of shape [N, ...]")
    if array.ndim < 2 or len(array) == 0:
        raise ValueError(f"verify_inputs has shape {array.shape}; allowed: [N, ...] with N >= 1 images laid out "
                         "like the model input (NCHW, or N x features)")
    if array.dtype.kind == "f":
        bad = ~np.isfinite(array)
        if bad.any():
            first = int(np.argwhere(bad.reshape(len(array), -1).any(axis=1))[0, 0])
            raise ValueError(f"verify_inputs holds {int(bad.sum())} NaN or infinite values (first in image {first}); "
                             "allowed: finite values")
    if input_scale is not None:
        try:
            dt = DataType[input_datatype]
        except KeyError:
            raise ValueError(f"input_datatype={input_datatype!r} is not a FINN DataType name "
                             "(e.g. 'UINT8', 'INT8')") from None
        low, high = float(array.min()), float(array.max())
        non_integer = array.dtype.kind == "f" and not np.array_equal(array, np.round(array))
        if non_integer or low < dt.min() or high > dt.max():
            raise ValueError(
                f"verify_inputs are not {input_datatype} pixels (values in [{low:g}, {high:g}]"
                f"{', not all integers' if non_integer else ''}; allowed: integers in [{dt.min():g}, {dt.max():g}]): "
                f"the accelerator reads raw pixels and the graph computes pixels * input_scale ({input_scale:g}). "
                "Give the raw pixels, or input_scale=None (and input_datatype) to feed the graph input as is")
    return array


#: graph input ranks FINN lowers: a vector per image (MLP) or an NCHW image
ALLOWED_INPUT_RANKS = {2: "[1, C]", 4: "[1, C, H, W]"}


def check_graph_input(model, where: str) -> list[int]:
    """The shape of ``model``'s one dynamic graph input, after checking FINN can lower it.

    Raises:
        InvalidModelError: naming ``where`` (the model file) and the input: more than one dynamic input, an
            unknown shape, a rank other than 2 or 4, or a batch size other than 1.
    """
    dynamic = [i.name for i in model.graph.input if model.get_initializer(i.name) is None]
    if len(dynamic) != 1:
        raise InvalidModelError(f"model={where!r} has {len(dynamic)} graph inputs {dynamic}; allowed: exactly one")
    shape = model.get_tensor_shape(dynamic[0])
    allowed = " or ".join(ALLOWED_INPUT_RANKS.values())
    if shape is None or len(shape) not in ALLOWED_INPUT_RANKS or any(not isinstance(d, int) or d < 1 for d in shape):
        raise InvalidModelError(f"model={where!r}: graph input {dynamic[0]!r} has shape {shape}; FINN lowers inputs "
                                f"of shape {allowed} (fixed sizes)")
    if shape[0] != 1:
        raise InvalidModelError(f"model={where!r}: graph input {dynamic[0]!r} has batch size {shape[0]} (shape "
                                f"{shape}); FINN builds batch size 1: export with one example image ({allowed})")
    return list(shape)


def check_torch_input(module, example: np.ndarray, argument: str) -> None:
    """Run ``module`` once on ``example`` (the image it will be exported with) in eval mode.

    Raises:
        ValueError: naming ``argument`` and the example's shape when the module cannot run on it (images of
            another shape or channel count than the model was built for), with torch's message.
    """
    import torch

    module.eval()
    try:
        with torch.no_grad():
            module(torch.from_numpy(np.ascontiguousarray(example, dtype=np.float32)))
    except Exception as error:  # torch raises RuntimeError, ValueError, IndexError... depending on the layer
        raise ValueError(f"{argument} of shape {tuple(example.shape[1:])} per image does not fit the model "
                         f"({type(module).__name__} fails on it: {type(error).__name__}: {str(error)[:300]}); give "
                         "images laid out like the model's training input (NCHW)") from error
