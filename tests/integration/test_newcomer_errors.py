"""Mistakes a newcomer makes get one line that says what was wrong and what to do (exit status 2, no traceback)."""

from pathlib import Path

import pytest
import torch

from anomalib_simplenet.tools.demo.cli import main as demo_main
from anomalib_simplenet.tools.generated_data import make_synthetic_dataset
from anomalib_simplenet.tools.predict.cli import main as predict_main


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


def test_image_suffixes_are_those_anomalib_reads() -> None:
    """The tools check folders for the images anomalib's Folder dataset lists (torchvision's IMG_EXTENSIONS)."""
    from torchvision.datasets.folder import IMG_EXTENSIONS

    from anomalib_simplenet.tools.image_files import IMAGE_SUFFIXES

    assert IMAGE_SUFFIXES == IMG_EXTENSIONS
