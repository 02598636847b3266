"""The Lightning internal the project relies on outside the model folder (``anomalib_simplenet.lightning_compat``: the
running fit's training loader), held to the installed Lightning, and the version bound in ``pyproject.toml`` that says
which Lightning these tests were run against."""

import re
from importlib.metadata import version

import pytest
import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from packaging.requirements import Requirement
from torch.utils.data import DataLoader, TensorDataset

from anomalib_simplenet.lightning_compat import replace_training_loader, training_loader

from conftest import REPO


class Recorder(LightningModule):
    """Records the first value of every training batch; one weight so that there is something to optimise."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))
        self.first_values: list[list[float]] = []

    def training_step(self, batch: list[torch.Tensor], batch_idx: int) -> torch.Tensor:
        self.first_values[-1].append(float(batch[0][0]))
        return (self.weight * batch[0]).sum()

    def on_train_epoch_start(self) -> None:
        self.first_values.append([])

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.1)


def _loader(value: float) -> DataLoader:
    return DataLoader(TensorDataset(torch.full((4, 1), value)), batch_size=2)


def _trainer(**arguments: object) -> Trainer:
    quiet = {"logger": False, "enable_progress_bar": False, "enable_model_summary": False, "enable_checkpointing": False}
    return Trainer(**quiet, **arguments)


def test_the_training_loader_is_found_and_can_be_swapped_between_epochs() -> None:
    """What the feature store does: read the image loader at the first epoch's start, swap it after that epoch."""
    seen: list[DataLoader | None] = []

    class Swap(Callback):
        def on_train_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
            combined = training_loader(trainer)
            seen.append(combined.flattened[0] if combined is not None else None)

        def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
            replace_training_loader(training_loader(trainer), _loader(7.0))

    trainer, model, images = _trainer(max_epochs=2, callbacks=[Swap()]), Recorder(), _loader(1.0)
    assert training_loader(trainer) is None  # before a fit there is none
    trainer.fit(model, train_dataloaders=images)
    assert seen[0] is images
    assert model.first_values == [[1.0, 1.0], [7.0, 7.0]]  # the second epoch drew from the swapped-in loader


def test_lightning_fills_in_max_epochs_before_any_hook_runs() -> None:
    """What the model folder's schedule relies on, through public names only: a fit without a limit reaches the model's
    ``setup`` with Lightning's default ``max_epochs`` of 1000 filled in, and ``trainer.fit_loop.max_epochs`` set there
    is the number of epochs the fit runs."""
    from anomalib_simplenet.simplenet.schedule import LIGHTNING_DEFAULT_MAX_EPOCHS

    seen: list[int | None] = []

    class OwnSchedule(Recorder):
        def setup(self, stage: str) -> None:
            seen.append(self.trainer.max_epochs)
            self.trainer.fit_loop.max_epochs = 2

    model = OwnSchedule()
    _trainer().fit(model, train_dataloaders=_loader(1.0))
    assert seen == [LIGHTNING_DEFAULT_MAX_EPOCHS]
    assert len(model.first_values) == 2


def test_the_installed_lightning_is_a_version_the_bound_allows() -> None:
    """pyproject.toml bounds lightning to the versions these tests were run on; the installed one must be inside."""
    (line,) = re.findall(r'^\s*"(lightning[^"]*)",', (REPO / "pyproject.toml").read_text(), flags=re.MULTILINE)
    bound = Requirement(line)
    assert bound.specifier, "lightning needs an upper bound: lightning_compat.py uses private attributes"
    assert any(spec.operator == "<" for spec in bound.specifier)
    assert version("lightning") in bound.specifier
    with pytest.raises(AssertionError):  # the check can fail: a version outside the bound is not accepted
        assert "9.0.0" in bound.specifier
