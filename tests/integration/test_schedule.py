"""The user's schedule wins: the trainer's max_epochs/max_steps, however given; SimpleNet's max_epochs only without them."""

from pathlib import Path

import torch
from anomalib.engine import Engine
from anomalib.pipelines.benchmark.job import BenchmarkJob
from lightning.pytorch import Callback, Trainer

from conftest import ANOMALIB, run_command, synthetic_datamodule

LIGHTNING_DEFAULT_WARNING = "`max_epochs` was not set. Setting it to 1000 epochs"


class ValidationCount(Callback):
    def __init__(self) -> None:
        self.after_epochs: list[int] = []

    def on_validation_epoch_end(self, trainer, pl_module) -> None:
        self.after_epochs.append(trainer.current_epoch + 1)


def test_cli_trainer_max_epochs_wins_over_the_model_argument(tmp_path: Path, synthetic_root: Path) -> None:
    """`anomalib train ... --model.max_epochs 5 --trainer.max_epochs 1` trains 1 epoch, and says so."""
    args = [
        "train", "--model", "SimpleNet", "--data", "MVTecAD",
        "--data.root", str(synthetic_root), "--data.category", "synthetic", "--data.num_workers", "0",
        "--model.backbone", "efficientnet_lite0", "--model.layers", "[blocks.2, blocks.4]",
        "--model.pre_trained", "false", "--model.discriminator_hidden", "32", "--model.max_epochs", "5",
        "--trainer.max_epochs", "1", "--default_root_dir", "results",
    ]  # fmt: skip
    result = run_command([ANOMALIB, *args], cwd=tmp_path)
    output = result.stdout + result.stderr
    (checkpoint,) = (tmp_path / "results").rglob("model.ckpt")
    assert torch.load(checkpoint, map_location="cpu", weights_only=False)["epoch"] == 0  # one epoch, kept at its end
    assert "Training as the trainer says (max_epochs=1)" in output
    assert "Overriding max_epochs" not in output


def test_engine_max_epochs_is_honoured(tmp_path: Path, synthetic_root: Path, small_simplenet) -> None:
    validations = ValidationCount()
    engine = Engine(max_epochs=3, default_root_dir=tmp_path, logger=False, enable_progress_bar=False, callbacks=[validations])
    engine.fit(small_simplenet(max_epochs=50), datamodule=synthetic_datamodule(synthetic_root))
    assert engine.trainer.current_epoch == 3
    assert validations.after_epochs == [3]  # thresholds fitted once, on the final model


def test_lightning_trainer_max_epochs_is_honoured(tmp_path: Path, synthetic_root: Path, small_simplenet) -> None:
    trainer = Trainer(max_epochs=2, default_root_dir=tmp_path, logger=False, enable_progress_bar=False)
    trainer.fit(small_simplenet(max_epochs=50), datamodule=synthetic_datamodule(synthetic_root))
    assert trainer.current_epoch == 2


def test_max_steps_is_honoured(tmp_path: Path, synthetic_root: Path, small_simplenet) -> None:
    engine = Engine(max_steps=6, default_root_dir=tmp_path, logger=False, enable_progress_bar=False)
    engine.fit(small_simplenet(max_epochs=50), datamodule=synthetic_datamodule(synthetic_root))
    assert engine.trainer.global_step == 6  # 1.5 epochs of 4 batches, not 50 epochs


def test_model_schedule_applies_when_the_trainer_sets_none(tmp_path: Path, synthetic_root: Path, small_simplenet, caplog) -> None:
    """A bare Engine (as `anomalib train` without --trainer.max_epochs): SimpleNet's max_epochs, not Lightning's 1000."""
    engine = Engine(default_root_dir=tmp_path, logger=False, enable_progress_bar=False)
    with caplog.at_level("INFO"), caplog.at_level("INFO", logger="anomalib_simplenet"):
        engine.fit(small_simplenet(max_epochs=2), datamodule=synthetic_datamodule(synthetic_root))
    assert engine.trainer.current_epoch == 2
    assert "SimpleNet trains for its own schedule of 2 epochs" in caplog.text
    assert LIGHTNING_DEFAULT_WARNING not in caplog.text


def test_benchmark_pipeline_runs_the_model_schedule(synthetic_root: Path, small_simplenet) -> None:
    """anomalib's benchmark job builds its own Engine without trainer arguments."""
    model = small_simplenet(max_epochs=2)
    job = BenchmarkJob(accelerator="cpu", model=model, datamodule=synthetic_datamodule(synthetic_root), seed=0, flat_cfg={})
    results = job.run()
    assert model.trainer.current_epoch == 2
    assert 0.0 <= results["image_AUROC"] <= 1.0
