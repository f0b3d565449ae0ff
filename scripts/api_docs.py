"""Build the API reference (HTML, from the docstrings) with pdoc: ``python scripts/api_docs.py [OUT]``.

Documents ``brevitas_abc``, ``lightning_modules`` and ``finn_flow`` (Google-style docstrings; every config
dataclass shows its fields with their defaults in its signature) into ``OUT`` (default ``docs/api``; open
``docs/api/index.html``). Any warning pdoc raises while rendering (an unresolvable link or annotation, a
module that fails to import) is an error: the script exits 1 and lists them.
"""
from __future__ import annotations

import dataclasses
import sys
import types
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("brevitas_abc", "lightning_modules", "finn_flow")


def _tolerate_brevitas_injectors(pdoc_doc) -> None:
    """pdoc asks every class ``dataclasses.is_dataclass(cls)``, i.e. ``hasattr(cls, "__dataclass_fields__")``;
    a Brevitas injector class (``brevitas_abc.quant``) answers an unknown attribute with ``DependencyError``
    instead of ``AttributeError``, which aborts the whole build. Give pdoc's module an ``is_dataclass`` that
    treats such a class as what it is: not a dataclass."""

    def is_dataclass(obj) -> bool:
        try:
            return dataclasses.is_dataclass(obj)
        except Exception:  # noqa: BLE001 - brevitas's DependencyError derives from Exception only
            return False

    pdoc_doc.dataclasses = types.SimpleNamespace(**{**vars(dataclasses), "is_dataclass": is_dataclass})


#: pdoc reads a few dunder attributes of every class with ``getattr(cls, name, default)``; a Brevitas injector
#: raises ``DependencyError`` there and pdoc warns, then uses the default, which is right for an injector.
INJECTOR_NOTE = "raised an exception: DependencyError"


def _resolve_lazy_exports(package: str) -> None:
    """``lightning_modules`` (and ``lightning_modules.data``) import their ``__all__`` on first use (module
    ``__getattr__``); pdoc looks names up in the module's ``__dict__``, so resolve them there first."""
    import importlib

    module = importlib.import_module(package)
    for name in getattr(module, "__all__", ()):
        if name not in vars(module):
            setattr(module, name, getattr(module, name))


def all_modules() -> list[str]:
    """Every module of ``PACKAGES`` (pdoc alone would follow only the submodules a package lists in ``__all__``)."""
    import importlib
    import pkgutil

    names = []
    for package in PACKAGES:
        names.append(package)
        path = importlib.import_module(package).__path__
        names += [info.name for info in pkgutil.walk_packages(path, prefix=package + ".")]
    # a package's page already includes the submodules its __all__ names: listing them again is a pdoc warning
    listed = {f"{name}.{sub}" for name in names for sub in getattr(importlib.import_module(name), "__all__", ())}
    return [name for name in names if name not in listed]


def _resolve_inherited_annotations(module_name: str) -> None:
    """A dataclass that extends one from another package (``finn_flow.config.FinnFlowConfig`` extends finn's
    ``DataflowBuildConfig``) gets an ``__init__`` whose string annotations name types of the base's module;
    pdoc evaluates them in our module. Make those names visible there (in this process only)."""
    import importlib
    import inspect

    module = importlib.import_module(module_name)
    for _, cls in inspect.getmembers(module, inspect.isclass):
        if cls.__module__ != module_name or "__dataclass_fields__" not in vars(cls):  # no getattr: injectors
            continue
        for base in cls.__mro__[1:]:
            if base.__module__ not in (module_name, "builtins"):
                for key, value in vars(sys.modules[base.__module__]).items():
                    if not key.startswith("__"):
                        vars(module).setdefault(key, value)


def build_api_docs(output_dir: Path) -> list[str]:
    """Render the API reference into ``output_dir``; returns pdoc's warnings (empty: a clean build)."""
    sys.path.insert(0, str(ROOT))
    import pdoc
    import pdoc.doc
    import pdoc.render

    _tolerate_brevitas_injectors(pdoc.doc)
    modules = all_modules()
    for name in modules:
        _resolve_lazy_exports(name)
        _resolve_inherited_annotations(name)
    pdoc.render.configure(docformat="google", show_source=False, footer_text="brevitas-abc API reference")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pdoc.pdoc(*modules, output_directory=Path(output_dir))
    pdoc_dir = str(Path(pdoc.__file__).parent)
    return [f"{w.category.__name__}: {w.message}" for w in caught
            if str(w.filename).startswith(pdoc_dir) and INJECTOR_NOTE not in str(w.message)]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0]) if args else ROOT / "docs" / "api"
    problems = build_api_docs(out)
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"API reference in {out / 'index.html'}" + (f"; {len(problems)} warning(s)" if problems else ""))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
