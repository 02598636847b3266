# Copyright (C) 2026 anomalib-simplenet contributors
# SPDX-License-Identifier: Apache-2.0

"""SimpleNet as an anomalib model: the wiring of :class:`~.torch_model.SimpleNetModel` into training, evaluation and export.

Each step hands its work to a named module of this folder: :mod:`.schedule` (SimpleNet's own epoch count when the
trainer sets none, validation once at the end), :mod:`.feature_store` (the backbone runs once per training image per
fit), :mod:`.learning_check` (a fit that learns nothing is reported), :mod:`.image_score_statistics` (the standardised
image score's statistics), :mod:`.data_checks` (bad input named by file) and :mod:`.checkpoint` (foreign and damaged
checkpoints, the saved architecture, the random state). The default pre-processor is :mod:`.pre_processing`.

This is the one place where SimpleNet's defaults are written; the torch model and its components take every setting
as an explicit keyword.
"""

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

from anomalib import LearningType
from anomalib.data import Batch
from anomalib.metrics import Evaluator
from anomalib.models.components import AnomalibModule
from anomalib.pre_processing import PreProcessor
from anomalib.visualization import ImageVisualizer, Visualizer
from lightning.pytorch import Callback
from lightning.pytorch.utilities.types import STEP_OUTPUT
from torch import nn, optim

from .checkpoint import CheckpointHooks
from .components import AdaptorInit, AdaptorType, NoiseScale, require_positive
from .data_checks import check_datamodule, check_finite, check_training_data, reject_anomalous_training_images
from .embedding import EmbeddingKind
from .feature_store import FeatureStore, StoredFeatureBatch, StoreDtype
from .image_score import ImagePooling
from .image_score_statistics import ImageScoreStatistics
from .learning_check import LearningCheck
from .loss import LossKind
from .pre_processing import simplenet_pre_processor
from .schedule import apply_default_schedule, validate_once_at_end
from .torch_model import SimpleNetModel

# The arguments that shape the torch model and its weights. A checkpoint records them in its hyper-parameters, and a
# SimpleNet built with other values adopts the checkpoint's before loading its weights (:mod:`.checkpoint`).
ARCHITECTURE_ARGUMENTS = (
    "backbone",
    "layers",
    "patch_size",
    "embedding",
    "embedding_dim",
    "adaptor",
    "adaptor_init",
    "noise_std",
    "noise_scale",
    "discriminator_hidden",
    "normal_threshold",
    "anomalous_threshold",
    "loss",
    "blur_sigma",
    "image_score",
)


class SimpleNet(CheckpointHooks, AnomalibModule):
    """SimpleNet (Liu et al., CVPR 2023) for anomalib: train on good images, score defects per pixel.

    Training runs a fixed schedule and keeps its final state; nothing is selected on validation
    (= test, for MVTecAD's default split) data. The schedule is the trainer's (``max_epochs``, ``max_steps``
    or ``max_time``) when the user gave one, else SimpleNet's ``max_epochs``. The frozen backbone runs
    once per training image per fit; later epochs train the adaptor and discriminator on the stored
    features, with the same result. ImageNet weights are loaded when training starts (timm download, or
    ``backbone_weights`` offline); a checkpoint already carries them, so loading one never downloads.

    Args:
        backbone (str): timm CNN. Defaults to ``"wide_resnet50_2"`` (paper).
        layers (Sequence[str]): Backbone levels. Defaults to ``("layer2", "layer3")`` (paper).
        pre_trained (bool): Use ImageNet weights. Defaults to ``True``.
        backbone_weights (str | Path | None): Local weights file used instead of timm's download (offline use).
            Defaults to ``None``.
        patch_size (int): Neighbourhood size ``p``. Defaults to ``3`` (paper, Fig. 6).
        embedding (EmbeddingKind): How each location's neighbourhoods on the levels become one feature:
            ``"unfolded"`` (the authors' code: unfolded with their layout, pooled to ``embedding_dim``) or
            ``"channel_mean"`` (each channel averaged over the neighbourhood; the length is then the levels' channel
            count). Defaults to ``"unfolded"``.
        embedding_dim (int): Length of the unfolded embedding. Defaults to ``1536`` (the paper's, Sec. 4.1).
        adaptor (AdaptorType): ``"linear"`` (authors' code), ``"linear_no_bias"`` (paper text), ``"none"`` or
            ``"mlp"`` (Table 3's non-linear adaptor; for the ablation). Defaults to ``"linear"``.
        adaptor_init (AdaptorInit): Adaptor weight initialisation, ``"default"`` (PyTorch's) or ``"xavier_normal"``
            (authors' code). Defaults to ``"default"``.
        noise_std (float): Std of the anomalous-feature noise (``sigma``). Defaults to ``0.35``, relative: chosen on
            held-out training images with synthetic defects of three categories (the project's defaults study).
        noise_scale (NoiseScale): ``"relative"``: ``sigma`` in units of each feature channel's std, the same for
            every backbone; ``"absolute"``: the paper's (0.015 for WideResNet50). Defaults to ``"relative"``.
        discriminator_hidden (int): Discriminator hidden width. Defaults to ``1024`` (paper).
        normal_threshold (float): ``th+`` of the truncated L1 loss. Defaults to ``0.5`` (paper).
        anomalous_threshold (float): ``th-`` of the truncated L1 loss. Defaults to ``-0.5`` (paper).
        loss (LossKind): ``"truncated_l1"`` (the paper's eqs. 7-8) or ``"bce"`` (binary cross-entropy on the
            discriminator's logits, Table 3 "Ours-CE"; for the ablation). Defaults to ``"truncated_l1"``.
        blur_sigma (float): Standard deviation, in pixels, of the Gaussian blur of the anomaly map. Defaults to
            ``4.0`` (Sec. 3.6).
        image_score (ImagePooling): ``"standardised_max"``: each location's patch score measured against its own
            scores on the training images, then the maximum (:mod:`.image_score`; chosen on training data);
            ``"max"``: the paper's maximum of the raw patch scores (eq. 11). Defaults to ``"standardised_max"``.
        adaptor_lr (float): Adam learning rate of the adaptor. Defaults to ``1e-4`` (the authors' code).
        discriminator_lr (float): Adam learning rate of the discriminator. Defaults to ``2e-4`` (the authors' code).
        weight_decay (float): Adam weight decay. Defaults to ``1e-5`` (the authors' code).
        max_epochs (int): SimpleNet's own schedule, used when the trainer sets no ``max_epochs``, ``max_steps`` or
            ``max_time``. Defaults to ``20`` (chosen on training data; the paper's is 160).
        feature_store_mb (float | None): Memory budget of the feature store in MiB; ``0`` turns it off, ``None``
            allows half of the memory available when training starts. Defaults to ``None``.
        feature_store_dtype (StoreDtype): ``"auto"`` (float32, or float16 when only that fits the budget),
            ``"float32"`` (exact) or ``"float16"`` (half the memory). Defaults to ``"auto"``.
        pre_processor (nn.Module | bool): As for every anomalib model. Defaults to ``True``.
        post_processor (nn.Module | bool): As for every anomalib model. Defaults to ``True``.
        evaluator (Evaluator | bool): As for every anomalib model. Defaults to ``True``.
        visualizer (Visualizer | bool): As for every anomalib model. Defaults to ``True``.

    Example:
        >>> from anomalib.models import SimpleNet
        >>> model = SimpleNet(backbone="resnet18", pre_trained=False)
        >>> model.learning_type.value, model.model.feature_extractor.out_channels
        ('one_class', 1536)

    """

    # What a package built around SimpleNet may add without subclassing it (anomalib finds a model by its class name,
    # so a subclass would be a second "SimpleNet"): the visualizer a model gets by default, and callbacks added to
    # every fit, each made from the model. Stock anomalib leaves both as they are.
    default_visualizer: ClassVar[Callable[[], Visualizer]] = ImageVisualizer
    extra_fit_callbacks: ClassVar[list[Callable[["SimpleNet"], Callback]]] = []

    architecture_arguments = ARCHITECTURE_ARGUMENTS

    def __init__(
        self,
        backbone: str = "wide_resnet50_2",
        layers: Sequence[str] = ("layer2", "layer3"),
        pre_trained: bool = True,
        backbone_weights: str | Path | None = None,
        patch_size: int = 3,
        embedding: EmbeddingKind = "unfolded",
        embedding_dim: int = 1536,
        adaptor: AdaptorType = "linear",
        adaptor_init: AdaptorInit = "default",
        noise_std: float = 0.35,
        noise_scale: NoiseScale = "relative",
        discriminator_hidden: int = 1024,
        normal_threshold: float = 0.5,
        anomalous_threshold: float = -0.5,
        loss: LossKind = "truncated_l1",
        blur_sigma: float = 4.0,
        image_score: ImagePooling = "standardised_max",
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
        feature_store = FeatureStore(budget_mb=feature_store_mb, dtype=feature_store_dtype)
        super().__init__(pre_processor=pre_processor, post_processor=post_processor, evaluator=evaluator, visualizer=visualizer)
        # ImageNet weights are loaded in setup("fit"): loading a checkpoint must not need a download.
        self.model = SimpleNetModel(
            backbone=backbone,
            layers=layers,
            pre_trained=False,
            backbone_weights=None,
            patch_size=patch_size,
            embedding=embedding,
            embedding_dim=embedding_dim,
            adaptor=adaptor,
            adaptor_init=adaptor_init,
            noise_std=noise_std,
            noise_scale=noise_scale,
            discriminator_hidden=discriminator_hidden,
            normal_threshold=normal_threshold,
            anomalous_threshold=anomalous_threshold,
            loss=loss,
            blur_sigma=blur_sigma,
            image_score=image_score,
        )
        self.backbone_weights = backbone_weights
        self._backbone_ready = not (pre_trained or backbone_weights)
        self.adaptor_lr = adaptor_lr
        self.discriminator_lr = discriminator_lr
        self.weight_decay = weight_decay
        self.max_epochs = max_epochs
        self.feature_store = feature_store
        self.learning_check = LearningCheck()
        self.image_score_statistics = ImageScoreStatistics(feature_store)
        self._extra_callbacks: list[Callback] | None = None

    def rebuild_torch_model(self, architecture: dict[str, Any]) -> None:
        """Replace the torch model by one of another architecture, to receive a checkpoint's weights.

        Args:
            architecture (dict[str, Any]): A value for each of :data:`ARCHITECTURE_ARGUMENTS`.

        """
        self.model = SimpleNetModel(pre_trained=False, backbone_weights=None, **architecture).to(self.device)
        self.hparams.update(architecture)

    @classmethod
    def configure_pre_processor(
        cls, image_size: tuple[int, int] = (256, 256), center_crop_size: tuple[int, int] | None = None
    ) -> PreProcessor:
        """Resize the whole image to ``image_size`` and normalise with ImageNet statistics; no crop by default.

        See :func:`~.pre_processing.simplenet_pre_processor`; ``center_crop_size=(224, 224)`` is the paper's MVTec
        protocol.

        Args:
            image_size (tuple[int, int]): Resize target ``(height, width)``. Defaults to ``(256, 256)``.
            center_crop_size (tuple[int, int] | None): Optional centre crop after resizing. Defaults to ``None``.

        Returns:
            PreProcessor: The pre-processor.

        """
        return simplenet_pre_processor(image_size, center_crop_size)

    @classmethod
    def configure_visualizer(cls) -> Visualizer:
        """Anomalib's image visualizer, unless a package around SimpleNet set another as ``default_visualizer``.

        Returns:
            Visualizer: A new visualizer.

        """
        return cls.default_visualizer()

    def configure_optimizers(self) -> optim.Optimizer:
        """Adam over the adaptor and the discriminator, each with its own learning rate, and ``weight_decay``.

        Returns:
            optim.Optimizer: The optimiser.

        """
        return optim.Adam(
            [
                {"params": self.model.feature_adaptor.parameters(), "lr": self.adaptor_lr},
                {"params": self.model.discriminator.parameters(), "lr": self.discriminator_lr},
            ],
            weight_decay=self.weight_decay,
        )

    def configure_callbacks(self) -> list[Callback]:
        """Anomalib's callbacks, then SimpleNet's: image-score statistics (before the store frees), store, learning check.

        SimpleNet's own callbacks that are already attached to the trainer (a test or predict after a fit with the same
        trainer) are not returned again, so Lightning keeps them without announcing that they "override" themselves.

        Returns:
            list[Callback]: The callbacks of a fit.

        """
        if self._extra_callbacks is None:  # made once per model, so a later stage finds the same ones attached
            self._extra_callbacks = [make(self) for make in self.extra_fit_callbacks]
        own = [self.image_score_statistics, self.feature_store, self.learning_check, *self._extra_callbacks]
        try:
            attached = {id(callback) for callback in self.trainer.callbacks}
        except RuntimeError:  # not attached to a trainer
            attached = set()
        return [*super().configure_callbacks(), *(callback for callback in own if id(callback) not in attached)]

    def setup(self, stage: str) -> None:
        """Check the data; before training, apply the default schedule and load the backbone's ImageNet weights.

        Args:
            stage (str): Lightning's stage (``"fit"``, ``"validate"``, ``"test"``, ``"predict"``).

        """
        check_datamodule(getattr(self.trainer, "datamodule", None), fitting=stage == "fit")
        if stage == "fit":
            apply_default_schedule(self.trainer, self.max_epochs)
            if not self._backbone_ready:
                self.model.feature_extractor.load_weights(self.backbone_weights)
                self._backbone_ready = True

    def on_train_start(self) -> None:
        """Check the training data and validate once, at the end of the schedule."""
        check_training_data(self.trainer)
        validate_once_at_end(self.trainer)

    def training_step(self, batch: Batch | StoredFeatureBatch, *args, **kwargs) -> STEP_OUTPUT:
        """One optimisation step of the adaptor and discriminator, on images or on their stored features.

        Args:
            batch (Batch | StoredFeatureBatch): Training images, or the extractor's stored output for them.
            *args (Any): Unused.
            **kwargs (Any): Unused.

        Returns:
            STEP_OUTPUT: The loss.

        """
        del args, kwargs
        if isinstance(batch, StoredFeatureBatch):
            features = batch.features
        else:
            reject_anomalous_training_images(batch)
            features = self.feature_store.lookup(batch.image_path, self.device)
            if features is None:
                features = self.model.feature_extractor(batch.image)
                self.feature_store.record(batch.image_path, features)
        loss = self.model.compute_loss(features)
        self.log("train_loss", loss, on_step=False, on_epoch=True, prog_bar=True, batch_size=len(features))
        return loss

    def validation_step(self, batch: Batch, *args, **kwargs) -> STEP_OUTPUT:
        """Score a batch: image scores and anomaly maps.

        Args:
            batch (Batch): Images to score.
            *args (Any): Unused.
            **kwargs (Any): Unused.

        Returns:
            STEP_OUTPUT: The batch with ``pred_score`` and ``anomaly_map``.

        """
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
