"""Which locations decide the image score of good images? Evidence for SimpleNet's ``image_score`` default.

Trains SimpleNet's head on the good training images of one category (backbone levels extracted once, as in
``defaults_study.py``, same 80/20 split and synthetic defects, large and small), then counts, over the *training* images and
over the held-out good images, where the maximum of the patch-score map lies: on the outer ring of the
feature grid (the locations the backbone computes from zero padding) or inside. It does so for the paper's
image score (max of the raw patch scores) and for the default (max of the per-location standardised
scores), writes one CSV row per pooling and image set, and a picture of the argmax counts per location.

    python benchmarks/where_the_max_lies.py --dataset mvtec --root ../shared/data/mvtec_ad --category bottle \
        --backbone wide_resnet50_2 --layers layer2 layer3 --output benchmarks/results/2026-12-01-cpu-2core/where_the_max_lies.csv
"""

import argparse
import csv
import sys
from dataclasses import replace
from pathlib import Path

import matplotlib as mpl

mpl.use("Agg")
import torch
from matplotlib import pyplot as plt
from torchmetrics.classification import BinaryAUROC

sys.path.insert(0, str(Path(__file__).parent))
from defaults_study import Setting, extract_levels, load_split, patch_scores, train_and_record

from anomalib_simplenet.simplenet.image_score import ImageScore


def argmax_counts(scores: torch.Tensor) -> torch.Tensor:
    """``(h, w)`` counts of where each image's maximum lies, for ``(N, 1, h, w)`` score maps."""
    height, width = scores.shape[-2:]
    return torch.bincount(scores.flatten(1).argmax(1), minlength=height * width).reshape(height, width)


def parse_args() -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", choices=["mvtec", "visa", "folder"], required=True)
    parser.add_argument("--root", required=True)
    parser.add_argument("--category", required=True)
    parser.add_argument("--backbone", default="efficientnet_lite0")
    parser.add_argument("--layers", nargs="+", default=["blocks.2", "blocks.4"])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--holdout", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", required=True, help="CSV; rows are appended, the picture goes beside it")
    return parser.parse_args()


def draw(pictures: dict[tuple[str, str], torch.Tensor], title: str, path: Path) -> None:
    """One panel of argmax counts per (pooling, image set)."""
    figure, axes = plt.subplots(1, len(pictures), figsize=(3.5 * len(pictures), 3.8))
    for axis, ((pooling, images), counts) in zip(axes, pictures.items(), strict=True):
        axis.imshow(counts, cmap="magma")
        axis.set_title(f"{pooling}\n{images} images", fontsize=9)
        axis.set_axis_off()
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    print(f"picture: {path}")


def main() -> None:
    """Train one head, count where the maxima lie, write the CSV rows and the picture."""
    args = parse_args()
    setting = replace(Setting(), backbone=args.backbone, layers=tuple(args.layers))
    data = load_split(args)
    levels = {"fit": extract_levels(setting, data["fit"]), "eval": extract_levels(setting, data["eval"])}
    args.epochs = [args.epochs]
    model = None
    for row in train_and_record(setting, levels, data, args, keep_model=True):
        model = row.pop("model")
    fit_scores, eval_scores = patch_scores(model, levels["fit"]), patch_scores(model, levels["eval"])
    standardiser = ImageScore("standardised_max")
    standardiser.fit(fit_scores)
    labels = torch.tensor([kind != "good" for kind in data["set"]]).int()
    good = eval_scores[labels == 0]
    height, width = fit_scores.shape[-2:]
    ring = torch.ones(height, width, dtype=torch.bool)
    ring[1:-1, 1:-1] = False
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    new_file = not output.exists()
    pictures = {}
    with output.open("a", newline="") as file:
        writer = csv.writer(file)
        if new_file:
            writer.writerow(["category", "backbone", "pooling", "images", "count", "max_on_border", "border_share", "auroc"])
        for pooling, transform in (("max", lambda s: s), ("standardised_max", standardiser.standardise)):
            auroc = BinaryAUROC()(transform(eval_scores).flatten(1).amax(1), labels).item()
            for images, scores in (("training", fit_scores), ("held-out good", good)):
                counts = argmax_counts(transform(scores))
                pictures[(pooling, images)] = counts
                share = (counts[ring].sum() / counts.sum()).item()
                row = [args.category, args.backbone, pooling, images, len(scores), f"{share:.3f}", f"{ring.float().mean():.3f}"]
                writer.writerow([*row, f"{auroc:.4f}"])
                print(", ".join(map(str, [*row, f"held-out image AUROC {auroc:.4f}"])))
    title = f"Where the image score's maximum lies: {args.category}, {args.backbone} (argmax counts per location)"
    draw(pictures, title, output.with_name(f"where_the_max_lies_{args.category}_{args.backbone}.png"))


if __name__ == "__main__":
    main()
