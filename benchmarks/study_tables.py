"""Markdown tables of the defaults study (``defaults_study.py``'s CSVs), as the README shows them.

Usage::

    python benchmarks/study_tables.py benchmarks/results/2026-12-01-cpu-2core
"""

import argparse
import csv
from collections import defaultdict
from pathlib import Path

# The setting every factor experiment varies one field of (defaults_study.Setting with sigma 0.35).
BASE = {
    "backbone": "efficientnet_lite0",
    "layers": "blocks.2,blocks.4",
    "patch_size": "3",
    "discriminator_hidden": "256",
    "adaptor_init": "default",
}
BASE_LABEL = "base: lite0 blocks.2+blocks.4, 256 units, patch 3, PyTorch init"
FACTOR_LABELS = {
    "init": lambda row: f"adaptor init {row['adaptor_init']}",
    "hidden": lambda row: f"discriminator {row['discriminator_hidden']} units",
    "patch": lambda row: f"patch size {row['patch_size']}",
    "layers": lambda row: f"levels {row['layers'].replace(',', '+')}",
    "lite_backbones": lambda row: row["backbone"],
    "random_backbones": lambda row: f"{row['backbone']} (random weights)",
}


def read(folder: Path, experiment: str) -> dict[str, list[dict[str, str]]]:
    """Rows of ``defaults_study_<experiment>_<category>.csv`` by category."""
    rows: dict[str, list[dict[str, str]]] = {}
    for path in sorted(folder.glob(f"defaults_study_{experiment}_*.csv")):
        with path.open() as file:
            rows[path.stem.rsplit("_", 1)[1]] = list(csv.DictReader(file))
    return rows


def sigma_table(rows: dict[str, list[dict[str, str]]], epoch: str = "20") -> str:
    """Held-out pixel AUROC / PRO / image AUROC (standardised max) per sigma, one column pair per category."""
    categories = list(rows)
    table: dict[str, dict[str, str]] = defaultdict(dict)
    for category, category_rows in rows.items():
        for row in category_rows:
            if row["epoch"] == epoch:
                label = f"{row['noise_std']} ({row['noise_scale']})"
                metrics = (row["pixel_auroc"], row["pro"], row["image_auroc_standardised_max"])
                table[label][category] = " / ".join(f"{float(value):.3f}" for value in metrics)
    header = "| sigma | " + " | ".join(f"{c}: pixel AUROC / PRO / image AUROC (std. max)" for c in categories) + " |"
    lines = [header, "|---|" + "---|" * len(categories)]
    lines += [f"| {label} | " + " | ".join(cells.get(c, "-") for c in categories) + " |" for label, cells in table.items()]
    return "\n".join(lines)


def factor_table(rows: dict[str, list[dict[str, str]]], epoch: str = "20") -> str:
    """One line per setting of the factor experiments: held-out metrics and head training time per category."""
    categories = list(rows)
    table: dict[str, dict[str, str]] = defaultdict(dict)
    for category, category_rows in rows.items():
        for row in category_rows:
            if row["epoch"] != epoch:
                continue
            is_base = all(row[key] == value for key, value in BASE.items())
            label = BASE_LABEL if is_base else FACTOR_LABELS[row["experiment"]](row)
            table[label][category] = (
                f"{float(row['pixel_auroc']):.3f} / {float(row['pro']):.3f} / "
                f"{float(row['image_auroc_max']):.3f} / {float(row['image_auroc_standardised_max']):.3f} / "
                f"{float(row['head_seconds']):.0f} s"
            )
    header = "| setting | " + " | ".join(f"{c}: pixel AUROC / PRO / image AUROC max / std. max / head time" for c in categories)
    lines = [header + " |", "|---|" + "---|" * len(categories)]
    lines += [f"| {label} | " + " | ".join(cells.get(c, "-") for c in categories) + " |" for label, cells in table.items()]
    return "\n".join(lines)


def main() -> None:
    """Print both tables."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--epoch", default="20")
    args = parser.parse_args()
    print(sigma_table(read(args.folder, "sigma"), args.epoch), end="\n\n")
    print(factor_table(read(args.folder, "factors"), args.epoch))


if __name__ == "__main__":
    main()
