"""Registration with stock anomalib cannot miss: every import order, every lookup, idempotent, light at start-up."""

import importlib.util
import pkgutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

SITE_PACKAGES = Path(sysconfig.get_paths()["purelib"])
LOOKUPS = (
    "from anomalib.models import get_model, list_models\n"
    "print(type(get_model('simplenet', backbone='resnet18', pre_trained=False)).__module__)\n"
    "print(type(get_model({'class_path': 'SimpleNet', 'init_args': {'backbone': 'resnet18', 'pre_trained': False}})).__name__)\n"
    "print('simple_net' in list_models())\n"
)
ENTRY_MODULES = [
    "import anomalib_simplenet",
    "from anomalib_simplenet import SimpleNet",
    "from anomalib_simplenet import SimpleNetModel",
    "import anomalib_simplenet.torch_model",
    "import anomalib_simplenet.lightning_model",
    "import anomalib_simplenet.feature_store",
    "import anomalib_simplenet.loss",
    "import anomalib_simplenet.anomaly_map",
    "import anomalib_simplenet.visualizer",
    "import anomalib_simplenet.benchmark",
    "import anomalib_simplenet.demo",
    "import anomalib.models",
    "import anomalib.engine",
]


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300)


def test_pth_and_start_files_are_installed_and_point_at_the_hook() -> None:
    """`.pth` runs the hook today; PEP 829's `.start` (Python 3.15+) names the same entry point."""
    assert (SITE_PACKAGES / "anomalib_simplenet.pth").read_text().strip() == "import anomalib_simplenet"
    entry_point = (SITE_PACKAGES / "anomalib_simplenet.start").read_text().strip()
    install = pkgutil.resolve_name(entry_point)
    assert callable(install)
    assert install.__module__ == "anomalib_simplenet._anomalib_hook"


def test_interpreter_start_imports_neither_torch_nor_anomalib() -> None:
    out = _run("import sys; print(sorted(m for m in ('torch', 'anomalib', 'lightning', 'timm') if m in sys.modules))")
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("first_import", ENTRY_MODULES)
def test_every_import_order_registers(first_import: str) -> None:
    """Fresh interpreter: import one module first, then every lookup anomalib offers finds SimpleNet."""
    result = _run(f"{first_import}\n{LOOKUPS}")
    assert result.stdout.strip().splitlines()[-3:] == ["anomalib_simplenet.lightning_model", "SimpleNet", "True"]
    assert "could not register" not in result.stderr


def test_install_and_register_are_idempotent() -> None:
    from anomalib_simplenet import _anomalib_hook

    _anomalib_hook.install()
    _anomalib_hook.install()
    _anomalib_hook.register()
    import anomalib.models
    from anomalib.pipelines.benchmark import job

    finders = [finder for finder in sys.meta_path if type(finder).__name__ == "_PostImportFinder"]
    assert len(finders) == 1
    assert anomalib.models.__all__.count("SimpleNet") == 1
    collect = job.BenchmarkJob.collect
    _anomalib_hook.allow_mixed_metrics(job)
    assert job.BenchmarkJob.collect is collect  # applied once, not wrapped again


def test_benchmark_collect_patch_is_still_needed_and_works() -> None:
    """anomalib 2.7's own collect fails when models report different metrics; the patched one leaves a gap."""
    import anomalib.pipelines.benchmark.job as patched

    spec = importlib.util.spec_from_file_location("unpatched_benchmark_job", patched.__file__)
    original = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(original)
    results = [{"model": "SimpleNet", "image_AUROC": 1.0, "pixel_AUPRO": 0.8}, {"model": "Padim", "image_AUROC": 0.9}]
    with pytest.raises(KeyError):
        original.BenchmarkJob.collect(list(reversed(results)))
    table = patched.BenchmarkJob.collect(results)
    assert list(table["model"]) == ["SimpleNet", "Padim"]
    assert table["pixel_AUPRO"].isna().tolist() == [False, True]
