"""Inference speed without data loading: images per second of a model on tensors already in memory."""

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from .config import ThroughputSpec


def images_per_second(run: Callable[[], object], batch_size: int, spec: ThroughputSpec, sync: Callable[[], None]) -> float:
    """Call ``run`` ``spec.warmup`` times untimed, then time calls until ``min_seconds`` and ``min_calls`` are reached.

    Example:
        >>> spec = ThroughputSpec(warmup=1, min_seconds=0.01, min_calls=2)
        >>> images_per_second(lambda: sum(range(1000)), batch_size=4, spec=spec, sync=lambda: None) > 0
        True

    """
    for _ in range(spec.warmup):
        run()
    sync()
    calls, start = 0, time.perf_counter()
    while calls < spec.min_calls or time.perf_counter() - start < spec.min_seconds:
        run()
        calls += 1
    sync()
    return calls * batch_size / (time.perf_counter() - start)


def torch_throughput(model: torch.nn.Module, images: torch.Tensor, spec: ThroughputSpec, device: str) -> dict[int, float]:
    """Images/s of ``model(images[:b])`` in eval and inference mode for each batch size ``b`` of ``spec``.

    ``images`` holds at least ``max(spec.batch_sizes)`` images already at the model's input size.
    """
    model = model.eval().to(device)
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    results = {}
    with torch.inference_mode():
        for batch_size in spec.batch_sizes:
            batch = images[:batch_size].to(device)
            results[batch_size] = images_per_second(lambda batch=batch: model(batch), batch_size, spec, sync)
    return results


def openvino_throughput(model_xml: Path, images: torch.Tensor, spec: ThroughputSpec) -> tuple[dict[int, float], str, str]:
    """Images/s of an OpenVINO IR on the CPU plugin with its default settings, for each batch size of ``spec``.

    The model is reshaped to each batch size before compiling. Returns the figures, the inference
    precision the plugin chose (``bf16`` on CPUs that support it, else ``f32``), and a note naming the
    batch sizes the exported graph refused (some exports fix the batch size inside the graph); those
    have no figure.
    """
    import openvino as ov  # noqa: PLC0415  (only needed when OpenVINO throughput is asked for)

    core = ov.Core()
    results, precision, refused = {}, "", []
    for batch_size in spec.batch_sizes:
        network = core.read_model(model_xml)
        try:
            network.reshape({network.inputs[0].any_name: [batch_size, *images.shape[1:]]})
        except RuntimeError as error:
            refused.append(f"batch {batch_size} refused by the exported graph: {str(error).strip().splitlines()[-1]}")
            continue
        compiled = core.compile_model(network, "CPU")
        hint = compiled.get_property("INFERENCE_PRECISION_HINT")
        precision = hint.get_type_name() if hasattr(hint, "get_type_name") else str(hint)
        request = compiled.create_infer_request()
        batch = np.ascontiguousarray(images[:batch_size].numpy())
        infer = lambda batch=batch, request=request: request.infer([batch])  # noqa: E731
        results[batch_size] = images_per_second(infer, batch_size, spec, lambda: None)
    return results, precision, "; ".join(refused)
