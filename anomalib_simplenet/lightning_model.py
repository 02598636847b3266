"""SimpleNet as an anomalib model: training, evaluation and export wiring around :class:`SimpleNetModel`."""

import logging
import sys
from collections.abc import Sequence
from typing import Any

from anomalib import LearningType
from anomalib.data import Batch
from anomalib.data.utils import ValSplitMode
from anomalib.metrics import AUPRO, AUROC, Evaluator, F1Score
from anomalib.models.components import AnomalibModule
from anomalib.post_processing import PostProcessor
from anomalib.pre_processing import PreProcessor
from anomalib.visualization import Visualizer
from lightning.pytorch.utilities.types import STEP_OUTPUT
from torch import nn, optim
from torchvision.transforms.v2 import CenterCrop, Compose, Normalize, Resize

from ._anomalib_hook import register
from .feature_cache import FeatureCache, find_random_transforms
from .torch_model import AdaptorType, SimpleNetModel, require_positive
from .visualizer import ScoredImageVisualizer

logger = logging.getLogger(__name__)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# Arguments that shape the torch model's weights; a checkpoint's values win over the instance's (on_load_checkpoint).
ARCHITECTURE_ARGUMENTS = (
    "backbone",
    "layers",
    "patch_size",
    "adaptor",
    "noise_std",
    "discriminator_hidden",
    "normal_threshold",
    "anomalous_threshold",
)


class SimpleNet(AnomalibModule):
    """SimpleNet (Liu et al., CVPR 2023) for anomalib: train on good images, score defects per pixel.

    Training runs a fixed schedule of ``max_epochs`` and keeps its final state; nothing is selected
    on validation (= test, for MVTecAD's default split) data. The frozen backbone's output for each
    training image is computed once and reused in later epochs (``feature_cache_mb``), which gives
    identical results as long as the training transform is deterministic; a random transform is
    detected and turns the cache off. ImageNet weights are loaded when training starts (timm
    download, or ``backbone_weights`` offline); a checkpoint already carries them, so loading one
    never downloads.

    Args:
        backbone: timm CNN. Defaults to ``"wide_resnet50_2"`` (paper).
        layers: Backbone levels. Defaults to ``("layer2", "layer3")`` (paper).
        pre_trained: Use ImageNet weights. Defaults to ``True``.
        backbone_weights: Local weights file used instead of timm's download (offline use).
        patch_size: Neighbourhood size ``p``. Defaults to ``3``.
        adaptor: ``"linear"`` (authors' code), ``"linear_no_bias"`` (paper text) or ``"none"``.
        noise_std: Std of the anomalous-feature noise. Defaults to ``0.015``.
        discriminator_hidden: Discriminator hidden width. Defaults to ``1024``.
        normal_threshold: ``th+`` of the truncated L1 loss. Defaults to ``0.5``.
        anomalous_threshold: ``th-`` of the truncated L1 loss. Defaults to ``-0.5``.
        adaptor_lr: Adam learning rate of the adaptor. Defaults to ``1e-4``.
        discriminator_lr: Adam learning rate of the discriminator. Defaults to ``2e-4``.
        weight_decay: Adam weight decay. Defaults to ``1e-5``.
        max_epochs: Length of the fixed training schedule. Defaults to ``160`` (paper). Set it here
            (``--model.max_epochs``): anomalib's Engine lets a model's value override ``--trainer.max_epochs``.
        feature_cache_mb: Memory budget for reused backbone features; ``0`` turns reuse off.
            Defaults to ``2048``.
        pre_processor, post_processor, evaluator, visualizer: As for every anomalib model.

    Example:
        >>> from anomalib_simplenet import SimpleNet
        >>> model = SimpleNet(backbone="resnet18", pre_trained=False, max_epochs=2)
        >>> model.trainer_arguments["max_epochs"]
        2

    """

    def __init__(
        self,
        backbone: str = "wide_resnet50_2",
        layers: Sequence[str] = ("layer2", "layer3"),
        pre_trained: bool = True,
        backbone_weights: str | None = None,
        patch_size: int = 3,
        adaptor: AdaptorType = "linear",
        noise_std: float = 0.015,
        discriminator_hidden: int = 1024,
        normal_threshold: float = 0.5,
        anomalous_threshold: float = -0.5,
        adaptor_lr: float = 1e-4,
        discriminator_lr: float = 2e-4,
        weight_decay: float = 1e-5,
        max_epochs: int = 160,
        feature_cache_mb: float = 2048,
        pre_processor: nn.Module | bool = True,
        post_processor: nn.Module | bool = True,
        evaluator: Evaluator | bool = True,
        visualizer: Visualizer | bool = True,
    ) -> None:
        require_positive(adaptor_lr=adaptor_lr, discriminator_lr=discriminator_lr, max_epochs=max_epochs)
        if weight_decay < 0 or feature_cache_mb < 0:
            msg = f"weight_decay and feature_cache_mb must be >= 0, got {weight_decay} and {feature_cache_mb}."
            raise ValueError(msg)
        super().__init__(
            pre_processor=pre_processor,
            post_processor=post_processor,
            evaluator=evaluator,
            visualizer=visualizer,
        )
        # Weights are loaded in ``setup("fit")``: loading a checkpoint must not need a download.
        self.model = SimpleNetModel(
            backbone=backbone,
            layers=layers,
            pre_trained=False,
            patch_size=patch_size,
            adaptor=adaptor,
            noise_std=noise_std,
            discriminator_hidden=discriminator_hidden,
            normal_threshold=normal_threshold,
            anomalous_threshold=anomalous_threshold,
        )
        self.pre_trained = pre_trained
        self.backbone_weights = backbone_weights
        self._backbone_ready = not (pre_trained or backbone_weights)
        self.adaptor_lr = adaptor_lr
        self.discriminator_lr = discriminator_lr
        self.weight_decay = weight_decay
        self.max_epochs = max_epochs
        self.feature_cache = FeatureCache(max_bytes=int(feature_cache_mb * 2**20))
        self._reuse_features = False

    @classmethod
    def configure_pre_processor(
        cls,
        image_size: tuple[int, int] | None = None,
        center_crop_size: tuple[int, int] | None = None,
    ) -> PreProcessor:
        """Paper protocol: resize to 256x256, centre-crop 224x224, ImageNet normalisation (Sec. 4.1).

        Args:
            image_size: Resize target. Defaults to ``(256, 256)``.
            center_crop_size: Crop size. Defaults to ``(224, 224)`` when ``image_size`` is not given,
                else no crop.

        Example:
            >>> import torch
            >>> SimpleNet.configure_pre_processor()(torch.rand(1, 3, 300, 300)).shape
            torch.Size([1, 3, 224, 224])

        """
        if image_size is None:
            image_size, center_crop_size = (256, 256), center_crop_size or (224, 224)
        sizes = [*image_size, *(center_crop_size or ())]
        if any(size <= 0 for size in sizes):
            msg = f"Image and crop sizes must be positive, got image_size={image_size}, center_crop_size={center_crop_size}."
            raise ValueError(msg)
        # No antialiasing: anomalib's export (and PreProcessor.forward, used by every deployed model) drops it,
        # since ONNX export does not support it. With it in training and validation, thresholds would be set on
        # inputs the exported model never sees, and a downscaled image (900 -> 256) would score differently.
        steps: list[nn.Module] = [Resize(image_size, antialias=False)]
        if center_crop_size is not None:
            if center_crop_size[0] > image_size[0] or center_crop_size[1] > image_size[1]:
                msg = f"center_crop_size {center_crop_size} is larger than image_size {image_size}."
                raise ValueError(msg)
            steps.append(CenterCrop(center_crop_size))
        steps.append(Normalize(mean=IMAGENET_MEAN, std=IMAGENET_STD))
        return PreProcessor(transform=Compose(steps))

    @staticmethod
    def configure_evaluator() -> Evaluator:
        """Image AUROC/F1, pixel AUROC/F1 and PRO (area under the per-region-overlap curve, FPR <= 0.3)."""
        return Evaluator(
            test_metrics=[
                AUROC(fields=["pred_score", "gt_label"], prefix="image_"),
                F1Score(fields=["pred_label", "gt_label"], prefix="image_"),
                AUROC(fields=["anomaly_map", "gt_mask"], prefix="pixel_", strict=False),
                F1Score(fields=["pred_mask", "gt_mask"], prefix="pixel_", strict=False),
                AUPRO(fields=["anomaly_map", "gt_mask"], prefix="pixel_", strict=False),
            ],
        )

    @staticmethod
    def configure_visualizer() -> ScoredImageVisualizer:
        """Heat-map pictures drawn on the image as the model saw it, captioned with the score, plus ``predictions.csv``."""
        return ScoredImageVisualizer()

    @staticmethod
    def configure_post_processor() -> PostProcessor:
        """Anomalib's default post-processor (score normalisation and adaptive thresholds)."""
        return PostProcessor()

    def configure_optimizers(self) -> optim.Optimizer:
        """Adam with the paper's rates: adaptor 1e-4, discriminator 2e-4, weight decay 1e-5."""
        return optim.Adam(
            [
                {"params": self.model.feature_adaptor.parameters(), "lr": self.adaptor_lr},
                {"params": self.model.discriminator.parameters(), "lr": self.discriminator_lr},
            ],
            weight_decay=self.weight_decay,
        )

    def setup(self, stage: str) -> None:
        """Before training: refuse an empty training set, then load the backbone's ImageNet weights."""
        if stage != "fit":
            return
        datamodule = getattr(self.trainer, "datamodule", None)
        train_data = getattr(datamodule, "train_data", None)
        if train_data is not None and len(train_data) == 0:
            self._raise_empty_training_set(datamodule)
        if not self._backbone_ready:
            self.model.feature_extractor.load_weights(self.backbone_weights)
            self._backbone_ready = True

    @staticmethod
    def _raise_empty_training_set(datamodule: object = None) -> None:
        where = ", ".join(
            f"{name}={getattr(datamodule, name)!s}"
            for name in ("root", "category", "normal_dir")
            if getattr(datamodule, name, None)
        )
        msg = (
            f"The training set is empty ({where or 'no images'}): SimpleNet trains on good (defect-free) images. "
            "Check the dataset root, the category name and that the folder of good training images holds images."
        )
        raise ValueError(msg)

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Check that the checkpoint is SimpleNet's and take its architecture; its weights need no download.

        ``anomalib predict/test --model SimpleNet --ckpt_path ...`` builds the model from its default
        arguments before loading the checkpoint; when the checkpoint was trained with another backbone,
        levels or widths, the torch model is rebuilt with the checkpoint's settings so its weights fit.

        Raises:
            ValueError: If the checkpoint was saved by another model (one line saying which file to use).

        """
        state = checkpoint.get("state_dict", {})
        if not any(key.startswith("model.discriminator.") for key in state):
            self._raise_foreign_checkpoint(checkpoint)
        for key in [key for key in state if key.startswith("model.anomaly_map_generator.")]:
            del state[key]  # a derived blur kernel, saved by versions before 0.1.0's matrix blur; rebuilt from sigma
        self._adopt_architecture(checkpoint.get("hyper_parameters", {}))
        super().on_load_checkpoint(checkpoint)
        self._backbone_ready = True

    @staticmethod
    def _raise_foreign_checkpoint(checkpoint: dict[str, Any]) -> None:
        hyper_parameters = checkpoint.get("hyper_parameters", {})
        owner = hyper_parameters.get("_class_path") or hyper_parameters.get("class_path")
        keys = sorted({".".join(key.split(".")[:2]) for key in checkpoint.get("state_dict", {})})[:4]
        what = f"a {str(owner).rsplit('.', 1)[-1]} checkpoint" if owner else f"not a SimpleNet checkpoint (its weights: {keys})"
        msg = (
            f"This checkpoint is {what}: it has no SimpleNet discriminator. Load it with the model that trained it "
            "(e.g. --model Padim), or pass a SimpleNet checkpoint (results/SimpleNet/.../weights/lightning/model.ckpt)."
        )
        raise ValueError(msg)

    def _adopt_architecture(self, saved: dict[str, Any]) -> None:
        """Rebuild ``self.model`` if the checkpoint's architecture arguments differ from this instance's."""
        current = {name: self.hparams.get(name) for name in ARCHITECTURE_ARGUMENTS}
        wanted = {name: saved.get(name, value) for name, value in current.items()}
        normalise = lambda values: {k: list(v) if isinstance(v, list | tuple) else v for k, v in values.items()}  # noqa: E731
        if normalise(wanted) == normalise(current):
            return
        changed = ", ".join(f"{name}={wanted[name]!r}" for name in wanted if normalise(wanted)[name] != normalise(current)[name])
        logger.info("The checkpoint was trained with %s: SimpleNet rebuilt to match it.", changed)
        self.model = SimpleNetModel(pre_trained=False, **wanted).to(self.device)
        self.hparams.update(wanted)

    def on_train_start(self) -> None:
        """Check the training data and decide whether backbone features can be reused."""
        datamodule = getattr(self.trainer, "datamodule", None)
        if self.trainer.num_training_batches == 0:  # dataloaders passed without a datamodule
            self._raise_empty_training_set(datamodule)
        if getattr(datamodule, "val_split_mode", None) == ValSplitMode.SAME_AS_TEST:
            logger.warning(
                "The validation set is the test set (val_split_mode=same_as_test). SimpleNet selects no epoch on it, "
                "but anomalib's post-processor fits its image/pixel thresholds there. For thresholds independent "
                "of the test set use --data.val_split_mode synthetic (or from_train).",
            )
        random_transforms = find_random_transforms(
            [
                getattr(self.pre_processor, "transform", None),
                getattr(datamodule, "train_augmentations", None),
            ]
        )
        self._reuse_features = self.feature_cache.max_bytes > 0 and not random_transforms
        if random_transforms:
            logger.info("Random training transform(s) %s: backbone features are recomputed every epoch.", random_transforms)
        elif not self._reuse_features:
            logger.info("Feature reuse is off (feature_cache_mb=0): backbone features are recomputed every epoch.")

    def training_step(self, batch: Batch, *args, **kwargs) -> STEP_OUTPUT:
        """One optimisation step of the adaptor and discriminator on a batch of good images."""
        del args, kwargs
        self._reject_anomalous_training_images(batch)
        if self._reuse_features and batch.image_path is not None:
            features = self.feature_cache.features(
                [str(path) for path in batch.image_path], batch.image, self.model.feature_extractor
            )
        else:
            features = self.model.feature_extractor(batch.image)
        loss = self.model.compute_loss(features)
        self.log("train_loss", loss, on_step=False, on_epoch=True, prog_bar=True, batch_size=len(batch.image))
        return loss

    @staticmethod
    def _reject_anomalous_training_images(batch: Batch) -> None:
        if batch.gt_label is None or not bool(batch.gt_label.any()):
            return
        paths = [str(path) for path, label in zip(batch.image_path or [], batch.gt_label, strict=False) if label]
        msg = (
            f"The training set contains {int(batch.gt_label.sum())} image(s) labelled anomalous, e.g. {paths[:3]}. "
            "SimpleNet learns from good images only: move defective images to the test set."
        )
        raise ValueError(msg)

    def on_train_epoch_end(self) -> None:
        """Report the feature cache's size once it is filled (after the first epoch)."""
        if self._reuse_features and self.current_epoch == 0:
            logger.info(self.feature_cache.summary())
            self.log("feature_cache_mib", self.feature_cache.nbytes / 2**20, on_epoch=True)

    def on_train_end(self) -> None:
        """Free the cached features; they are not needed after training."""
        if self._reuse_features:
            logger.info(self.feature_cache.summary())
        self.feature_cache.clear()

    def validation_step(self, batch: Batch, *args, **kwargs) -> STEP_OUTPUT:
        """Score a validation batch: image scores and anomaly maps."""
        del args, kwargs
        return batch.update(**self.model(batch.image)._asdict())

    @property
    def trainer_arguments(self) -> dict[str, Any]:
        """Fixed schedule of ``max_epochs``, validated once at its end, no sanity validation."""
        return {
            "max_epochs": self.max_epochs,
            "check_val_every_n_epoch": self.max_epochs,
            "num_sanity_val_steps": 0,
            "gradient_clip_val": 0,
            "devices": 1,
        }

    @property
    def learning_type(self) -> LearningType:
        """SimpleNet learns from good images only."""
        return LearningType.ONE_CLASS


register(sys.modules["anomalib.models"])  # when this module was imported before anomalib.models (see register)
