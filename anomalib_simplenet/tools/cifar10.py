"""One-class CIFAR-10 (the paper's Table 5) as anomalib ``Folder`` datasets: one class normal, the other nine novel.

The protocol (Liu et al., CVPR 2023, Sec. 4.1; also Reverse Distillation's): for each of the ten classes, train on
that class's training images only; test on test images of all ten classes, that class as normal and the other nine
as anomalous; report image AUROC per class and the mean.

:func:`one_class_subset` writes, once, a fixed random subset of a JPEG archive of CIFAR-10 (``train/<class>/*.jpg``,
``test/<class>/*.jpg``; the data entry's ``archive:``, e.g. ``../shared/data/cifar10/cifar10-jpeg.tar.gz``):
``train_per_class`` training and ``test_per_class`` test images of each class, chosen by ``seed`` from the sorted file
names, so every model of a run (and every rerun) sees the same images. :func:`folder_arguments` gives anomalib's
``Folder`` the directories of one class's task. A benchmark config's data entry with ``generate: cifar10`` does both
(:mod:`anomalib_simplenet.tools.datamodules`).

Example:
    >>> folder_arguments("cat")["normal_dir"], len(folder_arguments("cat")["abnormal_dir"])
    ('train/cat', 9)

"""

import random
import tarfile
from pathlib import Path

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
# What a small CPU affords for 10 classes x 3 models (docs/paper-tables.md): 500 of the 5,000 training images of a
# class, and 200 of the 1,000 test images of each class (2,000 test images per task: 200 normal, 1,800 novel).
TRAIN_PER_CLASS, TEST_PER_CLASS, SUBSET_SEED = 500, 200, 0
MARKER = "_SUBSET.txt"


def folder_arguments(normal_class: str) -> dict[str, object]:
    """Return ``Folder``'s directories for the task with ``normal_class`` normal (relative to the subset's root).

    Raises:
        ValueError: For a name that is not a CIFAR-10 class.

    """
    if normal_class not in CLASSES:
        msg = f"'{normal_class}' is not a CIFAR-10 class: use one of {', '.join(CLASSES)}."
        raise ValueError(msg)
    return {
        "normal_dir": f"train/{normal_class}",
        "normal_test_dir": f"test/{normal_class}",
        "abnormal_dir": [f"test/{other}" for other in CLASSES if other != normal_class],
    }


def one_class_subset(
    root: str | Path,
    archive: str | Path,
    train_per_class: int = TRAIN_PER_CLASS,
    test_per_class: int = TEST_PER_CLASS,
    seed: int = SUBSET_SEED,
) -> Path:
    """Write the subset under ``root`` unless a complete one with the same sizes and seed is there; return ``root``.

    The marker file is written last, so an interrupted extraction is redone.

    Raises:
        FileNotFoundError: If the archive is missing (the message says where it is expected).
        ValueError: If ``root`` holds a subset of other sizes or another seed (use another folder).

    """
    root, archive = Path(root), Path(archive)
    description = f"train_per_class={train_per_class} test_per_class={test_per_class} seed={seed} archive={archive.name}\n"
    if (root / MARKER).is_file():
        if (root / MARKER).read_text() == description:
            return root
        made = (root / MARKER).read_text().strip()
        msg = f"'{root}' holds a CIFAR-10 subset made with other settings ({made}): use another root."
        raise ValueError(msg)
    if not archive.is_file():
        msg = f"CIFAR-10 archive not found at '{archive}' (from {Path.cwd()}): give the data entry's archive: its path."
        raise FileNotFoundError(msg)
    with tarfile.open(archive) as tar:  # a .tar.gz is read front to back: choose first, then extract in one pass
        names = sorted(member.name for member in tar.getmembers() if member.isfile() and member.name.endswith(".jpg"))
    generator, chosen = random.Random(seed), {}
    for split, count in (("train", train_per_class), ("test", test_per_class)):
        for name in CLASSES:
            files = [path for path in names if path.split("/")[-3:-1] == [split, name]]
            if len(files) < count:
                msg = f"the archive has {len(files)} {split} images of {name}, fewer than the {count} asked for."
                raise ValueError(msg)
            chosen.update({path: root / split / name / Path(path).name for path in generator.sample(files, count)})
    with tarfile.open(archive) as tar:
        for member in tar:
            if member.name in chosen:
                chosen[member.name].parent.mkdir(parents=True, exist_ok=True)
                chosen[member.name].write_bytes(tar.extractfile(member).read())
    (root / MARKER).write_text(description)
    return root
