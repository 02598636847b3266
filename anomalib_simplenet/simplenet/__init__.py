"""SimpleNet: A Simple Network for Image Anomaly Detection and Localization (Liu et al., CVPR 2023).

The model package, shaped like anomalib's own (``anomalib/models/image/<model>/``): :mod:`.torch_model` holds the math
as a plain ``nn.Module`` built from the paper's four components (:mod:`.components`, with the feature extractor's
:mod:`.embedding`), :mod:`.loss`, :mod:`.anomaly_map` and :mod:`.image_score` sit beside it, and
:mod:`.lightning_model` wires it into anomalib's training, evaluation and export. Around it, and imported only through
their packages' public names: :mod:`anomalib_simplenet.training` (the callbacks of a fit and its schedule),
:mod:`anomalib_simplenet.checks` (bad input, checkpoints) and :mod:`anomalib_simplenet.visualization`.

Example:
    >>> from anomalib_simplenet.simplenet import SimpleNet
    >>> model = SimpleNet(backbone="resnet18", layers=("layer2", "layer3"), pre_trained=False, embedding_dim=64)
    >>> model.model.feature_extractor.out_channels, model.learning_type.value
    (64, 'one_class')

Paper: https://arxiv.org/abs/2303.15140

"""

from .lightning_model import SimpleNet
from .torch_model import SimpleNetModel

__all__ = ["SimpleNet", "SimpleNetModel"]
