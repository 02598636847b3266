"""Turn the rows of a benchmark run into a summary table, markdown, plots and the README's results block."""

import json
import os
import re
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from .config import BACKBONE_ONLY

ACCURACY = {
    "image_AUROC": "image AUROC",
    "pixel_AUROC": "pixel AUROC",
    "pixel_AUPRO": "PRO",
    "image_F1Score": "image F1",
    "pixel_F1Score": "pixel F1",
}
# (reference model, metric, allowed shortfall, label): SimpleNet against PaDiM (the floor) and PatchCore (the aim),
# same backbone, same run, per category (the localisation issue).
ACCURACY_TARGETS = (
    ("Padim", "image_AUROC", 0.0, "image AUROC >= PaDiM"),
    ("Padim", "pixel_AUROC", 0.0, "pixel AUROC >= PaDiM"),
    ("Patchcore", "image_AUROC", 0.0, "image AUROC >= PatchCore"),
    ("Patchcore", "pixel_AUROC", 0.005, "pixel AUROC >= PatchCore - 0.005"),
    ("Patchcore", "pixel_AUPRO", 0.02, "PRO >= PatchCore - 0.02"),
)
README_BEGIN, README_END = "<!-- benchmark-results:begin -->", "<!-- benchmark-results:end -->"


def collect_runs(output: Path) -> pd.DataFrame:
    """Every finished run in ``output/runs/``: all invocations into this folder, in the config's order.

    A comparison may be assembled from several calls into one ``--output`` (one model per call, say): each
    call adds its runs, and the report covers them all. Rows are ordered backbone-only first, then by the
    model order of ``output/config.json``, category and seed. Without a ``runs/`` folder: ``runs.csv``.

    Example:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp()); (folder / "runs").mkdir()
        >>> for name, model in (("b", "SimpleNet"), ("a", "backbone-only")):
        ...     _ = (folder / "runs" / f"{name}.json").write_text(json.dumps({"model": model, "category": "c", "seed": 0}))
        >>> list(collect_runs(folder)["model"])
        ['backbone-only', 'SimpleNet']

    """
    files = [path for path in sorted((output / "runs").glob("*.json")) if not path.name.endswith(".job.json")]
    if not files:
        return pd.read_csv(output / "runs.csv")
    runs = pd.DataFrame.from_records([json.loads(path.read_text()) for path in files])
    config = json.loads((output / "config.json").read_text()) if (output / "config.json").exists() else {}
    models = [BACKBONE_ONLY] + [model.get("label") or model["name"] for model in config.get("models", [])]
    models += sorted(set(runs["model"]) - set(models))
    categories = list(config.get("categories", []))
    categories += sorted(set(runs["category"]) - set(categories))
    keys = pd.DataFrame({
        "model": runs["model"].map(models.index),
        "category": runs["category"].map(categories.index),
        "seed": runs["seed"],
    })  # fmt: skip
    return runs.loc[keys.sort_values(["model", "category", "seed"], kind="stable").index].reset_index(drop=True)


MACHINE = "machine"


def collect_folders(folders: list[Path]) -> pd.DataFrame:
    """Return the finished runs of several benchmark folders as one table, each row tagged with folder and machine.

    A comparison may join runs measured on different machines (a model added later, say): accuracy does not depend on
    the machine, speed does. Each row gets ``source`` (its folder) and ``machine`` (the CPU and core count of the
    folder's ``environment.json``), so :func:`summarise` divides each run's speed by the backbone measured on the same
    machine and keeps the machines apart. Rows keep :func:`collect_runs`' order, folder after folder.

    Example:
        >>> import tempfile
        >>> folders = [Path(tempfile.mkdtemp()), Path(tempfile.mkdtemp())]
        >>> for folder, model, cpu in zip(folders, ["SimpleNet", "Supersimplenet"], ["Xeon", "EPYC"]):
        ...     (folder / "runs").mkdir()
        ...     _ = (folder / "runs" / "run.json").write_text(json.dumps({"model": model, "category": "c", "seed": 0}))
        ...     _ = (folder / "environment.json").write_text(json.dumps({"cpu": cpu, "cpu_count": "2"}))
        >>> collect_folders(folders)[["model", "machine"]].to_numpy().tolist()
        [['SimpleNet', 'Xeon (2 cores)'], ['Supersimplenet', 'EPYC (2 cores)']]

    """
    tables = []
    for folder in folders:
        environment_file = folder / "environment.json"
        info = json.loads(environment_file.read_text()) if environment_file.is_file() else {}
        machine = f"{info['cpu']} ({info['cpu_count']} cores)" if "cpu" in info else f"the machine of {folder}"
        tables.append(collect_runs(folder).assign(source=str(folder), machine=machine))
    return pd.concat(tables, ignore_index=True)


def _machines(table: pd.DataFrame) -> list[str]:
    """``["machine"]`` when ``table`` holds rows of more than one machine (the key that keeps them apart), else ``[]``."""
    return [MACHINE] if MACHINE in table and table[MACHINE].nunique() > 1 else []


def speed_columns(runs: pd.DataFrame) -> list[str]:
    """Throughput columns present in ``runs`` (``torch_cpu_b1_img_s``, ``openvino_cpu_b32_img_s``...)."""
    return [column for column in runs.columns if column.endswith("_img_s")]


def summarise(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean and standard deviation over seeds per model and category, plus time ratios to backbone-only.

    A ratio column ``<speed column>_x_backbone`` is (time per image of the model) / (time per image of
    the frozen backbone alone) for the same runtime, device and batch size: 1.0 is the floor. Runs of several
    machines (a ``machine`` column, :func:`collect_folders`) are divided by their own machine's backbone and
    summarised per machine.

    Example:
        >>> runs = pd.DataFrame({"model": ["backbone-only", "M", "M"], "category": ["c"] * 3, "seed": [0, 0, 1],
        ...                      "torch_cpu_b1_img_s": [20.0, 10.0, 10.0], "image_AUROC": [None, 0.9, 1.0]})
        >>> row = summarise(runs).set_index("model").loc["M"]
        >>> float(row["image_AUROC_mean"]), float(row["torch_cpu_b1_img_s_x_backbone_mean"]), int(row["seeds"])
        (0.95, 2.0, 2)

    """
    runs = runs.copy()
    keys = ["category", *_machines(runs)]
    for column in speed_columns(runs):
        floor = runs[runs["model"] == BACKBONE_ONLY].groupby(keys)[column].mean().rename("floor")
        matched = runs[keys].merge(floor, left_on=keys, right_index=True, how="left")["floor"].to_numpy()
        runs[f"{column}_x_backbone"] = matched / runs[column]
    numeric = [column for column in runs.select_dtypes("number").columns if column != "seed"]
    grouped = runs.groupby(["model", *keys], sort=False)
    summary = grouped[numeric].agg(["mean", "std"])
    summary.columns = [f"{column}_{statistic}" for column, statistic in summary.columns]
    summary.insert(0, "seeds", grouped["seed"].nunique())
    return summary.reset_index()


def _cell(row: pd.Series, column: str, digits: int) -> str:
    mean, spread = row.get(f"{column}_mean"), row.get(f"{column}_std")
    if mean is None or pd.isna(mean):
        return "-"
    if spread is None or pd.isna(spread) or row["seeds"] < 2:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {spread:.{digits}f}"


def markdown_tables(summary: pd.DataFrame) -> str:
    """Accuracy table and cost table (mean ± std over seeds) as markdown."""
    speed = [column[: -len("_mean")] for column in summary.columns if column.endswith("_img_s_mean")]
    machines = _machines(summary)  # runs of several machines: each row says where it was measured
    where = ["measured on"] * len(machines)
    head = ["model", "category", *where, "seeds", *ACCURACY.values()]
    lines = ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    for _, row in summary[summary["model"] != BACKBONE_ONLY].iterrows():
        cells = [str(row["model"]), str(row["category"]), *[str(row[key]) for key in machines], str(row["seeds"])]
        lines.append("| " + " | ".join(cells + [_cell(row, column, 3) for column in ACCURACY]) + " |")
    speed_names = [column.removesuffix("_img_s").replace("_", " ") for column in speed]
    header = ["model", "category", *where, "fit s", *[f"{name} img/s" for name in speed_names]]
    header += [f"{name} x backbone" for name in speed_names]
    header += ["peak RSS MiB", "checkpoint MiB", "OpenVINO MiB"]
    lines += ["", "| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    for _, row in summary.iterrows():
        cells = [str(row["model"]), str(row["category"]), *[str(row[key]) for key in machines], _cell(row, "fit_s", 1)]
        cells += [_cell(row, column, 1) for column in speed]
        cells += [_cell(row, f"{column}_x_backbone", 2) for column in speed]
        cells += [_cell(row, "peak_rss_mb", 0), _cell(row, "checkpoint_mb", 1), _cell(row, "openvino_mb", 1)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def category_tables(summary: pd.DataFrame) -> str:
    """Each accuracy metric as one row per model and one column per category, with the mean over categories.

    The layout of the paper's tables (Table 5: ten CIFAR-10 classes and their mean); empty with one category.

    Example:
        >>> summary = pd.DataFrame({"model": ["A", "A", "B", "B"], "category": ["c", "d", "c", "d"],
        ...                         "image_AUROC_mean": [0.9, 0.7, 1.0, 0.6]})
        >>> print(category_tables(summary))
        image AUROC per category:
        <BLANKLINE>
        | model | c | d | mean |
        |---|---|---|---|
        | A | 0.900 | 0.700 | 0.800 |
        | B | 1.000 | 0.600 | 0.800 |

    """
    summary = summary[summary["model"] != BACKBONE_ONLY]
    categories = list(dict.fromkeys(summary["category"]))
    if len(categories) < 2:
        return ""
    blocks = []
    for column, title in ACCURACY.items():
        if f"{column}_mean" not in summary or summary[f"{column}_mean"].isna().all():
            continue
        table = summary.pivot_table(index="model", columns="category", values=f"{column}_mean", sort=False)
        table = table.reindex(index=list(dict.fromkeys(summary["model"])), columns=categories)
        lines = [f"{title} per category:", "", "| model | " + " | ".join(categories) + " | mean |"]
        lines.append("|---" * (len(categories) + 2) + "|")
        for model, values in table.iterrows():
            cells = ["-" if pd.isna(value) else f"{value:.3f}" for value in values]
            mean = "-" if values.isna().any() else f"{values.mean():.3f}"  # a mean over some categories would mislead
            lines.append(f"| {model} | " + " | ".join(cells) + f" | {mean} |")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _mean(summary: pd.DataFrame, model: str, column: str) -> float | None:
    values = summary.loc[summary["model"].str.lower() == model.lower(), f"{column}_mean"] if f"{column}_mean" in summary else []
    return float(values.mean()) if len(values) and not pd.isna(values.mean()) else None


def target_checks(summary: pd.DataFrame) -> list[tuple[str, bool, str]]:
    """Check the targets of the project's benchmark issue on ``summary``: (target, met, evidence) triples."""
    checks = []

    def check(name: str, measured: float | None, limit: float, higher_is_better: bool, evidence: str) -> None:
        if measured is not None:
            checks.append((name, measured >= limit if higher_is_better else measured <= limit, evidence.format(measured)))

    for batch in sorted({int(c.split("_b")[1].split("_")[0]) for c in summary.columns if c.startswith("torch_cpu_b")}):
        column = f"torch_cpu_b{batch}_img_s"
        simplenet, patchcore, padim = (_mean(summary, m, column) for m in ("SimpleNet", "Patchcore", "Padim"))
        if simplenet and patchcore:
            check(f"torch CPU b{batch}: SimpleNet >= 3x PatchCore img/s", simplenet / patchcore, 3.0, True, "{:.2f}x")
        if simplenet and padim:
            check(f"torch CPU b{batch}: SimpleNet >= PaDiM img/s", simplenet / padim, 1.0, True, "{:.2f}x")
        ratio = _mean(summary, "SimpleNet", f"{column}_x_backbone")
        if ratio:
            check(f"torch CPU b{batch}: SimpleNet head adds <= 25% over backbone-only", ratio - 1, 0.25, False, "{:+.0%}")
        openvino = _mean(summary, "SimpleNet", f"openvino_cpu_b{batch}_img_s")
        if simplenet and openvino:
            check(f"b{batch}: OpenVINO CPU >= 1.5x torch CPU for SimpleNet", openvino / simplenet, 1.5, True, "{:.2f}x")
    simplenet_fit, patchcore_fit = _mean(summary, "SimpleNet", "fit_s"), _mean(summary, "Patchcore", "fit_s")
    if simplenet_fit and patchcore_fit:
        check("SimpleNet training < PatchCore fit (wall time)", simplenet_fit / patchcore_fit, 1.0, False, "{:.2f}x PatchCore's")
    categories = summary["category"].unique() if "category" in summary else [None]
    for category in categories:  # the accuracy targets hold per category, not on the average
        rows = summary if category is None else summary[summary["category"] == category]
        where = "" if category is None else f"{category}: "
        for reference, column, margin, label in ACCURACY_TARGETS:
            simplenet, other = _mean(rows, "SimpleNet", column), _mean(rows, reference, column)
            if simplenet is not None and other is not None:
                check(f"{where}SimpleNet {label}", simplenet - other, -margin, True, "{:+.4f}")
    return checks


MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "h", "<")
SCATTER_METRICS = ("image_AUROC", "pixel_AUROC")


def styles(summary: pd.DataFrame) -> tuple[dict[str, str], dict[str, str]]:
    """One colour per model and one marker per category, in the order they appear in ``summary``.

    Example:
        >>> colours, markers = styles(pd.DataFrame({"model": ["A", "A", "B"], "category": ["x", "y", "x"]}))
        >>> colours, markers
        ({'A': 'C0', 'B': 'C1'}, {'x': 'o', 'y': 's'})

    """
    models = [model for model in dict.fromkeys(summary["model"]) if model != BACKBONE_ONLY]
    categories = list(dict.fromkeys(summary["category"]))
    return {model: f"C{number % 10}" for number, model in enumerate(models)}, {
        category: MARKERS[number % len(MARKERS)] for number, category in enumerate(categories)
    }


FLOOR_LINES = ("--", ":", "-.")


def _floors(summary: pd.DataFrame, column: str) -> dict[str, float]:
    """Return the backbone-only mean of ``column`` per machine (one entry, ``""``, when all runs share a machine)."""
    rows = summary[summary["model"] == BACKBONE_ONLY]
    if not _machines(summary):
        return {"": float(rows[column].mean())} if len(rows) else {}
    return {str(machine): float(value) for machine, value in rows.groupby(MACHINE, sort=False)[column].mean().items()}


def _legends(figure: plt.Figure, colours: dict[str, str], markers: dict[str, str], floors: list[str]) -> None:
    """Two legends beside the panels: colour = model, marker = category (no labels on the points to collide)."""
    model_handles = [plt.Line2D([], [], color=c, marker="o", linestyle="", label=m) for m, c in colours.items()]
    for number, machine in enumerate(floors):
        label = f"backbone only ({machine})" if machine else "backbone only"
        model_handles.append(plt.Line2D([], [], color="grey", linestyle=FLOOR_LINES[number % 3], label=label))
    category_handles = [plt.Line2D([], [], color="black", marker=k, linestyle="", label=c) for c, k in markers.items()]
    first = figure.legend(handles=model_handles, title="model (colour)", loc="upper left", bbox_to_anchor=(1.0, 0.95))
    figure.add_artist(first)
    figure.legend(handles=category_handles, title="category (marker)", loc="upper left", bbox_to_anchor=(1.0, 0.5))


def plot(summary: pd.DataFrame, output: Path) -> list[Path]:
    """Write ``speed_vs_accuracy.png`` (the paper's Fig. 2 idea) and ``metrics.png`` (bars per metric and category).

    In the scatter, each model has one colour and each category one marker (legends beside the panels); rows are
    image and pixel AUROC, columns the runtimes and batch sizes, error bars the spread over seeds.
    """
    models = summary[summary["model"] != BACKBONE_ONLY]
    colours, markers = styles(summary)
    speeds = [
        c[: -len("_mean")] for c in summary.columns if c.endswith("_img_s_mean") and c.startswith(("torch_cpu", "openvino"))
    ]
    metrics = [metric for metric in SCATTER_METRICS if f"{metric}_mean" in models]
    figure, axes = plt.subplots(len(metrics), len(speeds), figsize=(4 * len(speeds), 3.4 * len(metrics)), squeeze=False)
    for row_axes, metric in zip(axes, metrics, strict=True):
        for axis, speed in zip(row_axes, speeds, strict=True):
            for _, row in models.iterrows():
                axis.errorbar(
                    row[f"{speed}_mean"], row[f"{metric}_mean"], xerr=row.get(f"{speed}_std"), yerr=row.get(f"{metric}_std"),
                    fmt=markers[row["category"]], color=colours[row["model"]], capsize=2, markersize=6, alpha=0.85,
                )  # fmt: skip
            for number, floor in enumerate(_floors(summary, f"{speed}_mean").values()):
                axis.axvline(floor, color="grey", linestyle=FLOOR_LINES[number % 3])
            runtime = speed.removesuffix("_img_s").replace("_", " ")
            axis.set(
                xlabel=f"{runtime}: images/s (higher is faster)",
                ylabel=ACCURACY[metric],
                title=f"{ACCURACY[metric]} vs {runtime}",
            )
            axis.grid(alpha=0.3)
    figure.suptitle("Accuracy against inference speed: up and to the right is better", y=1.0)
    figure.tight_layout()
    _legends(figure, colours, markers, list(_floors(summary, f"{speeds[0]}_mean")) if speeds else [])
    scatter = output / "speed_vs_accuracy.png"
    figure.savefig(scatter, dpi=110, bbox_inches="tight")
    plt.close(figure)

    metrics = [column for column in ACCURACY if f"{column}_mean" in models]
    categories = list(dict.fromkeys(models["category"]))
    width = 0.8 / max(1, len(colours))
    figure, axes = plt.subplots(1, len(metrics), figsize=(max(3.0, 0.9 * len(categories)) * len(metrics), 3.8), squeeze=False)
    for axis, column in zip(axes[0], metrics, strict=True):
        for number, (model, colour) in enumerate(colours.items()):
            rows = models[models["model"] == model].set_index("category").reindex(categories)
            positions = [index + (number - (len(colours) - 1) / 2) * width for index in range(len(categories))]
            axis.bar(positions, rows[f"{column}_mean"], width, yerr=rows[f"{column}_std"].fillna(0), capsize=2, color=colour)
        low = float(models[f"{column}_mean"].min())
        axis.set(title=ACCURACY[column], ylim=(max(0.0, low - 0.1), 1.0))
        axis.set_xticks(range(len(categories)), categories, rotation=30)
    figure.tight_layout()
    figure.legend(
        handles=[plt.Rectangle((0, 0), 1, 1, color=c, label=m) for m, c in colours.items()],
        title="model",
        loc="upper left",
        bbox_to_anchor=(1.0, 0.9),
    )
    bars = output / "metrics.png"
    figure.savefig(bars, dpi=110, bbox_inches="tight")
    plt.close(figure)
    return [scatter, bars]


def write_report(runs: pd.DataFrame, output: Path, header: str) -> str:
    """Write ``summary.csv``, ``results.md`` and the plots into ``output``; return the markdown."""
    summary = summarise(runs)
    summary.to_csv(output / "summary.csv", index=False)
    pictures = plot(summary, output)
    checks = target_checks(summary)
    lines = [header, "", markdown_tables(summary), ""]
    if per_category := category_tables(summary):
        lines += [per_category, ""]
    if checks:
        lines += ["| target | met | measured |", "|---|---|---|"]
        lines += [f"| {name} | {'yes' if met else '**no**'} | {evidence} |" for name, met, evidence in checks]
        lines.append("")
    lines += [f"![{picture.stem}]({picture.name})" for picture in pictures]
    markdown = "\n".join(lines) + "\n"
    (output / "results.md").write_text(markdown)
    return markdown


def update_readme(readme: Path, results_dir: Path) -> None:
    """Replace the README block between the benchmark markers with ``results_dir/results.md``.

    Image links are rewritten relative to the README.

    Raises:
        ValueError: If the README lacks the two marker lines.

    """
    text = readme.read_text()
    if README_BEGIN not in text or README_END not in text:
        msg = f"{readme} has no '{README_BEGIN}' ... '{README_END}' block to fill."
        raise ValueError(msg)
    relative = Path(os.path.relpath(Path(results_dir).resolve(), readme.resolve().parent))  # may climb out: ../benchmarks/...
    body = re.sub(
        r"\]\(([^)/]+\.png)\)", lambda m: f"]({relative.as_posix()}/{m.group(1)})", (results_dir / "results.md").read_text()
    )
    before, rest = text.split(README_BEGIN, 1)
    after = rest.split(README_END, 1)[1]
    readme.write_text(f"{before}{README_BEGIN}\n{body}{README_END}{after}")
