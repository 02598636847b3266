"""What the demo runs on: its data options checked, one line per mistake, and turned into jobs -- before torch is imported."""

import argparse
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from anomalib_simplenet.tools.generated_data import DEMO_CATEGORIES
from anomalib_simplenet.tools.image_files import IMAGE_SUFFIXES, images_under


class DemoError(Exception):
    """A mistake in the demo's input, reported as one line that says what to do.

    Example:
        >>> options = argparse.Namespace(mvtec_root="/no/such/folder", folder=None, category=None, epochs=1,
        ...                              image_size=256, train_images=60)
        >>> plan_jobs(options)
        Traceback (most recent call last):
        ...
        anomalib_simplenet.tools.demo.plan.DemoError: MVTec AD root not found: '/no/such/folder'. Pass the folder ...

    """


@dataclass
class Job:
    """What to train on: a name and how to build its anomalib datamodule.

    Example:
        >>> [job.name for job in plan_jobs(argparse.Namespace(mvtec_root=None, folder=None, category=None, epochs=1,
        ...                                                   image_size=256, train_images=60))]
        ['fabric', 'washer']

    """

    name: str
    kind: str  # "generated", "mvtec" or "folder"
    datamodule_args: dict[str, Any] = field(default_factory=dict)


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
        if not images_under(root / category / "train" / "good"):
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
        if not images_under(folder):
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
