"""Where SimpleNet's inference time goes, stage by stage, next to the backbone alone (torch, CPU).

    python benchmarks/profile_inference.py --backbone-weights <lite0 .pth> --image-size 256 --batch-sizes 1 32 \
        --image-scores max standardised_max

Stages follow ``AnomalibModule.forward``: anomalib's pre-processing, the frozen backbone, SimpleNet's
local averaging + resize + concatenation, adaptor + discriminator, anomaly map (upsample + blur), and
image score, anomalib's post-processing. Each is timed on its own input after warm-up (median of repeated
calls). With several ``--image-scores`` the whole profile runs once per pooling, in the same process, so the
paper's ``max`` and the default ``standardised_max`` (statistics fitted, so its real path is timed) compare
directly; the rounds alternate ``--rounds`` times.
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
    parser.add_argument("--image-scores", nargs="+", default=["standardised_max"], choices=["max", "standardised_max"])
    parser.add_argument("--rounds", type=int, default=1, help="how often the poolings take turns")
    args = parser.parse_args()

    size = (args.image_size, args.image_size)
    models = {image_score: build_model(args, size, image_score) for image_score in args.image_scores}
    print("round,image_score,batch,stage,ms_per_batch,share_of_backbone")
    with torch.inference_mode():
        for round_ in range(args.rounds):
            for image_score, model in models.items():
                for batch_size in args.batch_sizes:
                    for name, seconds, share in profile(model, batch_size, size, args.repeats):
                        print(f"{round_},{image_score},{batch_size},{name},{seconds * 1000:.2f},{share:.3f}", flush=True)


def build_model(args: argparse.Namespace, size: tuple[int, int], image_score: str) -> SimpleNet:
    """Build the lite0 model with real weights; a standardised image score gets statistics of its grid's shape."""
    torch.manual_seed(0)
    model = SimpleNet(
        backbone="efficientnet_lite0",
        layers=("blocks.2", "blocks.4"),
        backbone_weights=args.backbone_weights,
        discriminator_hidden=args.discriminator_hidden,
        image_score=image_score,
        pre_processor=SimpleNet.configure_pre_processor(image_size=size),
    )
    model.model.feature_extractor.load_weights(args.backbone_weights)
    model.eval()
    if model.model.image_score.needs_statistics:
        with torch.inference_mode():
            grid = model.model.patch_scores(model.model.feature_extractor(torch.rand(1, 3, *size))).shape[-2:]
        model.model.image_score.fit(torch.randn(8, 1, *grid))
    return model


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
        "image score": lambda: torch_model.image_score(patch_scores),
        "post-processing": lambda: model.post_processor(output),
        "whole forward": lambda: model(images),
    }
    backbone = median_seconds(stages["backbone"], repeats)
    return [
        (name, seconds, seconds / backbone) for name, seconds in ((n, median_seconds(run, repeats)) for n, run in stages.items())
    ]


if __name__ == "__main__":
    main()
