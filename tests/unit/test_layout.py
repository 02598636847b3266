"""The package's plan held against its code: the model folder standing alone, the project's parts importing it, the tools on
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
MODEL_FOLDER = PACKAGE / "simplenet"
# What anomalib's own model folders import besides the standard library (anomalib/models/image/*/; PIL: vlm_ad and
# anomalib's data layer), and safetensors, the weights format of timm, which depends on it.
LIBRARIES_OF_ANOMALIB_MODELS = {"anomalib", "torch", "torchvision", "lightning", "timm", "kornia", "PIL", "safetensors"}
# Public names of Python's own types that begin with an underscore (a named tuple's methods).
PUBLIC_UNDERSCORE_NAMES = {"_asdict", "_replace", "_fields", "_make"}


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


MODEL_MODULES = sorted(name for name in MODULES if name.startswith(MODEL_PACKAGE))


@pytest.mark.parametrize("name", MODEL_MODULES)
def test_the_model_folder_stands_alone(name: str) -> None:
    """The model folder imports what anomalib's own models import and its own modules, nothing else of this project, and
    never names the project: copied into ``anomalib/models/image/simplenet/`` as it is, it works
    (``benchmarks/upstream_check.py`` does exactly that)."""
    assert _libraries(name) <= LIBRARIES_OF_ANOMALIB_MODELS
    assert [target for target in GRAPH[name] if not target.startswith(MODEL_PACKAGE)] == []
    assert "anomalib_simplenet" not in MODULES[name].read_text()


@pytest.mark.parametrize("name", MODEL_MODULES)
def test_the_model_folder_uses_no_private_attribute(name: str) -> None:
    """No ``_name`` of Lightning, anomalib or torch is read or written in the model folder: only the model's own
    (``self._...``). The one private use the project needs (swapping the training loader) lives outside, in
    ``anomalib_simplenet.lightning_compat``."""
    tree = ast.parse(MODULES[name].read_text())
    private = [
        f"{ast.unparse(node)} (line {node.lineno})"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and node.attr.startswith("_")
        and not node.attr.startswith("__")
        and node.attr not in PUBLIC_UNDERSCORE_NAMES
        and not (isinstance(node.value, ast.Name) and node.value.id in {"self", "cls"})
    ]
    private += [
        f"getattr(..., {ast.unparse(node.args[1])}) (line {node.lineno})"
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in {"getattr", "setattr", "hasattr"}
        and isinstance(node.args[1], ast.Constant)
        and str(node.args[1].value).startswith("_")
    ]
    assert private == []


def test_the_model_folder_follows_anomalibs_conventions() -> None:
    """A README.md, an SPDX licence line at the top of every file, and an ``__init__.py`` that exports the Lightning
    class only, as anomalib's model folders have."""
    assert (MODEL_FOLDER / "README.md").is_file()
    unlicensed = [
        path.name for path in MODEL_FOLDER.glob("*.py") if "SPDX-License-Identifier: Apache-2.0" not in path.read_text()[:200]
    ]
    assert unlicensed == []
    init = ast.parse((MODEL_FOLDER / "__init__.py").read_text())
    exported = next(node.value for node in init.body if isinstance(node, ast.Assign) and node.targets[0].id == "__all__")
    assert ast.literal_eval(exported) == ["SimpleNet"]


ARGUMENT_LINE = re.compile(r"^(\s*)(\*{0,2}\w+)( \(([^)]|\([^)]*\))+\))?: ")


@pytest.mark.parametrize("name", MODEL_MODULES)
def test_the_model_folders_arguments_are_typed(name: str) -> None:
    """Google-style ``Args:`` entries carry their type, ``name (type): text``, as anomalib writes them."""
    untyped = []
    for node in ast.walk(ast.parse(MODULES[name].read_text())):
        if not isinstance(node, ast.FunctionDef | ast.ClassDef | ast.AsyncFunctionDef):
            continue
        lines = (ast.get_docstring(node) or "").splitlines()
        for number, line in enumerate(lines):
            if line.strip() != "Args:":
                continue
            indent = len(line) - len(line.lstrip()) + 4
            for entry in lines[number + 1 :]:
                if entry.strip() and len(entry) - len(entry.lstrip()) < indent:
                    break
                match = ARGUMENT_LINE.match(entry)
                if match and len(match.group(1)) == indent and not match.group(3):
                    untyped.append(f"{node.name}: {entry.strip()}")
    assert untyped == []


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


def test_the_documented_layout_names_every_folder_and_top_level_module() -> None:
    """The Layout table of docs/development.md has a row for each folder of the package and each module at its top level."""
    page = (ROOT / "docs" / "development.md").read_text() + "\n## "
    layout = re.search(r"^## Layout\n(.*?)^## ", page, flags=re.DOTALL | re.MULTILINE)
    assert layout, "docs/development.md has no '## Layout' section"
    places = {path.relative_to(PACKAGE).parts[0] for path in MODULES.values()} - {"__init__.py"}
    places = {place if place.endswith(".py") else f"{place}/" for place in places}
    assert "simplenet/" in places  # the reading works
    assert sorted(place for place in places if f"`{place}`" not in layout.group(1)) == []


def test_defaults_are_written_once() -> None:
    """SimpleNet's signature is the one place of its defaults: the torch model and the components take every setting
    as an explicit keyword, and the Lightning model hands them on by name (no signature or hparams plumbing)."""
    import inspect

    from anomalib_simplenet.simplenet import SimpleNet, anomaly_map, components, feature_store, image_score, loss, torch_model
    from anomalib_simplenet.simplenet.lightning_model import ARCHITECTURE_ARGUMENTS

    takers = [
        torch_model.SimpleNetModel,
        components.FeatureExtractor,
        components.FeatureAdaptor,
        components.AnomalousFeatureGenerator,
        components.Discriminator,
        anomaly_map.AnomalyMapGenerator,
        image_score.ImageScore,
        loss.TruncatedL1Loss,
        loss.make_loss,
        feature_store.FeatureStore,
    ]
    with_defaults = {
        taker.__name__: [name for name, p in inspect.signature(taker).parameters.items() if p.default is not p.empty]
        for taker in takers
    }
    assert {name: found for name, found in with_defaults.items() if found} == {}
    torch_arguments = set(inspect.signature(torch_model.SimpleNetModel).parameters) - {"pre_trained", "backbone_weights"}
    assert set(ARCHITECTURE_ARGUMENTS) == torch_arguments
    assert torch_arguments <= set(inspect.signature(SimpleNet).parameters)
    folder_source = "\n".join(path.read_text() for path in MODEL_FOLDER.glob("*.py"))
    assert "import inspect" not in folder_source
    assert "hparams[" not in folder_source


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
