"""Where SimpleNet's time goes, stage by stage, next to the backbone alone (torch, CPU).

    python benchmarks/profile_inference.py --backbone-weights <lite0 .pth> --image-size 256 --batch-sizes 1 32 \
        --embeddings channel_mean unfolded:256 unfolded:384 unfolded:512 --rounds 3

Inference stages follow ``AnomalibModule.forward``: anomalib's pre-processing, the frozen backbone, SimpleNet's
embedding (neighbourhoods, pooling, resize; for the unfolded embedding also the same construction written step by
step, the tests' oracle in ``tests/unit/model/embedding_step_by_step.py``, to show what the banded pooling saves),
the adaptor, the discriminator, the anomaly map (upsample + blur), the image score and anomalib's post-processing.
One training step on stored features (what every epoch after the first runs: adaptor, noise, discriminator, loss,
backward, Adam) is timed too, on a batch of ``--train-batch`` images. Each stage is timed on its own input after
warm-up (median of repeated calls). Every combination of ``--embeddings`` and ``--image-scores`` is built in the same
process and they take turns ``--rounds`` times, so they compare directly.
"""

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

from anomalib_simplenet import SimpleNet
from anomalib_simplenet.simplenet.torch_model import _to_locations

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "unit" / "model"))
from embedding_step_by_step import unfolded_embedding_step_by_step


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
    parser.add_argument("--embeddings", nargs="+", default=["unfolded:384"], help="channel_mean or unfolded:<embedding_dim>")
    parser.add_argument("--train-batch", type=int, default=8, help="images per training step (SimpleNet's lite0 config: 8)")
    parser.add_argument("--rounds", type=int, default=1, help="how often the variants take turns")
    args = parser.parse_args()

    size = (args.image_size, args.image_size)
    models = {
        (embedding, image_score): build_model(args, size, embedding, image_score)
        for embedding in args.embeddings
        for image_score in args.image_scores
    }
    print("round,embedding,image_score,batch,stage,ms_per_batch,share_of_backbone")
    for round_ in range(args.rounds):
        for (embedding, image_score), model in models.items():
            rows = [(args.train_batch, *row) for row in profile_training_step(model, args.train_batch, size, args.repeats)]
            with torch.inference_mode():
                rows += [(batch, *row) for batch in args.batch_sizes for row in profile(model, batch, size, args.repeats)]
            for batch, name, seconds, share in rows:
                print(f"{round_},{embedding},{image_score},{batch},{name},{seconds * 1000:.2f},{share:.3f}", flush=True)


def embedding_arguments(spec: str) -> dict[str, object]:
    """``channel_mean`` or ``unfolded:<embedding_dim>`` -> SimpleNet arguments."""
    kind, _, dim = spec.partition(":")
    return {"embedding": kind} if kind == "channel_mean" else {"embedding": kind, "embedding_dim": int(dim)}


def build_model(args: argparse.Namespace, size: tuple[int, int], embedding: str, image_score: str) -> SimpleNet:
    """Build the lite0 model with real weights; a standardised image score gets statistics of its grid's shape."""
    torch.manual_seed(0)
    model = SimpleNet(
        backbone="efficientnet_lite0",
        layers=("blocks.2", "blocks.4"),
        backbone_weights=args.backbone_weights,
        discriminator_hidden=args.discriminator_hidden,
        image_score=image_score,
        pre_processor=SimpleNet.configure_pre_processor(image_size=size),
        **embedding_arguments(embedding),
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
    levels = list(extractor.backbone(normalised).values())
    features = extractor.embedding(levels)
    locations = _to_locations(features)
    adapted = torch_model.feature_adaptor(locations)
    patch_scores = torch_model.patch_scores(features)
    output = torch_model(normalised)
    stages = {
        "pre-processing": lambda: model.pre_processor(images),
        "backbone": lambda: extractor.backbone(normalised),
        "embedding (neighbourhoods + pooling + resize)": lambda: extractor.embedding(levels),
        "adaptor": lambda: torch_model.feature_adaptor(locations),
        "discriminator": lambda: torch_model.discriminator(adapted),
        "anomaly map (upsample + blur)": lambda: torch_model.anomaly_map_generator(patch_scores, size),
        "image score": lambda: torch_model.image_score(patch_scores),
        "post-processing": lambda: model.post_processor(output),
        "whole forward": lambda: model(images),
    }
    if hasattr(extractor.embedding, "output_ranges"):  # the unfolded embedding, as its description reads
        finest, patch_size = extractor.embedding.finest_level, extractor.embedding.patch_size
        dim = extractor.embedding.out_channels
        stages["embedding written step by step (for comparison)"] = lambda: unfolded_embedding_step_by_step(
            levels, finest, patch_size, dim
        )
    backbone = median_seconds(stages["backbone"], repeats)
    return [
        (name, seconds, seconds / backbone) for name, seconds in ((n, median_seconds(run, repeats)) for n, run in stages.items())
    ]


def profile_training_step(
    model: SimpleNet, batch_size: int, size: tuple[int, int], repeats: int
) -> list[tuple[str, float, float]]:
    """One optimisation step on stored features (later epochs' whole work per batch), and its forward part alone."""
    with torch.no_grad():  # not inference mode: the features take part in autograd below
        normalised = model.pre_processor(torch.rand(batch_size, 3, *size))
        backbone = median_seconds(lambda: model.model.feature_extractor.backbone(normalised), repeats)
        features = model.model.feature_extractor(normalised)
    optimiser = model.configure_optimizers()
    model.model.train()

    def step() -> None:
        optimiser.zero_grad()
        model.model.compute_loss(features).backward()
        optimiser.step()

    forward = median_seconds(lambda: model.model.compute_loss(features), repeats)
    whole = median_seconds(step, repeats)
    model.model.eval()
    return [
        ("training step: loss (forward)", forward, forward / backbone),
        ("training step: forward + backward + Adam", whole, whole / backbone),
    ]


if __name__ == "__main__":
    main()
