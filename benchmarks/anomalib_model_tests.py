"""Run anomalib's own per-model integration tests (``tests/integration/model/test_models.py``) for SimpleNet.

anomalib ships no tests in its wheel or sdist: take ``test_models.py`` from a checkout of anomalib's
repository at the installed version. The test file is used as it is; its two fixtures
(``project_path``, ``dataset_path``) live in anomalib's ``tests/conftest.py``, which needs the rest of
anomalib's test helpers, so this script provides them: a temporary project folder and an MVTec-layout
dummy dataset of the size anomalib generates (5 training images, 5 good and 5 defective test images,
256 px, category ``dummy``). anomalib lists the model as ``simple_net`` (``list_models()``), so the
tests run with ``-k simple_net``.

The tests build SimpleNet with its defaults (WideResNet50, ImageNet weights through timm). Where the
model hub cannot be reached, ``--random-backbone-weights`` puts a randomly initialised
``wide_resnet50_2`` where timm looks for its pretrained file (a temporary Hugging Face cache, with
``HF_HUB_OFFLINE=1``): timm's real loading path runs, and the tests check fit, test, train, validate,
predict and the three exports, not accuracy.

    python benchmarks/anomalib_model_tests.py --test-file ~/src/anomalib/tests/integration/model/test_models.py \
        --random-backbone-weights
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CONFTEST = '''"""project_path and dataset_path, as in anomalib's tests/conftest.py, with only the MVTec-layout dummy data."""
from pathlib import Path

import pytest

from anomalib_simplenet.tools.synthetic_dataset import make_synthetic_dataset


@pytest.fixture(scope="session")
def project_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("project")


@pytest.fixture(scope="session")
def dataset_path(project_path: Path) -> Path:
    root = project_path / "datasets"
    make_synthetic_dataset(root / "mvtecad", category="dummy", n_train=5, n_test_good=5, n_test_defective=5, image_size=256)
    return root
'''


def random_wide_resnet50_cache(cache: Path) -> None:
    """Write a randomly initialised ``wide_resnet50_2`` into a Hugging Face cache at timm's pretrained slot."""
    import timm  # noqa: PLC0415
    import torch  # noqa: PLC0415
    from safetensors.torch import save_file  # noqa: PLC0415

    repository = cache / f"models--{timm.models.get_pretrained_cfg('wide_resnet50_2').hf_hub_id.replace('/', '--')}"
    revision = "0" * 40
    snapshot = repository / "snapshots" / revision
    snapshot.mkdir(parents=True)
    (repository / "refs").mkdir()
    (repository / "refs" / "main").write_text(revision)
    torch.manual_seed(0)
    state = {name: tensor.contiguous() for name, tensor in timm.create_model("wide_resnet50_2").state_dict().items()}
    save_file(state, str(snapshot / "model.safetensors"))


def main() -> None:
    """Lay out the test folder, run pytest on it, print the wall time."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--test-file", type=Path, required=True, help="anomalib's tests/integration/model/test_models.py")
    parser.add_argument("--random-backbone-weights", action="store_true", help="offline: random WideResNet50 in timm's slot")
    args = parser.parse_args()
    if not args.test_file.is_file():
        parser.error(f"{args.test_file} is not a file: pass test_models.py from a checkout of anomalib's repository.")
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        tests = work / "tests" / "integration" / "model"
        tests.mkdir(parents=True)
        for package in (work / "tests", work / "tests" / "integration", tests):
            (package / "__init__.py").touch()
        shutil.copy(args.test_file, tests / "test_models.py")
        (work / "tests" / "conftest.py").write_text(CONFTEST)
        env = dict(os.environ)
        if args.random_backbone_weights:
            random_wide_resnet50_cache(work / "hf_cache")
            env |= {"HF_HUB_CACHE": str(work / "hf_cache"), "HF_HUB_OFFLINE": "1"}
        command = [
            sys.executable,
            "-m",
            "pytest",
            "tests/integration/model/test_models.py",
            "-k",
            "simple_net",
            "-p",
            "no:cacheprovider",
        ]
        start = time.perf_counter()
        result = subprocess.run(command, cwd=work, env=env, check=False)
        print(f"anomalib's model tests for SimpleNet: exit {result.returncode}, {time.perf_counter() - start:.0f} s wall")
    sys.exit(result.returncode)


if __name__ == "__main__":
    main()
