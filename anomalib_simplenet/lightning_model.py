"""SimpleNet as an anomalib model: training, evaluation and export wiring around :class:`SimpleNetModel`."""

import itertools
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from anomalib import LearningType
from anomalib.data import Batch
from anomalib.data.utils import ValSplitMode
from anomalib.metrics import AUPRO, AUROC, Evaluator, F1Score
from anomalib.models.components import AnomalibModule
from anomalib.pre_processing import PreProcessor
from anomalib.visualization import Visualizer
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.trainer.states import TrainerFn
from lightning.pytorch.utilities.types import STEP_OUTPUT
from torch import nn, optim
from torchvision.transforms.v2 import CenterCrop, Compose, Normalize, Resize

from .components import DEFAULT_NOISE_STD, AdaptorInit, AdaptorType, NoiseScale, require_positive
from .data_checks import check_checkpoint_file, check_finite, check_masks_match_images, check_training_images
from .feature_store import FeatureStore, StoredFeatureBatch
from .image_score import ImagePooling
from .schedule import apply_default_schedule, validate_once_at_end
from .torch_model import SimpleNetModel
from .visualizer import ScoredImageVisualizer

logger = logging.getLogger(__name__)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
RNG_STATE_KEY = "simplenet_rng_state"
# A loss still at its no-separation floor after this many optimiser steps (or at the end of a shorter fit) is reported.
LEARNING_CHECK_STEPS = 100
# Arguments of the torch model that a checkpoint records; its values win over the instance's (on_load_checkpoint).
TORCH_MODEL_ARGUMENTS = (
    "backbone",
    "layers",
    "patch_size",
    "adaptor",
    "adaptor_init",
    "noise_std",
    "noise_scale",
    "discriminator_hidden",
    "normal_threshold",
    "anomalous_threshold",
    "blur_sigma",
    "image_score",
)


class SimpleNet(AnomalibModule):
    """SimpleNet (Liu et al., CVPR 2023) for anomalib: train on good images, score defects per pixel.

    Training runs a fixed schedule and keeps its final state; nothing is selected on validation
    (= test, for MVTecAD's default split) data. The schedule is the trainer's (``max_epochs`` or
    ``max_steps``) when the user gave one, else SimpleNet's ``max_epochs`` (:mod:`.schedule`). The
    frozen backbone runs once per training image per fit; later epochs train the adaptor and
    discriminator on the stored features (:mod:`.feature_store`), with the same result. ImageNet
    weights are loaded when training starts (timm download, or ``backbone_weights`` offline); a
    checkpoint already carries them, so loading one never downloads.

    Args:
        backbone: timm CNN. Defaults to ``"wide_resnet50_2"`` (paper).
        layers: Backbone levels. Defaults to ``("layer2", "layer3")`` (paper).
        pre_trained: Use ImageNet weights. Defaults to ``True``.
        backbone_weights: Local weights file used instead of timm's download (offline use).
        patch_size: Neighbourhood size ``p``. Defaults to ``3``.
        adaptor: ``"linear"`` (authors' code), ``"linear_no_bias"`` (paper text) or ``"none"``.
        adaptor_init: Adaptor weight initialisation, ``"default"`` (PyTorch's) or ``"xavier_normal"`` (authors' code).
        noise_std: Std of the anomalous-feature noise (``sigma``). Defaults to ``0.35`` (relative).
        noise_scale: ``"relative"``: ``sigma`` in units of each feature channel's std, the same for every
            backbone; ``"absolute"``: the paper's (0.015 for WideResNet50). Defaults to ``"relative"``.
        discriminator_hidden: Discriminator hidden width. Defaults to ``1024``.
        normal_threshold: ``th+`` of the truncated L1 loss. Defaults to ``0.5``.
        anomalous_threshold: ``th-`` of the truncated L1 loss. Defaults to ``-0.5``.
        blur_sigma: Standard deviation, in pixels, of the Gaussian blur of the anomaly map. Defaults to ``4.0`` (Sec. 3.6).
        image_score: ``"standardised_max"`` (default): each location's patch score measured against its own scores
            on the training images, then the maximum (:mod:`.image_score`; chosen on training data of bottle and
            macaroni1, see the README); ``"max"``: the paper's maximum of the raw patch scores (eq. 11).
        adaptor_lr: Adam learning rate of the adaptor. Defaults to ``1e-4``.
        discriminator_lr: Adam learning rate of the discriminator. Defaults to ``2e-4``.
        weight_decay: Adam weight decay. Defaults to ``1e-5``.
        max_epochs: SimpleNet's own schedule, used when the trainer sets no ``max_epochs``,
            ``max_steps`` or ``max_time``. Defaults to ``20`` (held-out AUROC plateaus by then on
            bottle and macaroni1; the paper's 160 is in ``configs/simplenet.yaml``).
        feature_store_mb: Memory budget of the feature store in MiB; ``0`` turns it off, ``None``
            (default) allows half of the memory available when training starts.
        feature_store_dtype: ``"float32"`` (default, exact) or ``"float16"`` (half the memory).
        pre_processor, post_processor, evaluator, visualizer: As for every anomalib model.

    Example:
        >>> from anomalib_simplenet import SimpleNet
        >>> model = SimpleNet(backbone="resnet18", pre_trained=False, max_epochs=2)
        >>> model.learning_type.value
        'one_class'

    """

    def __init__(
        self,
        backbone: str = "wide_resnet50_2",
        layers: Sequence[str] = ("layer2", "layer3"),
        pre_trained: bool = True,
        backbone_weights: str | None = None,
        patch_size: int = 3,
        adaptor: AdaptorType = "linear",
        adaptor_init: AdaptorInit = "default",
        noise_std: float = DEFAULT_NOISE_STD,
        noise_scale: NoiseScale = "relative",
        discriminator_hidden: int = 1024,
        normal_threshold: float = 0.5,
        anomalous_threshold: float = -0.5,
        blur_sigma: float = 4.0,
        image_score: ImagePooling = "standardised_max",
        adaptor_lr: float = 1e-4,
        discriminator_lr: float = 2e-4,
        weight_decay: float = 1e-5,
        max_epochs: int = 20,
        feature_store_mb: float | None = None,
        feature_store_dtype: str = "float32",
        pre_processor: nn.Module | bool = True,
        post_processor: nn.Module | bool = True,
        evaluator: Evaluator | bool = True,
        visualizer: Visualizer | bool = True,
    ) -> None:
        require_positive(adaptor_lr=adaptor_lr, discriminator_lr=discriminator_lr, max_epochs=max_epochs)
        if not weight_decay >= 0:
            msg = f"weight_decay must be >= 0, got {weight_decay}."
            raise ValueError(msg)
        feature_store = FeatureStore(feature_store_mb, feature_store_dtype)
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
            adaptor_init=adaptor_init,
            noise_std=noise_std,
            noise_scale=noise_scale,
            discriminator_hidden=discriminator_hidden,
            normal_threshold=normal_threshold,
            anomalous_threshold=anomalous_threshold,
            blur_sigma=blur_sigma,
            image_score=image_score,
        )
        self.pre_trained = pre_trained
        self.backbone_weights = backbone_weights
        self._backbone_ready = not (pre_trained or backbone_weights)
        self.adaptor_lr = adaptor_lr
        self.discriminator_lr = discriminator_lr
        self.weight_decay = weight_decay
        self.max_epochs = max_epochs
        self.feature_store = feature_store
        self._image_score_stale = False  # the head changed since the image score's statistics were fitted
        self._learning_checked = False

    @classmethod
    def configure_pre_processor(
        cls,
        image_size: tuple[int, int] = (256, 256),
        center_crop_size: tuple[int, int] | None = None,
    ) -> PreProcessor:
        """Resize the whole image to 256x256 and normalise with ImageNet statistics; no crop by default.

        The paper's MVTec protocol centre-crops 256 -> 224 (Sec. 4.1), which removes 23 % of every image:
        a defect near the border is never seen. The paper configs keep that crop; for a user's own
        images the default keeps everything, as anomalib's PatchCore and PaDiM do.

        Args:
            image_size: Resize target ``(height, width)``. Defaults to ``(256, 256)``.
            center_crop_size: Optional centre crop after resizing, e.g. ``(224, 224)`` for the paper.

        Example:
            >>> import torch
            >>> SimpleNet.configure_pre_processor()(torch.rand(1, 3, 300, 400)).shape
            torch.Size([1, 3, 256, 256])
            >>> SimpleNet.configure_pre_processor(center_crop_size=(224, 224))(torch.rand(1, 3, 300, 400)).shape
            torch.Size([1, 3, 224, 224])

        """
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
        """Check the masks; before training, check the training images and load the backbone's ImageNet weights."""
        datamodule = getattr(self.trainer, "datamodule", None)
        for subset in ("val_data", "test_data"):
            samples = getattr(getattr(datamodule, subset, None), "samples", {})
            if "mask_path" in samples and "image_path" in samples:
                check_masks_match_images(samples["image_path"], samples["mask_path"])
        if stage != "fit":
            return
        train_data = getattr(datamodule, "train_data", None)
        if train_data is not None and len(train_data) == 0:
            self._raise_empty_training_set(datamodule)
        if train_data is not None and "image_path" in getattr(train_data, "samples", {}):
            check_training_images(train_data.samples["image_path"])
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
        if RNG_STATE_KEY in checkpoint and self._trainer is not None and self._trainer.state.fn == TrainerFn.FITTING:
            torch.set_rng_state(checkpoint[RNG_STATE_KEY]["torch"])  # resuming: continue the interrupted fit's draws
            if "cuda" in checkpoint[RNG_STATE_KEY] and torch.cuda.is_available():
                torch.cuda.set_rng_state_all(checkpoint[RNG_STATE_KEY]["cuda"])

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
        current = {name: self.hparams.get(name) for name in TORCH_MODEL_ARGUMENTS}
        wanted = {name: saved.get(name, value) for name, value in current.items()}
        normalise = lambda values: {k: list(v) if isinstance(v, list | tuple) else v for k, v in values.items()}  # noqa: E731
        if normalise(wanted) == normalise(current):
            return
        changed = ", ".join(f"{name}={wanted[name]!r}" for name in wanted if normalise(wanted)[name] != normalise(current)[name])
        logger.info("The checkpoint was trained with %s: SimpleNet rebuilt to match it.", changed)
        self.model = SimpleNetModel(pre_trained=False, **wanted).to(self.device)
        self.hparams.update(wanted)

    @property
    def trainer(self) -> Trainer:
        """The Lightning trainer this model is attached to."""
        return LightningModule.trainer.fget(self)

    @trainer.setter
    def trainer(self, trainer: Trainer | None) -> None:
        # Lightning attaches the trainer at the start of fit, before it defaults max_epochs to 1000 (see .schedule).
        LightningModule.trainer.fset(self, trainer)
        if trainer is not None:
            apply_default_schedule(trainer, self.max_epochs)

    def configure_callbacks(self) -> list[Callback]:
        """Return anomalib's pre/post-processor, evaluator and visualizer callbacks, and the feature store."""
        return [*super().configure_callbacks(), self.feature_store]

    def _check_training_data(self) -> None:
        datamodule = getattr(self.trainer, "datamodule", None)
        if self.trainer.num_training_batches == 0:  # dataloaders passed without a datamodule
            self._raise_empty_training_set(datamodule)
        if getattr(datamodule, "val_split_mode", None) == ValSplitMode.SAME_AS_TEST:
            logger.warning(
                "The validation set is the test set (val_split_mode=same_as_test). SimpleNet selects no epoch on it, "
                "but anomalib's post-processor fits its image/pixel thresholds there. For thresholds independent "
                "of the test set use --data.val_split_mode synthetic (or from_train).",
            )

    def training_step(self, batch: Batch | StoredFeatureBatch, *args, **kwargs) -> STEP_OUTPUT:
        """One optimisation step of the adaptor and discriminator, on images or on their stored features."""
        del args, kwargs
        if isinstance(batch, StoredFeatureBatch):
            features = batch.features
        else:
            self._reject_anomalous_training_images(batch)
            features = self.model.feature_extractor(batch.image)
            self.feature_store.record(batch.image_path, features)
        loss = self.model.compute_loss(features)
        self._image_score_stale = True
        self.log("train_loss", loss, on_step=False, on_epoch=True, prog_bar=True, batch_size=len(features))
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

    def on_train_start(self) -> None:
        """Check the training data, validate once at the end of the schedule; the learning check is due again."""
        self._check_training_data()
        validate_once_at_end(self.trainer)
        self._learning_checked = False

    def on_train_epoch_end(self) -> None:
        """Report a discriminator that learns nothing (once, after 100 steps); after the last epoch, fit the image score."""
        last_epoch = self._last_epoch_ends()
        if not self._learning_checked and (self.trainer.global_step >= LEARNING_CHECK_STEPS or last_epoch):
            self._learning_checked = True
            self._report_if_not_learning()
        if last_epoch:
            self._fit_image_score()

    def on_validation_start(self) -> None:
        """Before validating during a fit, fit the image score's statistics to the head as it is now."""
        if self.trainer.state.fn == TrainerFn.FITTING:
            self._fit_image_score()

    def on_train_end(self) -> None:
        """Fit the image score if a fit ended where no epoch end saw it coming."""
        self._fit_image_score()

    def _last_epoch_ends(self) -> bool:
        trainer = self.trainer
        max_epochs, max_steps = trainer.max_epochs, trainer.max_steps
        return (
            trainer.should_stop
            or (max_epochs is not None and 0 <= max_epochs <= self.current_epoch + 1)
            or (max_steps is not None and 0 < max_steps <= trainer.global_step)
        )

    @torch.no_grad()
    def _fit_image_score(self) -> None:
        """Fit the per-location statistics of ``image_score='standardised_max'`` on the training images' patch scores."""
        if not (self._image_score_stale and self.model.image_score.needs_statistics):
            return
        was_training = self.model.training
        self.model.eval()
        stored = self.feature_store.complete_features()
        if stored is not None:  # every training image's features are in memory: no image is read
            batches = (features.to(self.device, torch.float32) for features in stored.split(32))
        else:
            transform = getattr(self.pre_processor, "transform", None) or nn.Identity()
            batches = (  # the batches the trainer trains on (limit_train_batches included)
                self.model.feature_extractor(transform(batch.image.to(self.device)))
                for batch in itertools.islice(self.trainer.train_dataloader, self.trainer.num_training_batches)
            )
        scores = torch.cat([self.model.patch_scores(features) for features in batches])
        self.model.image_score.fit(scores)
        self._image_score_stale = False
        self.model.train(was_training)

    def _report_if_not_learning(self) -> None:
        loss = self.trainer.callback_metrics.get("train_loss")
        if loss is None or not self.model.loss.cannot_separate(float(loss)):
            return
        generator = self.model.anomalous_feature_generator
        if generator.noise_scale == "absolute":
            advice = (
                f"the absolute noise_std={generator.noise_std} is probably far below the spread of "
                f"{self.model.feature_extractor.backbone_name} features: use noise_scale='relative' (the default) "
                "or a larger noise_std"
            )
        else:
            advice = f"raise noise_std (now {generator.noise_std} of each channel's std)"
        logger.warning(
            "SimpleNet's training loss is still %.3f after %d steps (%d epochs): the discriminator cannot tell the noisy "
            "(anomalous) features from the normal ones, so the model will not find defects. To fix: %s.",
            float(loss),
            self.trainer.global_step,
            self.current_epoch + 1,
            advice,
        )

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Save anomalib's component settings and the random-number state (a resumed fit continues exactly)."""
        super().on_save_checkpoint(checkpoint)
        checkpoint[RNG_STATE_KEY] = {"torch": torch.get_rng_state()}
        if torch.cuda.is_available():
            checkpoint[RNG_STATE_KEY]["cuda"] = torch.cuda.get_rng_state_all()

    def validation_step(self, batch: Batch, *args, **kwargs) -> STEP_OUTPUT:
        """Score a validation batch: image scores and anomaly maps."""
        del args, kwargs
        check_finite(batch.image, batch.image_path)
        return batch.update(**self.model(batch.image)._asdict())

    test_step = predict_step = validation_step  # the same scoring, with the same input check

    @classmethod
    def load_from_checkpoint(cls, checkpoint_path: str | Path, *args, **kwargs) -> "SimpleNet":  # type: ignore[override]
        """Load a SimpleNet checkpoint; a damaged or truncated file is named as such."""
        check_checkpoint_file(checkpoint_path)
        return super().load_from_checkpoint(checkpoint_path, *args, **kwargs)

    @property
    def trainer_arguments(self) -> dict[str, Any]:
        """No sanity validation (an untrained discriminator's scores mean nothing); the schedule is set in :mod:`.schedule`."""
        return {
            "num_sanity_val_steps": 0,
            "gradient_clip_val": 0,
            "devices": 1,
        }

    @property
    def learning_type(self) -> LearningType:
        """SimpleNet learns from good images only."""
        return LearningType.ONE_CLASS
