"""Do SimpleNet's defaults learn on backbones whose ImageNet weights cannot be had here? A check of the loss only.

No ResNet or WideResNet ImageNet weights can be downloaded on this machine, so their accuracy cannot be measured.
What can be checked is whether the defaults (unfolded embedding of length 1536, 1024 discriminator units, relative
noise sigma 0.35, SimpleNet's own learning rates) train at all on the features of such a backbone, randomly
initialised: the head trains on real good training images (bottle) and the truncated L1 loss must leave its
no-separation floor (1.0). One CSV row per backbone and recorded step.

    python benchmarks/learns_on_random_backbones.py --root ../shared/data/mvtec_ad --category bottle \
        --output benchmarks/results/2026-12-03-cpu-2core/learns_on_random_backbones.csv
"""

import argparse
import csv
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from defaults_study import read_training_images

from anomalib_simplenet import SimpleNet

BACKBONES = {"resnet18": ("layer2", "layer3"), "wide_resnet50_2": ("layer2", "layer3")}


def main() -> None:
    """Train each backbone's head with SimpleNet's defaults and print and write the loss at several steps."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", required=True)
    parser.add_argument("--category", default="bottle")
    parser.add_argument("--images", type=int, default=16)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--output", required=True)
    args = parser.parse_args()
    images = read_training_images("mvtec", args.root, args.category)[: args.images]
    rows = []
    for backbone, layers in BACKBONES.items():
        torch.manual_seed(0)
        model = SimpleNet(backbone=backbone, layers=layers, pre_trained=False)  # every other argument: the default
        normalise = model.pre_processor.transform.transforms[-1]
        with torch.no_grad():
            features = torch.cat([model.model.feature_extractor(normalise(images[i : i + 4])) for i in range(0, len(images), 4)])
        optimiser = model.configure_optimizers()
        model.model.train()
        start = time.perf_counter()
        for step in range(1, args.steps + 1):
            optimiser.zero_grad()
            loss = model.model.compute_loss(features[torch.randperm(len(features))[: args.batch_size]])
            loss.backward()
            optimiser.step()
            if step in {1, 10, 25, 50, 75, 100, 150, args.steps}:
                row = {
                    "backbone": backbone,
                    "embedding_length": features.shape[1],
                    "step": step,
                    "loss": round(loss.item(), 4),
                    "at_floor": model.model.loss.cannot_separate(loss.item()),
                    "seconds": round(time.perf_counter() - start, 1),
                }
                rows.append(row)
                print(row, flush=True)
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    with Path(args.output).open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


if __name__ == "__main__":
    main()
