"""The input preprocessing a model was trained with, applied by ``finn_flow.build`` to raw pixels.

A model trained here sees ``x[c] = (p * pixel_scale - mean[c]) / std[c]`` of raw pixels ``p`` (per channel c);
``lightning_modules``' datamodules record it as ``{"pixel_scale": s, "mean": [...], "std": [...]}`` (their
``preprocessing`` property) and ``ClassificationModule`` stores it in every checkpoint (``checkpoint["preprocessing"]``).
``brevitas_abc.export_qonnx(..., preprocessing=...)`` records it in the QONNX file's metadata. ``finn_flow.build`` puts
it in front of the network as an explicit affine map

    x = p * a + b,    a[c] = pixel_scale / std[c],    b[c] = -mean[c] / std[c]

(``Mul`` then ``Add`` in the exported graph, computed the same two float32 steps in PyTorch), marks the graph input as
raw integer pixels, and lets streamlining absorb ``a`` and ``b`` into the first thresholds: the accelerator reads
uint8 pixels, and every stage is verified against PyTorch from the same raw pixels. This module reads and checks
the record; it imports no training code.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

KEYS = ("pixel_scale", "mean", "std")


def check_preprocessing(value, name: str = "preprocessing") -> dict:
    """``value`` as a checked ``{"pixel_scale": float, "mean": [float], "std": [float]}``.

    Raises:
        ValueError: naming the key and the value: not a mapping with exactly these keys, a non-positive
            ``pixel_scale`` or ``std``, non-finite numbers, or ``mean`` and ``std`` of different lengths (other
            than one of them having one value for all channels).
    """
    if not isinstance(value, dict) or set(value) != set(KEYS):
        raise ValueError(f"{name}={value!r} is not allowed: expected a mapping with exactly the keys {list(KEYS)} "
                         "(as lightning_modules' datamodules record it: (pixels * pixel_scale - mean) / std)")
    scale = value["pixel_scale"]
    if not (isinstance(scale, (int, float)) and not isinstance(scale, bool) and np.isfinite(scale) and scale > 0):
        raise ValueError(f"{name}['pixel_scale']={scale!r} is not allowed: expected a positive number")
    mean = np.atleast_1d(np.asarray(value["mean"], dtype=np.float64))
    std = np.atleast_1d(np.asarray(value["std"], dtype=np.float64))
    for key, array in (("mean", mean), ("std", std)):
        if array.ndim != 1 or array.size == 0 or not np.isfinite(array).all():
            raise ValueError(f"{name}[{key!r}]={value[key]!r} is not allowed: expected finite numbers, one per channel")
    if (std <= 0).any():
        raise ValueError(f"{name}['std']={value['std']!r} is not allowed: expected every std > 0")
    if mean.size != std.size and 1 not in (mean.size, std.size):
        raise ValueError(f"{name}: mean has {mean.size} values and std {std.size}: expected one per channel each")
    return {"pixel_scale": float(scale), "mean": mean.tolist(), "std": std.tolist()}


def is_plain_scaling(preprocessing: dict, input_scale: float) -> bool:
    """Whether the record is exactly ``pixels * input_scale`` (mean 0, std 1)."""
    return (preprocessing["pixel_scale"] == input_scale and all(m == 0 for m in preprocessing["mean"])
            and all(s == 1 for s in preprocessing["std"]))


def checkpoint_preprocessing(path: str | Path) -> dict | None:
    """The preprocessing stored in a Lightning checkpoint by ``ClassificationModule`` (None if it has none)."""
    import torch

    try:
        stored = torch.load(Path(path), map_location="cpu", weights_only=False).get("preprocessing")
    except Exception:  # noqa: BLE001 - an unreadable checkpoint is reported by the checkpoint loader
        return None
    return None if stored is None else check_preprocessing(stored, name=f"the preprocessing recorded in {path}")


def onnx_preprocessing(path: str | Path) -> dict | None:
    """The preprocessing ``brevitas_abc.export_qonnx(..., preprocessing=...)`` recorded in an ONNX file's metadata
    (key ``"preprocessing"``, JSON, in the graph's or the model's ``metadata_props``), or None."""
    import json

    import onnx

    try:
        proto = onnx.load(str(path), load_external_data=False)
    except Exception:  # noqa: BLE001 - an unreadable file is reported by load_qonnx
        return None
    props = list(proto.metadata_props) + list(proto.graph.metadata_props)  # qonnx's ModelWrapper writes the graph's
    stored = next((p.value for p in props if p.key == "preprocessing"), None)
    if stored is None:
        return None
    try:
        value = json.loads(stored)
    except json.JSONDecodeError as error:
        raise ValueError(f"the preprocessing recorded in {path} is not JSON: {stored!r}") from error
    return check_preprocessing(value, name=f"the preprocessing recorded in {path}")


def affine_constants(preprocessing: dict, channels: int) -> tuple[np.ndarray, np.ndarray]:
    """``(a, b)`` as float32 ``[1, C, 1, 1]``: ``x = p * a + b`` (see the module docstring).

    Raises:
        ValueError: the record has per-channel values for another number of channels.
    """
    values = {}
    for key in ("mean", "std"):
        array = np.asarray(preprocessing[key], dtype=np.float64)
        if array.size not in (1, channels):
            raise ValueError(f"preprocessing[{key!r}] has {array.size} values but the model input has {channels} "
                             "channel(s): expected one value per channel (or one for all)")
        values[key] = np.broadcast_to(array, (channels,))
    a = (preprocessing["pixel_scale"] / values["std"]).astype(np.float32)
    b = (-values["mean"] / values["std"]).astype(np.float32)
    return a.reshape(1, channels, 1, 1), b.reshape(1, channels, 1, 1)


def with_preprocessing(module, preprocessing: dict, channels: int):
    """``nn.Sequential(InputNormalization, module)``: the network reading raw pixels ``[N, C, H, W]``."""
    import torch
    from torch import nn

    a, b = affine_constants(preprocessing, channels)

    class InputNormalization(nn.Module):
        """``x * a + b`` per channel (two float32 ops, as the exported ``Mul`` and ``Add``)."""

        def __init__(self):
            super().__init__()
            self.register_buffer("a", torch.from_numpy(a.copy()))
            self.register_buffer("b", torch.from_numpy(b.copy()))

        def forward(self, x):
            return x * self.a + self.b

    return nn.Sequential(InputNormalization(), module).eval()
