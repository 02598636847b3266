"""The shared job store: a result is whole or absent, and counts only for the key that made it; crashes at every step
of writing leave nothing that counts as done."""

import json
import os
from pathlib import Path

import fsspec
import pytest

from anomalib_simplenet.tools.jobs import store
from anomalib_simplenet.tools.jobs.store import (
    MARKER_NAME,
    STAGING_FOLDER,
    clear_staging,
    is_done,
    job_key,
    new_staging_folder,
    publish,
    read_json,
    read_marker,
    write_atomic,
)


def _staged(output: Path, name: str, content: str) -> Path:
    staging = new_staging_folder(output, name)
    (staging / "model.txt").write_text(content)
    return staging


def test_key_changes_with_the_settings_and_the_package_versions(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = {"category": "bottle", "seed": 0, "model": {"max_epochs": 20}}
    key = job_key(settings)
    assert job_key(json.loads(json.dumps(settings))) == key  # plain data: the same key in any process
    assert job_key({**settings, "model": {"max_epochs": 21}}) != key
    versions = store.package_versions()
    monkeypatch.setattr(store, "package_versions", lambda: {**versions, "anomalib": "9.9.9"})
    assert job_key(settings) != key


def test_a_crash_while_replacing_a_file_keeps_the_old_one_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "runs" / "result.json"
    write_atomic(target, json.dumps({"fit_s": 1.0}))

    def crash(*_args: object) -> None:
        raise OSError("killed")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="killed"):
        write_atomic(target, json.dumps({"fit_s": 2.0}))
    assert read_json(target) == {"fit_s": 1.0}
    assert sorted(path.name for path in target.parent.iterdir()) == ["result.json"]  # no temporary file left


def test_a_partial_file_is_no_result(tmp_path: Path) -> None:
    (tmp_path / "result.json").write_text('{"fit_s": 1.')  # what Path.write_text leaves when killed mid-write
    assert read_json(tmp_path / "result.json") is None
    (tmp_path / "bottle").mkdir()
    (tmp_path / "bottle" / MARKER_NAME).write_text('{"key": "abc"')
    assert not is_done(tmp_path / "bottle", "abc")


def test_published_folder_is_done_for_its_key_only(tmp_path: Path) -> None:
    publish(_staged(tmp_path, "bottle", "v1"), tmp_path / "bottle", "key-1", {"fit_s": 3.0})
    assert is_done(tmp_path / "bottle", "key-1")
    assert not is_done(tmp_path / "bottle", "key-2")
    assert read_marker(tmp_path / "bottle")["versions"] == store.package_versions()
    assert (tmp_path / "bottle" / "model.txt").read_text() == "v1"
    assert list((tmp_path / STAGING_FOLDER).iterdir()) == []  # moved, not copied


def test_a_crash_before_the_marker_never_counts_as_done(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def crash(*_args: object) -> None:
        raise OSError("killed before the marker")

    monkeypatch.setattr(store, "write_atomic", crash)
    with pytest.raises(OSError, match="marker"):
        publish(_staged(tmp_path, "bottle", "v1"), tmp_path / "bottle", "key-1", {})
    assert (tmp_path / "bottle" / "model.txt").exists()  # the folder moved in...
    assert not is_done(tmp_path / "bottle", "key-1")  # ...but is not done
    monkeypatch.undo()
    publish(_staged(tmp_path, "bottle", "v2"), tmp_path / "bottle", "key-1", {})  # the rerun replaces it
    assert is_done(tmp_path / "bottle", "key-1")
    assert (tmp_path / "bottle" / "model.txt").read_text() == "v2"


def test_a_crash_during_the_move_never_counts_as_done(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    publish(_staged(tmp_path, "bottle", "old"), tmp_path / "bottle", "old-key", {})
    real_replace, calls = os.replace, []

    def crash_on_second(source: object, target: object) -> None:
        calls.append(target)
        if len(calls) == 2:  # the old result moved aside, the new one not yet in place
            raise OSError("killed during the move")
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", crash_on_second)
    with pytest.raises(OSError, match="during the move"):
        publish(_staged(tmp_path, "bottle", "new"), tmp_path / "bottle", "new-key", {})
    monkeypatch.undo()
    assert not is_done(tmp_path / "bottle", "new-key")
    assert not is_done(tmp_path / "bottle", "old-key")  # the stale result is not back either


def test_staging_leftovers_are_cleared_for_their_product_only(tmp_path: Path) -> None:
    mine, other = new_staging_folder(tmp_path, "bottle"), new_staging_folder(tmp_path, "bottle-2")
    clear_staging(tmp_path, "bottle")
    assert not mine.exists()
    assert other.exists()


def test_an_object_store_gets_the_marker_last() -> None:
    root = "memory://fleet-test"
    fs = fsspec.filesystem("memory")
    staging = new_staging_folder(root, "cable")  # a local temporary folder, uploaded by publish
    (staging / "model.txt").write_text("weights")
    assert not is_done(f"{root}/cable", "k")
    publish(staging, f"{root}/cable", "k", {"fit_s": 1.0})
    assert is_done(f"{root}/cable", "k")
    assert fs.cat_file("/fleet-test/cable/model.txt") == b"weights"
    assert not staging.exists()
    fs.rm("/fleet-test", recursive=True)
