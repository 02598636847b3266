"""Exported models against their checkpoint, image by image, through the inferencers anomalib ships."""

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from anomalib.data.utils import read_image
from anomalib.deploy import OpenVINOInferencer, TorchInferencer

from anomalib_simplenet import SimpleNet
from anomalib_simplenet.tools.openvino_model import OPENVINO_F32

# Exported (OpenVINO, ONNX, torch) vs the checkpoint on the same image, after anomalib's post-processing
# (scores and maps in [0, 1]), with OpenVINO held to f32 (OPENVINO_F32, as the tools compile). Its CPU default on
# bf16-capable processors is bf16, which moves scores by up to about 1e-2; that is a speed/precision choice of the
# runtime, not an export error.
EXPORT_ATOL = 1e-4


def _openvino_runner(path: Path) -> Callable[[Path], tuple[np.ndarray, np.ndarray, bool]]:
    """anomalib's OpenVINOInferencer on the exported model.xml."""
    inferencer = OpenVINOInferencer(path=path, device="CPU", config=OPENVINO_F32)

    def run(image_path: Path) -> tuple[np.ndarray, np.ndarray, bool]:
        result = inferencer.predict(str(image_path))
        return np.asarray(result.pred_score), np.asarray(result.anomaly_map), bool(np.asarray(result.pred_label).ravel()[0])

    return run


def _onnx_runner(path: Path) -> Callable[[Path], tuple[np.ndarray, np.ndarray, bool]]:
    """The exported model.onnx as OpenVINO reads an ONNX file, fed the image as anomalib reads it."""
    import openvino as ov

    compiled = ov.compile_model(ov.Core().read_model(path), "CPU", OPENVINO_F32)

    def run(image_path: Path) -> tuple[np.ndarray, np.ndarray, bool]:
        outputs = compiled(read_image(image_path, as_tensor=True).unsqueeze(0).numpy())
        score, anomaly_map, label = (outputs[compiled.output(name)] for name in ("pred_score", "anomaly_map", "pred_label"))
        return score, anomaly_map, bool(label.ravel()[0])

    return run


def _torch_runner(path: Path) -> Callable[[Path], tuple[np.ndarray, np.ndarray, bool]]:
    """The exported model.pt loaded as anomalib's TorchInferencer loads it (a pickled module: TRUST_REMOTE_CODE=1)."""
    inferencer = TorchInferencer(path=path, device="cpu")

    def run(image_path: Path) -> tuple[np.ndarray, np.ndarray, bool]:
        with torch.no_grad():
            result = inferencer.predict(image_path)
        return result.pred_score.numpy(), result.anomaly_map.numpy(), bool(result.pred_label.ravel()[0])

    return run


RUNNERS = {"openvino": _openvino_runner, "onnx": _onnx_runner, "torch": _torch_runner}


def assert_export_matches_checkpoint(path: Path, export_type: str, ckpt: Path, images: list[Path]) -> None:
    """The exported model gives the checkpoint's scores, maps and labels on every image (which must score differently).

    Run from a scratch working folder (OpenVINOInferencer writes ``./openvino_cache``) with ``TRUST_REMOTE_CODE=1``
    (TorchInferencer unpickles the exported module only when told to).
    """
    run = RUNNERS[export_type](path)
    reference = SimpleNet.load_from_checkpoint(ckpt).eval()
    scores = []
    for image_path in images:
        score, anomaly_map, label = run(image_path)
        with torch.no_grad():
            expected = reference(read_image(image_path, as_tensor=True).unsqueeze(0))
        np.testing.assert_allclose(score.ravel(), expected.pred_score.numpy().ravel(), atol=EXPORT_ATOL)
        np.testing.assert_allclose(anomaly_map.squeeze(), expected.anomaly_map.numpy().squeeze(), atol=EXPORT_ATOL)
        if abs(float(expected.pred_score) - 0.5) > EXPORT_ATOL:  # labels may differ only at a tie with the threshold
            assert label == bool(expected.pred_label.ravel()[0])
        scores.append(float(expected.pred_score))
    assert max(scores) - min(scores) > 1e-3  # the images score differently: the comparison is not between constants
