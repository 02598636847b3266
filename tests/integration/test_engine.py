"""The sequence anomalib's own model tests run for every model (``tests/integration/model/test_models.py``:
``get_model(name)``, ``Engine(max_epochs=1)``, fit, then test/train/validate/predict from the checkpoint,
then export to torch, ONNX and OpenVINO) -- on a generated MVTec-layout dataset. The three exports of the default
embedding run through ``anomalib export`` in test_cli.py, checked image by image as the export here."""

from pathlib import Path

import pytest
import torch
from anomalib.data import MVTecAD
from anomalib.engine import Engine
from anomalib.models import get_model

from anomalib_simplenet import SimpleNet

from conftest import synthetic_datamodule
from exported import assert_export_matches_checkpoint

MODEL_ARGS = {"backbone": "efficientnet_lite0", "layers": ["blocks.2", "blocks.4"], "pre_trained": False}


def _datamodule(root: Path) -> MVTecAD:
    return synthetic_datamodule(root, train_batch_size=2)  # anomalib's own model tests: batch 2


def _engine(project_path: Path) -> Engine:
    """The Engine anomalib's own model tests build for every model: the schedule comes from the trainer."""
    return Engine(logger=False, default_root_dir=project_path, max_epochs=1, devices=1, max_steps=-1)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, synthetic_root: Path) -> tuple[Engine, SimpleNet, Path]:
    torch.manual_seed(0)
    project_path = tmp_path_factory.mktemp("project")
    model = get_model("simplenet", **MODEL_ARGS)
    engine = _engine(project_path)
    engine.fit(model=model, datamodule=_datamodule(synthetic_root))
    ckpt = project_path / model.name / "MVTecAD" / "synthetic" / "v0" / "weights" / "lightning" / "model.ckpt"
    return engine, model, ckpt


def test_fit_honours_engine_max_epochs_and_saves_its_end(trained: tuple[Engine, SimpleNet, Path]) -> None:
    engine, model, ckpt = trained
    assert engine.trainer.current_epoch == 1  # Engine(max_epochs=1), not SimpleNet's 20 (its model default)
    assert model.max_epochs == 20
    assert ckpt.is_file()
    saved = torch.load(ckpt, map_location="cpu", weights_only=False)
    assert saved["epoch"] == 0  # the last epoch (0-based): nothing was selected
    assert torch.equal(saved["state_dict"]["model.discriminator.layers.3.weight"], model.model.discriminator.layers[3].weight)


METRICS = {"image_AUROC", "image_F1Score", "pixel_AUROC", "pixel_F1Score"}  # anomalib's default metrics, as PaDiM's


@pytest.fixture(scope="module")
def tested(trained: tuple[Engine, SimpleNet, Path], synthetic_root: Path) -> dict[str, dict[str, float]]:
    """anomalib's test_test: metrics of the fitted model in memory, then of its checkpoint loaded back."""
    engine, model, ckpt = trained
    in_memory = engine.test(model, datamodule=_datamodule(synthetic_root))[0]
    from_checkpoint = engine.test(model, datamodule=_datamodule(synthetic_root), ckpt_path=ckpt)[0]
    return {"in_memory": in_memory, "checkpoint": from_checkpoint}


def test_test_from_checkpoint(tested: dict[str, dict[str, float]]) -> None:
    """The checkpoint holds the fitted model, thresholds and image-score statistics included: the same metrics."""
    assert set(tested["checkpoint"]) == METRICS
    assert all(0.0 <= value <= 1.0 for value in tested["checkpoint"].values())
    assert tested["checkpoint"] == pytest.approx(tested["in_memory"], abs=1e-6)


def test_validate_from_checkpoint(trained: tuple[Engine, SimpleNet, Path], synthetic_root: Path) -> None:
    """Validating the checkpoint on the data it was validated on fits the thresholds it holds."""
    engine, model, ckpt = trained
    saved = torch.load(ckpt, map_location="cpu", weights_only=False)["state_dict"]
    engine.validate(model, datamodule=_datamodule(synthetic_root), ckpt_path=ckpt)
    for name in ("_image_threshold", "_pixel_threshold"):
        refitted = getattr(model.post_processor, name)
        assert torch.isfinite(refitted)
        torch.testing.assert_close(refitted, saved[f"post_processor.{name}"])


def test_predict_from_checkpoint(trained: tuple[Engine, SimpleNet, Path], synthetic_root: Path) -> None:
    engine, model, ckpt = trained
    predictions = engine.predict(model, datamodule=_datamodule(synthetic_root), ckpt_path=ckpt)
    batch = predictions[0]
    assert batch.pred_score.shape == (8,)
    assert batch.anomaly_map.shape[-2:] == (256, 256)  # the whole image, resized
    assert torch.equal(batch.pred_label, batch.pred_score > 0.5)  # normalised scores: the threshold is 0.5


def test_train_from_checkpoint(
    trained: tuple[Engine, SimpleNet, Path], synthetic_root: Path, tmp_path: Path, tested: dict[str, dict[str, float]]
) -> None:
    """anomalib's test_train: Engine.train resumes from the fitted checkpoint; max_epochs=1 is already reached,
    so nothing more is trained and the test metrics are the checkpoint's."""
    _, _, ckpt = trained
    model = get_model("simplenet", **MODEL_ARGS)
    results = _engine(tmp_path).train(model=model, datamodule=_datamodule(synthetic_root), ckpt_path=ckpt)
    assert results[0] == pytest.approx(tested["checkpoint"], abs=1e-6)


@pytest.fixture(scope="module")
def trained_channel_mean(tmp_path_factory: pytest.TempPathFactory, synthetic_root: Path) -> tuple[Engine, SimpleNet, Path]:
    """The same fit with the previous embedding (each channel averaged over the neighbourhood)."""
    torch.manual_seed(0)
    project_path = tmp_path_factory.mktemp("project_channel_mean")
    model = get_model("simplenet", **MODEL_ARGS, embedding="channel_mean")
    engine = _engine(project_path)
    engine.fit(model=model, datamodule=_datamodule(synthetic_root))
    ckpt = project_path / model.name / "MVTecAD" / "synthetic" / "v0" / "weights" / "lightning" / "model.ckpt"
    return engine, model, ckpt


def test_exported_model_matches_torch(
    trained_channel_mean: tuple[Engine, SimpleNet, Path], synthetic_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Engine.export from Python gives the checkpoint's scores, maps and labels on every test image. The default
    embedding's three exports are checked the same way from ``anomalib export`` (test_cli.py); here the other one."""
    engine, model, ckpt = trained_channel_mean
    assert model.hparams.embedding == "channel_mean"
    monkeypatch.chdir(tmp_path)
    path = Path(engine.export(model, export_type="openvino", export_root=tmp_path, ckpt_path=ckpt))
    assert path.parent == tmp_path / "weights" / "openvino"
    images = sorted((synthetic_root / "synthetic" / "test").glob("*/*.png"))
    assert len(images) == 8
    assert_export_matches_checkpoint(path, "openvino", ckpt, images)


def test_checkpoint_keeps_the_pre_processing_it_was_trained_with(tmp_path: Path, synthetic_root: Path) -> None:
    """A non-default pre-processor (no crop, 128 px) comes back from the checkpoint, for predict and export alike."""
    model = get_model("simplenet", **MODEL_ARGS, pre_processor=SimpleNet.configure_pre_processor(image_size=(128, 128)))
    engine = _engine(tmp_path)
    engine.fit(model=model, datamodule=_datamodule(synthetic_root))
    ckpt = tmp_path / model.name / "MVTecAD" / "synthetic" / "v0" / "weights" / "lightning" / "model.ckpt"
    restored = SimpleNet.load_from_checkpoint(ckpt)
    image = torch.rand(1, 3, 200, 150)
    expected = model.pre_processor.transform(image)
    assert expected.shape == (1, 3, 128, 128)  # the whole image, resized: no crop
    torch.testing.assert_close(restored.pre_processor.transform(image), expected)
