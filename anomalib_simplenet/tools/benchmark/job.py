"""One benchmark run, executed in its own process so that its peak memory is its own.

``python -m anomalib_simplenet.tools.benchmark.job JOB.json RESULT.json`` trains and tests one model on one
category with one seed (anomalib's datamodule, ``Engine`` and metrics), exports it to OpenVINO with
``Engine.export``, measures inference speed, and writes one flat row of results.
"""

import inspect
import json
import resource
import shutil
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

import anomalib.models
import timm
import torch
from anomalib.data.datamodules.base.image import AnomalibDataModule
from anomalib.deploy import ExportType
from anomalib.engine import Engine
from anomalib.models import AnomalibModule
from anomalib.models.components import TimmFeatureExtractor
from lightning import seed_everything
from torch import nn
from torch.nn import functional as F  # noqa: N812

from anomalib_simplenet.evaluation import evaluation_with_pro
from anomalib_simplenet.simplenet.backbone_weights import load_backbone_weights
from anomalib_simplenet.simplenet.lightning_model import SimpleNet
from anomalib_simplenet.tools.console import quiet_libraries
from anomalib_simplenet.tools.datamodules import datamodule_for
from anomalib_simplenet.tools.jobs.store import job_key, write_atomic
from anomalib_simplenet.visualization.visualizer import ScoredImageVisualizer

from .config import BACKBONE_ONLY, BenchmarkConfigError, Job, resolve_backbone_weights
from .throughput import openvino_throughput, torch_throughput


def make_datamodule(job: Job) -> AnomalibDataModule:
    """Anomalib's datamodule of the config, for the job's category and seed (generating demo data if asked)."""
    return datamodule_for(job.config.data_for(job.category), job.category, job.seed)


def build_model(job: Job, weights: str | None, predictions_dir: Path | None = None) -> AnomalibModule:
    """Build the anomalib model of ``job`` with the shared backbone, levels, input size and metrics.

    Every model gets the same pre-processor (resize to ``image_size``, ImageNet normalisation) and the
    same post-processor and evaluator (image AUROC/F1, pixel AUROC/F1, PRO; AUROC and PRO on raw scores), so their
    figures are comparable. Backbone
    weights come from ``weights`` when given (loaded into every timm extractor of the model), else
    from timm's download. With ``predictions_dir`` the test run writes its per-image table and heat maps there
    (:class:`~anomalib_simplenet.visualization.visualizer.ScoredImageVisualizer` without pictures).
    """
    config = job.config
    size = (config.image_size, config.image_size)
    args: dict[str, Any] = {
        "pre_processor": SimpleNet.configure_pre_processor(image_size=size),
        **evaluation_with_pro(),
        "visualizer": False if predictions_dir is None else ScoredImageVisualizer(output_dir=predictions_dir, pictures=False),
        **job.model.init_args,
    }
    model_class = model_class_by_name(job.model.name)
    accepted = inspect.signature(model_class.__init__).parameters
    shared = {"backbone": config.backbone, "layers": list(config.layers), "pre_trained": weights is None}
    args = {**{key: value for key, value in shared.items() if key in accepted}, **args}
    if model_class is SimpleNet:
        args["backbone_weights"] = weights
        args["pre_trained"] = True
    if weights is None or model_class is SimpleNet or "pre_trained" in accepted:
        model = model_class(**args)
    else:  # no way to ask it for random weights (Supersimplenet): the file's weights replace them below
        with timm_without_download():
            model = model_class(**args)
    if weights is not None and model_class is not SimpleNet:
        load_weights_into_extractors(model, job.backbone, weights)
    return model


@contextmanager
def timm_without_download() -> Iterator[None]:
    """Inside the block, ``timm.create_model`` builds random weights: ``pretrained=False`` whatever the caller asks.

    Some anomalib models (Supersimplenet) build their ``TimmFeatureExtractor`` with ``pre_trained=True`` and offer
    no argument to turn that off, so timm would download ImageNet weights (impossible offline) only for the
    benchmark to overwrite them with its own weights file (:func:`load_weights_into_extractors`).

    Example:
        >>> with timm_without_download():
        ...     model = timm.create_model("resnet18", pretrained=True)  # random weights, nothing downloaded
        >>> timm.create_model.__name__  # timm's own again after the block
        'create_model'

    """
    create_model = timm.create_model

    def create_model_without_download(*args: Any, **kwargs: Any) -> nn.Module:  # noqa: ANN401
        return create_model(*args, **{**kwargs, "pretrained": False})

    with mock.patch.object(timm, "create_model", create_model_without_download):
        yield


def load_weights_into_extractors(model: AnomalibModule, backbone: str, weights: str) -> None:
    """Load a backbone weights file into every timm feature extractor of ``model`` (PaDiM's, PatchCore's, ...)."""
    for extractor in model.model.modules():
        if isinstance(extractor, TimmFeatureExtractor):
            load_backbone_weights(extractor.feature_extractor, backbone, weights)


def trainer_settings(job: Job, model: AnomalibModule) -> dict[str, Any]:
    """Return the model entry's ``trainer:`` settings, the arguments of its ``Engine``.

    Raises:
        BenchmarkConfigError: If the model fixes one of them itself (PaDiM's and PatchCore's one epoch): anomalib's
            ``Engine`` would silently take the model's value.

    """
    fixed = {key: value for key, value in model.trainer_arguments.items() if job.model.trainer.get(key, value) != value}
    if fixed:
        msg = (
            f"{job.model.name} sets {fixed} itself, which anomalib's Engine keeps: drop those keys from the trainer: "
            f"of its models: entry ({job.model.title})."
        )
        raise BenchmarkConfigError(msg)
    return dict(job.model.trainer)


def model_class_by_name(name: str) -> type[AnomalibModule]:
    """Find the anomalib model class called ``name`` (``Patchcore``, ``padim``, ``SimpleNet``...), not instantiated.

    Raises:
        BenchmarkConfigError: If anomalib has no model of that name; the message lists those it has.

    """
    available = {
        attribute: getattr(anomalib.models, attribute)
        for attribute in dir(anomalib.models)
        if isinstance(getattr(anomalib.models, attribute), type)
        and issubclass(getattr(anomalib.models, attribute), AnomalibModule)
    }
    available.pop("AnomalibModule", None)
    matches = [cls for attribute, cls in available.items() if attribute.lower() == name.lower().replace("_", "")]
    if not matches:
        msg = f"anomalib has no model '{name}'. Known models: {sorted(available)}."
        raise BenchmarkConfigError(msg)
    return matches[0]


class BackboneOnly(nn.Module):
    """The reference floor: pre-processing plus the frozen feature extractor, nothing else.

    Example:
        >>> import tempfile, timm
        >>> from anomalib_simplenet.tools.benchmark.config import BenchmarkConfig
        >>> weights = tempfile.mktemp(suffix=".pth")
        >>> torch.save(timm.create_model("resnet18").state_dict(), weights)
        >>> config = BenchmarkConfig.from_dict({
        ...     "models": ["SimpleNet"], "data": {"class_path": "MVTecAD"}, "categories": ["bottle"],
        ...     "backbone": "resnet18", "layers": ["layer2", "layer3"], "image_size": 64,
        ... })
        >>> floor = BackboneOnly(config.jobs()[0], weights)
        >>> [tuple(level.shape) for level in floor(torch.rand(1, 3, 100, 80))]  # resized to 64x64 first
        [(1, 128, 8, 8), (1, 256, 4, 4)]
        >>> Path(weights).unlink()

    """

    def __init__(self, job: Job, weights: str | None) -> None:
        super().__init__()
        config = job.config
        self.pre_processor = SimpleNet.configure_pre_processor(image_size=(config.image_size, config.image_size))
        self.extractor = TimmFeatureExtractor(config.backbone, list(config.layers), pre_trained=weights is None)
        if weights is not None:
            load_backbone_weights(self.extractor.feature_extractor, config.backbone, weights)
        self.eval()

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Feature maps of the configured levels."""
        return tuple(self.extractor(self.pre_processor(images)).values())


def sample_images(datamodule: AnomalibDataModule, count: int, size: int) -> torch.Tensor:
    """``count`` real test images at ``size x size``, cycled if the test set is smaller (speed runs only)."""
    dataset = datamodule.test_data
    picked = [dataset[index % len(dataset)].image for index in range(count)]
    return torch.stack([F.interpolate(image[None], size=(size, size), mode="bilinear", antialias=True)[0] for image in picked])


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def file_size_mb(*paths: Path) -> float:
    """Total size of ``paths`` in MiB."""
    return sum(Path(path).stat().st_size for path in paths) / 2**20


def speed_columns(model: nn.Module, xml: Path | None, images: torch.Tensor, job: Job) -> dict[str, Any]:
    """Throughput columns ``<runtime>_<device>_b<batch>_img_s`` for torch (each device) and OpenVINO CPU."""
    spec, row = job.config.throughput, {}
    for device in spec.torch_devices:
        for batch_size, speed in torch_throughput(model, images, spec, device).items():
            row[f"torch_{device}_b{batch_size}_img_s"] = speed
        model.to("cpu")
    if xml is not None:
        speeds, precision, refused = openvino_throughput(xml, images, spec)
        row.update({f"openvino_cpu_b{batch_size}_img_s": speed for batch_size, speed in speeds.items()})
        row["openvino_precision"] = precision
        if refused:
            row["openvino_note"] = refused
    return row


def export_backbone(module: BackboneOnly, images: torch.Tensor, work_dir: Path) -> Path:
    """OpenVINO IR of the backbone-only reference, by the route ``Engine.export`` takes for the models.

    As anomalib does: dynamo ONNX export with a dynamic batch axis, ``openvino.convert_model`` on the
    ONNX file, saved without FP16 weight compression.
    """
    import openvino as ov  # noqa: PLC0415

    onnx_path, xml = work_dir / "backbone_only.onnx", work_dir / "backbone_only.xml"
    batch = torch.export.Dim("batch")
    torch.onnx.export(module, (images[:2],), str(onnx_path), dynamo=True, input_names=["input"], dynamic_shapes=({0: batch},))
    ov.save_model(ov.convert_model(onnx_path), xml, compress_to_fp16=False)
    return xml


def predictions_dir(result_file: str | Path) -> Path:
    """Where a run with ``save_predictions`` keeps its per-image table and heat maps: beside its result file.

    Example:
        >>> predictions_dir("out/runs/SimpleNet-bottle-seed0.json").as_posix()
        'out/runs/SimpleNet-bottle-seed0.predictions'

    """
    return Path(result_file).with_suffix(".predictions")


def run(job: Job, work_dir: Path, predictions: Path | None = None) -> dict[str, Any]:
    """Run ``job`` and return its row of results (metrics, times, speeds, memory, sizes).

    ``predictions``: the folder for the per-image table and heat maps, when the config saves them.
    """
    config = job.config
    work_dir.mkdir(parents=True, exist_ok=True)
    seed_everything(job.seed, workers=True)
    weights = resolve_backbone_weights(config.backbone_weights, job.backbone)
    datamodule = make_datamodule(job)
    row: dict[str, Any] = {
        "model": job.model.title,
        "model_class": job.model.name,
        "category": job.category,
        "seed": job.seed,
        "backbone": job.backbone,
        "layers": "+".join(job.model.init_args.get("layers", config.layers)),
        "image_size": config.image_size,
        "accelerator": config.accelerator,
        "torch_threads": torch.get_num_threads(),
        "model_args": json.dumps(job.model.init_args, sort_keys=True),
    }
    if job.model.name == BACKBONE_ONLY:
        datamodule.setup()
        images = sample_images(datamodule, max(config.throughput.batch_sizes), config.image_size)
        module = BackboneOnly(job, weights)
        xml = export_backbone(module, images, work_dir) if config.throughput.openvino else None
        row.update(speed_columns(module, xml, images, job))
        row["peak_rss_mb"] = peak_rss_mb()
        return row

    model = build_model(job, weights, predictions if config.save_predictions else None)
    engine = Engine(
        accelerator=config.accelerator, devices=1, default_root_dir=work_dir, logger=False, **trainer_settings(job, model)
    )
    start = time.perf_counter()
    engine.fit(model, datamodule=datamodule)
    row["fit_s"] = time.perf_counter() - start
    row["peak_rss_fit_mb"] = peak_rss_mb()
    start = time.perf_counter()
    metrics = engine.test(model, datamodule=datamodule, verbose=False)[0]
    row["test_s"] = time.perf_counter() - start
    row.update({key: float(value) for key, value in metrics.items()})
    checkpoint = Path(engine.trainer.checkpoint_callback.best_model_path or engine.trainer.checkpoint_callback.last_model_path)
    row["checkpoint_mb"] = file_size_mb(checkpoint)
    xml = None
    if config.throughput.openvino:
        xml = Path(engine.export(model, ExportType.OPENVINO, export_root=work_dir, input_size=(config.image_size,) * 2))
        row["openvino_mb"] = file_size_mb(xml, xml.with_suffix(".bin"))
    images = sample_images(datamodule, max(config.throughput.batch_sizes), config.image_size)
    row.update(speed_columns(model, xml, images, job))
    row["peak_rss_mb"] = peak_rss_mb()
    if torch.cuda.is_available() and (config.accelerator in {"gpu", "cuda"} or "cuda" in config.throughput.torch_devices):
        row["cuda_max_allocated_mb"] = torch.cuda.max_memory_allocated() / 2**20
    return row


def run_and_save(job_data: dict[str, Any], result_file: str) -> dict[str, Any]:
    """Run the job ``job_data`` (:meth:`Job.to_dict`) and write its row to ``result_file`` atomically, keyed.

    The row carries ``job_key`` (:func:`~anomalib_simplenet.tools.jobs.store.job_key` of the job's settings and
    the package versions): a later call reuses it only while that key still holds. The row is written to a
    temporary file and renamed into place, so a killed run leaves no result that looks finished.
    """
    job = Job.from_dict(job_data)
    work_dir = Path(result_file).parent / f"work-{job.name}"
    made_by_this_run = not work_dir.exists()
    row = {"job_key": job_key(job.settings()), **run(job, work_dir, predictions_dir(result_file))}
    write_atomic(result_file, json.dumps(row, indent=1))
    if made_by_this_run:  # this run's scratch folder (checkpoint, exported model): measured, not kept
        shutil.rmtree(work_dir, ignore_errors=True)  # a folder that was there before the run is left as it was
    return row


def main(argv: list[str] | None = None) -> None:
    """Worker entry point: ``python -m anomalib_simplenet.tools.benchmark.job JOB.json RESULT.json``."""
    job_file, result_file = (argv or sys.argv[1:])[:2]
    quiet_libraries()
    run_and_save(json.loads(Path(job_file).read_text()), result_file)


if __name__ == "__main__":
    main()
