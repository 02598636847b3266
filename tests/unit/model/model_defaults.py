"""Components built with SimpleNet's defaults, as the model builds them, unless a test says otherwise.

The defaults are written once, in ``SimpleNet``'s signature; the components and the torch model take every setting
explicitly. The tests read the signature here instead of writing the values again.
"""

import inspect
from typing import Any

from anomalib_simplenet.simplenet import SimpleNet
from anomalib_simplenet.simplenet.components import FeatureExtractor
from anomalib_simplenet.simplenet.lightning_model import ARCHITECTURE_ARGUMENTS
from anomalib_simplenet.simplenet.torch_model import SimpleNetModel

DEFAULTS: dict[str, Any] = {
    name: parameter.default
    for name, parameter in inspect.signature(SimpleNet).parameters.items()
    if parameter.default is not inspect.Parameter.empty
}
EXTRACTOR_ARGUMENTS = ("backbone", "layers", "pre_trained", "backbone_weights", "patch_size", "embedding", "embedding_dim")


def make_extractor(**settings: Any) -> FeatureExtractor:
    """A feature extractor with SimpleNet's defaults, ``settings`` overriding them."""
    return FeatureExtractor(**{name: DEFAULTS[name] for name in EXTRACTOR_ARGUMENTS} | settings)


def make_torch_model(**settings: Any) -> SimpleNetModel:
    """A torch model with SimpleNet's defaults, ``settings`` overriding them."""
    names = (*ARCHITECTURE_ARGUMENTS, "pre_trained", "backbone_weights")
    return SimpleNetModel(**{name: DEFAULTS[name] for name in names} | settings)
