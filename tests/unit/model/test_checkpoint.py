"""Checkpoint handling that needs no fit: the weights earlier versions saved although they follow from the settings."""

import lightning
import pytest
import torch

from anomalib_simplenet.simplenet import SimpleNet
from anomalib_simplenet.simplenet.checkpoint import DERIVED_WEIGHTS


def small_simplenet() -> SimpleNet:
    """A small SimpleNet with random weights (ResNet-18 layer2, short embedding, small discriminator)."""
    return SimpleNet(backbone="resnet18", layers=("layer2",), pre_trained=False, embedding_dim=64, discriminator_hidden=32)


def _checkpoint_file(model: SimpleNet, path, extra_weights: dict[str, torch.Tensor]):
    """Write ``model`` as Lightning writes a checkpoint, with ``extra_weights`` added to its state dict."""
    checkpoint = {
        "state_dict": {**model.state_dict(), **extra_weights},
        "hyper_parameters": dict(model.hparams),
        "pytorch-lightning_version": lightning.__version__,
    }
    model.on_save_checkpoint(checkpoint)
    torch.save(checkpoint, path)
    return path


def test_a_checkpoint_with_the_first_versions_blur_kernel_loads_with_the_same_weights(tmp_path) -> None:
    """The first versions saved the kernel of anomalib's GaussianBlur2d; the blur is now built from ``blur_sigma``."""
    torch.manual_seed(0)
    model = small_simplenet()
    kernel = {"model.anomaly_map_generator.blur.kernel": torch.rand(1, 1, 33, 33)}
    assert next(iter(kernel)).startswith(DERIVED_WEIGHTS)
    with pytest.raises(RuntimeError, match=r"Unexpected key\(s\).*anomaly_map_generator\.blur\.kernel"):
        small_simplenet().load_state_dict({**model.state_dict(), **kernel})  # what loading would do without the drop
    restored = SimpleNet.load_from_checkpoint(_checkpoint_file(model, tmp_path / "old.ckpt", kernel))
    for name, tensor in model.model.state_dict().items():  # the torch model's weights (thresholds are unfitted: NaN)
        assert torch.equal(restored.model.state_dict()[name], tensor), name
    images = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(restored.model.eval()(images).anomaly_map, model.model.eval()(images).anomaly_map)


def test_any_other_unknown_weight_is_still_refused(tmp_path) -> None:
    model = small_simplenet()
    path = _checkpoint_file(model, tmp_path / "odd.ckpt", {"model.discriminator.extra": torch.zeros(1)})
    with pytest.raises(RuntimeError, match=r"Unexpected key\(s\).*model\.discriminator\.extra"):
        SimpleNet.load_from_checkpoint(path)
