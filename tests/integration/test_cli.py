"""The user commands, run as subprocesses exactly as typed: `anomalib train/export/benchmark`, and
every shipped config accepted by `anomalib train --config`."""

import inspect
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from anomalib.cli import AnomalibCLI

from anomalib_simplenet import SimpleNet
from anomalib_simplenet.tools.generated_data import make_synthetic_dataset
from anomalib_simplenet.tools.openvino_model import OPENVINO_F32
from anomalib_simplenet.tools.review.runs import find_runs

from conftest import ANOMALIB, REPO, run_command
from exported import assert_export_matches_checkpoint

CONFIGS = sorted((REPO / "configs").glob("*.yaml"))


def inspect_defaults(cls: type) -> dict:
    return {name: p.default for name, p in inspect.signature(cls.__init__).parameters.items() if p.default is not p.empty}


def _anomalib(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return run_command([ANOMALIB, *args], cwd=cwd)


@pytest.fixture(scope="module")
def cli_checkpoint(tmp_path_factory: pytest.TempPathFactory, synthetic_root: Path) -> Path:
    """`anomalib train --model SimpleNet ...` with the short name, as a subprocess."""
    workdir = tmp_path_factory.mktemp("cli")
    _anomalib(
        "train", "--model", "SimpleNet", "--data", "MVTecAD",
        "--data.root", str(synthetic_root), "--data.category", "synthetic", "--data.num_workers", "0",
        "--model.backbone", "efficientnet_lite0", "--model.layers", "[blocks.2, blocks.4]",
        "--model.pre_trained", "false", "--model.discriminator_hidden", "32", "--model.max_epochs", "2",
        "--default_root_dir", "results",
        cwd=workdir,
    )  # fmt: skip
    checkpoints = list((workdir / "results").rglob("model.ckpt"))
    assert len(checkpoints) == 1
    return checkpoints[0]


def test_train_by_short_name_saves_the_last_epoch(cli_checkpoint: Path) -> None:
    checkpoint = torch.load(cli_checkpoint, map_location="cpu", weights_only=False)
    assert checkpoint["epoch"] == 1  # --model.max_epochs 2, last epoch kept
    assert checkpoint["hyper_parameters"]["backbone"] == "efficientnet_lite0"


def test_the_review_page_reads_what_anomalib_train_tested(cli_checkpoint: Path) -> None:
    """`anomalib train` ends with a test run; SimpleNet's visualizer leaves a table simplenet-review reads."""
    results = next(folder for folder in cli_checkpoint.parents if folder.name == "results")
    (run,) = find_runs(results)
    assert run.name.startswith("SimpleNet/MVTecAD/synthetic/")
    assert run.name.endswith("/images")
    assert {row.gt for row in run.rows} == {True, False}
    assert all(Path(row.anomaly_map).is_file() for row in run.rows)
    assert all(bool(row.mask) == row.gt for row in run.rows)  # each defective image has its true mask, no good one
    assert run.model_xml is None  # not exported: no uploads, no threshold to save


@pytest.mark.parametrize(("export_type", "artefact"), [("torch", "model.pt"), ("onnx", "model.onnx"), ("openvino", "model.xml")])
def test_export_by_short_name(
    cli_checkpoint: Path, synthetic_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, export_type: str, artefact: str
) -> None:
    """`anomalib export --model SimpleNet --ckpt_path ...` needs no network (the checkpoint carries the backbone), and
    what it writes gives the checkpoint's scores, maps and labels through the inferencer anomalib ships for it."""
    _anomalib(
        "export",
        "--model",
        "SimpleNet",
        "--export_type",
        export_type,
        "--ckpt_path",
        str(cli_checkpoint),
        "--default_root_dir",
        str(tmp_path),
        cwd=tmp_path,
    )
    exported = tmp_path / "weights" / export_type / artefact
    image = torch.rand(1, 3, 96, 96)
    with torch.no_grad():
        expected = SimpleNet.load_from_checkpoint(cli_checkpoint).eval()(image).pred_score.numpy()
    if export_type == "torch":  # the pickled module, rebuilt with the checkpoint's architecture (not the defaults)
        module = torch.load(exported, map_location="cpu", weights_only=False)["model"].eval()
        assert module.model.feature_extractor.backbone_name == "efficientnet_lite0"
        assert module.model.discriminator.layers[0].out_features == 32
        with torch.no_grad():
            score = module(image).pred_score.numpy()
    else:
        import openvino as ov

        compiled = ov.compile_model(ov.Core().read_model(exported), "CPU", OPENVINO_F32)
        score = compiled(image.numpy())[compiled.output("pred_score")]
    np.testing.assert_allclose(score.ravel(), expected.ravel(), atol=1e-4)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TRUST_REMOTE_CODE", "1")
    images = sorted((synthetic_root / "synthetic" / "test").glob("*/*.png"))
    assert len(images) == 8
    assert_export_matches_checkpoint(exported, export_type, cli_checkpoint, images)


@pytest.mark.slow  # anomalib's benchmark pipeline fits and tests both models at their defaults: about a minute
def test_benchmark_grid_with_padim(tmp_path: Path) -> None:
    """`anomalib benchmark` with `model: {class_path: {grid: [Padim, SimpleNet]}}` runs both models into one table."""
    make_synthetic_dataset(tmp_path / "data", n_train=4, n_test_good=2, n_test_defective=2, image_size=64)
    config = {
        "accelerator": "cpu",
        "benchmark": {
            "seed": 42,
            "model": {
                "class_path": {"grid": ["Padim", "SimpleNet"]},
                # Shared arguments: SimpleNet uses PaDiM's names. Random weights: nothing to download here.
                "init_args": {"backbone": "resnet18", "layers": ["layer2", "layer3"], "pre_trained": False},
            },
            "data": {
                "class_path": "MVTecAD",
                "init_args": {"root": str(tmp_path / "data"), "category": "synthetic", "num_workers": 0},
            },
        },
    }
    (tmp_path / "benchmark.yaml").write_text(yaml.safe_dump(config))
    _anomalib("benchmark", "--config", "benchmark.yaml", cwd=tmp_path)
    tables = list((tmp_path / "runs").rglob("*.csv"))
    assert tables, (tmp_path / "runs" / "pipeline.log").read_text()[-3000:]
    import pandas as pd

    results = pd.read_csv(tables[0])
    assert sorted(results["model.class_path"]) == ["Padim", "SimpleNet"]
    # anomalib's own collect, unpatched: both models report anomalib's default metrics, so every cell is filled.
    metrics = ["image_AUROC", "image_F1Score", "pixel_AUROC", "pixel_F1Score"]
    assert results[metrics].notna().all().all()


@pytest.mark.parametrize("config", CONFIGS, ids=[c.stem for c in CONFIGS])
def test_config_is_accepted_by_anomalib_train(config: Path, synthetic_root: Path) -> None:
    cli = AnomalibCLI(
        args=["train", "--config", str(config), "--model.init_args.pre_trained", "false",
              "--model.init_args.backbone_weights", "null",
              "--data.root", str(synthetic_root), "--data.category", "synthetic"],
        run=False,
    )  # fmt: skip
    settings = yaml.safe_load(config.read_text())["model"]["init_args"]
    expected = {**inspect_defaults(SimpleNet), **settings}  # what the config leaves out is SimpleNet's default
    assert type(cli.model).__name__ == "SimpleNet"
    assert cli.model.max_epochs == expected["max_epochs"]
    assert cli.model.model.feature_extractor.backbone_name == expected["backbone"]
    generator = cli.model.model.anomalous_feature_generator
    assert (generator.noise_std, generator.noise_scale) == (expected["noise_std"], expected["noise_scale"])


def test_lite0_config_holds_the_lite0_preset() -> None:
    """The preset is written once (presets.LITE0_CPU); the YAML config for the CLI must say the same."""
    from anomalib_simplenet.presets import LITE0_CPU

    settings = yaml.safe_load((CONFIGS[0].parent / "simplenet_lite0_cpu.yaml").read_text())["model"]["init_args"]
    assert {key: settings[key] for key in LITE0_CPU} == {k: list(v) if isinstance(v, tuple) else v for k, v in LITE0_CPU.items()}
