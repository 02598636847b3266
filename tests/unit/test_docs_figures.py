"""Figures typed in the documentation's prose and tables are the committed results': each one is recomputed here."""

import re

import pandas as pd

from conftest import REPO

RESULTS = REPO / "benchmarks" / "results"
PAPER_TABLES = (REPO / "docs" / "paper-tables.md").read_text()


def runs_of(folder_name: str) -> pd.DataFrame:
    """Every model run (not the backbone-only rows) of the results folders called ``folder_name``, on any date."""
    runs = pd.concat([pd.read_csv(path) for path in sorted(RESULTS.glob(f"*/{folder_name}/runs.csv"))])
    return runs[runs["model"] != "backbone-only"]


def test_the_paper_tables_time_column_is_the_sum_of_fit_and_test_of_their_rows() -> None:
    lines = [line for line in PAPER_TABLES.splitlines() if re.match(r"^\| (Table \d|Fig\. \d)", line)]
    assert len(lines) == 6
    for line in lines:
        config = re.search(r"`(paper_\w+?)_(?:lite0_)?cpu\.yaml`", line).group(1)
        runs = runs_of(config)
        cells = re.findall(r"(\w[\w ]*?): (\d+) rows(?: \(3 models\))?, ([\d.]+) min", line)
        assert cells, line
        for category, rows, minutes in cells:
            mine = runs if category == "all ten classes" else runs[runs["category"] == category]
            assert int(rows) == len(mine), (config, category)
            assert float(minutes) == round((mine["fit_s"].sum() + mine["test_s"].sum()) / 60, 1), (config, category)


def test_table_5s_per_class_figures_and_the_counts_said_about_them_are_the_runs() -> None:
    runs = runs_of("paper_table5_cifar10").pivot_table(index="category", columns="model", values="image_AUROC")
    for category, simplenet, patchcore, padim in re.findall(
        r"^\| (\w+) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \| (?:per class not given)? \|$", PAPER_TABLES, re.MULTILINE
    ):
        expected = [round(runs.loc[category, model], 3) for model in ("SimpleNet", "Patchcore", "Padim")]
        assert [float(simplenet), float(patchcore), float(padim)] == expected, category
    for model, count in re.findall(r"(PatchCore|PaDiM) \([\d.]+, better on (\d+) of 10", PAPER_TABLES):
        column = {"PatchCore": "Patchcore", "PaDiM": "Padim"}[model]
        assert int(count) == int((runs[column] > runs["SimpleNet"]).sum()), model
    assert len(runs) == 10


def test_the_seed_spread_table_is_the_committed_csvs() -> None:
    import sys

    sys.path.insert(0, str(REPO / "benchmarks"))
    from seed_spread import BEGIN, END, markdown

    page = (REPO / "docs" / "benchmark.md").read_text()
    block = page.split(BEGIN, 1)[1].split(END, 1)[0]
    assert block == "\n" + markdown(RESULTS / "2026-12-07-epyc-2core" / "seed_spread.csv")
