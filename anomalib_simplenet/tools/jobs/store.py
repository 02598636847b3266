"""Results that are either whole or absent, and keyed to what produced them.

A job's result counts as done only when its completion marker is there and holds the job's current key. The
key is a hash over the job's settings (config, category, seed...) and the versions of the packages that
compute it, so a changed config or an upgraded anomalib makes a result stale instead of silently reused.

Writing order makes a crash harmless at any point:

1. single files (a benchmark's result JSON, a score table's part) are written to a temporary name beside the
   target and renamed over it (``os.replace`` is atomic on a POSIX file system): a reader sees the old file or
   the new one, never half of one;
2. a folder of outputs (a trained category) is built in a staging folder, moved into place by one rename, and
   its marker is written last. A crash before the marker leaves a folder without one, which counts as not done
   and is redone. On an object store (``s3://``, ``gs://``... through fsspec) a "move" is a copy, not atomic;
   the marker written last is what keeps it safe there too.

Example:
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> key = job_key({"category": "bottle", "seed": 0})
    >>> is_done(folder / "bottle", key)
    False
    >>> staging = new_staging_folder(folder, "bottle")
    >>> _ = (staging / "model.txt").write_text("weights")
    >>> publish(staging, folder / "bottle", key, {"fit_s": 12.5})
    >>> is_done(folder / "bottle", key), is_done(folder / "bottle", job_key({"category": "bottle", "seed": 1}))
    (True, False)
    >>> read_marker(folder / "bottle")["fit_s"]
    12.5

"""

import hashlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Mapping
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import fsspec

MARKER_NAME = "_COMPLETE.json"
STAGING_FOLDER = ".staging"
# What computes a result: a different version of any of these may give a different one.
KEYED_PACKAGES = ("anomalib-simplenet", "anomalib", "torch", "timm", "lightning", "openvino")


def package_versions() -> dict[str, str]:
    """Installed versions of the packages that compute a result (``"missing"`` for one not installed)."""
    found = {}
    for package in KEYED_PACKAGES:
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "missing"
    return found


def job_key(settings: Mapping[str, Any]) -> str:
    """Return a short hash over ``settings`` (plain JSON-able data) and :func:`package_versions`.

    Example:
        >>> job_key({"seed": 0}) == job_key({"seed": 0}), job_key({"seed": 0}) == job_key({"seed": 1})
        (True, False)

    """
    payload = json.dumps({"settings": settings, "versions": package_versions()}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:20]


def _filesystem(path: str | os.PathLike) -> tuple[fsspec.AbstractFileSystem, str]:
    return fsspec.core.url_to_fs(str(path))


def is_local(path: str | os.PathLike) -> bool:
    """Tell whether ``path`` is on this machine's file system (a plain path or ``file://``), not an object store."""
    return fsspec.utils.get_protocol(os.fspath(path)) in {"file", "local"}  # no driver needed to tell


def write_atomic(path: str | os.PathLike, data: str | bytes) -> None:
    """Write ``data`` to ``path`` so that a reader never sees a partial file, creating the parent folder.

    Locally: a temporary file beside the target, flushed to disk, then renamed over it. On an object store one
    upload is already all-or-nothing.
    """
    payload = data.encode() if isinstance(data, str) else data
    fs, target = _filesystem(path)
    if not is_local(path):
        fs.pipe_file(target, payload)
        return
    target_path = Path(target)
    target_path.parent.mkdir(parents=True, exist_ok=True)
    temporary = target_path.with_name(f".{target_path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with temporary.open("wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target_path)
    finally:
        temporary.unlink(missing_ok=True)


def read_json(path: str | os.PathLike) -> dict[str, Any] | None:
    """Return the JSON object in ``path``, or ``None`` when the file is missing or not a whole JSON object."""
    fs, target = _filesystem(path)
    try:
        with fs.open(target, "rb") as handle:
            content = json.loads(handle.read())
    except (FileNotFoundError, ValueError):
        return None
    return content if isinstance(content, dict) else None


def read_marker(folder: str | os.PathLike) -> dict[str, Any] | None:
    """Return the completion marker of ``folder``, or ``None`` when there is none (or only part of one)."""
    return read_json(f"{os.fspath(folder).rstrip('/')}/{MARKER_NAME}")


def is_done(folder: str | os.PathLike, key: str) -> bool:
    """Tell whether ``folder`` holds a finished result made with ``key`` (its marker is whole and has that key)."""
    marker = read_marker(folder)
    return marker is not None and marker.get("key") == key


def new_staging_folder(output: str | os.PathLike, name: str) -> Path:
    """Make a fresh local folder ``<output>/.staging/<name>-<random>`` to build one result in.

    When ``output`` is an object store, a temporary folder on this machine instead.
    """
    if not is_local(output):
        import tempfile  # noqa: PLC0415

        return Path(tempfile.mkdtemp(prefix=f"{name}-"))
    staging = Path(_filesystem(output)[1]) / STAGING_FOLDER / f"{name}-{uuid.uuid4().hex[:12]}"
    staging.mkdir(parents=True)
    return staging


def publish(staging: Path, final: str | os.PathLike, key: str, record: Mapping[str, Any]) -> None:
    """Move the finished ``staging`` folder to ``final`` and write its completion marker last.

    A result already at ``final`` (an older key, or one left without a marker by a crash) is moved aside first
    and deleted after. The marker holds ``key``, the package versions, the time and ``record``.
    """
    marker = {"key": key, "versions": package_versions(), "finished": datetime.now(timezone.utc).isoformat(), **record}
    fs, target = _filesystem(final)
    if is_local(final):
        target_path = Path(target)
        target_path.parent.mkdir(parents=True, exist_ok=True)
        old = None
        if target_path.exists():
            old = staging.parent / f"{staging.name}-replaced"
            os.replace(target_path, old)
        os.replace(staging, target_path)  # one rename: the folder appears whole
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    else:
        if fs.exists(target):
            fs.rm(target, recursive=True)
        fs.put(str(staging), target, recursive=True)
        shutil.rmtree(staging, ignore_errors=True)
    write_atomic(f"{os.fspath(final).rstrip('/')}/{MARKER_NAME}", json.dumps(marker, indent=1, default=str))


def clear_staging(output: str | os.PathLike, name: str, older_than_s: float = 0.0) -> None:
    """Delete staging folders of ``name`` left under ``output`` by interrupted runs (those older than ``older_than_s``)."""
    if not is_local(output):
        return
    root = Path(_filesystem(output)[1]) / STAGING_FOLDER
    pattern = f"{name}-{'?' * 12}"  # exactly new_staging_folder's names: "bottle" never matches "bottle-2"'s folders
    leftovers = [*root.glob(pattern), *root.glob(f"{pattern}-replaced")] if root.is_dir() else []
    for leftover in leftovers:
        if time.time() - leftover.stat().st_mtime >= older_than_s:
            shutil.rmtree(leftover, ignore_errors=True)
