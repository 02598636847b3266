"""One-class CIFAR-10 (the paper's Table 5) through anomalib's Folder: the subset, the task of each class, the protocol."""

from pathlib import Path

import pytest

from anomalib_simplenet.tools.cifar10 import CLASSES, folder_arguments, one_class_subset
from anomalib_simplenet.tools.datamodules import datamodule_for

from conftest import SHARED_DATA

ARCHIVE = SHARED_DATA / "cifar10" / "cifar10-jpeg.tar.gz"
pytestmark = pytest.mark.skipif(not ARCHIVE.is_file(), reason=f"the CIFAR-10 archive is not at {ARCHIVE}")


@pytest.fixture(scope="module")
def subset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return one_class_subset(tmp_path_factory.mktemp("cifar10"), ARCHIVE, train_per_class=3, test_per_class=2, seed=0)


def test_the_subset_has_the_asked_images_of_every_class_and_is_the_same_each_time(subset: Path, tmp_path: Path) -> None:
    for split, count in (("train", 3), ("test", 2)):
        assert sorted(folder.name for folder in (subset / split).iterdir()) == sorted(CLASSES)
        assert all(len(list((subset / split / name).glob("*.jpg"))) == count for name in CLASSES)
    again = one_class_subset(tmp_path / "again", ARCHIVE, train_per_class=3, test_per_class=2, seed=0)
    assert sorted(p.relative_to(again).as_posix() for p in again.rglob("*.jpg")) == sorted(
        p.relative_to(subset).as_posix() for p in subset.rglob("*.jpg")
    )
    with pytest.raises(ValueError, match="made with other settings"):
        one_class_subset(subset, ARCHIVE, train_per_class=4, test_per_class=2, seed=0)


def test_a_task_trains_on_its_class_and_tests_it_against_the_nine_others(subset: Path) -> None:
    entry = {"class_path": "Folder", "generate": "cifar10", "archive": str(ARCHIVE),
             "init_args": {"root": str(subset), "num_workers": 0, "val_split_mode": "none"}}  # fmt: skip
    datamodule = datamodule_for(entry, "cat", seed=0)
    datamodule.setup()
    train = datamodule.train_data.samples
    test = datamodule.test_data.samples
    assert set(train["image_path"].map(lambda path: Path(path).parent.name)) == {"cat"}
    assert len(train) == 3
    normal = test[test["label_index"] == 0]
    assert set(normal["image_path"].map(lambda path: Path(path).parent.name)) == {"cat"}
    assert len(normal) == 2
    assert len(test) - len(normal) == 18  # 2 of each of the other nine classes, all novel


def test_a_missing_archive_or_class_is_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="CIFAR-10 archive not found"):
        one_class_subset(tmp_path, tmp_path / "nothing.tar.gz")
    with pytest.raises(ValueError, match="'kitten' is not a CIFAR-10 class"):
        folder_arguments("kitten")


def test_a_cifar10_entry_without_its_archive_is_refused_with_what_to_write() -> None:
    from anomalib_simplenet.tools.benchmark.config import BenchmarkConfig, BenchmarkConfigError

    entry = {"class_path": "Folder", "generate": "cifar10", "init_args": {"root": "runs/c10"}, "categories": ["cat"]}
    with pytest.raises(BenchmarkConfigError, match="generate: cifar10 needs archive:"):
        BenchmarkConfig.from_dict({"models": ["Padim"], "data": [entry]})
