"""The bad-input and fault matrix (README: *Bad input and faults*): each row's behaviour, tested.

A row either works (the input is converted or the fault recovered from) or stops with one clear error that
names the file or setting and says what to do. Nothing the user had is changed by any of it.
"""

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from anomalib.callbacks import ModelCheckpoint
from anomalib.data import ImageBatch
from anomalib.engine import Engine
from anomalib.models import Padim
from lightning.pytorch import Callback
from PIL import Image

from anomalib_simplenet import SimpleNet
from anomalib_simplenet.tools.benchmark import job as benchmark_job
from anomalib_simplenet.tools.benchmark.config import BenchmarkConfig
from anomalib_simplenet.tools.generated_data import make_synthetic_dataset
from anomalib_simplenet.tools.jobs.store import job_key

from conftest import ANOMALIB, EpochLosses, fit, synthetic_datamodule


def _dataset(root: Path, n_train: int = 4) -> Path:
    make_synthetic_dataset(root, n_train=n_train, n_test_good=2, n_test_defective=2, image_size=64)
    return root / "synthetic"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"layers": ("layer2", "not_a_layer")}, r"Unknown backbone level\(s\) \['not_a_layer'\]"),
        ({"noise_std": 0.0}, "noise_std=0.0"),
        ({"noise_std": -1.0}, "noise_std=-1.0"),
        ({"discriminator_hidden": 0}, "discriminator_hidden=0"),
        ({"patch_size": 4}, "patch_size must be odd"),
        ({"max_epochs": 0}, "max_epochs=0"),
        ({"adaptor_lr": -1e-4}, "adaptor_lr"),
        ({"feature_store_mb": -1}, "feature_store_mb"),
        ({"feature_store_dtype": "int8"}, "feature_store_dtype"),
        ({"normal_threshold": -1.0}, "must be lower than normal_threshold"),
        ({"adaptor": "transformer"}, "adaptor must be"),
    ],
)
def test_nonsense_hyper_parameters(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SimpleNet(backbone="resnet18", pre_trained=False, **kwargs)


@pytest.mark.parametrize(
    ("image_size", "crop", "message"),
    [((0, 256), None, "must be positive"), ((256, 256), (-1, 224), "must be positive"), ((200, 200), (224, 224), "larger")],
)
def test_bad_pre_processor_sizes(image_size: tuple, crop: tuple | None, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SimpleNet.configure_pre_processor(image_size=image_size, center_crop_size=crop)


def test_missing_weights_file_is_named(tmp_path: Path, synthetic_root: Path) -> None:
    model = SimpleNet(backbone="resnet18", backbone_weights=str(tmp_path / "missing.pth"), max_epochs=1)
    with pytest.raises(FileNotFoundError, match=r"missing\.pth"):
        fit(model, synthetic_root, tmp_path)


def test_empty_training_folder(tmp_path: Path) -> None:
    make_synthetic_dataset(tmp_path, n_train=0, n_test_good=1, n_test_defective=2, image_size=64)
    (tmp_path / "synthetic" / "train" / "good").mkdir(parents=True)
    model = SimpleNet(backbone="resnet18", pre_trained=False, max_epochs=1)
    with pytest.raises(ValueError, match=r"training set is empty \(root=.*category=synthetic\)"):
        fit(model, tmp_path, tmp_path / "results")


def test_images_of_odd_sizes_and_channel_counts_train(tmp_path: Path) -> None:
    """Grayscale, RGBA and odd-sized training images are converted and resized, not refused."""
    make_synthetic_dataset(tmp_path, n_train=4, n_test_good=1, n_test_defective=2, image_size=64)
    good = tmp_path / "synthetic" / "train" / "good"
    Image.fromarray((np.random.default_rng(0).random((81, 123)) * 255).astype(np.uint8)).save(good / "gray.png")
    Image.fromarray((np.random.default_rng(1).random((50, 71, 4)) * 255).astype(np.uint8)).save(good / "rgba.png")
    model = SimpleNet(backbone="resnet18", pre_trained=False, discriminator_hidden=16, max_epochs=1)
    engine = fit(model, tmp_path, tmp_path / "results", datamodule=synthetic_datamodule(tmp_path, train_batch_size=3))
    assert engine.trainer.current_epoch == 1


def test_corrupt_image_is_named(tmp_path: Path) -> None:
    make_synthetic_dataset(tmp_path, n_train=2, n_test_good=1, n_test_defective=2, image_size=64)
    (tmp_path / "synthetic" / "train" / "good" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot an image")
    model = SimpleNet(backbone="resnet18", pre_trained=False, max_epochs=1)
    with pytest.raises(ValueError, match=r"Training image '.*broken\.png' cannot be read.*Replace it"):
        fit(model, tmp_path, tmp_path / "results")


def test_anomalous_images_in_the_training_set_are_refused() -> None:
    model = SimpleNet(backbone="resnet18", pre_trained=False)
    batch = ImageBatch(
        image=torch.rand(2, 3, 64, 64),
        gt_label=torch.tensor([0, 1]),
        image_path=["train/good/ok.png", "train/good/cracked.png"],
    )
    with pytest.raises(ValueError, match=r"contains 1 image\(s\) labelled anomalous.*cracked\.png"):
        model.training_step(batch)


def test_16_bit_training_images_are_refused_by_name(tmp_path: Path, small_simplenet) -> None:
    """anomalib would clip 16-bit values to 255 (a white image) without a word."""
    good = _dataset(tmp_path) / "train" / "good"
    Image.fromarray((np.random.default_rng(0).random((64, 64)) * 65535).astype(np.uint16)).save(good / "deep.png")
    with pytest.raises(ValueError, match=r"deep\.png' has 16/32-bit pixels.*Convert the images to 8 bits"):
        fit(small_simplenet(max_epochs=1), tmp_path, tmp_path / "results")


def test_a_mask_of_another_size_than_its_image_is_refused_by_name(tmp_path: Path, small_simplenet) -> None:
    """The resize would stretch it onto the image: the pixel metrics would score a misplaced defect."""
    mask = sorted((_dataset(tmp_path) / "ground_truth").rglob("*.png"))[0]
    Image.open(mask).resize((40, 30)).save(mask)
    with pytest.raises(ValueError, match=rf"Mask '.*{mask.name}' is 40x30 pixels but its image .* is 64x64"):
        fit(small_simplenet(max_epochs=1), tmp_path, tmp_path / "results")


def test_a_missing_image_folder_is_named(tmp_path: Path, small_simplenet) -> None:
    from anomalib.data import Folder

    datamodule = Folder(name="parts", root=tmp_path / "nowhere", normal_dir="good", num_workers=0)
    with pytest.raises(FileNotFoundError, match=r"nowhere/good"):
        fit(small_simplenet(max_epochs=1), tmp_path, tmp_path, datamodule=datamodule)


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_nan_or_inf_in_input_images_is_refused_by_name(value: float, small_simplenet) -> None:
    model = small_simplenet().eval()
    image = torch.rand(2, 3, 64, 64)
    image[1, 0, 5, 5] = value
    batch = ImageBatch(image=image, image_path=["ok.png", "broken.png"])
    for step in (model.validation_step, model.test_step, model.predict_step):
        with pytest.raises(ValueError, match=r"1 input image\(s\) contain NaN or Inf values: \['broken.png'\]"):
            step(batch, 0)


def test_an_interrupted_fit_resumed_from_its_last_checkpoint_ends_as_an_uninterrupted_one(
    tmp_path: Path, synthetic_root: Path, small_simplenet
) -> None:
    """Power cut after epoch 2 of 4; resuming with ``ckpt_path`` trains epochs 3 and 4 only, refills the feature store
    from images, and ends with the uninterrupted fit's weights and scores (the checkpoint carries the random state)."""

    class PowerCut(Callback):
        def on_train_epoch_start(self, trainer, pl_module) -> None:
            if trainer.current_epoch == 2:
                raise RuntimeError("power cut")

    def checkpoints(folder: Path) -> ModelCheckpoint:
        return ModelCheckpoint(folder, save_last=True, every_n_epochs=1, save_on_train_epoch_end=True)

    def scores(model: SimpleNet) -> torch.Tensor:
        datamodule = synthetic_datamodule(synthetic_root)
        datamodule.setup()
        with torch.no_grad():
            return model.model.eval()(model.pre_processor.transform(next(iter(datamodule.test_dataloader())).image)).pred_score

    torch.manual_seed(0)
    whole = small_simplenet(max_epochs=4)
    fit(whole, synthetic_root, tmp_path / "whole", callbacks=[checkpoints(tmp_path / "whole_ckpt")])
    torch.manual_seed(0)
    interrupted = small_simplenet(max_epochs=4)
    with pytest.raises(RuntimeError, match="power cut"):
        fit(interrupted, synthetic_root, tmp_path / "cut", callbacks=[checkpoints(tmp_path / "ckpt"), PowerCut()])
    resumed, epochs = small_simplenet(max_epochs=4), EpochLosses()
    engine = Engine(default_root_dir=tmp_path / "resumed", logger=False, enable_progress_bar=False, callbacks=[epochs])
    engine.fit(resumed, datamodule=synthetic_datamodule(synthetic_root), ckpt_path=tmp_path / "ckpt" / "last.ckpt")
    assert engine.trainer.current_epoch == 4
    assert len(epochs.losses) == 2  # epochs 3 and 4 only
    assert epochs.batch_kinds == [{"ImageBatch"}, {"StoredFeatureBatch"}]  # the store refills in the resumed fit
    for name, tensor in whole.model.state_dict().items():
        torch.testing.assert_close(resumed.model.state_dict()[name], tensor, rtol=1e-4, atol=1e-5, msg=name)
    torch.testing.assert_close(scores(resumed), scores(whole), rtol=1e-4, atol=1e-5)


def test_a_truncated_checkpoint_is_named_as_such(tmp_path: Path, synthetic_root: Path, small_simplenet) -> None:
    engine = fit(small_simplenet(max_epochs=1), synthetic_root, tmp_path / "run")
    checkpoint = Path(engine.trainer.checkpoint_callback.best_model_path)
    original = checkpoint.read_bytes()
    truncated = tmp_path / "copy.ckpt"
    truncated.write_bytes(original[: len(original) // 2])
    with pytest.raises(ValueError, match=r"copy\.ckpt' is damaged or incomplete"):
        SimpleNet.load_from_checkpoint(truncated)
    datamodule = synthetic_datamodule(synthetic_root)
    with pytest.raises(RuntimeError, match="your checkpoint file is corrupted"):  # Lightning loads it: PyTorch's words
        engine.test(small_simplenet(), datamodule=datamodule, ckpt_path=truncated)
    assert checkpoint.read_bytes() == original  # the original is untouched


def test_nothing_the_user_had_is_changed_by_a_failed_fit(tmp_path: Path, small_simplenet) -> None:
    """A fit that stops on a bad image leaves the dataset folder exactly as it was."""
    category = _dataset(tmp_path)
    (category / "train" / "good" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot an image")
    before = {path: path.read_bytes() for path in category.rglob("*") if path.is_file()}
    with pytest.raises(ValueError, match=r"broken\.png"):
        fit(small_simplenet(max_epochs=1), tmp_path, tmp_path / "results")
    assert {path: path.read_bytes() for path in category.rglob("*") if path.is_file()} == before


@pytest.fixture(scope="module")
def padim_checkpoint(tmp_path_factory: pytest.TempPathFactory, synthetic_root: Path) -> Path:
    model = Padim(backbone="resnet18", layers=["layer1", "layer2"], pre_trained=False, n_features=20)
    engine = fit(model, synthetic_root, tmp_path_factory.mktemp("padim"))
    return Path(engine.trainer.checkpoint_callback.best_model_path)


def test_checkpoint_from_another_model(padim_checkpoint: Path) -> None:
    with pytest.raises(ValueError, match=r"not a SimpleNet checkpoint.*--model Padim") as error:
        SimpleNet.load_from_checkpoint(padim_checkpoint)
    assert "\n" not in str(error.value)


def test_checkpoint_from_another_model_on_the_command_line(padim_checkpoint: Path, tmp_path: Path, synthetic_root: Path) -> None:
    """`anomalib predict --model SimpleNet --ckpt_path <PaDiM's>`: the error at the end of the output says what to do."""
    image = next((synthetic_root / "synthetic" / "test" / "good").iterdir())
    result = subprocess.run(
        [ANOMALIB, "predict", "--model", "SimpleNet", "--ckpt_path", str(padim_checkpoint), "--data", str(image)],
        check=False, cwd=tmp_path, capture_output=True, text=True, timeout=600, env={**os.environ, "COLUMNS": "300"},
    )  # fmt: skip
    assert result.returncode != 0
    error = " ".join(result.stderr.split()[-60:])  # the traceback's last words: our message (the console may wrap it)
    assert "ValueError: This checkpoint is not a SimpleNet checkpoint" in error
    assert "Load it with the model that trained it (e.g. --model Padim)" in error


def test_the_benchmark_keeps_a_work_folder_it_did_not_make(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A benchmark run deletes its scratch folder (checkpoint, export) only when the run itself created it."""
    config = BenchmarkConfig.from_dict({"models": ["Padim"], "data": {"class_path": "MVTecAD"}, "categories": ["bottle"]})
    job = config.jobs()[-1]
    spec = tmp_path / "job.json"
    spec.write_text(json.dumps(job.to_dict()))

    def measured_run(job: object, work_dir: Path, predictions: Path | None = None) -> dict:
        work_dir.mkdir(parents=True, exist_ok=True)
        (work_dir / "model.ckpt").write_bytes(b"scratch")
        return {"model": "Padim"}

    monkeypatch.setattr(benchmark_job, "run", measured_run)
    work_dir = tmp_path / f"work-{job.name}"
    benchmark_job.main([str(spec), str(tmp_path / "result.json")])
    assert json.loads((tmp_path / "result.json").read_text()) == {"job_key": job_key(job.settings()), "model": "Padim"}
    assert not work_dir.exists()  # the run's own scratch folder: gone
    work_dir.mkdir()
    (work_dir / "notes.txt").write_text("mine")
    benchmark_job.main([str(spec), str(tmp_path / "result.json")])
    assert (work_dir / "notes.txt").read_text() == "mine"  # a folder that was there before: kept, with all in it
