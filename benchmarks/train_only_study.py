"""Choose SimpleNet settings on TRAINING data only: held-out good images plus synthetic defects.

The MVTec test set is never read. A fraction of ``train/good`` is held out; half of it receives
Perlin-noise defects from anomalib's ``PerlinAnomalyGenerator`` (with exact masks). The adaptor and
discriminator are trained on the features of the remaining good images, and image/pixel AUROC on
the held-out set is recorded against epochs (with training wall time), for each noise level and
discriminator width asked for.

    python benchmarks/train_only_study.py --root ../shared/data/mvtec_ad --category bottle \
        --noise-std 0.015 0.1 0.3 --epochs 160 --eval-every 20
    python benchmarks/train_only_study.py ... --noise-std 1.0 --discriminator-hidden 1024 256 128
"""

import argparse
import itertools
import time

import torch
from anomalib.data import MVTecAD
from anomalib.data.utils.generators import PerlinAnomalyGenerator
from torchmetrics.classification import BinaryAUROC
from torchvision import tv_tensors

from anomalib_simplenet import SimpleNet


def extract(model: SimpleNet, images: torch.Tensor, batch: int = 16) -> torch.Tensor:
    """Run the frozen feature extractor over ``images`` in batches."""
    return torch.cat([model.model.feature_extractor(images[i : i + batch]) for i in range(0, len(images), batch)])


def main() -> None:  # noqa: PLR0915
    """Parse arguments, build the held-out set, train for each noise level and print the curve."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", required=True)
    parser.add_argument("--category", required=True)
    parser.add_argument("--backbone", default="efficientnet_lite0")
    parser.add_argument("--layers", nargs="+", default=["blocks.2", "blocks.4"])
    parser.add_argument("--backbone-weights", default=None)
    parser.add_argument("--noise-std", type=float, nargs="+", default=[0.015])
    parser.add_argument("--discriminator-hidden", type=int, nargs="+", default=[1024])
    parser.add_argument("--epochs", type=int, default=160)
    parser.add_argument("--eval-every", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--holdout", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    datamodule = MVTecAD(root=args.root, category=args.category, num_workers=2, train_batch_size=16)
    datamodule.setup("fit")
    template = SimpleNet(
        backbone=args.backbone,
        layers=args.layers,
        pre_trained=args.backbone_weights is None,
        backbone_weights=args.backbone_weights,
    )
    template.model.feature_extractor.load_weights(args.backbone_weights)
    transform = template.pre_processor.transform
    images = torch.cat([batch.image for batch in datamodule.train_dataloader()])  # train/good only
    order = torch.randperm(len(images))
    n_hold = int(len(images) * args.holdout)
    held, fit_images = images[order[:n_hold]], images[order[n_hold:]]
    n_def = n_hold // 2
    generator = PerlinAnomalyGenerator(probability=1.0, blend_factor=(0.5, 1.0))
    defective, masks = generator(held[:n_def])
    eval_images = torch.cat([defective, held[n_def:]])
    eval_masks = torch.cat([masks, torch.zeros(n_hold - n_def, *masks.shape[1:])])
    # As a Mask, the masks get the same resize/crop as the images (a plain tensor would pass through untouched).
    eval_images, eval_masks = transform(eval_images, tv_tensors.Mask(eval_masks))
    eval_labels = torch.cat([torch.ones(n_def), torch.zeros(n_hold - n_def)])
    fit_features = extract(template, transform(fit_images))
    eval_features = extract(template, eval_images)
    print(
        f"fit on {len(fit_images)} good train images; evaluate on {n_def} synthetic-defect + {n_hold - n_def} good "
        f"held-out train images; feature std {fit_features.std():.3f}"
    )

    print("noise_std,discriminator_hidden,epoch,seconds,image_auroc,pixel_auroc")
    for noise_std, hidden in itertools.product(args.noise_std, args.discriminator_hidden):
        torch.manual_seed(args.seed)
        model = SimpleNet(
            backbone=args.backbone, layers=args.layers, pre_trained=False, noise_std=noise_std, discriminator_hidden=hidden
        )
        model.model.feature_extractor = template.model.feature_extractor
        optimiser = model.configure_optimizers()
        start = time.perf_counter()
        for epoch in range(1, args.epochs + 1):
            model.train()
            for idx in torch.randperm(len(fit_features)).split(args.batch_size):
                optimiser.zero_grad()
                model.model.compute_loss(fit_features[idx]).backward()
                optimiser.step()
            if epoch % args.eval_every == 0 or epoch == args.epochs:
                model.eval()
                with torch.no_grad():
                    patch = model.model.patch_scores(eval_features)
                    maps = model.model.anomaly_map_generator(patch, eval_images.shape[-2:])
                image_auroc = BinaryAUROC()(patch.amax(dim=(1, 2, 3)), eval_labels.int()).item()
                pixel_auroc = BinaryAUROC()(maps.flatten(), (eval_masks.flatten() > 0.5).int()).item()
                print(
                    f"{noise_std},{hidden},{epoch},{time.perf_counter() - start:.1f},{image_auroc:.4f},{pixel_auroc:.4f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
