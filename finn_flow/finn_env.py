"""Prepare finn-plus for use as a library, with or without Xilinx tools.

finn-plus expects to be started by its own CLI (``finn build``), which refuses to start without
``XILINX_VIVADO``. As a library, three things stand in the way on a machine without Vivado
(see ../shared/ENVIRONMENT.md, "FINN without Vivado"):

1. Global settings: ``finn.util.settings.get_settings()`` fails unless ``FINN_BUILD_DIR`` points at
   a folder. We create one (``<output_dir>/finn_tmp`` unless the user set it).
2. ``finn.builder.build_dataflow_steps`` does ``from finn.xsi import SimEngine`` at import time, and
   ``finn.xsi``'s module ``__getattr__`` then checks for Vivado's simulator and raises. Without Vivado
   we bind the lazy XSI names to a placeholder that raises :class:`VivadoRequiredError` only when
   rtlsim is actually used. With ``XILINX_VIVADO`` set we touch nothing, so finn-plus's own path
   (IP generation, FIFO sizing, stitched IP, bitfile) is unchanged.
3. The end of every build writes ``report/metadata_builder.json`` from ``XILINX_VIVADO``; that is
   handled by :func:`finn_flow.build.build` catching the missing variable (see there).
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

from finn_flow.errors import VivadoRequiredError

# The names finn.xsi resolves lazily through Vivado's XSI library.
_XSI_LAZY_NAMES = (
    "SimEngine",
    "locate_glbl",
    "compile_sim_obj",
    "get_simkernel_so",
    "load_sim_obj",
    "reset_rtlsim",
    "close_rtlsim",
    "rtlsim_multi_io",
)


# FINN_BUILD_DIR as the user set it before finn_flow first touched it (None if unset).
_USER_BUILD_DIR = os.environ.get("FINN_BUILD_DIR") or None


def vivado_available() -> bool:
    """True when ``XILINX_VIVADO`` names an existing folder (finn-plus's own test for Vivado)."""
    root = os.environ.get("XILINX_VIVADO")
    return bool(root) and Path(root).is_dir()


class _NeedsVivado:
    """Placeholder for an XSI (Vivado simulator) entry point; raises when called or used."""

    def __init__(self, name: str):
        self._name = name

    def __call__(self, *args, **kwargs):
        raise VivadoRequiredError(
            f"finn.xsi.{self._name} (RTL simulation through Vivado's xsim) was called, "
            "but XILINX_VIVADO is not set. rtlsim needs Vivado; finn_flow verifies in Python instead."
        )

    def __getattr__(self, item):
        self(item)


def prepare_finn(build_dir: str | os.PathLike) -> None:
    """Make ``finn.builder`` importable and usable as a library.

    Args:
        build_dir: folder for FINN's generated code (``FINN_BUILD_DIR``); created if missing.
            An existing ``FINN_BUILD_DIR`` in the environment takes precedence.
    """
    chosen = Path(_USER_BUILD_DIR or build_dir).resolve()
    chosen.mkdir(parents=True, exist_ok=True)
    os.environ["FINN_BUILD_DIR"] = str(chosen)
    import finn.util.settings as settings

    settings._SETTINGS = None  # re-read FINN_BUILD_DIR (it may differ between builds)
    settings.get_settings()
    if vivado_available():
        return
    import finn.xsi as xsi

    for name in _XSI_LAZY_NAMES:
        if name not in vars(xsi):
            setattr(xsi, name, _NeedsVivado(name))


def restore_std_streams() -> None:
    """Undo finn-plus's redirection of ``sys.stdout``/``sys.stderr`` into its build log.

    ``build_dataflow_cfg`` replaces both streams with a logger that mirrors into the build log of
    that build, and never restores them; later prints would land in an old build's log.
    """
    from finn.builder.build_dataflow import PrintLogger

    if isinstance(sys.stdout, PrintLogger):
        sys.stdout = sys.stdout.console
    if isinstance(sys.stderr, PrintLogger):
        sys.stderr = sys.stderr.console


@contextlib.contextmanager
def builder_without_vivado():
    """Let ``build_dataflow_cfg`` finish without ``XILINX_VIVADO``.

    finn-plus writes ``report/metadata_builder.json`` at the end of every build (also a failed one)
    with ``Path(get_vivado_root()).name``, which raises without Vivado and would hide the build's real
    result. While this context is active and Vivado is absent, that lookup returns a marker string.
    With Vivado present nothing is changed.
    """
    import finn.builder.build_dataflow as bd

    if vivado_available():
        yield
        return
    original = bd.get_vivado_root
    bd.get_vivado_root = lambda: "no-vivado(XILINX_VIVADO unset)"
    try:
        yield
    finally:
        bd.get_vivado_root = original
        restore_std_streams()
