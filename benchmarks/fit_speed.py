"""Fit time of SimpleNet with the feature store, without it, and the floor under both, in one process.

(a) ``Engine.fit`` with the feature store (default): one backbone pass per training image, later epochs
    on stored features.
(b) ``Engine.fit`` with ``feature_store_mb=0``: images decoded and passed through the backbone in every epoch.
(c) The floor: one pass of the training dataloader through pre-processing and the feature extractor,
    then the same number of head-only epochs (adaptor + discriminator, Adam, same batch size) over the
    features held in memory -- no Lightning, no validation.

All three use the same data, settings and seed; the datamodule (with its synthetic validation split) is
set up once, before any timing. For (a) and (b) it prints the whole ``Engine.fit`` wall time and, from
a callback, the time of the training epochs alone (``on_train_start`` to ``on_train_end``) and of the final
validation. It also checks that (a) and (b) trained the same weights.

    python benchmarks/fit_speed.py --root ../shared/data/mvtec_ad --category bottle --epochs 20 \
        --output benchmarks/results/2026-11-26-cpu-2core/fit_speed_bottle_lite0.csv
"""

import argparse
import csv
import platform
import time
from pathlib import Path

import torch
import yaml
from anomalib.data import MVTecAD
from anomalib.engine import Engine
from lightning.pytorch import Callback, seed_everything
from lightning.pytorch.trainer.states import TrainerFn

from anomalib_simplenet import SimpleNet
from anomalib_simplenet.backbone_weights import efficientnet_lite0_pypi_weights


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
    """The config's SimpleNet with local weights, seeded."""
    seed_everything(args.seed, verbose=False)
    return SimpleNet(**{**settings["model"]["init_args"], "backbone_weights": args.backbone_weights, **overrides})


def fit(settings: dict, args: argparse.Namespace, datamodule: MVTecAD, store_mb: float | None) -> tuple[dict, SimpleNet]:
    """(a) or (b): Engine.fit with the trainer schedule of ``args.epochs``."""
    model = build_model(settings, args, feature_store_mb=store_mb)
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
    return {"extraction_s": extraction_s, "head_epochs_s": head_s, "fit_s": extraction_s + head_s, "backbone_images": len(features)}


def main() -> None:
    """Run (a), (b) and (c); print and write the figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", required=True)
    parser.add_argument("--category", required=True)
    parser.add_argument("--config", default="configs/simplenet_lite0_cpu.yaml")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--backbone-weights", default=None, help="default: the EfficientNet-Lite0 file of the PyPI package")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", default="runs/fit_speed")
    parser.add_argument("--output", default=None, help="CSV to write")
    args = parser.parse_args()
    args.backbone_weights = args.backbone_weights or efficientnet_lite0_pypi_weights()
    settings = yaml.safe_load(Path(args.config).read_text())
    data_args = {**settings["data"]["init_args"], "root": args.root, "category": args.category}
    datamodule = MVTecAD(**{k: v for k, v in data_args.items() if k != "class_path"})
    datamodule.setup(TrainerFn.FITTING)  # synthetic validation split made once, outside the timings

    with_store, stored_model = fit(settings, args, datamodule, store_mb=None)
    without_store, image_model = fit(settings, args, datamodule, store_mb=0)
    lower_bound = floor(settings, args, datamodule)
    difference = max(
        (a - b).abs().max().item()
        for a, b in zip(stored_model.model.state_dict().values(), image_model.model.state_dict().values(), strict=True)
    )
    rows = [
        {"variant": "a_with_store", **with_store},
        {"variant": "b_without_store", **without_store},
        {"variant": "c_floor", **lower_bound},
    ]
    common = {
        "category": args.category,
        "epochs": args.epochs,
        "train_images": len(datamodule.train_data),
        "config": args.config,
        "cpu": platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }
    fields = ["variant", "fit_s", "train_loop_s", "validation_s", "extraction_s", "head_epochs_s", "backbone_images", *common]
    for row in rows:
        row.update(common)
        print(", ".join(f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items() if k in fields[:7]))
    a, b, c = with_store, without_store, lower_bound
    print(f"(a)/(c): Engine.fit {a['fit_s'] / c['fit_s']:.3f}, training epochs only {a['train_loop_s'] / c['fit_s']:.3f}")
    print(f"(b)/(a): Engine.fit {b['fit_s'] / a['fit_s']:.2f}, training epochs only {b['train_loop_s'] / a['train_loop_s']:.2f}")
    print(f"largest weight difference between (a) and (b): {difference:.2e}")
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        with Path(args.output).open("w", newline="") as file:
            writer = csv.DictWriter(file, fieldnames=fields)
            writer.writeheader()
            writer.writerows({k: round(v, 2) if isinstance(v, float) else v for k, v in row.items()} for row in rows)


if __name__ == "__main__":
    main()
