"""Each committed benchmark folder describes its own runs: its config.json and header.md cover every run in runs.csv."""

import json

import pandas as pd
import pytest

from anomalib_simplenet.tools.benchmark.config import BenchmarkConfig

from conftest import REPO

FOLDERS = sorted(path.parent for path in (REPO / "benchmarks" / "results").glob("*/*/config.json"))


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda folder: f"{folder.parent.name}/{folder.name}")
def test_the_folders_config_and_header_cover_every_run_in_it(folder) -> None:
    content = json.loads((folder / "config.json").read_text())
    for entry in content["data"] if isinstance(content["data"], list) else []:  # configs older than archive: (table 5)
        if entry.get("generate") == "cifar10":
            entry.setdefault("archive", "the archive it was made from")
    config = BenchmarkConfig.from_dict(content)
    runs = pd.read_csv(folder / "runs.csv")
    runs = runs[runs["model"] != "backbone-only"]
    assert set(runs["model"]) <= {model.title for model in config.models}, folder
    assert set(runs["category"]) <= set(config.categories), folder
    assert set(runs["seed"]) <= set(config.seeds), folder
    header = (folder / "header.md").read_text()
    if not header.startswith("Measured on "):  # written by hand before the report generated headers (2026-12-01)
        return
    assert f"seeds {list(config.seeds)}" in header, folder
    assert str(list(config.categories)) in header, folder
