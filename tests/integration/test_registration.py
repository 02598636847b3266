"""Registration with stock anomalib cannot miss: every import order, every lookup, idempotent, light at start-up."""

import inspect
import os
import pkgutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import yaml

import anomalib_simplenet

from conftest import ANOMALIB

SITE_PACKAGES = Path(sysconfig.get_paths()["purelib"])
LOOKUPS = (
    "from anomalib.models import get_model, list_models\n"
    "print(type(get_model('simplenet', backbone='resnet18', pre_trained=False)).__module__)\n"
    "print(type(get_model({'class_path': 'SimpleNet', 'init_args': {'backbone': 'resnet18', 'pre_trained': False}})).__name__)\n"
    "print('simple_net' in list_models())\n"
)
# Every module of the package, core and tools: a module added later is tested without a change here.
PACKAGE_MODULES = sorted(name for _, name, _ in pkgutil.walk_packages(anomalib_simplenet.__path__, "anomalib_simplenet."))
ENTRY_MODULES = [
    "import anomalib_simplenet",
    "from anomalib_simplenet import SimpleNet",
    "from anomalib_simplenet import SimpleNetModel",
    *(f"import {name}" for name in PACKAGE_MODULES),
    "import anomalib.models",
    "import anomalib.engine",
]


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=300)


def test_pth_and_start_files_are_installed_and_point_at_the_hook() -> None:
    """`.pth` runs the hook today; PEP 829's `.start` (Python 3.15+) names the same entry point."""
    assert (SITE_PACKAGES / "anomalib_simplenet.pth").read_text().strip() == "import anomalib_simplenet"
    entry_point = (SITE_PACKAGES / "anomalib_simplenet.start").read_text().strip()
    install = pkgutil.resolve_name(entry_point)
    assert callable(install)
    assert install.__module__ == "anomalib_simplenet.registration"


def test_interpreter_start_imports_neither_torch_nor_anomalib() -> None:
    out = _run("import sys; print(sorted(m for m in ('torch', 'anomalib', 'lightning', 'timm') if m in sys.modules))")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


# Runs each entry in a child forked from one interpreter that has imported only what is neutral to the order under
# test (torch, Lightning, timm and the other third-party packages anomalib and the tools import; none of them imports
# anomalib or this package, which the server checks), so a child pays for anomalib's own modules and the package, not
# for the libraries beneath them, each time. Each child starts as an interpreter does (the `.pth` hook ran at start-up).
FORK_SERVER = r"""
import json, os, sys, tempfile, traceback
import torch, lightning.pytorch, timm, torchvision, torchmetrics, lightning_fabric
import cv2, einops, FrEIA, jsonargparse, kornia, omegaconf, pandas, pyarrow, ray, imagecodecs, tifffile, requests
import sklearn.metrics, skimage.measure, skimage.morphology
assert not [name for name in sys.modules if name.split(".")[0] == "anomalib"], "the server must not import anomalib"
entries, code, workers = json.loads(sys.argv[1]), sys.argv[2], int(sys.argv[3])
results, running, pending = {}, {}, list(entries)
while pending or running:
    while pending and len(running) < workers:
        first = pending.pop(0)
        out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()
        sys.stdout.flush(); sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            os.dup2(out.fileno(), 1); os.dup2(err.fileno(), 2)
            status = 0
            try:
                exec(compile(first + "\n" + code, "<entry>", "exec"), {"__name__": "__main__"})
            except BaseException:
                traceback.print_exc(); status = 1
            sys.stdout.flush(); sys.stderr.flush(); os._exit(status)
        running[pid] = (first, out, err)
    pid, status = os.wait()
    first, out, err = running.pop(pid)
    out.seek(0); err.seek(0)
    results[first] = [os.waitstatus_to_exitcode(status), out.read().decode(), err.read().decode()]
print(json.dumps(results))
"""


@pytest.fixture(scope="module")
def fresh_runs() -> dict[str, subprocess.CompletedProcess]:
    """Each entry module imported first in its own fresh process, then every lookup: children of a fork server."""
    import json

    workers = str(max(2, os.cpu_count() or 1))
    server = subprocess.run(
        [sys.executable, "-c", FORK_SERVER, json.dumps(ENTRY_MODULES), LOOKUPS, workers],
        capture_output=True, text=True, check=False, timeout=1200,
    )  # fmt: skip
    assert server.returncode == 0, server.stderr[-3000:]
    results = json.loads(server.stdout.strip().splitlines()[-1])
    return {first: subprocess.CompletedProcess(first, *results[first]) for first in ENTRY_MODULES}


@pytest.mark.slow  # about 70 fresh interpreters, each importing anomalib: minutes on 2 cores
@pytest.mark.parametrize("first_import", ENTRY_MODULES)
def test_every_import_order_registers(first_import: str, fresh_runs: dict[str, subprocess.CompletedProcess]) -> None:
    """Fresh interpreter: import one module first, then every lookup anomalib offers finds SimpleNet."""
    result = fresh_runs[first_import]
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-3:] == ["anomalib_simplenet.simplenet.lightning_model", "SimpleNet", "True"]
    assert "could not register" not in result.stderr


def test_install_and_register_are_idempotent() -> None:
    from anomalib_simplenet import registration

    registration.install()
    registration.install()
    registration.register()
    import anomalib.models

    from anomalib_simplenet.simplenet import SimpleNet

    finders = [finder for finder in sys.meta_path if type(finder).__name__ == "_PostImportFinder"]
    assert len(finders) == 1
    assert anomalib.models.__all__.count("SimpleNet") == 1
    assert len(SimpleNet.extra_fit_callbacks) == 1  # the loader swap, added once


def test_registration_patches_nothing_of_anomalib() -> None:
    """anomalib's benchmark collects results as anomalib wrote it: SimpleNet reports the same metrics as PaDiM instead."""
    import anomalib.pipelines.benchmark.job as job
    from anomalib.models import Padim

    from anomalib_simplenet.simplenet import SimpleNet

    assert job.BenchmarkJob.collect.__module__ == "anomalib.pipelines.benchmark.job"
    names = [sorted(metric.name for metric in model.configure_evaluator().test_metrics) for model in (SimpleNet, Padim)]
    assert names[0] == names[1]


def test_registration_fills_the_models_extension_points() -> None:
    """The captioned visualizer is SimpleNet's default, and every fit gets the loader swap; anomalib's own classes are
    what the folder uses without the registration (``benchmarks/upstream_check.py``)."""
    from anomalib.visualization import ImageVisualizer

    from anomalib_simplenet.simplenet import SimpleNet
    from anomalib_simplenet.stored_feature_loader import StoredFeatureLoader
    from anomalib_simplenet.visualization.visualizer import ScoredImageVisualizer

    model = SimpleNet(backbone="resnet18", pre_trained=False, embedding_dim=64)
    assert type(model.visualizer) is ScoredImageVisualizer
    assert isinstance(model.visualizer, ImageVisualizer)
    assert [type(callback) for callback in model.configure_callbacks()].count(StoredFeatureLoader) == 1


def test_the_module_list_holds_core_and_tools() -> None:
    """The walk over the package finds both floors (a broken walk would silently test nothing)."""
    for name in ("simplenet.lightning_model", "simplenet.torch_model", "simplenet.feature_store", "tools.predict"):
        assert f"anomalib_simplenet.{name}" in PACKAGE_MODULES


def test_anomalib_train_finds_simplenet_by_its_short_name() -> None:
    """`anomalib train --model SimpleNet` in a fresh process: the CLI knows the class and all its arguments."""
    from anomalib_simplenet import SimpleNet

    result = subprocess.run(
        [ANOMALIB, "train", "--model", "SimpleNet", "--print_config"], capture_output=True, text=True, check=False, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    model = yaml.safe_load(result.stdout)["model"]
    assert model["class_path"].rsplit(".", 1)[-1] == "SimpleNet"
    expected = {name: p.default for name, p in inspect.signature(SimpleNet).parameters.items()}
    assert list(model["init_args"]) == list(expected)
    assert model["init_args"]["noise_std"] == expected["noise_std"]


def test_the_dotted_class_path_needs_no_hook() -> None:
    """`--model anomalib_simplenet.SimpleNet` works where the hook never runs: no `.pth` (python -S), `install` a no-op."""
    package_root = str(Path(anomalib_simplenet.__file__).resolve().parents[1])
    code = (
        f"import sys, types; sys.path[:0] = [{package_root!r}, {str(SITE_PACKAGES)!r}]\n"
        "assert 'anomalib_simplenet' not in sys.modules\n"
        "sys.modules['anomalib_simplenet.registration'] = types.SimpleNamespace(install=lambda: None)\n"
        "import anomalib.models\n"
        "from anomalib.cli import AnomalibCLI\n"
        "sys.argv = ['anomalib', 'train', '--model', 'anomalib_simplenet.SimpleNet', '--print_config']\n"
        "try:\n    AnomalibCLI()\nexcept SystemExit as stop:\n    assert not stop.code, stop.code\n"
        "print('hook ran:', hasattr(anomalib.models, 'SimpleNet'))\n"
    )
    result = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, check=False, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    config, marker = result.stdout.rsplit("hook ran:", 1)
    assert marker.strip() == "False"
    assert yaml.safe_load(config)["model"]["class_path"] == "anomalib_simplenet.SimpleNet"


def test_the_exported_model_command_imports_no_lightning() -> None:
    """The OpenVINO predict command's own code needs torch, not Lightning (anomalib.deploy brings that in to score)."""
    code = (
        "import sys\n"
        "from anomalib_simplenet.tools.predict.cli import main\n"
        "status = main(['--model', 'missing.xml', '--data', '.'])\n"
        "print(status, sorted(m for m in ('lightning', 'anomalib') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=300)
    assert result.stdout.strip() == "2 []", result.stdout + result.stderr[-2000:]
