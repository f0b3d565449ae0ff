"""Package boundaries (the layering of STYLE "Our habits"): ``finn_flow`` imports no training code, ``brevitas_abc``
imports neither Lightning nor ``finn_flow``, the dataset loaders work without Lightning, and no benchmark imports
``tests``. Each import check runs in a fresh interpreter, so nothing this test process imported counts."""
import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def modules_loaded_by(code: str) -> list[str]:
    """The names in ``sys.modules`` after running ``code`` in a fresh interpreter at the repository root."""
    script = code + "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300,
                            env={"PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT),
                                 "HOME": str(Path.home())})
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def import_every_module(package: str) -> str:
    return (f"import importlib, pkgutil, {package}\n"
            f"for info in pkgutil.walk_packages({package}.__path__, '{package}.'):\n"
            "    if not info.name.endswith('.cli'):\n"
            "        importlib.import_module(info.name)\n")


TRAINING = ("lightning_modules", "pytorch_lightning", "lightning")


def training_modules(names: list[str]) -> list[str]:
    return [n for n in names if n.split(".")[0] in TRAINING]


def imports_in(folder: str, roots: tuple[str, ...]) -> list[str]:
    """``file:line imports name`` for every import statement (module level or inside a function) under ``folder``
    whose top-level package is one of ``roots``."""
    found = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            else:
                continue
            found += [f"{path.relative_to(ROOT)}:{node.lineno} imports {n}" for n in names if n.split(".")[0] in roots]
    return found


def test_finn_flow_imports_no_training_code():
    assert imports_in("finn_flow", TRAINING) == []     # not even inside a function
    loaded = modules_loaded_by(import_every_module("finn_flow") + "import finn_flow.cli")
    assert "finn_flow.build" in loaded and "finn_flow.checkpoint_hook" in loaded
    assert training_modules(loaded) == []


@pytest.mark.slow
def test_brevitas_abc_imports_neither_lightning_nor_finn_flow():
    assert imports_in("brevitas_abc", TRAINING + ("finn_flow", "finn", "tests", "benchmarks")) == []
    loaded = modules_loaded_by(import_every_module("brevitas_abc"))
    assert "brevitas_abc.nn.protocol" in loaded and "brevitas_abc.models.sequential_nets" in loaded
    assert training_modules(loaded) == [] and not [n for n in loaded if n.startswith(("finn_flow", "finn."))]


@pytest.mark.slow
def test_dataset_loaders_work_without_lightning():
    code = ("import sys\n"
            "sys.modules['pytorch_lightning'] = sys.modules['lightning'] = None  # any import of them fails\n"
            "from lightning_modules.data import load_mnist\n"
            "images, labels = load_mnist('test')\n"
            "assert images.shape == (10000, 28, 28) and images.dtype.name == 'uint8', images.shape\n"
            "assert labels[:5].tolist() == [7, 2, 1, 0, 4], labels[:5]\n")
    loaded = modules_loaded_by(code)
    assert "lightning_modules.data.sources" in loaded and "lightning_modules.data.base" not in loaded


def test_no_benchmark_imports_tests():
    assert imports_in("benchmarks", ("tests",)) == []
