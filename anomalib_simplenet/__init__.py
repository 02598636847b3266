"""SimpleNet (CVPR 2023) as an anomalib model, and the tools around it.

The model is the folder :mod:`anomalib_simplenet.simplenet`, which stands alone as anomalib's model folders do.
``SimpleNet`` (the anomalib model) and ``SimpleNetModel`` (the plain torch module) are imported on
first use, so importing this package, which the installed ``anomalib_simplenet.pth`` does at every
interpreter start, costs nothing: it only arranges for ``anomalib.models.SimpleNet`` to exist as
soon as a program imports ``anomalib.models`` (see :mod:`anomalib_simplenet.registration`).

Example:
    >>> from anomalib.models import get_model
    >>> from anomalib_simplenet import SimpleNet
    >>> isinstance(get_model("simplenet", backbone="resnet18", pre_trained=False, embedding_dim=64), SimpleNet)
    True

"""

from typing import TYPE_CHECKING, Any

from .registration import install as _install_anomalib_hook

if TYPE_CHECKING:
    from .simplenet import SimpleNet, SimpleNetModel

__all__ = ["SimpleNet", "SimpleNetModel"]
__version__ = "0.1.0"

_LAZY = {"SimpleNet": ".simplenet.lightning_model", "SimpleNetModel": ".simplenet.torch_model"}

_install_anomalib_hook()


def __getattr__(name: str) -> Any:  # noqa: ANN401
    """Import ``SimpleNet`` / ``SimpleNetModel`` (and with them torch and anomalib) on first access."""
    if name in _LAZY:
        from importlib import import_module  # noqa: PLC0415

        return getattr(import_module(_LAZY[name], __name__), name)
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)
