"""The package's plan held against its code: the model package as one unit, the parts around it below it, the tools on
top; no import circle; every module says what it is.

Read from the source (every import statement, also those inside functions), so nothing is run and a lazy
import cannot hide an arrow.
"""

import ast
import re
import sys
from pathlib import Path

import pytest

from conftest import REPO

ROOT = REPO
PACKAGE = ROOT / "anomalib_simplenet"
TOOLS = "anomalib_simplenet.tools"
MODEL_PACKAGE = "anomalib_simplenet.simplenet"
# What anomalib's own model packages import besides the standard library (anomalib/models/image/*/).
LIBRARIES_OF_ANOMALIB_MODELS = {"anomalib", "torch", "torchvision", "lightning", "timm", "kornia"}
# The parts around the model that it uses, by their public names only (never a module inside them).
PARTS_AROUND_THE_MODEL = (
    "anomalib_simplenet.training",
    "anomalib_simplenet.checks",
    "anomalib_simplenet.visualization",
    "anomalib_simplenet.lightning_compat",
    "anomalib_simplenet.backbone_weights",
)


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _imports(name: str) -> set[str]:
    """The package's modules that module ``name`` imports, absolute or relative, at the top or inside a function."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            targets = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        else:
            continue
        found |= {target for target in targets if target in MODULES and target != name}
    return found


GRAPH = {name: _imports(name) for name in MODULES}


def _libraries(name: str) -> set[str]:
    """Top-level names of the libraries outside the package that module ``name`` imports."""
    found = set()
    for node in ast.walk(ast.parse(MODULES[name].read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found.add(node.module.split(".")[0])
    return found - {"anomalib_simplenet"} - set(sys.stdlib_module_names)


def test_the_plan_is_read() -> None:
    """The reading of imports works: known arrows are found (a broken reader would make the other tests pass vacuously)."""
    assert "anomalib_simplenet.simplenet.torch_model" in GRAPH["anomalib_simplenet.simplenet.lightning_model"]
    assert "anomalib_simplenet.simplenet.components" in GRAPH["anomalib_simplenet.simplenet.torch_model"]
    assert "anomalib_simplenet.tools.demo.plan" in GRAPH["anomalib_simplenet.tools.demo.run"]  # relative: from .plan import
    assert (
        "anomalib_simplenet.tools.plots" in GRAPH["anomalib_simplenet.tools.demo.run"]
    )  # from anomalib_simplenet.tools import plots
    assert "anomalib_simplenet.simplenet.lightning_model" in GRAPH["anomalib_simplenet.registration"]  # inside a function


@pytest.mark.parametrize("name", sorted(name for name in MODULES if not name.startswith(TOOLS)))
def test_the_core_imports_no_tool(name: str) -> None:
    """Everything `anomalib train --model SimpleNet` needs stands on its own: no arrow from the core to the tools."""
    assert not [target for target in GRAPH[name] if target.startswith(TOOLS)]


@pytest.mark.parametrize("name", sorted(name for name in MODULES if name.startswith(MODEL_PACKAGE)))
def test_the_model_package_could_be_copied_into_anomalib(name: str) -> None:
    """The model package imports what anomalib's own models import, its own modules, and the parts around it by their
    public names only: copied into ``anomalib/models/image/``, only import paths would change."""
    assert _libraries(name) <= LIBRARIES_OF_ANOMALIB_MODELS
    outside = [target for target in GRAPH[name] if not target.startswith(MODEL_PACKAGE)]
    assert [target for target in outside if target not in PARTS_AROUND_THE_MODEL] == []


@pytest.mark.parametrize("name", sorted(name for name in MODULES if name.startswith(PARTS_AROUND_THE_MODEL)))
def test_the_parts_around_the_model_stand_below_it(name: str) -> None:
    """Training callbacks, checks, visualisation and the compatibility layer never import the model, the registration
    hook or the tools: the model package is the one place that puts them together."""
    above = (MODEL_PACKAGE, TOOLS, "anomalib_simplenet.registration", "anomalib_simplenet.presets")
    assert [target for target in GRAPH[name] if target.startswith(above)] == []


def test_no_import_circle() -> None:
    """No module reaches itself through the imports of the package, direct or lazy."""
    circles = []

    def visit(name: str, path: list[str]) -> None:
        for target in sorted(GRAPH[name]):
            if target in path:
                circles.append([*path[path.index(target) :], target])
            elif target not in done:
                visit(target, [*path, target])
        done.add(name)

    done: set[str] = set()
    for name in sorted(MODULES):
        if name not in done:
            visit(name, [name])
    assert circles == []


def test_the_prediction_table_needs_no_lightning() -> None:
    """The table, captions and the model's view serve the exported-model command: no Lightning, no anomalib there."""
    tree = ast.parse(MODULES["anomalib_simplenet.visualization.predictions"].read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    assert not [name for name in imported if name.split(".")[0] in {"lightning", "anomalib"}]


@pytest.mark.parametrize("name", sorted(MODULES))
def test_every_module_says_what_it_is(name: str) -> None:
    docstring = ast.get_docstring(ast.parse(MODULES[name].read_text())) or ""
    assert docstring, name
    assert len(docstring.splitlines()[0]) > 20, name


def test_every_public_class_shows_how_it_is_used() -> None:
    """Each public class's docstring has a runnable example (the package's doctests run with the tests)."""
    missing = [
        f"{name}.{node.name}"
        for name, path in MODULES.items()
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ClassDef) and not node.name.startswith("_") and ">>>" not in (ast.get_docstring(node) or "")
    ]
    assert missing == []


def test_the_readme_layout_names_every_folder_and_top_level_module() -> None:
    """The README's Layout table has a row for each folder of the package and each module at its top level."""
    readme = (ROOT / "README.md").read_text()
    layout = re.search(r"^## Layout\n(.*?)^## ", readme, flags=re.DOTALL | re.MULTILINE)
    assert layout, "README.md has no '## Layout' section"
    places = {path.relative_to(PACKAGE).parts[0] for path in MODULES.values()} - {"__init__.py"}
    places = {place if place.endswith(".py") else f"{place}/" for place in places}
    assert "simplenet/" in places  # the reading works
    assert sorted(place for place in places if f"`{place}`" not in layout.group(1)) == []


def test_the_anomalib_model_mirrors_the_torch_models_arguments() -> None:
    """SimpleNet and SimpleNetModel (and FeatureExtractor, for its part) take the same architecture arguments, with
    the same defaults, in the same order: the anomalib model hands them on by name (torch_model.TORCH_MODEL_ARGUMENTS)."""
    import inspect

    from anomalib_simplenet import SimpleNet
    from anomalib_simplenet.simplenet.components import FeatureExtractor
    from anomalib_simplenet.simplenet.torch_model import SimpleNetModel

    def defaults(cls: type) -> dict:
        return {name: p.default for name, p in inspect.signature(cls).parameters.items()}

    torch_model, anomalib_model, extractor = defaults(SimpleNetModel), defaults(SimpleNet), defaults(FeatureExtractor)
    assert list(anomalib_model)[: len(torch_model)] == list(torch_model)
    assert {name: anomalib_model[name] for name in torch_model} == torch_model
    assert {name: torch_model[name] for name in extractor} == extractor


FLEET_PARTS = ("anomalib_simplenet.tools.fleet", "anomalib_simplenet.tools.jobs.ray_runner")


def test_only_the_fleet_needs_ray() -> None:
    """Ray is the optional ``fleet`` extra: only the fleet and the Ray runner import it, and nothing else imports them at
    import time (the benchmark's ``--fleet`` reaches the runner inside a function), so the core and the other tools
    work without Ray installed."""
    assert sorted(name for name in MODULES if "ray" in _libraries(name) and not name.startswith(FLEET_PARTS)) == []
    at_import = {
        name: {
            target
            for node in ast.parse(MODULES[name].read_text()).body
            if isinstance(node, ast.Import | ast.ImportFrom)
            for target in _imports_of(node, name)
        }
        for name in MODULES
        if not name.startswith(FLEET_PARTS)
    }
    assert {name: targets for name, targets in at_import.items() if any(t.startswith(FLEET_PARTS) for t in targets)} == {}


def _imports_of(node: ast.Import | ast.ImportFrom, name: str) -> set[str]:
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names}
    package = name if MODULES[name].name == "__init__.py" else name.rsplit(".", 1)[0]
    base = node.module or ""
    if node.level:
        anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
        base = ".".join([*anchor, *([node.module] if node.module else [])])
    return {base, *(f"{base}.{alias.name}" for alias in node.names)}
