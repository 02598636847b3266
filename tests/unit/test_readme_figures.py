"""The README's side-by-side table: every figure is the committed run's ``summary.csv``, rounded as printed."""

import math
import re

import pandas as pd

from conftest import REPO

SUMMARY = REPO / "benchmarks" / "results" / "2026-12-08-epyc-2core" / "side_by_side_lite0_joined" / "summary.csv"
SEED_SPREAD = REPO / "benchmarks" / "results" / "2026-12-07-epyc-2core" / "seed_spread.csv"
CATEGORIES = {"MVTec AD bottle": "bottle", "VisA macaroni1": "macaroni1", "MVTec AD transistor": "transistor"}
MODELS = {"SimpleNet": "SimpleNet", "PaDiM": "Padim", "PatchCore": "Patchcore", "SuperSimpleNet": "Supersimplenet"}
ROW = re.compile(
    r"^\| (MVTec AD \w+|VisA \w+) \| (\w+) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \| (\d+) \| (\d+|-) \|$", re.MULTILINE
)


def test_the_readmes_side_by_side_table_is_the_committed_summary() -> None:
    summary = pd.read_csv(SUMMARY).set_index(["model", "category"])
    rows = ROW.findall((REPO / "README.md").read_text())
    expected_rows = [key for key in summary.index if key[0] in MODELS.values() and key[1] in CATEGORIES.values()]
    assert len(rows) == len(expected_rows), "one README row per model and real category of the run"
    for category, model, image, pixel, pro, fit, openvino in rows:
        run = summary.loc[(MODELS[model], CATEGORIES[category])]
        assert run["seeds"] == 3, (model, category)
        figures = [float(image), float(pixel), float(pro)]
        assert figures == [round(run[f"{name}_mean"], 3) for name in ("image_AUROC", "pixel_AUROC", "pixel_AUPRO")]
        assert int(fit) == round(run["fit_s_mean"]), (model, category)
        speed = run["openvino_cpu_b1_img_s_mean"]
        assert openvino == ("-" if math.isnan(speed) else str(round(speed))), (model, category)


def test_the_readmes_spread_of_one_fit_is_the_seed_spread_csv() -> None:
    """Each "<model>'s ... from A to B" of the paragraph is the minimum and maximum image AUROC over every run of that
    model on the category named last before it ("on transistor", "on bottle")."""
    paragraph = (REPO / "README.md").read_text().split("**How much one fit varies**", 1)[1].split("\n\n", 1)[0]
    runs = pd.read_csv(SEED_SPREAD)
    said = list(re.finditer(r"(SimpleNet|PaDiM)(?: fit)?'s\D*?from\s+(\d\.\d{3})\s+to\s+(\d\.\d{3})", paragraph))
    assert len(said) == 3, paragraph
    for match in said:
        category = re.findall(r"on (bottle|transistor)", paragraph[: match.start()])[-1]
        model, low, high = match.groups()
        values = runs[(runs["model"] == MODELS[model]) & (runs["category"] == category)]["image_AUROC"]
        assert len(values) == 15, (model, category)  # five seeds, three settings
        assert [float(low), float(high)] == [round(values.min(), 3), round(values.max(), 3)], (model, category)


def test_the_readmes_supersimplenet_range_is_its_rows_and_it_is_the_slowest_per_backbone() -> None:
    """The SuperSimpleNet bullet's "image AUROC A to B" spans its real-category means; its inference, timed on
    another machine, is compared by the time per image over that machine's backbone ('x backbone')."""
    summary = pd.read_csv(SUMMARY)
    bullet = (REPO / "README.md").read_text().split("- **SuperSimpleNet**", 1)[1].split("\n- ", 1)[0]
    low, high = map(float, re.search(r"image AUROC (\d\.\d\d) to (\d\.\d\d)", bullet).groups())
    real = summary[summary["category"].isin(CATEGORIES.values())].set_index("model")
    means = real.loc["Supersimplenet", "image_AUROC_mean"]
    assert [low, high] == [round(means.min(), 2), round(means.max(), 2)]
    slowdown = real.groupby(level="model")["openvino_cpu_b1_img_s_x_backbone_mean"].min()
    others = slowdown.drop(["Supersimplenet", "backbone-only"]).dropna()
    assert slowdown["Supersimplenet"] > others.max()
