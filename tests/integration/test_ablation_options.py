"""The options the paper's ablations need (Table 3): cross-entropy instead of the truncated L1 loss, a non-linear
adaptor. Each trains through anomalib's Engine, finds the generated defects, and survives a checkpoint."""

from pathlib import Path

import pytest
import torch
from anomalib.engine import Engine

from anomalib_simplenet import SimpleNet
from anomalib_simplenet.simplenet.loss import DiscriminatorCrossEntropyLoss, TruncatedL1Loss

from conftest import fit, synthetic_datamodule

LITE0 = {"backbone": "efficientnet_lite0", "layers": ("blocks.2", "blocks.4"), "embedding_dim": 384, "discriminator_hidden": 256}


@pytest.mark.slow  # ImageNet weights, 8 epochs, a test run and a checkpoint's, per option: half a minute each
@pytest.mark.parametrize(
    ("options", "loss_class"),
    [({"loss": "bce"}, DiscriminatorCrossEntropyLoss), ({"adaptor": "mlp"}, TruncatedL1Loss)],
    ids=["ours-ce", "complex-adaptor"],
)
def test_an_ablation_option_trains_finds_defects_and_survives_a_checkpoint(
    tmp_path: Path, synthetic_root: Path, lite0_weights: str, options: dict, loss_class: type
) -> None:
    model = SimpleNet(**LITE0, backbone_weights=lite0_weights, max_epochs=8, **options)
    assert isinstance(model.model.loss, loss_class)
    engine = fit(model, synthetic_root, tmp_path)
    metrics = engine.test(model, datamodule=synthetic_datamodule(synthetic_root), verbose=False)[0]
    assert metrics["image_AUROC"] >= 0.9  # 4 good and 4 defective generated test images

    checkpoint = engine.trainer.checkpoint_callback.best_model_path
    saved = torch.load(checkpoint, map_location="cpu", weights_only=False)["hyper_parameters"]
    assert {key: saved[key] for key in options} == options
    restored = Engine(default_root_dir=tmp_path / "again", logger=False, enable_progress_bar=False)
    datamodule = synthetic_datamodule(synthetic_root)
    again = restored.test(SimpleNet(**LITE0), datamodule=datamodule, ckpt_path=checkpoint, verbose=False)
    assert again[0]["image_AUROC"] == pytest.approx(metrics["image_AUROC"])


def test_the_mlp_adaptor_is_two_layers_with_a_non_linearity_between() -> None:
    adaptor = SimpleNet(**LITE0, pre_trained=False, adaptor="mlp").model.feature_adaptor.projection
    assert [type(layer).__name__ for layer in adaptor] == ["Linear", "LeakyReLU", "Linear"]


@pytest.mark.parametrize(
    ("options", "message"), [({"loss": "ce"}, "loss must be 'truncated_l1'"), ({"adaptor": "deep"}, "or 'mlp'")]
)
def test_a_misspelt_option_names_the_choices(options: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SimpleNet(**LITE0, pre_trained=False, **options)
