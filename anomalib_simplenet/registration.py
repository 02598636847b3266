"""Registration: make ``SimpleNet`` part of stock anomalib as soon as ``anomalib.models`` is imported.

anomalib finds models only among what is already imported: ``anomalib train --model NAME``,
``get_model("name")`` and ``list_models()`` search the imported subclasses of ``AnomalibModule``, and
``get_model({"class_path": "Name"})`` and the benchmark pipeline look up ``anomalib.models.Name``. It
has no plugin discovery. So this module (standard library only) installs an import hook that runs a
function right after certain modules have finished executing:

* after ``anomalib.models``: registration is due;
* after any module of this package: registration runs when it is due and none of this package's
  modules is still executing. (``import anomalib_simplenet.simplenet.torch_model`` imports ``anomalib.models``
  halfway through itself; ``SimpleNet`` can only be imported once ``torch_model`` is complete.)

Registering imports :class:`anomalib_simplenet.SimpleNet` (the model folder's class), which makes it a subclass
anomalib sees, sets ``anomalib.models.SimpleNet``, and fills the two extension points the class offers a package
around it: the captioned visualizer that writes ``predictions.csv`` (:mod:`anomalib_simplenet.visualization`) becomes
its default visualizer, and every fit gets the loader swap that lets later epochs read no image
(:mod:`anomalib_simplenet.stored_feature_loader`). Inside anomalib's own source tree the same folder needs none of
this. No module of the package imports this one back, so there is no import circle; :func:`install` and
:func:`register` may run any number of times. Nothing of anomalib is patched.

Installed Python runs :func:`install` at start-up: through ``anomalib_simplenet.pth`` (an ``import``
line) and, from Python 3.15 on, through ``anomalib_simplenet.start`` (PEP 829 entry point), which stays
when ``.pth`` import lines stop being executed (Python 3.18).
"""

import importlib.abc
import importlib.machinery
import logging
import sys
from types import ModuleType

PACKAGE = "anomalib_simplenet"
MODELS = "anomalib.models"
logger = logging.getLogger(__name__)


class _State:
    """What the hook knows: whether registration is due, and which of the package's modules are executing."""

    registration_due = False
    executing: set[str] = set()  # noqa: RUF012  (one shared set, on purpose)


def register() -> None:
    """Attach :class:`~anomalib_simplenet.SimpleNet` to ``anomalib.models`` now, if anomalib is imported.

    Example:
        >>> import anomalib.models
        >>> from anomalib_simplenet.simplenet import SimpleNet
        >>> register()
        >>> anomalib.models.SimpleNet is SimpleNet, "simple_net" in anomalib.models.list_models()
        (True, True)
        >>> SimpleNet.default_visualizer.__name__
        'ScoredImageVisualizer'

    """
    models = sys.modules.get(MODELS)
    if models is None:
        return
    # The import that makes the class one anomalib sees, and the project's parts that fill its extension points.
    from anomalib_simplenet.simplenet.lightning_model import SimpleNet  # noqa: PLC0415
    from anomalib_simplenet.stored_feature_loader import StoredFeatureLoader  # noqa: PLC0415
    from anomalib_simplenet.visualization.visualizer import ScoredImageVisualizer  # noqa: PLC0415

    SimpleNet.default_visualizer = ScoredImageVisualizer
    if StoredFeatureLoader.for_model not in SimpleNet.extra_fit_callbacks:
        SimpleNet.extra_fit_callbacks = [*SimpleNet.extra_fit_callbacks, StoredFeatureLoader.for_model]
    models.SimpleNet = SimpleNet  # type: ignore[attr-defined]
    exported = getattr(models, "__all__", None)
    if isinstance(exported, list) and "SimpleNet" not in exported:
        exported.append("SimpleNet")
    _State.registration_due = False


def _register_when_ready() -> None:
    if _State.registration_due and not _State.executing:
        register()


def _models_imported(models: ModuleType) -> None:
    del models
    _State.registration_due = True
    _register_when_ready()


AFTER_IMPORT = {MODELS: _models_imported}


class _PostImportLoader(importlib.abc.Loader):
    """Wraps a module's own loader; runs the module's ``AFTER_IMPORT`` entry, or registration, once it has run."""

    def __init__(self, loader: importlib.abc.Loader) -> None:
        self._loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        name = module.__name__
        own = name.startswith(PACKAGE + ".")
        if own:
            _State.executing.add(name)
        try:
            self._loader.exec_module(module)
        finally:
            _State.executing.discard(name)
        try:
            AFTER_IMPORT[name](module) if name in AFTER_IMPORT else _register_when_ready()
        except Exception:  # a broken plugin must not break anomalib itself
            logger.exception("anomalib_simplenet: could not register SimpleNet with anomalib (after importing %s)", name)

    def __getattr__(self, name: str) -> object:
        return getattr(self._loader, name)


class _PostImportFinder(importlib.abc.MetaPathFinder):
    """Finds anomalib's hooked modules and this package's modules through the other finders; wraps their loaders."""

    def find_spec(self, fullname: str, path: object, target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if fullname not in AFTER_IMPORT and not fullname.startswith(PACKAGE + "."):
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
    """Install the hook once; extend at once the target modules that are already imported.

    Example:
        >>> install(); install()
        >>> sum(isinstance(finder, _PostImportFinder) for finder in sys.meta_path)
        1

    """
    if not any(isinstance(finder, _PostImportFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _PostImportFinder())
    for name, extend in AFTER_IMPORT.items():
        if name in sys.modules:
            extend(sys.modules[name])
