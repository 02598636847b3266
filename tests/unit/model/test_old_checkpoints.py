"""A checkpoint written by version 0.1 (before the model folder stood alone) loads and scores exactly as it did then.

The fixture and its scores were written by ``tests/fixtures/make_checkpoint_0_1.py`` with the code of that version.
"""

from pathlib import Path

import pytest
import torch

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
