"""A checkpoint written by version 0.1 (before the model folder stood alone) loads and scores exactly as it did then.

The fixture and its scores were written by ``tests/fixtures/make_checkpoint_0_1.py`` with the code of that version.
"""

from pathlib import Path

import pytest
import torch
from anomalib.engine import Engine
from PIL import Image

from anomalib_simplenet.simplenet import SimpleNet

FIXTURES = Path(__file__).parent / "fixtures"
CHECKPOINT = FIXTURES / "simplenet_0_1.ckpt"


@pytest.fixture(scope="module")
def expected() -> dict[str, torch.Tensor]:
    return torch.load(FIXTURES / "simplenet_0_1_scores.pt", weights_only=True)


def assert_same_scores(model: SimpleNet, expected: dict[str, torch.Tensor]) -> None:
    output = model.model.eval()(expected["images"])
    # The same arithmetic as when the fixture was written; a CPU of another kind may round the last bit differently.
    torch.testing.assert_close(output.pred_score, expected["pred_score"], rtol=0, atol=1e-5)
    torch.testing.assert_close(output.anomaly_map, expected["anomaly_map"], rtol=0, atol=1e-5)


def test_load_from_checkpoint_gives_the_old_scores(expected: dict[str, torch.Tensor]) -> None:
    model = SimpleNet.load_from_checkpoint(CHECKPOINT)
    assert model.model.feature_extractor.backbone_name == "resnet18"
    assert_same_scores(model, expected)


def test_a_default_simplenet_adopts_the_old_checkpoint(expected: dict[str, torch.Tensor]) -> None:
    """As ``anomalib predict --model SimpleNet --ckpt_path ...`` does: defaults first, then the checkpoint's state."""
    model = SimpleNet(pre_trained=False)
    checkpoint = torch.load(CHECKPOINT, map_location="cpu", weights_only=False)
    model.on_load_checkpoint(checkpoint)
    model.load_state_dict(checkpoint["state_dict"])
    assert model.model.feature_extractor.backbone_name == "resnet18"
    assert model.model.discriminator.layers[0].out_features == 32
    assert_same_scores(model, expected)


def test_a_default_simplenet_predicts_from_the_old_checkpoint_through_the_trainer(tmp_path: Path) -> None:
    """``anomalib predict --model SimpleNet --ckpt_path``: the trainer restores the model and the callbacks' states from the
    checkpoint, the evaluator's included (version 0.1's had PRO, today's default has not)."""
    images = tmp_path / "images"
    images.mkdir()
    for number in range(2):
        Image.new("RGB", (64, 64), color=(40 * number, 120, 200)).save(images / f"{number}.png")
    model = SimpleNet(pre_trained=False)
    engine = Engine(default_root_dir=tmp_path / "run", logger=False, enable_progress_bar=False, accelerator="cpu")
    predictions = engine.predict(model, data_path=images, ckpt_path=CHECKPOINT)
    assert model.model.feature_extractor.backbone_name == "resnet18"
    scores = torch.cat([batch.pred_score for batch in predictions])
    assert scores.shape == (2,)
    assert bool(torch.isfinite(scores).all())
