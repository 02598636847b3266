"""notebooks/01_quickstart.ipynb runs top to bottom (small settings: generated data, 32 training images)."""

import json
import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from PIL import Image

from conftest import REPO

NOTEBOOK = REPO / "notebooks" / "01_quickstart.ipynb"

pytestmark = pytest.mark.slow  # minutes: `pytest -m slow` (and .ci/run) runs it


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> tuple[nbformat.NotebookNode, Path]:
    output = tmp_path_factory.mktemp("quickstart")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    settings = {"QUICKSTART_FAST": "1", "QUICKSTART_DATA": "generated", "QUICKSTART_OUTPUT": str(output)}
    previous = {name: os.environ.get(name) for name in settings}
    os.environ.update(settings)  # the kernel inherits the environment
    try:
        NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(output)}}).execute()
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return notebook, output


def test_every_cell_ran_without_error(executed: tuple[nbformat.NotebookNode, Path]) -> None:
    notebook, _ = executed
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(cell.execution_count for cell in code_cells)
    assert not [output for cell in code_cells for output in cell.outputs if output.output_type == "error"]


def test_figures_are_shown_and_saved(executed: tuple[nbformat.NotebookNode, Path]) -> None:
    notebook, output = executed
    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    shown = [output for output in outputs if "image/png" in output.get("data", {})]
    assert len(shown) == 4  # heat-map grid, histogram, SimpleNet vs PaDiM, an OpenVINO picture
    for name in ("simplenet_heatmaps.png", "score_histogram.png", "simplenet_vs_padim.png"):
        with Image.open(output / "figures" / name) as picture:
            assert picture.width > 400
            assert picture.height > 300


def test_summary_reports_both_models_and_a_matching_export(executed: tuple[nbformat.NotebookNode, Path]) -> None:
    _, output = executed
    summary = json.loads((output / "summary.json").read_text())
    for model in ("simplenet", "padim"):
        assert {"image_AUROC", "pixel_AUROC", "pixel_AUPRO"} <= set(summary[model])
    # 32 generated training images are enough to find the defects, and the heat lies on them.
    assert summary["simplenet"]["pixel_AUROC"] > 0.85
    assert summary["heat_inside_defects"] > 2 * summary["heat_outside_defects"]
    assert summary["openvino_vs_torch_max_score_difference"] < 1e-4
