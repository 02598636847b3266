"""simplenet-review's reading of runs, its counts at a threshold, and the threshold file the tools honour."""

import json
import random
from pathlib import Path

import pandas as pd
import pytest
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from anomalib_simplenet.tools.review.runs import ReviewError, confusion, find_runs
from anomalib_simplenet.tools.threshold_file import ThresholdFileError, read_threshold, threshold_path, write_threshold
from anomalib_simplenet.visualization.predictions import Prediction, write_predictions_csv


@pytest.mark.parametrize("seed", range(5))
def test_counts_equal_scikit_learn_at_every_threshold(seed: int) -> None:
    generator = random.Random(seed)
    scores = [round(generator.random(), 3) for _ in range(200)]
    gts = [generator.random() < 0.4 for _ in range(200)]
    for threshold in [0.0, 0.25, *sorted(set(scores))[::17], 1.0]:
        mine = confusion(scores, gts, threshold)
        predicted = [score > threshold for score in scores]
        tn, fp, fn, tp = confusion_matrix(gts, predicted, labels=[False, True]).ravel()
        precision, recall, f1, _ = precision_recall_fscore_support(gts, predicted, average="binary", zero_division=0)
        assert (mine["tp"], mine["fp"], mine["fn"], mine["tn"]) == (tp, fp, fn, tn)
        assert (mine["precision"], mine["recall"], mine["f1"]) == pytest.approx((precision, recall, f1), abs=1e-12)


def test_a_score_equal_to_the_threshold_is_normal_as_in_anomalib() -> None:
    assert confusion([0.5], [True], 0.5)["fn"] == 1
    assert confusion([0.5001], [True], 0.5)["tp"] == 1


def test_images_without_a_true_label_count_only_as_flagged() -> None:
    figures = confusion([0.9, 0.8, 0.1], [None, None, False], 0.5)
    assert figures == {"tp": 0, "fp": 0, "fn": 0, "tn": 1, "flagged": 2, "precision": 0.0, "recall": 0.0, "f1": 0.0}


def _table(folder: Path, rows: int = 3) -> Path:
    images = folder / "images"
    images.mkdir(parents=True, exist_ok=True)
    predictions = []
    for index in range(rows):
        image = images / f"{index}.png"
        image.write_bytes(b"")
        predictions.append(Prediction(str(image), index / rows, index / rows > 0.5, bool(index % 2), ""))
    return write_predictions_csv(predictions, folder / "predictions.csv")


def test_a_folder_of_runs_is_found_with_the_nearest_model_inside_the_folder_only(tmp_path: Path) -> None:
    results = tmp_path / "results"
    _table(results / "fabric" / "heatmaps")
    _table(results / "fabric" / "openvino_predictions")
    _table(results / "SimpleNet" / "MVTecAD" / "bottle" / "v0" / "images")
    (results / "fabric" / "openvino").mkdir(parents=True)
    (results / "fabric" / "openvino" / "model.xml").write_text("<net/>")
    (results / "SimpleNet" / "MVTecAD" / "bottle" / "v0" / "weights" / "openvino").mkdir(parents=True)
    (results / "SimpleNet" / "MVTecAD" / "bottle" / "v0" / "weights" / "openvino" / "model.xml").write_text("<net/>")
    (results / "SimpleNet" / "MVTecAD" / "bottle" / "latest").symlink_to(results / "SimpleNet" / "MVTecAD" / "bottle" / "v0")
    (tmp_path / "openvino").mkdir()
    (tmp_path / "openvino" / "model.xml").write_text("<net/>")  # above the results folder: never used
    _table(results / "elsewhere")

    runs = {run.name: run for run in find_runs(results)}

    assert sorted(runs) == ["SimpleNet/MVTecAD/bottle/v0/images", "elsewhere", "fabric/heatmaps", "fabric/openvino_predictions"]
    assert runs["fabric/heatmaps"].model_xml == str(results / "fabric" / "openvino" / "model.xml")
    assert runs["SimpleNet/MVTecAD/bottle/v0/images"].model_xml.endswith("v0/weights/openvino/model.xml")
    assert runs["elsewhere"].model_xml is None
    assert [row.gt for row in runs["elsewhere"].rows] == [False, True, False]
    assert [run.name for run in find_runs(results)][-1] == "fabric/openvino_predictions"  # re-scorings last


def test_a_table_itself_and_relative_paths_in_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "pics").mkdir()
    (tmp_path / "pics" / "a.png").write_bytes(b"")
    (tmp_path / "predictions.csv").write_text("image_path,pred_score,gt_label\npics/a.png,0.7,1\n")
    monkeypatch.chdir("/")
    (run,) = find_runs(tmp_path / "predictions.csv")
    assert run.rows[0].path == str(tmp_path / "pics" / "a.png")  # relative to the table when not from here
    assert run.rows[0].gt is True
    assert run.rows[0].mask == ""


def test_a_fleet_score_output_is_one_run_per_product_with_its_model(tmp_path: Path) -> None:
    (tmp_path / "scores.parquet").mkdir()
    pd.DataFrame({
        "path": ["/a/1.png", "/a/2.png", "/b/3.png"],
        "product": ["cable", "cable", "screw"],
        "score": [0.2, 0.9, 0.6],
        "label": [False, True, True],
        "heatmap": ["", "", ""],
        "model_key": ["k", "k", "k"],
    }).to_parquet(tmp_path / "scores.parquet" / "part-1.parquet")  # fmt: skip
    model = tmp_path / "models" / "cable" / "openvino" / "model.xml"
    model.parent.mkdir(parents=True)
    model.write_text("<net/>")
    (tmp_path / "score_run.json").write_text(json.dumps({"products": {"cable": str(model)}}))

    cable, screw = find_runs(tmp_path)

    assert (cable.name, len(cable.rows), cable.model_xml) == ("cable (fleet scores)", 2, str(model))
    assert [row.gt for row in cable.rows] == [None, None]
    assert screw.model_xml is None
    assert "no model recorded for screw" in screw.notes[0]
    assert find_runs(tmp_path / "scores.parquet")[0].name == "cable (fleet scores)"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda root: root / "missing", "not found: give a simplenet-demo output"),
        (lambda root: root, "no runs in"),
        (lambda root: (root / "notes.txt").write_text("x") and root / "notes.txt", "is not a predictions.csv"),
        (lambda root: (root / "predictions.csv").write_text("file,value\na,1\n") and root, "has no image_path and pred_score"),
        (lambda root: (root / "predictions.csv").write_text("image_path,pred_score\na,high\n") and root, "row 2: .* 'high'"),
    ],
)
def test_nothing_to_review_says_what_is_looked_for(tmp_path: Path, make: object, message: str) -> None:
    with pytest.raises(ReviewError, match=message):
        find_runs(make(tmp_path))


def test_a_threshold_is_saved_beside_the_model_and_never_over_it(tmp_path: Path) -> None:
    model = tmp_path / "openvino" / "model.xml"
    model.parent.mkdir()
    model.write_text("<net/>")
    path = write_threshold(model, 0.625, note="chosen by eye")
    assert path == model.parent / "review_threshold.json"
    assert model.read_text() == "<net/>"
    assert read_threshold(model) == 0.625
    assert json.loads(path.read_text())["model_threshold"] == 0.5
    assert sorted(item.name for item in model.parent.iterdir()) == ["model.xml", "review_threshold.json"]  # no temp left


@pytest.mark.parametrize("value", [1.5, -0.1, "abc", None, True, float("nan")])
def test_a_threshold_outside_0_1_is_refused(tmp_path: Path, value: object) -> None:
    (tmp_path / "model.xml").write_text("<net/>")
    with pytest.raises(ThresholdFileError, match="must be a number from 0 to 1"):
        write_threshold(tmp_path / "model.xml", value)
    assert not Path(threshold_path(tmp_path / "model.xml")).exists()


def test_a_broken_threshold_file_says_to_save_again_or_delete_it(tmp_path: Path) -> None:
    (tmp_path / "review_threshold.json").write_text("{not json")
    with pytest.raises(ThresholdFileError, match="save the threshold again with simplenet-review, or delete it"):
        read_threshold(tmp_path / "model.xml")


def test_no_model_no_threshold_file(tmp_path: Path) -> None:
    with pytest.raises(ThresholdFileError, match="no exported model"):
        write_threshold(tmp_path / "model.xml", 0.5)
