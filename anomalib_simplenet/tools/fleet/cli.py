"""``simplenet-fleet``: train one SimpleNet per product and score every image, on Ray.

Usage::

    simplenet-fleet train --config configs/fleet/generated_lite0_cpu.yaml --output runs/fleet
    simplenet-fleet score --models runs/fleet --input images/ --output runs/fleet-scores [--heatmaps]

With no cluster named, a local Ray starts inside the command; ``--address`` (or ``RAY_ADDRESS``) runs the same
command on a cluster. Exit status: 0 done, 1 some products failed to train (named in the summary), 2 a mistake
in the input (one line says what to do).
"""

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path


def build_parser() -> argparse.ArgumentParser:
    """Command-line options of both sub-commands.

    Example:
        >>> build_parser().parse_args(["score", "--models", "m", "--input", "i", "--output", "o"]).actors
        1

    """
    parser = argparse.ArgumentParser(prog="simplenet-fleet", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help="train and export one model per product (a Ray task each)")
    train.add_argument("--config", type=Path, required=True, help="fleet config, e.g. configs/fleet/generated_lite0_cpu.yaml")
    train.add_argument("--output", required=True, help="folder (or fsspec URL) for <product>/model.ckpt and openvino/")
    train.add_argument("--categories", nargs="+", help="train only these of the config's products")
    train.add_argument("--products", help="a folder of product folders (Folder layout), instead of the config's")
    train.add_argument("--num-cpus", type=float, help="CPUs each fit asks of Ray (default: the config's, else 1)")
    train.add_argument("--num-gpus", type=float, help="GPUs each fit asks of Ray; fractions share a GPU (default: config's)")
    train.add_argument("--max-retries", type=int, help="restarts of a fit whose worker died (default: config's, else 2)")
    score = commands.add_parser("score", help="score images with the exported models (Ray Data + an actor pool)")
    score.add_argument("--models", required=True, help="the --output folder of simplenet-fleet train")
    score.add_argument("--input", required=True, help="folder (a subfolder per product) or CSV/Parquet manifest (path, product)")
    score.add_argument("--output", required=True, help="folder (or fsspec URL) for scores.parquet, errors.parquet, heatmaps/")
    score.add_argument("--product", help="every image of --input belongs to this product")
    score.add_argument("--heatmaps", action="store_true", help="also write each image's heat-map picture")
    score.add_argument("--actors", type=int, default=1, help="scoring actors (default 1; on a cluster, one per node)")
    score.add_argument("--cpus-per-actor", type=float, help="CPUs (and OpenVINO threads) per actor (default: this machine's)")
    score.add_argument("--batch-size", type=int, default=16, help="images per call of an actor (default 16)")
    score.add_argument("--cache-models", type=int, default=4, help="compiled models each actor keeps (default 4)")
    for command in (train, score):
        ray = command.add_argument_group("Ray")
        ray.add_argument("--address", help="Ray cluster (default: RAY_ADDRESS, else a local Ray in this process)")
        ray.add_argument("--local-cpus", type=int, help="CPUs of the local Ray (default: all of this machine's)")
    train.add_argument("--local-gpus", type=int, help="GPUs of the local Ray (default: those it finds)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point of ``simplenet-fleet``; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        from .config import FleetConfig, FleetConfigError  # noqa: PLC0415
    except ModuleNotFoundError as error:
        print(f"simplenet-fleet: needs Ray ({error}): pip install -e '.[fleet]'", file=sys.stderr)
        return 2
    from .score import ScoreError, score_fleet  # noqa: PLC0415
    from .train import train_fleet  # noqa: PLC0415

    try:
        if args.command == "train":
            config = FleetConfig.from_yaml(args.config)
            content = {}
            if args.products:
                content = {"products": args.products, "categories": []}
            resources = {
                name: value
                for name, value in (("num_cpus", args.num_cpus), ("num_gpus", args.num_gpus), ("max_retries", args.max_retries))
                if value is not None
            }
            if content or resources:
                config = _with(config, content, resources)
            if args.categories:
                config = config.only(args.categories)
            return train_fleet(config, args.output, args.address, args.local_cpus, args.local_gpus)
        score_fleet(
            args.input,
            args.models,
            args.output,
            product=args.product,
            actors=args.actors,
            cpus_per_actor=args.cpus_per_actor,
            batch_size=args.batch_size,
            cache_size=args.cache_models,
            heatmaps=args.heatmaps,
            address=args.address,
            local_cpus=args.local_cpus,
        )
    except (FleetConfigError, ScoreError) as error:
        print(f"simplenet-fleet {args.command}: {error}", file=sys.stderr)
        return 2
    return 0


def _with(config: "FleetConfig", content: dict, resources: dict) -> "FleetConfig":  # noqa: F821
    from dataclasses import asdict  # noqa: PLC0415

    from .config import FleetConfig  # noqa: PLC0415

    plain = asdict(config)
    plain["resources"] = {**plain["resources"], **resources}
    plain.update(content)
    if "products" in content:
        plain.pop("categories")
    elif config.products is not None:
        plain["categories"] = []
    return FleetConfig.from_dict(plain)


if __name__ == "__main__":
    sys.exit(main())
