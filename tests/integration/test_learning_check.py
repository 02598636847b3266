"""The learning check: a fit whose loss stays at its floor is reported with what to change; one that learns is not."""

import re
from pathlib import Path

from conftest import fit


def test_a_setting_that_cannot_learn_is_reported_with_what_to_change(
    tmp_path: Path, synthetic_root: Path, small_simplenet, caplog
) -> None:
    """A negligible absolute sigma on EfficientNet-Lite0 features (std about 6.5): the loss stays at 1.0.

    The fit is shorter than the 100 steps after which the check runs: it is reported at the end of training.
    """
    model = small_simplenet(noise_scale="absolute", noise_std=1e-4)
    with caplog.at_level("WARNING", logger="anomalib_simplenet"):
        fit(model, synthetic_root, tmp_path, seed=None, max_epochs=3, limit_val_batches=0)
    assert re.search(r"training loss is still (0\.9[5-9]|1\.\d)", caplog.text)  # at its no-separation floor, 1.0
    assert "after only 12 steps (3 epochs)" in caplog.text  # a short fit: training longer comes first
    assert "train longer" in caplog.text
    assert "use noise_scale='relative'" in caplog.text


def test_a_model_that_learns_gets_no_warning(tmp_path: Path, synthetic_root: Path, small_simplenet, caplog) -> None:
    """Checked after 100 optimiser steps (25 epochs of 4 batches here), not after a number of epochs.

    The lite0 preset's embedding length: on these 16 generated images and random backbone weights the test fixture's
    short embedding (64) learns too slowly to leave the floor in 100 steps.
    """
    model = small_simplenet(embedding_dim=384)
    with caplog.at_level("WARNING", logger="anomalib_simplenet"):
        fit(model, synthetic_root, tmp_path, seed=None, max_epochs=26, limit_val_batches=0)
    assert "training loss is still" not in caplog.text
