"""What ``simplenet-fleet train`` trains, read from a YAML file (``configs/fleet/*.yaml``).

A config names anomalib's datamodule (``data:``, as ``anomalib train --data`` takes it), the products, SimpleNet's
arguments (``model:``, as ``--model.init_args``), the seed, the input size, the backbone weights and what each fit
asks of Ray (``resources:``). Products are either ``categories:`` of the datamodule (MVTec AD, VisA...) or
``products:``, a folder whose every subfolder is one product in anomalib's ``Folder`` layout; the ``Folder``
arguments in ``data:`` (``normal_dir``, ``abnormal_dir``...) are then relative to each product's folder.

Paths are resolved against the current folder when the config is read, so that Ray's workers (whose working
folder is not the caller's) find them; on a cluster they must be paths every node sees (``docs/fleet.md``).

Example:
    >>> config = FleetConfig.from_dict({
    ...     "data": {"class_path": "MVTecAD", "init_args": {"root": "/data/mvtec"}},
    ...     "categories": ["bottle", "cable"], "model": {"max_epochs": 5},
    ... })
    >>> config.categories, config.resources.num_cpus
    (('bottle', 'cable'), 1.0)
    >>> settings = config.settings_for("cable")
    >>> settings["data"]["init_args"]["root"], settings["model"]["max_epochs"]
    ('/data/mvtec', 5)

"""

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from anomalib_simplenet.tools.benchmark.config import PYPI_WEIGHTS
from anomalib_simplenet.tools.jobs.ray_runner import Resources

PATH_ARGUMENTS = ("root",)  # datamodule arguments that are paths (Folder's normal_dir... are relative to root)


class FleetConfigError(ValueError):
    """A fleet config that cannot be run; the message says what to change.

    Example:
        >>> FleetConfig.from_dict({"data": {"class_path": "MVTecAD"}})
        Traceback (most recent call last):
        ...
        anomalib_simplenet.tools.fleet.config.FleetConfigError: A fleet config needs categories: ... or products: ...

    """


@dataclass(frozen=True)
class FleetConfig:
    """Everything ``simplenet-fleet train`` needs; build it with :meth:`from_yaml` or :meth:`from_dict`.

    Example:
        >>> FleetConfig.from_dict({"data": {"class_path": "MVTecAD"}, "categories": ["bottle"]}).image_size
        256

    """

    data: dict[str, Any]
    categories: tuple[str, ...] = ()
    products: str | None = None
    model: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    image_size: int = 256
    backbone_weights: str | None = None
    accelerator: str = "auto"
    resources: Resources = field(default_factory=Resources)

    @classmethod
    def from_yaml(cls, path: str | Path) -> "FleetConfig":
        """Read a config file.

        Raises:
            FleetConfigError: If the file is missing or its content cannot be run.

        """
        path = Path(path)
        if not path.is_file():
            msg = f"fleet config '{path}' not found: pass configs/fleet/*.yaml or your own file."
            raise FleetConfigError(msg)
        content = yaml.safe_load(path.read_text())
        if not isinstance(content, dict):
            msg = f"fleet config '{path}' must be a YAML mapping (data:, categories: or products:, model:, ...)."
            raise FleetConfigError(msg)
        return cls.from_dict(content)

    @classmethod
    def from_dict(cls, content: dict[str, Any]) -> "FleetConfig":
        """Build and check a config from plain data (see the module example).

        Raises:
            FleetConfigError: On unknown keys, no products, a products folder without subfolders, or bad resources.

        """
        unknown = sorted(set(content) - set(cls.__dataclass_fields__))
        if unknown:
            msg = f"Unknown fleet config key(s) {unknown}. Known keys: {sorted(cls.__dataclass_fields__)}."
            raise FleetConfigError(msg)
        data = content.get("data")
        if not isinstance(data, dict) or not data.get("class_path"):
            msg = "A fleet config needs data: {class_path: MVTecAD | Visa | Folder | ..., init_args: {...}}."
            raise FleetConfigError(msg)
        args = dict(content)
        init_args = dict(data.get("init_args") or {})
        for name in PATH_ARGUMENTS:
            if isinstance(init_args.get(name), str) and "://" not in init_args[name]:
                init_args[name] = os.path.abspath(init_args[name])
        args["data"] = {**data, "init_args": init_args}
        try:
            args["resources"] = Resources(**(content.get("resources") or {}))
        except (TypeError, ValueError) as error:
            msg = f"resources: takes num_cpus, num_gpus and max_retries: {error}"
            raise FleetConfigError(msg) from error
        args["categories"] = tuple(str(category) for category in content.get("categories") or ())
        if content.get("products"):
            args["products"] = os.path.abspath(str(content["products"]))
            if args["categories"]:
                msg = "Give either categories: (of the datamodule) or products: (a folder of product folders), not both."
                raise FleetConfigError(msg)
            args["categories"] = product_folders(Path(args["products"]))
        if not args["categories"]:
            msg = "A fleet config needs categories: [bottle, ...] or products: <folder of product folders>."
            raise FleetConfigError(msg)
        weights = content.get("backbone_weights")
        if weights not in {None, PYPI_WEIGHTS}:
            args["backbone_weights"] = os.path.abspath(str(weights))
        backbone = (content.get("model") or {}).get("backbone") or default_backbone()
        if weights == PYPI_WEIGHTS and backbone != "efficientnet_lite0":
            msg = (
                f"backbone_weights: pypi provides efficientnet_lite0 only, and the model's backbone is '{backbone}': set "
                "model.backbone: efficientnet_lite0, give a weights file, or leave backbone_weights out to let timm download."
            )
            raise FleetConfigError(msg)
        config = cls(**args)
        if config.image_size < 32:
            msg = f"image_size must be at least 32 pixels, got {config.image_size}."
            raise FleetConfigError(msg)
        return config

    def only(self, categories: list[str]) -> "FleetConfig":
        """Return the same config for some of its categories.

        Raises:
            FleetConfigError: If one of ``categories`` is not in the config.

        """
        missing = [category for category in categories if category not in self.categories]
        if missing:
            msg = f"{missing} not in this fleet's products {list(self.categories)}."
            raise FleetConfigError(msg)
        return replace(self, categories=tuple(categories))

    def settings_for(self, category: str) -> dict[str, Any]:
        """Return what one fit depends on, as plain data: the job's input and the base of its key."""
        data = {key: value for key, value in self.data.items() if key != "categories"}
        if self.products is not None:
            data = {**data, "init_args": {**data.get("init_args", {}), "root": str(Path(self.products) / category)}}
        return {
            "category": category,
            "data": data,
            "model": dict(self.model),
            "seed": self.seed,
            "image_size": self.image_size,
            "backbone_weights": self.backbone_weights,
            "accelerator": self.accelerator,
        }


def default_backbone() -> str:
    """Return SimpleNet's own default backbone, used when a config's ``model:`` names none."""
    import inspect  # noqa: PLC0415

    from anomalib_simplenet.simplenet.lightning_model import SimpleNet  # noqa: PLC0415

    return inspect.signature(SimpleNet).parameters["backbone"].default


def product_folders(products: Path) -> tuple[str, ...]:
    """Return the names of the product folders in ``products`` (its subfolders not starting with ``.``), sorted.

    Raises:
        FleetConfigError: If ``products`` is not a folder or has no subfolder.

    """
    if not products.is_dir():
        msg = f"products: '{products}' is not a folder: give a folder with one subfolder per product (Folder layout)."
        raise FleetConfigError(msg)
    names = tuple(sorted(entry.name for entry in products.iterdir() if entry.is_dir() and not entry.name.startswith(".")))
    if not names:
        msg = f"products: '{products}' has no product folders: put one folder per product there (Folder layout)."
        raise FleetConfigError(msg)
    return names
