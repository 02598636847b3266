"""The sequence anomalib runs for its own models: fit, then test/train/validate/predict from the
checkpoint, then export to torch, ONNX and OpenVINO -- on a generated MVTec-layout dataset."""

from pathlib import Path

import numpy as np
import pytest
import torch
from anomalib.data import MVTecAD
from anomalib.data.utils import read_image
from anomalib.deploy import OpenVINOInferencer
from anomalib.engine import Engine

from anomalib_simplenet import SimpleNet

# Exported OpenVINO vs torch on the same image, after anomalib's post-processing (scores and maps in
# [0, 1]), with OpenVINO held to f32. Its CPU default on bf16-capable processors is bf16, which moves
# scores by up to about 1e-2; that is a speed/precision choice of the runtime, not an export error.
EXPORT_ATOL = 1e-4
OPENVINO_F32 = {"INFERENCE_PRECISION_HINT": "f32"}


def _small_simplenet(**overrides: object) -> SimpleNet:
    """A fast SimpleNet: efficientnet_lite0 with random weights, small discriminator."""
    settings = {
        "backbone": "efficientnet_lite0",
        "layers": ("blocks.2", "blocks.4"),
        "pre_trained": False,
        "discriminator_hidden": 32,
        "max_epochs": 2,
    }
    return SimpleNet(**{**settings, **overrides})


def _datamodule(root: Path) -> MVTecAD:
    return MVTecAD(root=root, category="synthetic", train_batch_size=8, eval_batch_size=8, num_workers=0)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, synthetic_root: Path) -> tuple[Engine, SimpleNet, Path]:
    torch.manual_seed(0)
    model = _small_simplenet(discriminator_hidden=64)
    engine = Engine(default_root_dir=tmp_path_factory.mktemp("results"), logger=False, enable_progress_bar=False)
    engine.fit(model, datamodule=_datamodule(synthetic_root))
    ckpt = Path(engine.trainer.checkpoint_callback.best_model_path)
    return engine, model, ckpt


def test_fit_runs_the_fixed_schedule_and_saves_its_end(trained: tuple[Engine, SimpleNet, Path]) -> None:
    engine, model, ckpt = trained
    assert engine.trainer.current_epoch == 2  # max_epochs, not Lightning's 1000
    assert ckpt.name == "model.ckpt"
    assert ckpt.is_file()
    saved = torch.load(ckpt, map_location="cpu", weights_only=False)
    assert saved["epoch"] == 1  # the last epoch (0-based): nothing was selected
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
    assert batch.anomaly_map.shape[-2:] == (224, 224)
    assert batch.pred_label is not None


def test_train_runs_fit_and_test(tmp_path: Path, synthetic_root: Path) -> None:
    model = _small_simplenet(max_epochs=1)
    engine = Engine(default_root_dir=tmp_path, logger=False, enable_progress_bar=False)
    results = engine.train(model, datamodule=_datamodule(synthetic_root))
    assert "image_AUROC" in results[0]


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


def test_feature_reuse_gives_the_same_model_with_fewer_backbone_passes(tmp_path: Path, synthetic_root: Path) -> None:
    """Same seed, same data: reuse on and off train the same weights; reuse runs the backbone once per image."""
    states, passes = [], []
    for cache_mb in (64, 0):
        torch.manual_seed(0)
        model = _small_simplenet(max_epochs=3, feature_cache_mb=cache_mb)
        calls = []
        model.model.feature_extractor.register_forward_hook(lambda _m, inputs, _o, calls=calls: calls.append(len(inputs[0])))
        engine = Engine(
            default_root_dir=tmp_path / str(cache_mb),
            logger=False,
            enable_progress_bar=False,
            deterministic=True,
            limit_val_batches=0,
        )
        torch.manual_seed(0)
        engine.fit(model, datamodule=_datamodule(synthetic_root))
        states.append({k: v.clone() for k, v in model.model.state_dict().items()})
        passes.append(sum(calls))
    n_train = 16
    assert passes == [n_train, 3 * n_train]
    for name, tensor in states[0].items():
        torch.testing.assert_close(tensor, states[1][name], rtol=1e-4, atol=1e-5, msg=name)
