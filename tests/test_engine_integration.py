"""The sequence anomalib's own model tests run for every model (``tests/integration/model/test_models.py``:
``get_model(name)``, ``Engine(max_epochs=1)``, fit, then test/train/validate/predict from the checkpoint,
then export to torch, ONNX and OpenVINO) -- on a generated MVTec-layout dataset."""

from pathlib import Path

import numpy as np
import pytest
import torch
from anomalib.data import MVTecAD
from anomalib.data.utils import read_image
from anomalib.deploy import OpenVINOInferencer
from anomalib.engine import Engine
from anomalib.models import get_model

from anomalib_simplenet import SimpleNet

# Exported OpenVINO vs torch on the same image, after anomalib's post-processing (scores and maps in
# [0, 1]), with OpenVINO held to f32. Its CPU default on bf16-capable processors is bf16, which moves
# scores by up to about 1e-2; that is a speed/precision choice of the runtime, not an export error.
EXPORT_ATOL = 1e-4
OPENVINO_F32 = {"INFERENCE_PRECISION_HINT": "f32"}


MODEL_ARGS = {"backbone": "efficientnet_lite0", "layers": ["blocks.2", "blocks.4"], "pre_trained": False}


def _datamodule(root: Path) -> MVTecAD:
    return MVTecAD(root=root, category="synthetic", train_batch_size=2, num_workers=0)  # anomalib's test: batch 2


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


def test_test_from_checkpoint(trained: tuple[Engine, SimpleNet, Path], synthetic_root: Path) -> None:
    engine, model, ckpt = trained
    results = engine.test(model, datamodule=_datamodule(synthetic_root), ckpt_path=ckpt)
    assert set(results[0]) >= {"image_AUROC", "image_F1Score", "pixel_AUROC", "pixel_F1Score", "pixel_AUPRO"}


def test_validate_from_checkpoint(trained: tuple[Engine, SimpleNet, Path], synthetic_root: Path) -> None:
    engine, model, ckpt = trained
    engine.validate(model, datamodule=_datamodule(synthetic_root), ckpt_path=ckpt)


def test_predict_from_checkpoint(trained: tuple[Engine, SimpleNet, Path], synthetic_root: Path) -> None:
    engine, model, ckpt = trained
    predictions = engine.predict(model, datamodule=_datamodule(synthetic_root), ckpt_path=ckpt)
    batch = predictions[0]
    assert batch.pred_score.shape == (8,)
    assert batch.anomaly_map.shape[-2:] == (256, 256)  # the whole image, resized
    assert batch.pred_label is not None


def test_train_from_checkpoint(trained: tuple[Engine, SimpleNet, Path], synthetic_root: Path, tmp_path: Path) -> None:
    """anomalib's test_train: Engine.train resumes from the fitted checkpoint; max_epochs=1 is already reached."""
    _, _, ckpt = trained
    model = get_model("simplenet", **MODEL_ARGS)
    results = _engine(tmp_path).train(model=model, datamodule=_datamodule(synthetic_root), ckpt_path=ckpt)
    assert set(results[0]) >= {"image_AUROC", "pixel_AUROC", "pixel_AUPRO"}


@pytest.mark.parametrize("export_type", ["torch", "onnx", "openvino"])
def test_export(trained: tuple[Engine, SimpleNet, Path], tmp_path: Path, export_type: str) -> None:
    engine, model, ckpt = trained
    path = engine.export(model, export_type=export_type, export_root=tmp_path, ckpt_path=ckpt)
    assert path is not None
    assert Path(path).is_file()


def test_openvino_matches_torch(
    trained: tuple[Engine, SimpleNet, Path], tmp_path: Path, synthetic_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, model, ckpt = trained
    monkeypatch.chdir(tmp_path)  # OpenVINOInferencer writes ./openvino_cache
    xml = engine.export(model, export_type="openvino", export_root=tmp_path, ckpt_path=ckpt)
    inferencer = OpenVINOInferencer(path=xml, device="CPU", config=OPENVINO_F32)
    reference = SimpleNet.load_from_checkpoint(ckpt).eval()
    images = sorted((synthetic_root / "synthetic" / "test").glob("*/*.png"))
    for image_path in images:
        exported = inferencer.predict(str(image_path))
        with torch.no_grad():
            expected = reference(read_image(image_path, as_tensor=True).unsqueeze(0))
        np.testing.assert_allclose(exported.pred_score.ravel(), expected.pred_score.numpy().ravel(), atol=EXPORT_ATOL)
        np.testing.assert_allclose(
            np.asarray(exported.anomaly_map).squeeze(), expected.anomaly_map.numpy().squeeze(), atol=EXPORT_ATOL
        )
        if abs(float(expected.pred_score) - 0.5) > EXPORT_ATOL:  # labels may differ only at a tie with the threshold
            assert bool(exported.pred_label.ravel()[0]) == bool(expected.pred_label.ravel()[0])


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
