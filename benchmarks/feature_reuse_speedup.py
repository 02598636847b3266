"""Measure what feature reuse saves: the same fit with the feature cache on and off.

Same data, same settings, same epochs, same seed; only ``feature_cache_mb`` differs. Prints fit wall
time, backbone passes and the resulting image/pixel AUROC for both, then the speed-up.

    python benchmarks/feature_reuse_speedup.py --root ../shared/data/mvtec_ad --category bottle \
        --config configs/simplenet_lite0_cpu.yaml --epochs 10 --backbone-weights <file>
"""

import argparse
import time

import yaml
from anomalib.data import MVTecAD
from anomalib.engine import Engine
from lightning.pytorch import seed_everything

from anomalib_simplenet import SimpleNet


def fit_once(args: argparse.Namespace, cache_mb: float) -> dict:
    """Fit (and test) once with the given cache budget; return timings and metrics."""
    settings = yaml.safe_load(open(args.config))  # noqa: SIM115
    model_args = {**settings["model"]["init_args"], "max_epochs": args.epochs, "feature_cache_mb": cache_mb}
    if args.backbone_weights:
        model_args["backbone_weights"] = args.backbone_weights
    data_args = {**settings["data"]["init_args"], "root": args.root, "category": args.category}
    seed_everything(args.seed)
    model = SimpleNet(**model_args)
    passes: list[int] = []
    model.model.feature_extractor.register_forward_hook(lambda _m, inputs, _o: passes.append(len(inputs[0])))
    engine = Engine(default_root_dir=f"results/reuse_{cache_mb}", logger=False, enable_progress_bar=False)
    start = time.perf_counter()
    engine.fit(model, datamodule=MVTecAD(**data_args))
    fit_seconds = time.perf_counter() - start
    training_passes = sum(passes)
    metrics = engine.test(model, datamodule=MVTecAD(**data_args))[0]
    return {
        "cache_mb": cache_mb,
        "fit_s": round(fit_seconds, 1),
        "backbone_images": training_passes,
        "image_AUROC": round(metrics["image_AUROC"], 4),
        "pixel_AUROC": round(metrics["pixel_AUROC"], 4),
    }


def main() -> None:
    """Run both fits and print a CSV plus the speed-up."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", required=True)
    parser.add_argument("--category", required=True)
    parser.add_argument("--config", default="configs/simplenet_lite0_cpu.yaml")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--backbone-weights", default=None)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    rows = [fit_once(args, 2048), fit_once(args, 0)]
    print(",".join(rows[0]))
    for row in rows:
        print(",".join(str(v) for v in row.values()))
    print(f"speed-up of fit with feature reuse: {rows[1]['fit_s'] / rows[0]['fit_s']:.2f}x")


if __name__ == "__main__":
    main()
