"""An exported (OpenVINO) model run on one decoded image, as anomalib's ``OpenVINOInferencer`` runs it, without anomalib.

Shared by the fleet's scoring actors (:mod:`anomalib_simplenet.tools.fleet.score`) and the review page's upload
and heat maps (:mod:`anomalib_simplenet.tools.review`): both decode a file's bytes as anomalib's ``read_image`` does
and feed the compiled model the tensor ``OpenVINOInferencer.pre_process`` would, so a score here is the score
``tools/predict/`` gives the same file. :data:`OPENVINO_F32`, the settings every tool compiles a model with, is here
too. Importing this module imports numpy only; OpenVINO, PIL and fsspec are imported when first used.

Example:
    >>> OPENVINO_F32
    {'INFERENCE_PRECISION_HINT': 'f32'}
    >>> decode(b"not an image")
    Traceback (most recent call last):
    ...
    ValueError: not a readable image: cannot identify image file ...

"""

import io
import tempfile
from dataclasses import dataclass
from typing import Any

import numpy as np

# Full precision on the CPU plugin: its default on bf16-capable processors moves scores by about 1e-2.
OPENVINO_F32 = {"INFERENCE_PRECISION_HINT": "f32"}

MAX_IMAGE_PIXELS = 100_000_000  # larger images are refused, not decoded


def decode(data: bytes, max_pixels: int = MAX_IMAGE_PIXELS) -> np.ndarray:
    """Decode an image file's bytes as anomalib's ``read_image`` returns the file: ``(H, W, 3)``, floats in [0, 1].

    Raises:
        ValueError: If the bytes are not an image PIL reads, or the image has more than ``max_pixels`` pixels.

    """
    from PIL import Image  # noqa: PLC0415

    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.width * image.height > max_pixels:
                msg = f"image of {image.width}x{image.height} pixels is larger than {max_pixels} pixels"
                raise ValueError(msg)
            return np.array(image.convert("RGB")) / 255.0
    except (OSError, Image.DecompressionBombError) as error:
        msg = f"not a readable image: {error}"
        raise ValueError(msg) from error


@dataclass(frozen=True)
class Scored:
    """What an exported model says of one image: anomalib's normalised score, its label and heat map ``(h, w)``.

    Example:
        >>> Scored(0.7, True, np.zeros((4, 4))).anomaly_map.shape
        (4, 4)

    """

    score: float
    label: bool
    anomaly_map: np.ndarray


class ExportedModel:
    """An exported model compiled for the CPU at full precision, scoring one decoded image at a time.

    Args:
        xml: ``model.xml`` written by ``anomalib export --export_type openvino``; an fsspec URL is read into memory.
        threads: OpenVINO inference threads (default: OpenVINO's choice).
        cache_dir: OpenVINO's compile cache (default: a new temporary folder).

    Raises:
        RuntimeError: From OpenVINO, if the file is not a model it reads.

    Example:
        >>> ExportedModel("/no/such/model.xml")
        Traceback (most recent call last):
        ...
        FileNotFoundError: exported model not found: '/no/such/model.xml'

    """

    def __init__(self, xml: str, threads: int | None = None, cache_dir: str | None = None) -> None:
        import openvino as ov  # noqa: PLC0415

        core = ov.Core()
        if "://" in xml:  # an object store: read the two files into memory
            import fsspec  # noqa: PLC0415

            with fsspec.open(xml, "rb") as model, fsspec.open(xml[: -len(".xml")] + ".bin", "rb") as weights:
                graph = core.read_model(model=model.read(), weights=weights.read())
        else:
            import os  # noqa: PLC0415

            if not os.path.isfile(xml):
                msg = f"exported model not found: '{xml}'"
                raise FileNotFoundError(msg)
            graph = core.read_model(xml)
        config: dict[str, Any] = {**OPENVINO_F32, "CACHE_DIR": cache_dir or tempfile.mkdtemp(prefix="simplenet-ov-")}
        if threads is not None:
            config["INFERENCE_NUM_THREADS"] = threads
        self.xml = xml
        self.compiled = core.compile_model(graph, "CPU", config)

    def outputs(self, image: np.ndarray) -> dict[str, np.ndarray]:
        """Run the model on ``image`` (:func:`decode`'s ``(H, W, 3)``); return its outputs by name.

        These are what ``OpenVINOInferencer.predict`` returns: ``pred_score``, ``pred_label``, ``anomaly_map``,
        ``pred_mask``, plus ``image``, the NCHW float32 tensor the model got.

        Raises:
            RuntimeError: From OpenVINO, e.g. for a model exported for one input size only.

        """
        # OpenVINOInferencer.pre_process and .predict, step by step: float32, NCHW, one image, outputs by name.
        tensor = image.astype(np.float32).transpose(2, 0, 1)[None]
        result = self.compiled({self.compiled.input(0).any_name: tensor})
        outputs = {next(iter(name)): value for name, value in zip(result.names(), result.to_tuple(), strict=True)}
        return {**outputs, "image": tensor}

    def score(self, image: np.ndarray) -> Scored:
        """Score ``image``: anomalib's normalised score (above 0.5: anomalous), label and heat map in [0, 1]."""
        outputs = self.outputs(image)
        anomaly_map = np.asarray(outputs["anomaly_map"], dtype=np.float32)
        return Scored(
            float(np.asarray(outputs["pred_score"]).reshape(-1)[0]),
            bool(np.asarray(outputs["pred_label"]).reshape(-1)[0]),
            anomaly_map.reshape(anomaly_map.shape[-2:]),
        )
