"""SimpleNet (CVPR 2023) as an anomalib model.

``SimpleNet`` (the anomalib model) and ``SimpleNetModel`` (the plain torch module) are imported on
first use, so importing this package, which the installed ``anomalib_simplenet.pth`` does at every
interpreter start, costs nothing: it only arranges for ``anomalib.models.SimpleNet`` to exist as
soon as a program imports ``anomalib.models`` (see :mod:`anomalib_simplenet._anomalib_hook`).

Example:
    >>> from anomalib_simplenet import SimpleNet
    >>> SimpleNet.__name__
    'SimpleNet'

"""

from typing import TYPE_CHECKING, Any

from ._anomalib_hook import install as _install_anomalib_hook

if TYPE_CHECKING:
    from .lightning_model import SimpleNet
    from .torch_model import SimpleNetModel

__all__ = ["SimpleNet", "SimpleNetModel"]
__version__ = "0.1.0"

_LAZY = {"SimpleNet": ".lightning_model", "SimpleNetModel": ".torch_model"}

_install_anomalib_hook()


def __getattr__(name: str) -> Any:  # noqa: ANN401
    """Import ``SimpleNet`` / ``SimpleNetModel`` (and with them torch and anomalib) on first access."""
    if name in _LAZY:
        from importlib import import_module  # noqa: PLC0415

        return getattr(import_module(_LAZY[name], __name__), name)
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)
