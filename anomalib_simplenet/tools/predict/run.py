"""The work of ``python -m anomalib_simplenet.tools.predict``: check the model and the images, then score them.

:func:`predict_openvino` is also what ``simplenet-demo`` and the quick-start notebook call to score with the export.

Example:
    >>> check_model(Path("/no/such/model.xml"))
    Traceback (most recent call last):
    ...
    anomalib_simplenet.tools.predict.run.PredictError: exported model not found: '/no/such/model.xml'. ...

"""

from collections.abc import Sequence
from pathlib import Path

from anomalib_simplenet.tools.image_files import IMAGE_SUFFIXES, images_under, is_image
from anomalib_simplenet.tools.openvino_model import OPENVINO_F32
from anomalib_simplenet.tools.threshold_file import ThresholdFileError, read_threshold
from anomalib_simplenet.visualization.predictions import (
    ANOMALY_MAPS,
    CSV_NAME,
    Prediction,
    add_caption,
    caption_text,
    save_map,
    write_predictions_csv,
)


class PredictError(Exception):
    """A mistake in the input, reported as one line that says what to do.

    Example:
        >>> find_images(Path("/no/such/images"))
        Traceback (most recent call last):
        ...
        anomalib_simplenet.tools.predict.run.PredictError: --data '/no/such/images' not found: pass an image or a folder ...

    """


def find_images(data: Path) -> list[Path]:
    """Return the image at ``data``, or the images under the folder ``data``, sorted.

    Raises:
        PredictError: If ``data`` does not exist, is not an image, or is a folder without images.

    """
    data = data.expanduser()
    if data.is_file():
        if not is_image(data):
            msg = f"'{data}' is not an image ({', '.join(sorted(IMAGE_SUFFIXES))}): pass an image or a folder with --data."
            raise PredictError(msg)
        return [data]
    if not data.is_dir():
        msg = f"--data '{data}' not found: pass an image or a folder of images."
        raise PredictError(msg)
    images = images_under(data)
    if not images:
        msg = f"no images in '{data}' ({', '.join(sorted(IMAGE_SUFFIXES))}): put images there or pass another folder with --data."
        raise PredictError(msg)
    return images


def check_model(model: Path) -> Path:
    """Check that ``model`` is an exported model file.

    Raises:
        PredictError: For a missing file, or a Lightning checkpoint / torch file given instead of an export.

    """
    model = model.expanduser()
    if model.suffix in {".ckpt", ".pt", ".pth"}:
        msg = (
            f"'{model.name}' is a torch file, not an exported model: use `anomalib predict --model SimpleNet --ckpt_path {model} "
            "--data <images>`, or export it first: `anomalib export --model SimpleNet --export_type openvino --ckpt_path ...`."
        )
        raise PredictError(msg)
    if not model.is_file():
        msg = f"exported model not found: '{model}'. Pass the model.xml written by `anomalib export --export_type openvino`."
        raise PredictError(msg)
    if model.suffix not in {".xml", ".onnx"}:
        msg = f"'{model}' is not an OpenVINO (.xml) or ONNX (.onnx) model."
        raise PredictError(msg)
    return model


def predict_openvino(model: Path, images: Sequence[Path], output: Path, device: str = "CPU") -> list[Prediction]:
    """Score ``images`` with the exported ``model``; save a captioned picture per image and ``predictions.csv`` in ``output``.

    Pictures (and heat maps, in ``output/anomaly_maps``) keep the images' folder structure below their common
    parent. Labels follow the threshold saved beside the model by ``simplenet-review`` when there is one
    (:mod:`anomalib_simplenet.tools.threshold_file`), else the model's own. The OpenVINO compile cache goes to
    ``output/openvino_cache``.

    Raises:
        PredictError: If a threshold file beside the model cannot be read.

    """
    import numpy as np  # noqa: PLC0415
    import torch  # noqa: PLC0415
    from anomalib.deploy import OpenVINOInferencer  # noqa: PLC0415
    from anomalib.visualization import ImageVisualizer  # noqa: PLC0415

    output = Path(output)
    try:
        threshold = read_threshold(model)
    except ThresholdFileError as error:
        raise PredictError(str(error)) from error
    inferencer = OpenVINOInferencer(
        path=model, device=device, config={**OPENVINO_F32, "CACHE_DIR": str(output / "openvino_cache")}
    )
    visualizer = ImageVisualizer(fields=["image"])
    base = Path(*_common_parts([image.resolve().parent for image in images]))
    predictions = []
    for image in images:
        result = inferencer.predict(image)
        item = next(iter(result))
        score, anomalous = float(np.asarray(item.pred_score).ravel()[0]), bool(np.asarray(item.pred_label).ravel()[0])
        if threshold is not None:
            anomalous = score > threshold  # as anomalib labels: above the threshold
        picture = visualizer.visualize(item)
        relative = image.resolve().relative_to(base).with_suffix(".png")
        target = output / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        add_caption(picture, caption_text(score, anomalous), anomalous).save(target)
        save_map(torch.from_numpy(np.asarray(item.anomaly_map)), output / ANOMALY_MAPS / relative)
        predictions.append(Prediction(str(image), score, anomalous, None, str(target), str(ANOMALY_MAPS / relative)))
    write_predictions_csv(predictions, output / CSV_NAME)
    return predictions


def _common_parts(folders: Sequence[Path]) -> tuple[str, ...]:
    parts = folders[0].parts
    for folder in folders[1:]:
        common = 0
        for mine, theirs in zip(parts, folder.parts, strict=False):
            if mine != theirs:
                break
            common += 1
        parts = parts[:common]
    return parts
