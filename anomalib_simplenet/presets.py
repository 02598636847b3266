"""Named SimpleNet settings for common set-ups: the one place they are written (the configs are checked against it).

``LITE0_CPU``: EfficientNet-Lite0 levels ``blocks.2`` + ``blocks.4`` (strides 8 and 16, 40 + 112 channels)
with 256 discriminator units, for a small CPU. On held-out training images with synthetic defects
(``benchmarks/defaults_study.py``, ``benchmarks/results/2026-12-01-cpu-2core/defaults_study_factors_*.csv``)
256 units trained the head 4.5x faster than the default 1024 for 0.2 (bottle) and 0.3 (macaroni1) points
less pixel AUROC and 1.7 / 1.5 points less PRO; everything else is SimpleNet's default.

Example:
    >>> from anomalib_simplenet import SimpleNet
    >>> SimpleNet(**LITE0_CPU, pre_trained=False).model.discriminator.layers[0].out_features
    256

"""

LITE0_CPU: dict = {"backbone": "efficientnet_lite0", "layers": ("blocks.2", "blocks.4"), "discriminator_hidden": 256}
