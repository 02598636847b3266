"""Mistakes a newcomer makes get one line that says what was wrong and what to do (exit status 2, no traceback)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from anomalib.data import MVTecAD
from anomalib.engine import Engine
from anomalib.models import Padim

from anomalib_simplenet import SimpleNet
from anomalib_simplenet.demo import main as demo_main
from anomalib_simplenet.predict import main as predict_main
from anomalib_simplenet.synthetic_dataset import make_synthetic_dataset

ANOMALIB = shutil.which("anomalib", path=str(Path(sys.executable).parent)) or "anomalib"


def _one_line_error(capsys: pytest.CaptureFixture, status: int, prefix: str) -> str:
    captured = capsys.readouterr()
    assert status == 2
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith(prefix)
    return lines[0]


@pytest.fixture
def mvtec_root(tmp_path: Path) -> Path:
    make_synthetic_dataset(tmp_path / "mvtec", category="bottle", n_train=2, n_test_good=1, n_test_defective=2, image_size=64)
    return tmp_path / "mvtec"


def test_wrong_dataset_path(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    line = _one_line_error(capsys, demo_main(["--mvtec-root", str(tmp_path / "nope")]), "simplenet-demo: error:")
    assert "MVTec AD root not found" in line
    assert "--mvtec-root ../shared/data/mvtec_ad" in line


def test_category_missing(capsys: pytest.CaptureFixture, mvtec_root: Path) -> None:
    line = _one_line_error(capsys, demo_main(["--mvtec-root", str(mvtec_root), "--category", "botle"]), "simplenet-demo: error:")
    assert "category 'botle' not found" in line
    assert "categories there: bottle" in line


def test_category_folder_given_as_root(capsys: pytest.CaptureFixture, mvtec_root: Path) -> None:
    line = _one_line_error(capsys, demo_main(["--mvtec-root", str(mvtec_root / "bottle")]), "simplenet-demo: error:")
    assert f"--mvtec-root {mvtec_root} --category bottle" in line


def test_unknown_generated_category(capsys: pytest.CaptureFixture) -> None:
    line = _one_line_error(capsys, demo_main(["--category", "bottle"]), "simplenet-demo: error:")
    assert "fabric or washer" in line
    assert "--mvtec-root" in line


def test_image_folder_empty(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    (tmp_path / "mine" / "good").mkdir(parents=True)
    (tmp_path / "mine" / "defect").mkdir()
    (tmp_path / "mine" / "good" / "notes.txt").write_text("not an image")
    status = demo_main(["--folder", str(tmp_path / "mine"), "--abnormal-dir", "defect"])
    line = _one_line_error(capsys, status, "simplenet-demo: error:")
    assert "--normal-dir folder" in line
    assert "holds no images" in line


def test_output_folder_with_other_files_is_not_emptied(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    (tmp_path / "precious.txt").write_text("keep me")
    line = _one_line_error(capsys, demo_main(["--output", str(tmp_path), "--epochs", "1"]), "simplenet-demo: error:")
    assert "already holds other files" in line
    assert (tmp_path / "precious.txt").read_text() == "keep me"


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")
def test_gpu_requested_but_absent(capsys: pytest.CaptureFixture) -> None:
    line = _one_line_error(capsys, demo_main(["--accelerator", "gpu"]), "simplenet-demo: error:")
    assert "no CUDA GPU" in line
    assert "--accelerator cpu" in line


def test_predict_on_an_empty_folder(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    model = tmp_path / "model.xml"
    model.write_text("<net/>")
    (tmp_path / "images").mkdir()
    line = _one_line_error(capsys, predict_main(["--model", str(model), "--data", str(tmp_path / "images")]), "predict: error:")
    assert "no images in" in line


def test_predict_given_a_checkpoint_instead_of_an_export(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    status = predict_main(["--model", str(tmp_path / "model.ckpt"), "--data", str(tmp_path)])
    line = _one_line_error(capsys, status, "predict: error:")
    assert "anomalib predict --model SimpleNet --ckpt_path" in line
    assert "anomalib export" in line


@pytest.fixture(scope="module")
def padim_checkpoint(tmp_path_factory: pytest.TempPathFactory, synthetic_root: Path) -> Path:
    root = tmp_path_factory.mktemp("padim")
    engine = Engine(default_root_dir=root, logger=False, enable_progress_bar=False)
    model = Padim(backbone="resnet18", layers=["layer1", "layer2"], pre_trained=False, n_features=20)
    engine.fit(model, datamodule=MVTecAD(root=synthetic_root, category="synthetic", num_workers=0))
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
