r"""How much one fit varies: seeds, the validation split, and the random stream, for SimpleNet, PaDiM (and PatchCore).

Every run is a model of the side-by-side config (same backbone, weights, levels, input size and model arguments) on
one category with one seed, in one of three settings:

- ``same_as_test``: anomalib's default validation split for MVTec AD and VisA (the test set): all train/good images are
  trained on. The seed is set before the datamodule is built and again just before the fit.
- ``synthetic``: 10 % of train/good become synthetic defects for validation, as in the side-by-side; 90 % are trained
  on. The seed is set once, before the datamodule, as a user's script does: making the synthetic defects draws from
  the global random stream, so the fit starts from a different point of it.
- ``synthetic_reseeded``: the same 90 % of the images as ``synthetic``, the seed set again just before the fit.

So, seed for seed, ``same_as_test`` against ``synthetic_reseeded`` changes only the training images (all against
90 %) and ``synthetic`` against ``synthetic_reseeded`` changes only the random stream of the fit. Each row holds
AUROC and PRO on the raw scores and maps (``anomalib_simplenet.evaluation``) and, as ``clamped_*``, the same metrics on
the values anomalib's post-processor normalised and clamped with the validation statistics.

Rows are appended to ``--output`` as runs finish; a run already there is skipped, so a stopped study goes on where it
stopped. ``--report`` prints the spread per model, category and setting from the CSV::

    python benchmarks/seed_spread.py --output benchmarks/results/<folder>/seed_spread.csv \\
        --categories bottle transistor macaroni1 --seeds 0 1 2 3 4 --models SimpleNet Padim
    python benchmarks/seed_spread.py --output benchmarks/results/<folder>/seed_spread.csv --report
    python benchmarks/seed_spread.py --output benchmarks/results/<folder>/seed_spread.csv --report --docs docs/benchmark.md
"""

import argparse
import json
import time
from pathlib import Path
from typing import Any

import pandas as pd
from anomalib.engine import Engine
from anomalib.metrics import AUPRO, AUROC
from anomalib.pre_processing import PreProcessor
from lightning.pytorch import seed_everything
from result_rows import append_row, fill_block, mean_and_range, rows_done

from anomalib_simplenet.tools.benchmark.config import BenchmarkConfig, Job, resolve_backbone_weights
from anomalib_simplenet.tools.benchmark.job import build_model, trainer_settings
from anomalib_simplenet.tools.datamodules import datamodule_for

SETTINGS = ("same_as_test", "synthetic", "synthetic_reseeded")
METRICS = ("image_AUROC", "pixel_AUROC", "pixel_AUPRO", "clamped_image_AUROC", "clamped_pixel_AUROC", "clamped_pixel_AUPRO")


def add_clamped_metrics(model: Any) -> None:  # noqa: ANN401
    """Also compute AUROC and PRO on the normalised and clamped values the post-processor leaves on the batch."""
    model.evaluator.test_metrics.extend(
        [
            AUROC(fields=["pred_score", "gt_label"], prefix="clamped_image_"),
            AUROC(fields=["anomaly_map", "gt_mask"], prefix="clamped_pixel_", strict=False),
            AUPRO(fields=["anomaly_map", "gt_mask"], prefix="clamped_pixel_", strict=False),
        ]
    )


def run(job: Job, setting: str, work_dir: Path, pre_processor: PreProcessor | None = None) -> dict[str, Any]:
    """Fit and test one job in one setting; return its row.

    ``pre_processor`` replaces the model's (the config's resize to ``image_size``), for training and test alike.
    """
    entry = job.config.data_for(job.category)
    split = "same_as_test" if setting == "same_as_test" else "synthetic"
    entry = {**entry, "init_args": {**entry["init_args"], "val_split_mode": split}}
    seed_everything(job.seed, workers=True, verbose=False)
    datamodule = datamodule_for(entry, job.category, job.seed)
    datamodule.setup()
    if setting != "synthetic":
        seed_everything(job.seed, workers=True, verbose=False)
    weights = resolve_backbone_weights(job.config.backbone_weights, job.backbone)
    model = build_model(job, weights)
    if pre_processor is not None:
        model.pre_processor = pre_processor
    add_clamped_metrics(model)
    settings = trainer_settings(job, model)  # a model entry's own epochs (SuperSimpleNet's)
    engine = Engine(accelerator="cpu", devices=1, default_root_dir=work_dir, logger=False, enable_progress_bar=False, **settings)
    start = time.perf_counter()
    engine.fit(model, datamodule=datamodule)
    fit_s = time.perf_counter() - start
    metrics = engine.test(model, datamodule=datamodule, verbose=False)[0]
    return {
        "model": job.model.name,
        "category": job.category,
        "setting": setting,
        "seed": job.seed,
        "train_images": len(datamodule.train_data),
        "fit_s": round(fit_s, 1),
        "epochs": engine.trainer.current_epoch,
        **{name: float(metrics[name]) for name in METRICS if name in metrics},
        "model_args": json.dumps(job.model.init_args, sort_keys=True),
    }


def report(output: Path) -> pd.DataFrame:
    """Mean, standard deviation, minimum and maximum over seeds, per model, category and setting."""
    runs = pd.read_csv(output)
    columns = [name for name in METRICS if name in runs]
    table = runs.groupby(["category", "model", "setting"])[columns].agg(["mean", "std", "min", "max"])
    table.insert(0, ("seeds", ""), runs.groupby(["category", "model", "setting"]).size())
    return table


def markdown(output: Path) -> str:
    """Return the spread as the documentation shows it: per category, model and setting, mean and range over seeds.

    Also the largest difference, over all runs, between each metric on raw and on clamped values.
    """
    runs = pd.read_csv(output)
    lines = [
        "| category | model | setting | seeds | image AUROC | pixel AUROC | PRO |",
        "|---|---|---|---|---|---|---|",
    ]
    for (category, model, setting), group in runs.groupby(["category", "model", "setting"], sort=False):
        cells = [mean_and_range(group[name]) for name in METRICS[:3]]
        lines.append(f"| {category} | {model} | {setting} | {len(group)} | {' | '.join(cells)} |")
    gaps = {name: (runs[name] - runs[f"clamped_{name}"]).abs().max() for name in METRICS[:3]}
    lines += ["", "Largest difference, raw against clamped: " + ", ".join(f"{name} {gap:.4f}" for name, gap in gaps.items())]
    return "\n".join(lines) + "\n"


def main() -> None:
    """Run the study, or report it."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="configs/benchmark/side_by_side_lite0_cpu.yaml")
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--categories", nargs="+", default=["bottle", "transistor", "macaroni1"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--models", nargs="+", default=["SimpleNet", "Padim"])
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=SETTINGS)
    parser.add_argument("--work-dir", type=Path, default=Path("runs/seed_spread"))
    parser.add_argument("--report", action="store_true", help="print the spread from --output and stop")
    parser.add_argument("--markdown", action="store_true", help="with --report: the documentation's table")
    parser.add_argument("--docs", type=Path, help="with --report: write the table into this page's seed-spread block")
    args = parser.parse_args()
    if args.report and args.docs:
        fill_block(args.docs, "seed-spread", markdown(args.output))
        return
    if args.report and args.markdown:
        print(markdown(args.output), end="")
        return
    if args.report:
        with pd.option_context("display.width", 250, "display.max_columns", 40, "display.precision", 3):
            print(report(args.output))
        return
    config = BenchmarkConfig.from_yaml(args.config)
    models = {spec.name: spec for spec in config.models}
    finished = rows_done(args.output, ("model", "category", "setting", "seed"))
    for category in args.categories:
        for setting in args.settings:
            for seed in args.seeds:
                for name in args.models:
                    if (name, category, setting, str(seed)) in finished:
                        continue
                    job = Job(models[name], category, seed, config)
                    row = run(job, setting, args.work_dir / f"{name}-{category}-{setting}-{seed}")
                    append_row(args.output, row)
                    shown = " ".join(f"{key}={row[key]:.3f}" for key in METRICS if key in row)
                    print(
                        f"{name} {category} {setting} seed {seed}: {row['train_images']} images, {row['fit_s']} s, {shown}",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
