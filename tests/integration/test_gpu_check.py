"""``benchmarks/gpu_check.py`` cannot rot while no GPU is at hand: its tiny version runs every step on the CPU."""

import csv
import sys
from pathlib import Path

import pytest

from conftest import REPO, run_command

SCRIPT = REPO / "benchmarks" / "gpu_check.py"


@pytest.mark.slow
def test_the_tiny_gpu_check_measures_every_model_and_the_fit(tmp_path: Path, synthetic_root: Path) -> None:
    output = tmp_path / "tiny.csv"
    command = [sys.executable, str(SCRIPT), "--tiny", "--device", "cpu", "--data-root", str(synthetic_root)]
    run_command([*command, "--output", str(output), "--work", str(tmp_path / "work")], cwd=tmp_path, timeout=900)
    rows = list(csv.DictReader(output.open()))
    speed = {(row["model"], row["backbone"], row["measure"]): float(row["value"]) for row in rows if row["unit"] != ""}
    models, backbones = ("SimpleNet", "Padim", "Patchcore"), ("resnet18", "efficientnet_lite0")
    for model in models:
        for backbone in backbones:
            assert speed[(model, backbone, "latency_batch_1")] > 0
            assert speed[(model, backbone, "throughput_batch_4")] > 0
    assert speed[("SimpleNet", "efficientnet_lite0", "fit_2_epochs_synthetic")] > 0
    accuracy = {row["measure"]: float(row["value"]) for row in rows if row["unit"] == ""}
    assert set(accuracy) == {"image_AUROC_synthetic", "pixel_AUROC_synthetic"}
    assert all(0 <= value <= 1 for value in accuracy.values())


@pytest.mark.slow
def test_without_a_gpu_the_full_check_says_what_to_do(tmp_path: Path) -> None:
    result = run_command([sys.executable, str(SCRIPT), "--data-root", ".", "--output", "x.csv"], cwd=tmp_path, expect=2)
    assert "no CUDA GPU here" in result.stderr
    assert not (tmp_path / "x.csv").exists()
