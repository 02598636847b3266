"""Markdown tables of the defaults study (``defaults_study.py``'s CSVs), as the README shows them.

One table per experiment: a line per setting, and per category the held-out pixel AUROC / PRO / image AUROC on the
large synthetic defects and on the small ones, with the head's training time. Then, per category, how the ranking
of all settings changes between large and small defects (Spearman's rank correlation, and the best setting under
each). Usage::

    python benchmarks/study_tables.py benchmarks/results/2026-12-03-cpu-2core --epoch 20 \
        --plot benchmarks/results/2026-12-03-cpu-2core/embedding_accuracy_vs_time.png
    python benchmarks/study_tables.py benchmarks/results/2026-12-07-epyc-2core --experiment authors \
        --docs docs/differences-from-authors.md     # the table of that page, between its study-authors markers

``--plot`` draws the embedding experiment's accuracy-vs-time curve: per category and defect set, held-out pixel
AUROC and PRO against the head's training time, one point per embedding length.

(The tables of the first study, ``benchmarks/results/2026-12-01-cpu-2core``, were printed by this script as of
commit bb11ed7.)
"""

import argparse
import csv
from collections import defaultdict
from itertools import product
from pathlib import Path

from result_rows import fill_block

CATEGORIES = ("bottle", "macaroni1", "transistor")
LABELS = {
    "embedding": lambda row: (
        f"channel mean ({row['embedding_length']})"
        if row["embedding"] == "channel_mean"
        else f"unfolded {row['embedding_length']}"
    ),
    "sigma": lambda row: f"sigma {row['noise_std']} (relative)",
    "absolute_sigma": lambda row: f"sigma {row['noise_std']} (absolute)",
    "hidden": lambda row: f"discriminator {row['discriminator_hidden']} units",
    "patch": lambda row: f"patch size {row['patch_size']}",
    "layers": lambda row: f"levels {row['layers'].replace(',', '+')}",
    "init": lambda row: f"adaptor init {row['adaptor_init']}",
    "lite_backbones": lambda row: row["backbone"],
    "random_backbones": lambda row: f"{row['backbone']} (random weights)",
    "authors": lambda row: (
        f"noise {row['noise_std']} ({row['noise_scale']}), adaptor "
        + ("AdamW 0.01" if row["adaptor_optimiser"] == "adamw" else "Adam")
    ),
}
METRICS = ("pixel_auroc", "pro", "image_auroc_standardised_max")
# The authors' experiment also shows the paper's image score (the plain maximum), the other difference it tests.
EXPERIMENT_METRICS = {"authors": (*METRICS, "image_auroc_max")}


def read(folder: Path) -> list[dict[str, str]]:
    """Every row of every ``study_*.csv`` in ``folder``."""
    rows = []
    for path in sorted(folder.glob("study_*.csv")):
        with path.open() as file:
            rows += list(csv.DictReader(file))
    return rows


def label(row: dict[str, str]) -> str:
    """Return the line a row belongs to: its experiment's varied factor, as words."""
    return LABELS[row["experiment"]](row)


def averaged(rows: list[dict[str, str]], epoch: str, seed: str | None = None) -> list[dict]:
    """Rows of ``epoch`` averaged over the split seeds (or of one ``seed``), one per (experiment, setting, category, defects)."""
    groups: dict[tuple, list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        if row["epoch"] == epoch and seed in {None, row["seed"]}:
            groups[(row["experiment"], label(row), row["category"], row["defects"])].append(row)
    result = []
    for (experiment, name, category, defects), members in groups.items():
        mean = {key: sum(float(m[key]) for m in members) / len(members) for key in (*METRICS, "image_auroc_max", "head_seconds")}
        result.append({"experiment": experiment, "label": name, "category": category, "defects": defects,
                       "seeds": len(members), **mean})  # fmt: skip
    return result


def experiment_table(rows: list[dict], experiment: str) -> str:
    """One line per setting of ``experiment``: per category, large and small defects, head time and seeds."""
    cells: dict[str, dict[str, str]] = defaultdict(dict)
    categories = [c for c in CATEGORIES if any(r["category"] == c for r in rows)]
    for row in rows:
        if row["experiment"] != experiment:
            continue
        values = " / ".join(f"{row[metric]:.3f}" for metric in EXPERIMENT_METRICS.get(experiment, METRICS))
        cells[row["label"]][f"{row['category']} {row['defects']}"] = values
        cells[row["label"]][f"{row['category']} time"] = f"{row['head_seconds']:.0f}"
        cells[row["label"]][f"{row['category']} seeds"] = str(row["seeds"])
    header = ["setting"]
    for category in categories:
        header += [f"{category}: large", f"{category}: small", f"{category}: head s"]
    header.append("seeds")
    lines = ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    for name, line in cells.items():
        values = [name]
        for category in categories:
            values += [line.get(f"{category} large", "-"), line.get(f"{category} small", "-"), line.get(f"{category} time", "-")]
        values.append("/".join(line.get(f"{category} seeds", "-") for category in categories))
        lines.append("| " + " | ".join(values) + " |")
    return "\n".join(lines)


def _ranks(values: list[float]) -> list[float]:
    order = sorted(range(len(values)), key=lambda i: -values[i])
    ranks = [0.0] * len(values)
    for rank, index in enumerate(order):
        ranks[index] = float(rank)
    return ranks


def spearman(a: list[float], b: list[float]) -> float:
    """Spearman's rank correlation of two equally long lists (ties broken by order).

    Example:
        >>> spearman([1, 2, 3], [10, 20, 30]), spearman([1, 2, 3], [3, 2, 1])
        (1.0, -1.0)

    """
    ra, rb = _ranks(a), _ranks(b)
    n = len(a)
    return 1 - 6 * sum((x - y) ** 2 for x, y in zip(ra, rb, strict=True)) / (n * (n * n - 1))


def ranking_table(rows: list[dict]) -> str:
    """Per category and metric: rank agreement of all settings between large and small defects, and each one's best."""
    lines = [
        "| category | metric | settings | Spearman (large vs small) | best on large defects | best on small defects |",
        "|---|---|---|---|---|---|",
    ]
    for category in CATEGORIES:
        by_setting: dict[str, dict[str, dict]] = defaultdict(dict)
        for row in rows:
            if row["category"] == category:
                by_setting[row["label"]][row["defects"]] = row
        complete = {name: sets for name, sets in by_setting.items() if {"large", "small"} <= set(sets)}
        if len(complete) < 3:
            continue
        names = list(complete)
        for metric in METRICS:
            large = [complete[name]["large"][metric] for name in names]
            small = [complete[name]["small"][metric] for name in names]
            best_large, best_small = names[large.index(max(large))], names[small.index(max(small))]
            lines.append(
                f"| {category} | {metric} | {len(names)} | {spearman(large, small):+.2f} | {best_large} ({max(large):.3f}) "
                f"| {best_small} ({max(small):.3f}) |"
            )
    return "\n".join(lines)


def plot_embedding_curve(rows: list[dict[str, str]], epoch: str, path: Path) -> None:
    """Pixel AUROC and PRO against head training time for each embedding length, per category and defect set.

    One line per category and split seed (seed 0 solid, seed 1 dashed): averaging seeds where only some settings
    ran twice would make a curve out of unlike points.
    """
    import matplotlib as mpl  # noqa: PLC0415

    mpl.use("Agg")
    from matplotlib import pyplot as plt  # noqa: PLC0415

    figure, axes = plt.subplots(2, 2, figsize=(10, 7.5), sharex=True)
    for column, defects in enumerate(("large", "small")):
        for row_number, metric in enumerate(("pixel_auroc", "pro")):
            axis = axes[row_number][column]
            for (colour, category), (style, seed) in product(enumerate(CATEGORIES), (("-", "0"), ("--", "1"))):
                points = [
                    row
                    for row in averaged(rows, epoch, seed)
                    if row["experiment"] == "embedding" and row["category"] == category and row["defects"] == defects
                ]
                if not points:
                    continue
                unfolded = sorted((r for r in points if r["label"].startswith("unfolded")), key=lambda r: r["head_seconds"])
                mean = [r for r in points if r["label"].startswith("channel mean")]
                axis.plot(
                    [float(r["head_seconds"]) for r in unfolded], [float(r[metric]) for r in unfolded],
                    marker="o", color=f"C{colour}", linestyle=style, label=f"{category}: unfolded, split seed {seed}",
                )  # fmt: skip
                for r in unfolded:
                    axis.annotate(r["label"].split()[-1], (float(r["head_seconds"]), float(r[metric])), fontsize=7,
                                  textcoords="offset points", xytext=(3, -9))  # fmt: skip
                axis.plot(
                    [float(r["head_seconds"]) for r in mean], [float(r[metric]) for r in mean],
                    marker="x", markersize=9, linestyle="", color=f"C{colour}",
                    label=f"{category}: channel mean" if seed == "0" else None,
                )  # fmt: skip
            axis.set(title=f"{defects} synthetic defects: {'pixel AUROC' if metric == 'pixel_auroc' else 'PRO'}")
            axis.set_xscale("log")
            axis.set_xticks([10, 20, 50, 100, 200, 500, 1000, 2000], ["10", "20", "50", "100", "200", "500", "1000", "2000"])
            axis.minorticks_off()
            axis.grid(alpha=0.3)
            if row_number == 1:
                axis.set_xlabel("seconds to train the head (log scale)")
    axes[0][1].legend(fontsize=7, loc="lower right")
    figure.suptitle("Embedding length: held-out accuracy against training time (numbers: embedding length)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main() -> None:
    """Print every experiment's table and the ranking comparison."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--epoch", default="20")
    parser.add_argument("--plot", type=Path, default=None, help="PNG of the embedding experiment's accuracy-vs-time curve")
    parser.add_argument("--docs", type=Path, help="write --experiment's table into this page's study-<experiment> block")
    parser.add_argument("--experiment", default="authors", help="with --docs: which experiment (default: %(default)s)")
    args = parser.parse_args()
    rows = read(args.folder)
    if args.docs:
        fill_block(args.docs, f"study-{args.experiment}", experiment_table(averaged(rows, args.epoch), args.experiment) + "\n")
        return
    if args.plot:
        plot_embedding_curve(rows, args.epoch, args.plot)
    rows = averaged(rows, args.epoch)
    print("Cells: held-out pixel AUROC / PRO / image AUROC (standardised max) [/ image AUROC (plain max), authors' experiment];")
    print("head s: seconds to train the head.\n")
    for experiment in LABELS:
        if any(row["experiment"] == experiment for row in rows):
            print(f"### {experiment} (epoch {args.epoch})\n")
            print(experiment_table(rows, experiment), "\n")
    print(f"### How the ranking changes between large and small defects (epoch {args.epoch})\n")
    print(ranking_table(rows))


if __name__ == "__main__":
    main()
