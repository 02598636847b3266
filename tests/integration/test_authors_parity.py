"""benchmarks/authors_parity.py end to end on generated data: the authors' code and this project's, one row each."""

import csv
import sys
from pathlib import Path

import pytest
import yaml
from anomalib.data.utils import read_image
from PIL import Image

from anomalib_simplenet import SimpleNet
from anomalib_simplenet.tools.generated_data import make_synthetic_dataset

from conftest import REPO, run_command

ANCHOR = REPO.parent / "shared" / "anchors" / "simplenet-authors"


def test_the_authors_view_keeps_the_centre_of_a_wide_image_as_their_loader_does(tmp_path: Path) -> None:
    """A 512 x 341 image (VisA's size) red in its outer sixths, blue between: the authors' view (shorter side to 256,
    centre crop 256) sees blue only; this project's whole-image resize keeps the red sides."""
    from authors_parity import authors_view

    picture = Image.new("RGB", (512, 341), (0, 0, 255))
    for left in (0, 427):
        picture.paste((255, 0, 0), (left, 0, left + 85, 341))
    (tmp_path / "train" / "good").mkdir(parents=True)
    picture.save(tmp_path / "train" / "good" / "000.png")
    image = read_image(tmp_path / "train" / "good" / "000.png", as_tensor=True).unsqueeze(0)

    def red_share(pre_processor: object) -> float:
        seen = pre_processor.transform(image)
        assert tuple(seen.shape[-2:]) == (256, 256)
        return float((seen[0, 0] > seen[0, 2]).float().mean())  # normalised red above normalised blue

    assert red_share(authors_view(tmp_path)) < 0.01
    assert abs(red_share(SimpleNet.configure_pre_processor(image_size=(256, 256))) - 170 / 512) < 0.02


@pytest.mark.slow
def test_the_parity_harness_runs_both_implementations_and_labels_the_test_selected_best(tmp_path: Path) -> None:
    assert (ANCHOR / "run_lite0.sh").is_file(), f"the authors' code is expected in {ANCHOR} (../shared beside the clone)"
    make_synthetic_dataset(tmp_path / "data", n_train=16, n_test_good=4, n_test_defective=4, image_size=96, seed=0)
    config = yaml.safe_load((REPO / "configs/benchmark/side_by_side_lite0_cpu.yaml").read_text())
    config["data"] = [
        {"class_path": "MVTecAD", "init_args": {"root": str(tmp_path / "data"), "num_workers": 0}, "categories": ["synthetic"]}
    ]
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    output = tmp_path / "parity.csv"
    # --work-dir relative, as a user types it: the authors' script changes directory, so the harness must resolve it
    command = [sys.executable, str(REPO / "benchmarks/authors_parity.py"), "--config", str(tmp_path / "config.yaml"),
               "--output", str(output), "--categories", "synthetic", "--seeds", "0", "--meta-epochs", "1",
               "--work-dir", "work", "--implementations", "authors", "this_project", "this_project_authors_view"]  # fmt: skip
    result = run_command(command, cwd=tmp_path)

    rows = {row["implementation"]: row for row in csv.DictReader(output.open())}
    assert set(rows) == {"authors", "this_project", "this_project_authors_view"}
    authors, ours = rows["authors"], rows["this_project"]
    assert len(authors["per_meta_epoch"].split()) == 1  # one meta-epoch, parsed from the authors' own printed line
    assert authors["test_selected_best_meta_epoch"] == "0"
    for row in (authors, ours):
        assert 0.0 <= float(row["image_AUROC"]) <= 1.0
        assert 0.0 <= float(row["pixel_AUROC"]) <= 1.0
    assert float(authors["image_AUROC"]) <= float(authors["test_selected_best_image_AUROC"])
    assert "authors synthetic seed 0" in result.stdout
    assert (tmp_path / "work" / "authors_code" / "simplenet.py").is_file(), "the authors' code runs from the work folder"
    tracked = run_command(["git", "ls-files", "*simplenet.py"], cwd=REPO).stdout
    assert tracked == "", "the authors' code must never be copied into the repository"

    rerun = run_command(command, cwd=tmp_path)  # both rows there: nothing runs again
    assert rerun.stdout.strip() == ""
    report = run_command([sys.executable, str(REPO / "benchmarks/authors_parity.py"), "--output", str(output), "--report"])
    assert "authors" in report.stdout
    assert "this_project" in report.stdout
