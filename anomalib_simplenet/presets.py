"""Named SimpleNet settings for common set-ups: the one place they are written (the configs are checked against it).

``LITE0_CPU``: EfficientNet-Lite0 levels ``blocks.2`` + ``blocks.4`` (strides 8 and 16, 40 + 112 channels), the
unfolded embedding at length 384 and 256 discriminator units, for a small CPU. Both sit where the held-out accuracy
of the training-data study (three categories, large and small synthetic defects) stops paying for the time they cost:
``docs/defaults.md``, from the study's CSVs under ``benchmarks/results/``. Everything else is SimpleNet's default.

Example:
    >>> from anomalib_simplenet import SimpleNet
    >>> model = SimpleNet(**LITE0_CPU, pre_trained=False).model
    >>> model.feature_extractor.out_channels, model.discriminator.layers[0].out_features
    (384, 256)

"""

LITE0_CPU: dict = {
    "backbone": "efficientnet_lite0",
    "layers": ("blocks.2", "blocks.4"),
    "embedding_dim": 384,
    "discriminator_hidden": 256,
}
