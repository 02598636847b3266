"""SimpleNet as an anomalib model: the wiring of :class:`SimpleNetModel` into training, evaluation and export.

Each step hands its work to a named part around the model package: :mod:`anomalib_simplenet.training` (the default
schedule, the feature store that runs the backbone once per training image per fit, the learning check, the image
score's statistics), :mod:`anomalib_simplenet.checks` (bad input named by file; foreign and damaged checkpoints, the
saved architecture and the random state: the ``CheckpointHooks`` mixin) and :mod:`anomalib_simplenet.visualization`
(captioned heat maps and ``predictions.csv``). The default pre-processor is :mod:`.pre_processing`, beside this file.
"""

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from anomalib import LearningType
from anomalib.data import Batch
from anomalib.metrics import AUPRO, AUROC, Evaluator, F1Score
from anomalib.models.components import AnomalibModule
from anomalib.pre_processing import PreProcessor
from anomalib.visualization import Visualizer
from lightning.pytorch import Callback
from lightning.pytorch.utilities.types import STEP_OUTPUT
from torch import nn, optim

from ..checks import CheckpointHooks, check_datamodule, check_finite, check_training_data, reject_anomalous_training_images
from ..lightning_compat import trainer_property
from ..training import (
    FeatureStore,
    ImageScoreStatistics,
    LearningCheck,
    StoredFeatureBatch,
    StoreDtype,
    apply_default_schedule,
    validate_once_at_end,
)
from ..visualization import ScoredImageVisualizer
from .components import DEFAULT_EMBEDDING_DIM, DEFAULT_NOISE_STD, AdaptorInit, AdaptorType, NoiseScale, require_positive
from .embedding import EmbeddingKind
from .image_score import DEFAULT_IMAGE_SCORE, ImagePooling
from .loss import LossKind
from .pre_processing import simplenet_pre_processor
from .torch_model import TORCH_MODEL_ARGUMENTS, SimpleNetModel


class SimpleNet(CheckpointHooks, AnomalibModule):
    """SimpleNet (Liu et al., CVPR 2023) for anomalib: train on good images, score defects per pixel.

    Training runs a fixed schedule and keeps its final state; nothing is selected on validation
    (= test, for MVTecAD's default split) data. The schedule is the trainer's (``max_epochs`` or
    ``max_steps``) when the user gave one, else SimpleNet's ``max_epochs``. The frozen backbone runs
    once per training image per fit; later epochs train the adaptor and discriminator on the stored
    features, with the same result (both in :mod:`anomalib_simplenet.training`). ImageNet
    weights are loaded when training starts (timm download, or ``backbone_weights`` offline); a
    checkpoint already carries them, so loading one never downloads.

    Args:
        backbone: timm CNN. Defaults to ``"wide_resnet50_2"`` (paper).
        layers: Backbone levels. Defaults to ``("layer2", "layer3")`` (paper).
        pre_trained: Use ImageNet weights. Defaults to ``True``.
        backbone_weights: Local weights file used instead of timm's download (offline use).
        patch_size: Neighbourhood size ``p``. Defaults to ``3``.
        embedding: How each location's neighbourhoods on the levels become one feature: ``"unfolded"`` (default; the
            authors' code: unfolded with their layout, pooled to ``embedding_dim``) or ``"channel_mean"`` (each
            channel averaged over the neighbourhood; the length is then the levels' channel count).
        embedding_dim: Length of the unfolded embedding. Defaults to ``1536`` (the paper's, Sec. 4.1).
        adaptor: ``"linear"`` (authors' code), ``"linear_no_bias"`` (paper text), ``"none"`` or ``"mlp"`` (Table 3's
            non-linear adaptor; for the ablation).
        adaptor_init: Adaptor weight initialisation, ``"default"`` (PyTorch's) or ``"xavier_normal"`` (authors' code).
        noise_std: Std of the anomalous-feature noise (``sigma``). Defaults to ``0.35`` (relative).
        noise_scale: ``"relative"``: ``sigma`` in units of each feature channel's std, the same for every
            backbone; ``"absolute"``: the paper's (0.015 for WideResNet50). Defaults to ``"relative"``.
        discriminator_hidden: Discriminator hidden width. Defaults to ``1024``.
        normal_threshold: ``th+`` of the truncated L1 loss. Defaults to ``0.5``.
        anomalous_threshold: ``th-`` of the truncated L1 loss. Defaults to ``-0.5``.
        loss: ``"truncated_l1"`` (the paper's eqs. 7-8, default) or ``"bce"`` (binary cross-entropy on the
            discriminator's logits, Table 3 "Ours-CE"; for the ablation).
        blur_sigma: Standard deviation, in pixels, of the Gaussian blur of the anomaly map. Defaults to ``4.0`` (Sec. 3.6).
        image_score: ``"standardised_max"`` (default): each location's patch score measured against its own scores
            on the training images, then the maximum (:mod:`.image_score`; chosen on training data, README
            *Defaults*); ``"max"``: the paper's maximum of the raw patch scores (eq. 11).
        adaptor_lr: Adam learning rate of the adaptor. Defaults to ``1e-4`` (the authors' code).
        discriminator_lr: Adam learning rate of the discriminator. Defaults to ``2e-4`` (the authors' code).
        weight_decay: Adam weight decay. Defaults to ``1e-5`` (the authors' code).
        max_epochs: SimpleNet's own schedule, used when the trainer sets no ``max_epochs``,
            ``max_steps`` or ``max_time``. Defaults to ``20`` (chosen on training data, README *Defaults*;
            the paper's 160 is in ``configs/simplenet.yaml``).
        feature_store_mb: Memory budget of the feature store in MiB; ``0`` turns it off, ``None``
            (default) allows half of the memory available when training starts.
        feature_store_dtype: ``"auto"`` (default: float32, or float16 when only that fits the budget), ``"float32"``
            (exact) or ``"float16"`` (half the memory).
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
        backbone_weights: str | Path | None = None,
        patch_size: int = 3,
        embedding: EmbeddingKind = "unfolded",
        embedding_dim: int = DEFAULT_EMBEDDING_DIM,
        adaptor: AdaptorType = "linear",
        adaptor_init: AdaptorInit = "default",
        noise_std: float = DEFAULT_NOISE_STD,
        noise_scale: NoiseScale = "relative",
        discriminator_hidden: int = 1024,
        normal_threshold: float = 0.5,
        anomalous_threshold: float = -0.5,
        loss: LossKind = "truncated_l1",
        blur_sigma: float = 4.0,
        image_score: ImagePooling = DEFAULT_IMAGE_SCORE,
        adaptor_lr: float = 1e-4,
        discriminator_lr: float = 2e-4,
        weight_decay: float = 1e-5,
        max_epochs: int = 20,
        feature_store_mb: float | None = None,
        feature_store_dtype: StoreDtype = "auto",
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
        super().__init__(pre_processor=pre_processor, post_processor=post_processor, evaluator=evaluator, visualizer=visualizer)
        # Built from the arguments the base class saved in self.hparams. Weights are loaded in ``setup("fit")``:
        # loading a checkpoint must not need a download.
        self.model = self.build_torch_model({name: self.hparams[name] for name in TORCH_MODEL_ARGUMENTS})
        self.backbone_weights = backbone_weights
        self._backbone_ready = not (pre_trained or backbone_weights)
        self.adaptor_lr = adaptor_lr
        self.discriminator_lr = discriminator_lr
        self.weight_decay = weight_decay
        self.max_epochs = max_epochs
        self.feature_store = feature_store
        self.learning_check = LearningCheck()
        self.image_score_statistics = ImageScoreStatistics(feature_store)

    torch_model_arguments = TORCH_MODEL_ARGUMENTS  # what a checkpoint records of the architecture

    @staticmethod
    def build_torch_model(arguments: dict[str, Any]) -> SimpleNetModel:
        """Build the torch model from its architecture arguments; weights come from training or a checkpoint."""
        return SimpleNetModel(pre_trained=False, **arguments)

    @classmethod
    def configure_pre_processor(
        cls, image_size: tuple[int, int] = (256, 256), center_crop_size: tuple[int, int] | None = None
    ) -> PreProcessor:
        """Resize the whole image to ``image_size`` and normalise with ImageNet statistics; no crop by default.

        See :func:`~anomalib_simplenet.simplenet.pre_processing.simplenet_pre_processor`; ``center_crop_size=(224, 224)``
        is the paper's MVTec protocol.
        """
        return simplenet_pre_processor(image_size, center_crop_size)

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
        """Adam over the adaptor and the discriminator, each with its own learning rate, and ``weight_decay``."""
        return optim.Adam(
            [
                {"params": self.model.feature_adaptor.parameters(), "lr": self.adaptor_lr},
                {"params": self.model.discriminator.parameters(), "lr": self.discriminator_lr},
            ],
            weight_decay=self.weight_decay,
        )

    def configure_callbacks(self) -> list[Callback]:
        """Return anomalib's callbacks and SimpleNet's: image-score statistics (before the store frees), store, learning check."""
        return [*super().configure_callbacks(), self.image_score_statistics, self.feature_store, self.learning_check]

    # Lightning attaches the trainer at the start of fit, before it defaults max_epochs to 1000: the moment
    # SimpleNet's own schedule can still apply (anomalib_simplenet.training.schedule).
    trainer = trainer_property(lambda model, trainer: apply_default_schedule(trainer, model.max_epochs))

    def setup(self, stage: str) -> None:
        """Check the masks; before training, check the training images and load the backbone's ImageNet weights."""
        check_datamodule(getattr(self.trainer, "datamodule", None), fitting=stage == "fit")
        if stage == "fit" and not self._backbone_ready:
            self.model.feature_extractor.load_weights(self.backbone_weights)
            self._backbone_ready = True

    def on_train_start(self) -> None:
        """Check the training data and validate once, at the end of the schedule."""
        check_training_data(self.trainer)
        validate_once_at_end(self.trainer)

    def training_step(self, batch: Batch | StoredFeatureBatch, *args, **kwargs) -> STEP_OUTPUT:
        """One optimisation step of the adaptor and discriminator, on images or on their stored features."""
        del args, kwargs
        if isinstance(batch, StoredFeatureBatch):
            features = batch.features
        else:
            reject_anomalous_training_images(batch)
            features = self.model.feature_extractor(batch.image)
            self.feature_store.record(batch.image_path, features)
        loss = self.model.compute_loss(features)
        self.log("train_loss", loss, on_step=False, on_epoch=True, prog_bar=True, batch_size=len(features))
        return loss

    def validation_step(self, batch: Batch, *args, **kwargs) -> STEP_OUTPUT:
        """Score a validation batch: image scores and anomaly maps."""
        del args, kwargs
        check_finite(batch.image, batch.image_path)
        return batch.update(**self.model(batch.image)._asdict())

    test_step = predict_step = validation_step  # the same scoring, with the same input check

    @property
    def trainer_arguments(self) -> dict[str, Any]:
        """No sanity validation (an untrained discriminator's scores mean nothing); one device; no gradient clipping."""
        return {"num_sanity_val_steps": 0, "gradient_clip_val": 0, "devices": 1}

    @property
    def learning_type(self) -> LearningType:
        """SimpleNet learns from good images only."""
        return LearningType.ONE_CLASS
