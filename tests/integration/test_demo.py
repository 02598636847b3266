"""The newcomer's path: `simplenet-demo`, then `anomalib predict` and the OpenVINO predict command on new images.

The demo runs once (generated fabric data, small settings) as a subprocess, exactly as typed; the
predict commands then use its checkpoint and exported model. Those tests take minutes: they are marked
``slow`` (``pytest -m slow`` runs them; ``.ci/run`` runs them after the default run).
"""

import csv
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from anomalib_simplenet.tools.generated_data import make_demo_dataset, make_synthetic_dataset

from conftest import ANOMALIB, console_command, run_command

DEMO = console_command("simplenet-demo")


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open() as file:
        return list(csv.DictReader(file))


@pytest.fixture(scope="module")
def demo(demo_run: tuple[Path, dict, str]) -> tuple[Path, dict, str]:
    """The demo run of ``conftest.demo_run``: `simplenet-demo --category fabric --train-images 24 --epochs 10`."""
    return demo_run


@pytest.mark.slow
def test_demo_prints_progress_metrics_and_where_everything_is(demo: tuple[Path, dict, str]) -> None:
    output, _, stdout = demo
    assert "[data] generating fabric" in stdout
    assert "[1/1] fabric: training SimpleNet for 10 epochs" in stdout
    assert "| fabric |" in stdout  # the metrics table
    assert f"Everything is in {output}" in stdout
    assert "anomalib predict --model SimpleNet --ckpt_path" in stdout
    assert (output / "summary.md").read_text().count("| fabric |") == 1


LIGHTNING_CHATTER = ("GPU available", "TPU available", "Tip: For seamless cloud logging", "will override existing callbacks",
                     "Restoring states from the checkpoint", "Loaded model weights", "`Trainer.fit` stopped",
                     "`max_epochs` was not set", "module(s) in eval mode")  # fmt: skip


@pytest.mark.slow
def test_the_demo_prints_its_own_lines_once_and_no_lightning_chatter(demo: tuple[Path, dict, str]) -> None:
    printed = demo[2]
    assert [chatter for chatter in LIGHTNING_CHATTER if chatter in printed] == []
    own = [line for line in printed.splitlines() if line.strip() and "━" not in line]  # progress bars redraw
    assert sorted({line for line in own if own.count(line) > 1}) == []


@pytest.mark.slow
def test_demo_finds_the_generated_defects(demo: tuple[Path, dict, str]) -> None:
    _, row, _ = demo
    assert row["image_AUROC"] > 0.85
    assert row["pixel_AUROC"] > 0.9
    assert row["mean_score_defective"] > row["mean_score_good"] + 0.2
    assert row["heat_inside_defects"] > 2 * row["heat_outside_defects"]  # the heat map lights up on the defects


@pytest.mark.slow
def test_demo_writes_a_picture_and_a_row_per_test_image(demo: tuple[Path, dict, str]) -> None:
    output, row, _ = demo
    rows = _rows(Path(row["predictions_csv"]))
    assert len(rows) == 12  # half of the 8 good + 16 defective generated test images; the other half validates
    assert {r["gt_label"] for r in rows} == {"0", "1"}
    for r in rows:
        assert r["label"] == ("anomalous" if r["pred_label"] == "1" else "normal")
        with Image.open(r["visualization"]) as picture:
            assert picture.width > 2 * picture.height  # image, mask, heat map, predicted mask side by side
    for name in ("overview.png", "score_histogram.png"):
        with Image.open(output / "fabric" / name) as picture:
            assert picture.width >= 600


@pytest.mark.slow
def test_exported_model_agrees_with_torch(demo: tuple[Path, dict, str]) -> None:
    _, row, _ = demo
    assert Path(row["openvino_model"]).is_file()
    assert row["openvino_vs_torch_max_score_difference"] < 1e-4
    assert len(_rows(Path(row["openvino_predictions_csv"]))) == len(_rows(Path(row["predictions_csv"])))


@pytest.mark.slow
def test_anomalib_predict_on_a_folder_of_new_images(demo: tuple[Path, dict, str], tmp_path: Path) -> None:
    """`anomalib predict --model SimpleNet --ckpt_path ... --data <folder>`: pictures, a score table, the demo's scores."""
    _, row, _ = demo
    test_rows = {r["image_path"]: r for r in _rows(Path(row["predictions_csv"]))}
    new_images = tmp_path / "new"
    new_images.mkdir()
    for path in list(test_rows)[:4]:
        shutil.copy(path, new_images / f"{Path(path).parent.name}_{Path(path).name}")
    run_command(
        [ANOMALIB, "predict", "--model", "SimpleNet", "--ckpt_path", row["checkpoint"], "--data", str(new_images),
         "--default_root_dir", "results"],
        cwd=tmp_path,
    )  # fmt: skip
    tables = list((tmp_path / "results").rglob("predictions.csv"))
    assert len(tables) == 1
    predicted = _rows(tables[0])
    assert len(predicted) == 4
    expected = {f"{Path(p).parent.name}_{Path(p).name}": float(r["pred_score"]) for p, r in test_rows.items()}
    for r in predicted:
        assert float(r["pred_score"]) == pytest.approx(expected[Path(r["image_path"]).name], abs=2e-4)
        assert Path(r["visualization"]).is_file()


@pytest.mark.slow
def test_openvino_predict_command_on_one_image(demo: tuple[Path, dict, str], tmp_path: Path) -> None:
    _, row, _ = demo
    image = next(r for r in _rows(Path(row["predictions_csv"])) if r["gt_label"] == "1")
    command = [sys.executable, "-m", "anomalib_simplenet.tools.predict", "--model", row["openvino_model"]]
    result = run_command([*command, "--data", image["image_path"]], cwd=tmp_path)
    first = result.stdout.splitlines()[0].split()
    assert float(first[0]) == pytest.approx(float(image["pred_score"]), abs=1e-4)
    assert first[1] == ("ANOMALOUS" if image["pred_label"] == "1" else "normal")
    assert len(_rows(tmp_path / "predictions" / "predictions.csv")) == 1


@pytest.mark.slow
def test_demo_on_your_own_folder(tmp_path: Path) -> None:
    """`--folder ROOT --normal-dir good --abnormal-dir defect --mask-dir masks`: anomalib's Folder datamodule."""
    make_synthetic_dataset(tmp_path / "mvtec", n_train=10, n_test_good=2, n_test_defective=4, image_size=96)
    source = tmp_path / "mvtec" / "synthetic"
    mine = tmp_path / "mine"
    shutil.copytree(source / "train" / "good", mine / "good")
    for defect in ("scratch", "blob"):
        shutil.copytree(source / "test" / defect, mine / "defect", dirs_exist_ok=True)
        for mask in (source / "ground_truth" / defect).iterdir():
            (mine / "masks").mkdir(exist_ok=True)
            shutil.copy(mask, mine / "masks" / mask.name.replace("_mask", ""))
    run_command(
        [DEMO, "--folder", str(mine), "--abnormal-dir", "defect", "--mask-dir", "masks", "--epochs", "1", "--no-export",
         "--output", "out"],
        cwd=tmp_path,
    )  # fmt: skip
    row = json.loads((tmp_path / "out" / "summary.json").read_text())["categories"][0]
    assert row["category"] == "mine"
    assert row["data"] == "folder"
    assert np.isfinite(row["pixel_AUROC"])
    assert "openvino_model" not in row


def test_generated_demo_data_is_deterministic_and_masks_mark_changed_pixels(tmp_path: Path) -> None:
    first = make_demo_dataset(tmp_path / "a", n_train=1, n_test_good=1, n_test_defective=4, image_size=96, seed=3)
    second = make_demo_dataset(tmp_path / "b", n_train=1, n_test_good=1, n_test_defective=4, image_size=96, seed=3)
    files = sorted(path.relative_to(first) for path in first.rglob("*.png"))
    assert files == sorted(path.relative_to(second) for path in second.rglob("*.png"))
    for name in files:
        assert (first / name).read_bytes() == (second / name).read_bytes()
    for category in ("fabric", "washer"):
        for mask_path in (first / category / "ground_truth").rglob("*_mask.png"):
            mask = np.asarray(Image.open(mask_path)) > 0
            assert 10 < mask.sum() < 0.1 * mask.size  # a visible defect, not the whole image
            border = np.ones_like(mask)
            border[12:-12, 12:-12] = False
            assert not (mask & border).any()  # kept clear of the border, so a centre crop keeps it
