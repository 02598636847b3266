"""After `pip install`, stock anomalib finds SimpleNet by short name; interpreter start stays light."""

import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest


def _run(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300)
    return result.stdout.strip()


def test_pth_file_is_installed() -> None:
    assert (Path(sysconfig.get_paths()["purelib"]) / "anomalib_simplenet.pth").is_file()


def test_interpreter_start_imports_neither_torch_nor_anomalib() -> None:
    out = _run("import sys; print(sorted(m for m in ('torch', 'anomalib', 'lightning', 'timm') if m in sys.modules))")
    assert out == "[]"


@pytest.mark.parametrize(
    "lookup",
    [
        "get_model('SimpleNet', backbone='resnet18', pre_trained=False)",
        "get_model('simplenet', backbone='resnet18', pre_trained=False)",
        "get_model({'class_path': 'SimpleNet', 'init_args': {'backbone': 'resnet18', 'pre_trained': False}})",
    ],
)
def test_get_model_in_a_fresh_interpreter(lookup: str) -> None:
    out = _run(f"from anomalib.models import get_model; print(type({lookup}).__module__)")
    assert out.splitlines()[-1] == "anomalib_simplenet.lightning_model"


def test_importing_the_plugin_first_also_registers() -> None:
    out = _run("from anomalib_simplenet import SimpleNet; import anomalib.models as m; print(m.SimpleNet is SimpleNet)")
    assert out.splitlines()[-1] == "True"


@pytest.mark.parametrize(
    "first_import", ["from anomalib_simplenet import SimpleNetModel", "import anomalib_simplenet.torch_model"]
)
def test_importing_the_torch_model_first_registers_without_errors(first_import: str) -> None:
    lookup = "get_model({'class_path': 'SimpleNet', 'init_args': {'backbone': 'resnet18', 'pre_trained': False}})"
    code = f"{first_import}; from anomalib.models import get_model; print(type({lookup}).__name__)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300)
    assert result.stdout.strip().splitlines()[-1] == "SimpleNet"
    assert "could not extend" not in result.stderr
