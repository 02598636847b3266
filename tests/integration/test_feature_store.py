"""Feature store: one backbone pass per training image per fit, the same model as the image loop, safe fallbacks."""

import re
from pathlib import Path

import pytest
import torch
from anomalib.engine import Engine
from anomalib.pre_processing import PreProcessor
from lightning.pytorch import Callback
from torchvision.transforms import v2

from anomalib_simplenet.simplenet.feature_store import FeatureStore, StoredFeatureBatch
from anomalib_simplenet.simplenet.feature_store_eligibility import find_random_transforms

from conftest import EpochLosses, fit, synthetic_datamodule

N_TRAIN = 16  # training images of the session's synthetic dataset


def _scores(model, root: Path) -> torch.Tensor:
    datamodule = synthetic_datamodule(root)
    datamodule.setup()
    batch = next(iter(datamodule.test_dataloader()))
    with torch.no_grad():
        return model.model.eval()(model.pre_processor.transform(batch.image)).anomaly_map


def test_find_random_transforms_searches_compose_and_treats_unknown_code_as_random() -> None:
    deterministic = v2.Compose([v2.Resize(256), v2.CenterCrop(224), v2.Normalize([0.5] * 3, [0.5] * 3)])
    assert find_random_transforms([deterministic, None]) == []
    augmented = v2.Compose([v2.RandomHorizontalFlip(), v2.Compose([v2.ColorJitter(0.1)])])
    assert find_random_transforms([deterministic, augmented]) == ["RandomHorizontalFlip", "ColorJitter"]
    assert find_random_transforms([v2.Lambda(lambda x: x)]) == ["Lambda"]

    class Resize(v2.Resize):  # a user's subclass may do anything: only the exact classes count as deterministic
        pass

    assert find_random_transforms([Resize(8)]) == ["Resize"]


def test_stored_batches_pass_through_anomalib_pre_processing() -> None:
    """anomalib's pre-processor transforms every training batch; a stored batch must come out untouched."""
    pre_processor = PreProcessor(transform=v2.Compose([v2.Resize((64, 64)), v2.Normalize([0.5] * 3, [0.5] * 3)]))
    batch = StoredFeatureBatch(torch.rand(2, 8, 4, 4))
    features = batch.features
    pre_processor.on_train_batch_start(None, None, batch, 0)
    assert batch.features is features
    assert batch.image is None


def test_bad_store_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="feature_store_mb must be >= 0"):
        FeatureStore(budget_mb=-1, dtype="auto")
    with pytest.raises(ValueError, match="feature_store_dtype must be one of"):
        FeatureStore(budget_mb=None, dtype="bfloat8")


def test_store_trains_the_same_model_as_the_image_loop_with_one_backbone_pass(
    tmp_path: Path, synthetic_root: Path, small_simplenet, count_backbone_passes
) -> None:
    """Same seed, same data: equal losses in every epoch and equal scores; the backbone sees each image once."""
    runs = {}
    for name, budget in (("store", None), ("images", 0)):
        torch.manual_seed(0)
        model = small_simplenet(max_epochs=4, feature_store_mb=budget)
        passes, epochs = count_backbone_passes(model), EpochLosses()
        fit(model, synthetic_root, tmp_path / name, callbacks=[epochs], limit_val_batches=0)
        runs[name] = (model, sum(passes), epochs)
    (stored, stored_passes, stored_epochs), (imaged, image_passes, image_epochs) = runs["store"], runs["images"]
    assert stored_passes == N_TRAIN  # the image score's statistics come from the store too
    assert image_passes == 4 * N_TRAIN + N_TRAIN  # 4 epochs, then one pass for the image score's statistics
    assert stored_epochs.batch_kinds == [{"ImageBatch"}] + [{"StoredFeatureBatch"}] * 3
    assert image_epochs.batch_kinds == [{"ImageBatch"}] * 4
    assert stored_epochs.losses == pytest.approx(image_epochs.losses, rel=1e-5)
    assert len(set(stored_epochs.losses)) == 4  # the losses moved: the comparison is not between constants
    torch.testing.assert_close(_scores(stored, synthetic_root), _scores(imaged, synthetic_root), rtol=1e-4, atol=1e-5)
    assert stored.feature_store.features is None  # freed at the end of the fit


def test_the_model_folder_alone_spares_the_backbone_and_trains_the_same_model(
    tmp_path: Path, synthetic_root: Path, small_simplenet, count_backbone_passes, monkeypatch
) -> None:
    """Without the project's loader swap (the model folder as in anomalib's tree) the images are read in every epoch,
    the backbone still runs once per image, and the model is exactly the one trained with the swap."""
    from anomalib_simplenet.simplenet import SimpleNet

    runs = {}
    for name, extra in (("swap", SimpleNet.extra_fit_callbacks), ("folder", [])):
        monkeypatch.setattr(SimpleNet, "extra_fit_callbacks", extra)
        torch.manual_seed(0)
        model = small_simplenet(max_epochs=4)
        passes, epochs = count_backbone_passes(model), EpochLosses()
        fit(model, synthetic_root, tmp_path / name, callbacks=[epochs], limit_val_batches=0)
        runs[name] = (model, sum(passes), epochs)
    (swapped, swapped_passes, swapped_epochs), (folder, folder_passes, folder_epochs) = runs["swap"], runs["folder"]
    assert swapped_passes == folder_passes == N_TRAIN
    assert swapped_epochs.batch_kinds == [{"ImageBatch"}] + [{"StoredFeatureBatch"}] * 3
    assert folder_epochs.batch_kinds == [{"ImageBatch"}] * 4
    assert folder_epochs.losses == swapped_epochs.losses
    assert torch.equal(_scores(folder, synthetic_root), _scores(swapped, synthetic_root))


def test_float16_store_halves_memory_and_trains_nearly_the_same_model(
    tmp_path: Path, synthetic_root: Path, small_simplenet, caplog
) -> None:
    losses = {}
    for dtype in ("float32", "float16"):
        torch.manual_seed(0)
        model = small_simplenet(max_epochs=3, feature_store_dtype=dtype)
        epochs = EpochLosses()
        with caplog.at_level("INFO", logger="anomalib_simplenet"):
            fit(model, synthetic_root, tmp_path / dtype, callbacks=[epochs], limit_val_batches=0)
        losses[dtype] = epochs.losses
    sizes = [float(line.split(" MiB")[0].rsplit(" ", 1)[1]) for line in caplog.messages if line.startswith("Feature store:")]
    assert sizes[1] == pytest.approx(sizes[0] / 2, abs=0.1)  # MiB, printed to one decimal
    assert "(float16, cpu)" in caplog.text
    assert losses["float16"] == pytest.approx(losses["float32"], rel=1e-2)


@pytest.mark.parametrize(("dtype", "stored"), [("auto", "float16"), ("float32", None), ("float16", "float16")])
def test_store_keeps_to_its_budget(tmp_path: Path, synthetic_root: Path, small_simplenet, caplog, dtype, stored) -> None:
    """A budget between the float16 and the float32 size: "auto" halves the store; an explicit float32 steps aside."""
    model = small_simplenet(max_epochs=2, feature_store_dtype=dtype)
    with torch.no_grad():  # the training images' features: N_TRAIN x channels x grid, as the pre-processor resizes
        one = model.model.feature_extractor(model.pre_processor.transform(torch.rand(1, 3, 96, 96)))
    float32_mb = N_TRAIN * one.numel() * 4 / 2**20
    model.feature_store.budget_mb = 0.75 * float32_mb
    with caplog.at_level("INFO", logger="anomalib_simplenet"):
        fit(model, synthetic_root, tmp_path, limit_val_batches=0)
    if stored is None:
        assert "over the budget" in caplog.text
        assert "set feature_store_dtype='float16' to halve it" in caplog.text
        assert "Feature store:" not in caplog.text
    else:
        assert f"({stored}, cpu)" in caplog.text
        assert ("would exceed the budget" in caplog.text) == (dtype == "auto")  # the automatic choice is logged


@pytest.mark.parametrize(
    ("setting", "reason"),
    [
        ("augmentation", r"\['RandomHorizontalFlip'\] attached to the training dataset"),
        ("pre_processor", r"\['ColorJitter'\] in the model's pre-processor"),
        ("dataloaders", "passed without a datamodule"),
        ("budget", r"need \d+ MiB, over the budget of 0 MiB"),
        ("limit_train_batches", "runs 2 of 4 training batches per epoch"),
    ],
)
def test_store_steps_aside_and_says_why(
    setting: str, reason: str, tmp_path: Path, synthetic_root: Path, small_simplenet, count_backbone_passes, caplog
) -> None:
    model_args, engine_args, datamodule_args = {"max_epochs": 2}, {"limit_val_batches": 0}, {}
    if setting == "augmentation":
        datamodule_args["train_augmentations"] = v2.RandomHorizontalFlip()
    if setting == "pre_processor":
        transform = v2.Compose([v2.Resize((224, 224)), v2.ColorJitter(0.1)])
        model_args["pre_processor"] = PreProcessor(transform=transform)
    if setting == "budget":
        model_args["feature_store_mb"] = 0.01
    if setting == "limit_train_batches":
        engine_args["limit_train_batches"] = 2
    model = small_simplenet(**model_args)
    passes = count_backbone_passes(model)
    datamodule = synthetic_datamodule(synthetic_root, **datamodule_args)
    engine = Engine(default_root_dir=tmp_path, logger=False, enable_progress_bar=False, **engine_args)
    with caplog.at_level("INFO", logger="anomalib_simplenet"):
        if setting == "dataloaders":
            datamodule.setup()
            engine.fit(model, train_dataloaders=datamodule.train_dataloader())
        else:
            engine.fit(model, datamodule=datamodule)
    assert any(line.startswith("Feature store off") and re.search(reason, line) for line in caplog.messages), caplog.text
    images_per_epoch = 8 if setting == "limit_train_batches" else N_TRAIN
    # every epoch extracted features from images, and one more pass gave the image score its statistics
    assert sum(passes) == 3 * images_per_epoch


def test_a_fit_that_raised_leaves_nothing_behind(
    tmp_path: Path, synthetic_root: Path, small_simplenet, count_backbone_passes
) -> None:
    class Fail(Callback):
        def on_train_epoch_start(self, trainer, pl_module) -> None:
            if trainer.current_epoch == 2:
                raise RuntimeError("disk full")

    model = small_simplenet(max_epochs=3)
    with pytest.raises(RuntimeError, match="disk full"):
        fit(model, synthetic_root, tmp_path / "failed", callbacks=[Fail()], limit_val_batches=0)
    assert model.feature_store.features is None
    assert not model.feature_store.active
    passes = count_backbone_passes(model)
    epochs = EpochLosses()
    fit(model, synthetic_root, tmp_path / "again", callbacks=[epochs], limit_val_batches=0)
    assert epochs.batch_kinds[0] == {"ImageBatch"}  # the next fit starts from images, not from stale features
    assert sum(passes) == N_TRAIN
