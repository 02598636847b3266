"""Where SimpleNet's inference time goes, stage by stage, next to the backbone alone (torch, CPU).

    python benchmarks/profile_inference.py --backbone-weights <lite0 .pth> --image-size 256 --batch-sizes 1 32

Stages follow ``AnomalibModule.forward``: anomalib's pre-processing, the frozen backbone, SimpleNet's
local averaging + resize + concatenation, adaptor + discriminator, anomaly map (upsample + blur), and
anomalib's post-processing. Each is timed on its own input after warm-up (median of repeated calls).
"""

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from anomalib_simplenet import SimpleNet
from anomalib_simplenet.torch_model import _to_locations


def median_seconds(run: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``run`` over ``repeats`` calls after three warm-up calls."""
    for _ in range(3):
        run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    """Print a CSV of per-stage milliseconds per batch and their share of the backbone's time."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backbone-weights", required=True)
    parser.add_argument("--image-size", type=int, default=256)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 32])
    parser.add_argument("--discriminator-hidden", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()

    size = (args.image_size, args.image_size)
    model = SimpleNet(
        backbone="efficientnet_lite0",
        layers=("blocks.2", "blocks.4"),
        backbone_weights=args.backbone_weights,
        discriminator_hidden=args.discriminator_hidden,
        pre_processor=SimpleNet.configure_pre_processor(image_size=size),
    )
    model.model.feature_extractor.load_weights(args.backbone_weights)
    model.eval()
    print("batch,stage,ms_per_batch,share_of_backbone")
    with torch.inference_mode():
        for batch_size in args.batch_sizes:
            for name, seconds, share in profile(model, batch_size, size, args.repeats):
                print(f"{batch_size},{name},{seconds * 1000:.2f},{share:.3f}", flush=True)


def profile(model: SimpleNet, batch_size: int, size: tuple[int, int], repeats: int) -> list[tuple[str, float, float]]:
    """(stage, median seconds per batch, share of the backbone's time) for one batch size."""
    torch_model, extractor = model.model, model.model.feature_extractor
    images = torch.rand(batch_size, 3, *size)
    normalised = model.pre_processor(images)
    features = extractor(normalised)
    patch_scores = torch_model.patch_scores(features)
    output = torch_model(normalised)
    stages = {
        "pre-processing": lambda: model.pre_processor(images),
        "backbone": lambda: extractor.backbone(normalised),
        "backbone + local average + resize + concat": lambda: extractor(normalised),
        "adaptor + discriminator": lambda: torch_model.discriminator(torch_model.feature_adaptor(_to_locations(features))),
        "anomaly map (upsample + blur)": lambda: torch_model.anomaly_map_generator(patch_scores, size),
        "post-processing": lambda: model.post_processor(output),
        "whole forward": lambda: model(images),
    }
    backbone = median_seconds(stages["backbone"], repeats)
    return [
        (name, seconds, seconds / backbone) for name, seconds in ((n, median_seconds(run, repeats)) for n, run in stages.items())
    ]


if __name__ == "__main__":
    main()
