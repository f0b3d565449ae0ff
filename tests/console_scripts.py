"""Run this checkout's console scripts (``abc-train``, ``abc-build``) in subprocesses, as pip's wrappers do."""
import os
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def console_script(name: str) -> list[str]:
    """The command that runs console script ``name`` as pip's generated wrapper does
    (``sys.exit(<entry point>())``), with the entry point read from this checkout's pyproject.toml."""
    entry = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"][name]
    module, function = entry.split(":")
    return [sys.executable, "-c", f"import sys; from {module} import {function} as f; sys.exit(f())"]


def run_console_script(name: str, args: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``name`` with ``args`` in a subprocess on this checkout's code (one thread); returns the completed
    process (``returncode``, ``stdout``, ``stderr``)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.run([*console_script(name), *map(str, args)], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)
