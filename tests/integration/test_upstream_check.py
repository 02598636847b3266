"""The upstream acid test end to end: ``benchmarks/upstream_check.py`` merges SimpleNet into anomalib 2.7.0's sdist.

Marked slow (minutes on 2 cores: a new venv, then anomalib's own model tests): `pytest -m slow`
runs it. The committed patch must be the one the check writes today, so it never describes an older model folder.
"""

import sys
from pathlib import Path

import pytest

from conftest import REPO, run_command

STEPS = [
    "sdist",
    "copy",
    "register",
    "config",
    "patch",
    "venv",
    "(a) anomalib train",
    "(b) anomalib model tests",
    "(c) unit tests",
    "(c) doctests",
]


@pytest.mark.slow
def test_simplenet_merges_into_anomalib_and_passes_its_checks(tmp_path: Path) -> None:
    patch = tmp_path / "simplenet.patch"
    # The venv links this venv's torch & co. (pip installs the patched anomalib against them and checks the rest):
    # unpacking the same wheels again would add minutes and test nothing more.
    command = [
        sys.executable,
        str(REPO / "benchmarks" / "upstream_check.py"),
        "--patch-out",
        str(patch),
        "--packages-from",
        sys.prefix,
    ]
    result = run_command(command, cwd=REPO, timeout=1800)

    lines = [line for line in result.stdout.splitlines() if line.startswith("upstream check: ")]
    assert [line.removeprefix("upstream check: ").split(" ..")[0] for line in lines] == STEPS, result.stdout
    for line in lines:
        assert " PASS (" in line, line

    text = patch.read_text()
    new_file = "src/anomalib/models/image/simplenet/lightning_model.py"
    assert f"diff --git a/{new_file} b/{new_file}\nnew file mode" in text
    for init in ("src/anomalib/models/__init__.py", "src/anomalib/models/image/__init__.py"):
        assert f"diff --git a/{init} b/{init}\n" in text, init
    assert "+from .simplenet import SimpleNet\n" in text
    assert "+    SimpleNet,\n" in text
    assert "diff --git a/examples/configs/model/simplenet.yaml" in text
    committed = REPO / "docs" / "upstream" / "anomalib-2.7.0-simplenet.patch"
    assert text == committed.read_text(), f"{committed} is stale: run python benchmarks/upstream_check.py and commit it"
