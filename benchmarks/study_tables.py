"""Markdown tables of the defaults study (``defaults_study.py``'s CSVs), as the README shows them.

One table per experiment: a line per setting, and per category the held-out pixel AUROC / PRO / image AUROC on the
large synthetic defects and on the small ones, with the head's training time. Then, per category, how the ranking
of all settings changes between large and small defects (Spearman's rank correlation, and the best setting under
each). Usage::

    python benchmarks/study_tables.py benchmarks/results/2026-12-03-cpu-2core --epoch 20

(The tables of the first study, ``benchmarks/results/2026-12-01-cpu-2core``, were printed by this script as of
commit bb11ed7.)
"""

import argparse
import csv
from collections import defaultdict
from pathlib import Path

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
}
METRICS = ("pixel_auroc", "pro", "image_auroc_standardised_max")


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


def experiment_table(rows: list[dict[str, str]], experiment: str, epoch: str) -> str:
    """One line per setting of ``experiment``: per category, large and small defects, and head time."""
    cells: dict[str, dict[str, str]] = defaultdict(dict)
    categories = [c for c in CATEGORIES if any(r["category"] == c for r in rows)]
    for row in rows:
        if row["experiment"] != experiment or row["epoch"] != epoch:
            continue
        values = " / ".join(f"{float(row[metric]):.3f}" for metric in METRICS)
        cells[label(row)][f"{row['category']} {row['defects']}"] = values
        cells[label(row)][f"{row['category']} time"] = f"{float(row['head_seconds']):.0f}"
    header = ["setting"]
    for category in categories:
        header += [f"{category}: large", f"{category}: small", f"{category}: head s"]
    lines = ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    for name, line in cells.items():
        values = [name]
        for category in categories:
            values += [line.get(f"{category} large", "-"), line.get(f"{category} small", "-"), line.get(f"{category} time", "-")]
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


def ranking_table(rows: list[dict[str, str]], epoch: str) -> str:
    """Per category and metric: rank agreement of all settings between large and small defects, and each one's best."""
    lines = [
        "| category | metric | settings | Spearman (large vs small) | best on large defects | best on small defects |",
        "|---|---|---|---|---|---|",
    ]
    for category in CATEGORIES:
        by_setting: dict[str, dict[str, dict[str, str]]] = defaultdict(dict)
        for row in rows:
            if row["category"] == category and row["epoch"] == epoch:
                by_setting[label(row)][row["defects"]] = row
        complete = {name: sets for name, sets in by_setting.items() if {"large", "small"} <= set(sets)}
        if len(complete) < 3:
            continue
        names = list(complete)
        for metric in METRICS:
            large = [float(complete[name]["large"][metric]) for name in names]
            small = [float(complete[name]["small"][metric]) for name in names]
            best_large, best_small = names[large.index(max(large))], names[small.index(max(small))]
            lines.append(
                f"| {category} | {metric} | {len(names)} | {spearman(large, small):+.2f} | {best_large} ({max(large):.3f}) "
                f"| {best_small} ({max(small):.3f}) |"
            )
    return "\n".join(lines)


def main() -> None:
    """Print every experiment's table and the ranking comparison."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--epoch", default="20")
    args = parser.parse_args()
    rows = read(args.folder)
    print("Cells: held-out pixel AUROC / PRO / image AUROC (standardised max); head s: seconds to train the head.\n")
    for experiment in LABELS:
        if any(row["experiment"] == experiment for row in rows):
            print(f"### {experiment} (epoch {args.epoch})\n")
            print(experiment_table(rows, experiment, args.epoch), "\n")
    print(f"### How the ranking changes between large and small defects (epoch {args.epoch})\n")
    print(ranking_table(rows, args.epoch))


if __name__ == "__main__":
    main()
