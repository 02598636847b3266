"""Make ``SimpleNet`` part of stock anomalib as soon as ``anomalib.models`` is imported.

anomalib finds models only among what is already imported: ``anomalib train --model NAME`` and
``get_model("name")`` search the imported subclasses of ``AnomalibModule``, and
``get_model({"class_path": "Name"})`` and the benchmark pipeline look up ``anomalib.models.Name``.
It has no plugin discovery. So this module installs a small import hook (standard library only,
nothing else is imported) that, right after ``anomalib.models`` has finished executing, imports
:class:`anomalib_simplenet.SimpleNet` and sets ``anomalib.models.SimpleNet``.

The same hook mends one gap of anomalib 2.7's benchmark pipeline that SimpleNet would otherwise
hit: ``BenchmarkJob.collect`` assumes every job reports the same metrics, and fails with a
``KeyError`` when models with different evaluators share a grid (SimpleNet adds PRO, PaDiM does
not). After the fix a metric a model does not report is an empty cell in the results table.

The installed ``anomalib_simplenet.pth`` imports this package at interpreter start-up; programs
that never import anomalib pay only for this file.
"""

import importlib.abc
import importlib.machinery
import logging
import sys
from types import ModuleType

MODELS = "anomalib.models"
BENCHMARK_JOB = "anomalib.pipelines.benchmark.job"
logger = logging.getLogger(__name__)


def register(models_module: ModuleType) -> None:
    """Attach :class:`~anomalib_simplenet.SimpleNet` to an imported ``anomalib.models``.

    When one of our own modules triggered the import of ``anomalib.models`` (``import
    anomalib_simplenet.torch_model`` imports anomalib's components), it is still half-initialised here
    and ``SimpleNet`` cannot be imported yet. Then ``anomalib.models.SimpleNet`` is attached on first
    access instead (PEP 562 module ``__getattr__``), and ``lightning_model`` attaches it itself when it
    finishes importing.
    """
    if _mid_import("anomalib_simplenet.torch_model", "SimpleNetModel") or _mid_import(
        "anomalib_simplenet.lightning_model", "SimpleNet"
    ):
        _register_on_first_access(models_module)
        return
    from anomalib_simplenet.lightning_model import SimpleNet  # noqa: PLC0415

    models_module.SimpleNet = SimpleNet  # type: ignore[attr-defined]
    exported = getattr(models_module, "__all__", None)
    if isinstance(exported, list) and "SimpleNet" not in exported:
        exported.append("SimpleNet")


def _mid_import(module_name: str, defined_last: str) -> bool:
    """Tell whether ``module_name`` is still executing (in ``sys.modules``, ``defined_last`` not yet set)."""
    module = sys.modules.get(module_name)
    return module is not None and not hasattr(module, defined_last)


def _register_on_first_access(models_module: ModuleType) -> None:
    fallback = models_module.__dict__.get("__getattr__")

    def __getattr__(name: str) -> object:  # noqa: N807  (PEP 562 hook)
        if name == "SimpleNet":
            register(models_module)
            return models_module.__dict__["SimpleNet"]
        if fallback is not None:
            return fallback(name)
        msg = f"module {models_module.__name__!r} has no attribute {name!r}"
        raise AttributeError(msg)

    models_module.__getattr__ = __getattr__  # type: ignore[attr-defined]


def allow_mixed_metrics(job_module: ModuleType) -> None:
    """Let anomalib's benchmark collect results whose metric sets differ (missing ones become NaN)."""
    import pandas as pd  # noqa: PLC0415  (anomalib's benchmark already depends on it)

    def collect(results: list[dict]) -> pd.DataFrame:
        return pd.DataFrame.from_records(results)

    job_module.BenchmarkJob.collect = staticmethod(collect)


AFTER_IMPORT = {MODELS: register, BENCHMARK_JOB: allow_mixed_metrics}


class _PostImportLoader(importlib.abc.Loader):
    """Wraps a module's own loader and runs its entry of ``AFTER_IMPORT`` once the module has run."""

    def __init__(self, loader: importlib.abc.Loader) -> None:
        self._loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)
        try:
            AFTER_IMPORT[module.__name__](module)
        except Exception:  # a broken plugin must not break anomalib itself
            logger.exception("anomalib_simplenet: could not extend %s", module.__name__)

    def __getattr__(self, name: str) -> object:
        return getattr(self._loader, name)


class _PostImportFinder(importlib.abc.MetaPathFinder):
    """Finds the modules of ``AFTER_IMPORT`` through the other finders and swaps in the wrapping loader."""

    def find_spec(self, fullname: str, path: object, target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if fullname not in AFTER_IMPORT:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None and spec.loader is not None:
                spec.loader = _PostImportLoader(spec.loader)
                return spec
        return None


def install() -> None:
    """Install the hook once; extend at once the target modules that are already imported."""
    for name, extend in AFTER_IMPORT.items():
        if name in sys.modules:
            extend(sys.modules[name])
    if not any(isinstance(finder, _PostImportFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _PostImportFinder())
