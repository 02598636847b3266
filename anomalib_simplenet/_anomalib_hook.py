"""Make ``SimpleNet`` part of stock anomalib as soon as ``anomalib.models`` is imported.

anomalib finds models only among what is already imported: ``anomalib train --model NAME`` and
``get_model("name")`` search the imported subclasses of ``AnomalibModule``, and
``get_model({"class_path": "Name"})`` and the benchmark pipeline look up ``anomalib.models.Name``.
It has no plugin discovery. So this module installs a small import hook (standard library only,
nothing else is imported) that, right after ``anomalib.models`` has finished executing, imports
:class:`anomalib_simplenet.SimpleNet` and sets ``anomalib.models.SimpleNet``.

The installed ``anomalib_simplenet.pth`` imports this package at interpreter start-up; programs
that never import anomalib pay only for this file.
"""

import importlib.abc
import importlib.machinery
import logging
import sys
from types import ModuleType

TARGET = "anomalib.models"
logger = logging.getLogger(__name__)


def register(models_module: ModuleType) -> None:
    """Attach :class:`~anomalib_simplenet.SimpleNet` to an imported ``anomalib.models``.

    When our own ``lightning_model`` is what triggered the import of ``anomalib.models``, it is
    still half-initialised here; it then calls this function itself once ``SimpleNet`` exists.
    """
    pending = sys.modules.get("anomalib_simplenet.lightning_model")
    if pending is not None and not hasattr(pending, "SimpleNet"):
        return
    from anomalib_simplenet.lightning_model import SimpleNet  # noqa: PLC0415

    models_module.SimpleNet = SimpleNet  # type: ignore[attr-defined]
    exported = getattr(models_module, "__all__", None)
    if isinstance(exported, list) and "SimpleNet" not in exported:
        exported.append("SimpleNet")


class _RegisteringLoader(importlib.abc.Loader):
    """Wraps anomalib.models' own loader and registers SimpleNet after the module has run."""

    def __init__(self, loader: importlib.abc.Loader) -> None:
        self._loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)
        try:
            register(module)
        except Exception:  # a broken plugin must not break anomalib itself
            logger.exception("anomalib_simplenet: could not register SimpleNet with anomalib.models")

    def __getattr__(self, name: str) -> object:
        return getattr(self._loader, name)


class _AnomalibModelsFinder(importlib.abc.MetaPathFinder):
    """Finds ``anomalib.models`` through the other finders and swaps in the registering loader."""

    def find_spec(self, fullname: str, path: object, target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if fullname != TARGET:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None and spec.loader is not None:
                spec.loader = _RegisteringLoader(spec.loader)
                return spec
        return None


def install() -> None:
    """Install the hook once; register at once if ``anomalib.models`` is already imported."""
    if TARGET in sys.modules:
        register(sys.modules[TARGET])
    elif not any(isinstance(finder, _AnomalibModelsFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _AnomalibModelsFinder())
