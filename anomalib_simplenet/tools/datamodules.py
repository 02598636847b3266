"""Anomalib's datamodule for one category of a config's ``data`` entry, for the benchmark and the fleet alike.

The one place that turns ``{class_path, init_args}`` plus a category and a seed into a datamodule.

The category goes to the datamodule's ``category`` argument, or to its ``name`` for one without categories
(``Folder``: one category per entry, whose ``root`` is that category's folder). An entry with ``generate: demo``
is an MVTec-layout folder that ``simplenet-demo``'s generator fills when the category is missing; one with
``generate: cifar10`` is a ``Folder`` over the one-class CIFAR-10 subset (:mod:`anomalib_simplenet.tools.cifar10`),
written under its ``root`` from the entry's ``archive`` when missing, the category being the normal class.

Example:
    >>> datamodule = datamodule_for({"class_path": "MVTecAD", "init_args": {"root": "/data/mvtec"}}, "bottle", seed=3)
    >>> type(datamodule).__name__, datamodule.category, datamodule.seed
    ('MVTecAD', 'bottle', 3)

"""

import inspect
from pathlib import Path
from typing import Any

import anomalib.data
from anomalib.data import get_datamodule
from anomalib.data.datamodules.base.image import AnomalibDataModule

DEMO_DATA_SEED = 42  # simplenet-demo's default seed: generated categories are the same images as the demo's


def datamodule_for(entry: dict[str, Any], category: str, seed: int) -> AnomalibDataModule:
    """Build anomalib's datamodule of ``entry`` for ``category`` and ``seed`` (generating demo data if asked)."""
    data = {"class_path": entry["class_path"], "init_args": dict(entry.get("init_args", {}))}
    if entry.get("generate") == "demo" and not (Path(data["init_args"]["root"]) / category).is_dir():
        from anomalib_simplenet.tools.generated_data import make_demo_dataset  # noqa: PLC0415

        make_demo_dataset(data["init_args"]["root"], categories=(category,), seed=DEMO_DATA_SEED)
    if entry.get("generate") == "cifar10":
        from anomalib_simplenet.tools.cifar10 import MARKER, folder_arguments, one_class_subset  # noqa: PLC0415

        if not (Path(data["init_args"]["root"]) / MARKER).is_file():  # a subset already there is used as it is
            one_class_subset(data["init_args"]["root"], entry["archive"])
        data["init_args"].update(folder_arguments(category))
    datamodule_class = getattr(anomalib.data, entry["class_path"].rsplit(".", 1)[-1], None)
    accepted = inspect.signature(datamodule_class).parameters if datamodule_class is not None else {}
    category_argument = "name" if "category" not in accepted and "name" in accepted else "category"
    data["init_args"].update({category_argument: category, "seed": seed})
    return get_datamodule(data)
