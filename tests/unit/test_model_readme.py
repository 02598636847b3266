"""The model folder's README states benchmark figures: each one is the committed side-by-side run's, to three decimals."""

import re

import pandas as pd

from conftest import REPO

README = REPO / "anomalib_simplenet" / "simplenet" / "README.md"
SUMMARY = REPO / "benchmarks" / "results" / "2026-12-03-cpu-2core" / "side_by_side_lite0" / "summary.csv"
CATEGORIES = {"MVTec AD bottle": "bottle", "VisA macaroni1": "macaroni1", "MVTec AD transistor": "transistor"}
COLUMNS = ("image_AUROC_mean", "pixel_AUROC_mean", "pixel_AUPRO_mean")


def test_the_model_readmes_figures_are_the_committed_results() -> None:
    summary = pd.read_csv(SUMMARY).set_index(["model", "category"])
    rows = re.findall(r"^\| (MVTec AD \w+|VisA \w+) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \|$", README.read_text(), re.MULTILINE)
    assert sorted(name for name, *_ in rows) == sorted(CATEGORIES)
    for name, *figures in rows:
        expected = summary.loc[("SimpleNet", CATEGORIES[name])]
        assert [float(figure) for figure in figures] == [round(float(expected[column]), 3) for column in COLUMNS], name
    assert (summary.loc[[("SimpleNet", category) for category in CATEGORIES.values()], "seeds"] == 3).all()
