"""Real defects: MVTec AD bottle with ImageNet-pretrained efficientnet_lite0, short schedule.

Uses ``configs/simplenet_lite0_cpu.yaml`` (the settings a user of this machine would run) with
fewer epochs. Thresholds are fitted on a synthetic-defect split of train/good, never on the test set;
the AUROC/PRO figures asserted here do not depend on thresholds anyway.
"""

import time
from pathlib import Path

import pytest
import yaml
from anomalib.data import MVTecAD
from anomalib.engine import Engine
from lightning.pytorch import seed_everything

from anomalib_simplenet import SimpleNet

from conftest import REPO, SHARED_DATA

# ../shared/data/mvtec_ad beside the checkout (see REFERENCE.md), as in CI.
SHARED_BOTTLE = SHARED_DATA / "mvtec_ad"
CONFIG = REPO / "configs" / "simplenet_lite0_cpu.yaml"
SHORT_SCHEDULE = 10  # epochs

pytestmark = pytest.mark.slow  # minutes: `pytest -m slow` (and .ci/run) runs it


@pytest.mark.skipif(
    not (SHARED_BOTTLE / "bottle" / "train" / "good").is_dir(),
    reason=f"MVTec AD bottle not found at {SHARED_BOTTLE / 'bottle'} (the shared data folder beside the checkout)",
)
def test_bottle_defects_are_separated(tmp_path: Path, lite0_weights: str) -> None:
    settings = yaml.safe_load(CONFIG.read_text())
    model_args = {**settings["model"]["init_args"], "backbone_weights": lite0_weights, "max_epochs": SHORT_SCHEDULE}
    data_args = {**settings["data"]["init_args"], "root": SHARED_BOTTLE, "category": "bottle"}
    model = SimpleNet(**model_args)
    seed_everything(42)
    engine = Engine(default_root_dir=tmp_path, logger=False, enable_progress_bar=False)
    start = time.perf_counter()
    engine.fit(model, datamodule=MVTecAD(**data_args))
    fit_seconds = time.perf_counter() - start
    results = engine.test(model, datamodule=MVTecAD(**data_args))[0]
    print(f"bottle, efficientnet_lite0, {SHORT_SCHEDULE} epochs, fit {fit_seconds:.0f} s: {results}")
    assert results["image_AUROC"] >= 0.95
    assert results["pixel_AUROC"] >= 0.93
