# Copyright (C) 2026 anomalib-simplenet contributors
# SPDX-License-Identifier: Apache-2.0

"""SimpleNet: A Simple Network for Image Anomaly Detection and Localization (Liu et al., CVPR 2023).

A frozen pre-trained CNN gives local features; a linear adaptor moves them to the target domain; Gaussian noise
added to the adapted features stands in for anomalies during training; a small discriminator learns to tell the
two apart, and its score is the anomaly score at inference. This folder is the whole model: :mod:`.torch_model`
holds the math as a plain ``nn.Module`` built from the paper's four components (:mod:`.components`, with the
feature extractor's :mod:`.embedding`), :mod:`.loss`, :mod:`.anomaly_map` and :mod:`.image_score` sit beside it,
and :mod:`.lightning_model` wires it into anomalib's training, evaluation and export with the callbacks of a fit
(:mod:`.schedule`, :mod:`.feature_store`, :mod:`.learning_check`, :mod:`.image_score_statistics`) and the checks of
its input (:mod:`.data_checks`, :mod:`.checkpoint`).

Example:
    >>> from anomalib.models import SimpleNet
    >>> model = SimpleNet(backbone="resnet18", layers=("layer2", "layer3"), pre_trained=False, embedding_dim=64)
    >>> model.model.feature_extractor.out_channels, model.learning_type.value
    (64, 'one_class')

Paper: https://arxiv.org/abs/2303.15140

"""

from .lightning_model import SimpleNet

__all__ = ["SimpleNet"]
