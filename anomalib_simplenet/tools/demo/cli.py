"""``simplenet-demo``: the command line -- options, one-line errors, exit status.

Example:
    >>> build_parser().parse_args(["--epochs", "5"]).epochs
    5

"""

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from anomalib_simplenet.tools.console import quiet_libraries
from anomalib_simplenet.tools.generated_data import DEMO_CATEGORIES

from .plan import DemoError, check_accelerator, plan_jobs

DEFAULT_EPOCHS = 20
DEFAULT_OUTPUT = Path("results") / "demo"


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


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``simplenet-demo``; return the exit status (2 for an input mistake, printed as one line)."""
    args = build_parser().parse_args(argv)
    try:
        check_accelerator(args.accelerator)
        jobs = plan_jobs(args)
        from .run import run_demo  # noqa: PLC0415  (torch/anomalib only after the arguments are known to be sound)

        quiet_libraries()
        run_demo(args, jobs)
    except DemoError as error:
        print(f"simplenet-demo: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("simplenet-demo: interrupted.", file=sys.stderr)
        return 130
    return 0
