# Copyright (C) 2026 anomalib-simplenet contributors
# SPDX-License-Identifier: Apache-2.0

"""SimpleNet's checkpoints: damaged and foreign files refused by name, the saved architecture adopted, the random state kept.

* :func:`check_checkpoint_file` -- a truncated or damaged file is named as such, instead of PyTorch's
  "failed finding central directory".
* :func:`refuse_foreign_checkpoint` -- a checkpoint without a SimpleNet discriminator (PaDiM's, say) is
  refused in one line that names the model that saved it.
* :func:`drop_derived_weights` -- weights that the first versions saved although they follow from the settings.
* :func:`drop_states_of_other_metrics` -- the state of metrics the checkpoint's evaluator had and this model's has
  not (version 0.1 reported PRO by default), which would otherwise fail a strict load.
* :func:`architecture_to_adopt` -- ``anomalib predict --model SimpleNet --ckpt_path ...`` builds SimpleNet
  from its default arguments before it loads the checkpoint; the checkpoint's own architecture arguments
  say which torch model its weights fit.
* :func:`save_rng_state` / :func:`restore_rng_state` -- a fit resumed from its last checkpoint continues
  the interrupted fit's random draws, and so ends with the same model.
* :class:`CheckpointHooks` -- the Lightning hooks that apply all of the above, mixed into
  :class:`~.lightning_model.SimpleNet`.
"""

import logging
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.trainer.states import TrainerFn

logger = logging.getLogger(__name__)

RNG_STATE_KEY = "simplenet_rng_state"
# Weights that the first versions saved although they follow from the settings: the kernel of anomalib's
# GaussianBlur2d, which drew the anomaly map until the blur became two matrix products built from blur_sigma.
DERIVED_WEIGHTS = ("model.anomaly_map_generator.",)
# Architecture arguments added after checkpoints were first written, with the value every earlier checkpoint used.
ARGUMENTS_OF_OLDER_CHECKPOINTS = {"embedding": "channel_mean"}


def check_checkpoint_file(path: str | Path) -> None:
    """Refuse a checkpoint file that is not a complete PyTorch archive (truncated copy, wrong file).

    Raises:
        FileNotFoundError: If there is no file at ``path``.
        ValueError: If the file is not a complete zip archive, as every PyTorch checkpoint is.

    Example:
        >>> import tempfile
        >>> broken = Path(tempfile.mkdtemp()) / "model.ckpt"
        >>> _ = broken.write_bytes(b"PK truncated")
        >>> check_checkpoint_file(broken)
        Traceback (most recent call last):
        ...
        ValueError: Checkpoint '...model.ckpt' is damaged or incomplete...

    """
    path = Path(path)
    if not path.is_file():
        msg = f"Checkpoint '{path}' not found. Pass the model.ckpt written by training (results/.../weights/lightning/)."
        raise FileNotFoundError(msg)
    if not zipfile.is_zipfile(path):
        msg = (
            f"Checkpoint '{path}' is damaged or incomplete ({path.stat().st_size} bytes; a PyTorch checkpoint is a "
            "complete zip archive). Copy it again from where it was trained, or train again."
        )
        raise ValueError(msg)


def refuse_foreign_checkpoint(checkpoint: dict[str, Any]) -> None:
    """Raise if the checkpoint holds no SimpleNet discriminator; change nothing.

    Raises:
        ValueError: One line naming the model that saved the checkpoint and what to pass instead.

    Example:
        >>> refuse_foreign_checkpoint({"state_dict": {"model.discriminator.layers.0.weight": None}})
        >>> refuse_foreign_checkpoint({"state_dict": {"model.memory_bank": None}, "hyper_parameters": {"_class_path": "x.Padim"}})
        Traceback (most recent call last):
        ...
        ValueError: This checkpoint is a Padim checkpoint: it has no SimpleNet discriminator...

    """
    state = checkpoint.get("state_dict", {})
    if not any(key.startswith("model.discriminator.") for key in state):
        hyper_parameters = checkpoint.get("hyper_parameters", {})
        owner = hyper_parameters.get("_class_path") or hyper_parameters.get("class_path")
        keys = sorted({".".join(key.split(".")[:2]) for key in state})[:4]
        what = f"a {str(owner).rsplit('.', 1)[-1]} checkpoint" if owner else f"not a SimpleNet checkpoint (its weights: {keys})"
        msg = (
            f"This checkpoint is {what}: it has no SimpleNet discriminator. Load it with the model that trained it "
            "(e.g. --model Padim), or pass a SimpleNet checkpoint (results/SimpleNet/.../weights/lightning/model.ckpt)."
        )
        raise ValueError(msg)


def drop_derived_weights(checkpoint: dict[str, Any]) -> list[str]:
    """Remove from the checkpoint's state dict the weights the model rebuilds from its settings; return their keys.

    Example:
        >>> checkpoint = {"state_dict": {"model.anomaly_map_generator.blur.kernel": 0, "model.discriminator.w": 1}}
        >>> drop_derived_weights(checkpoint), list(checkpoint["state_dict"])
        (['model.anomaly_map_generator.blur.kernel'], ['model.discriminator.w'])

    """
    state = checkpoint.get("state_dict", {})
    derived = [key for key in state if key.startswith(DERIVED_WEIGHTS)]
    for key in derived:
        del state[key]
    return derived


def drop_states_of_other_metrics(checkpoint: dict[str, Any], own_metric_keys: Iterable[str]) -> list[str]:
    """Remove the state of metrics the checkpoint's evaluator had and this model's has not; return the keys removed.

    A metric's state is not learned: it is recomputed at every test run, so only the metrics the model has now matter.
    The evaluator is a module of the model and a Lightning callback, so its state is in the checkpoint twice: in the
    model's ``state_dict`` (``evaluator.<key>``) and in the callbacks' states (``callbacks["Evaluator"][<key>]``), which
    Lightning restores after the model's ``on_load_checkpoint``, from the same dictionary.

    Args:
        checkpoint (dict[str, Any]): The checkpoint being loaded.
        own_metric_keys (Iterable[str]): The keys of the loading model's evaluator state dict (none without evaluator).

    Returns:
        list[str]: The removed keys, as the model's state dict names them.

    Example:
        >>> checkpoint = {
        ...     "state_dict": {"evaluator.test_metrics.4.fpr_limit": 0, "model.discriminator.w": 1},
        ...     "callbacks": {"Evaluator": {"test_metrics.4.fpr_limit": 0}},
        ... }
        >>> drop_states_of_other_metrics(checkpoint, [])
        ['evaluator.test_metrics.4.fpr_limit']
        >>> list(checkpoint["state_dict"]), checkpoint["callbacks"]["Evaluator"]
        (['model.discriminator.w'], {})

    """
    state = checkpoint.get("state_dict", {})
    callback_state = checkpoint.get("callbacks", {}).get("Evaluator", {})
    saved = {key.removeprefix("evaluator.") for key in state if key.startswith("evaluator.")} | set(callback_state)
    other = sorted(saved - set(own_metric_keys))
    for key in other:
        state.pop(f"evaluator.{key}", None)
        callback_state.pop(key, None)
    return [f"evaluator.{key}" for key in other]


def architecture_to_adopt(current: Mapping[str, Any], saved: Mapping[str, Any], names: Sequence[str]) -> dict[str, Any] | None:
    """Return the checkpoint's torch-model arguments ``names`` where they differ from this instance's, else ``None``.

    Args:
        current (Mapping[str, Any]): The instance's hyper-parameters.
        saved (Mapping[str, Any]): The checkpoint's ``hyper_parameters``. An argument it lacks takes the value of the
            version that wrote it (:data:`ARGUMENTS_OF_OLDER_CHECKPOINTS`: a checkpoint without ``embedding`` used
            ``"channel_mean"``), else keeps the instance's value.
        names (Sequence[str]): The arguments that shape the torch model.

    Returns:
        dict[str, Any] | None: The values to rebuild with, or ``None`` when the instance already fits.

    Example:
        >>> names = ("backbone", "layers", "embedding")
        >>> current = {"backbone": "wide_resnet50_2", "layers": ("layer2", "layer3"), "embedding": "unfolded"}
        >>> saved = {"backbone": "wide_resnet50_2", "layers": ["layer2", "layer3"], "embedding": "unfolded"}
        >>> architecture_to_adopt(current, saved, names) is None  # a list equals a tuple
        True
        >>> architecture_to_adopt(current, {**saved, "backbone": "resnet18"}, names)["backbone"]
        'resnet18'
        >>> architecture_to_adopt(current, {"backbone": "wide_resnet50_2"}, names)["embedding"]  # written before 0.2
        'channel_mean'

    """
    current = {name: current.get(name) for name in names}
    if saved.get("backbone") is not None:  # a checkpoint that records its architecture, maybe from an older version
        saved = {**ARGUMENTS_OF_OLDER_CHECKPOINTS, **saved}
    wanted = {name: saved.get(name, value) for name, value in current.items()}
    normalise = lambda values: {k: list(v) if isinstance(v, list | tuple) else v for k, v in values.items()}  # noqa: E731
    if normalise(wanted) == normalise(current):
        return None
    changed = ", ".join(f"{name}={wanted[name]!r}" for name in wanted if normalise(wanted)[name] != normalise(current)[name])
    logger.info("The checkpoint was trained with %s: SimpleNet rebuilt to match it.", changed)
    return wanted


def save_rng_state(checkpoint: dict[str, Any]) -> None:
    """Store torch's random-number state (and CUDA's, where there is a GPU) in ``checkpoint``.

    Example:
        >>> checkpoint = {}
        >>> save_rng_state(checkpoint)
        >>> torch.equal(checkpoint[RNG_STATE_KEY]["torch"], torch.get_rng_state())
        True

    """
    checkpoint[RNG_STATE_KEY] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        checkpoint[RNG_STATE_KEY]["cuda"] = torch.cuda.get_rng_state_all()


def restore_rng_state(checkpoint: dict[str, Any]) -> None:
    """Continue the random draws of the fit that saved ``checkpoint`` (nothing happens for a checkpoint without them).

    Example:
        >>> checkpoint = {}
        >>> save_rng_state(checkpoint)
        >>> first = torch.rand(1)
        >>> restore_rng_state(checkpoint)
        >>> torch.equal(torch.rand(1), first)
        True

    """
    if RNG_STATE_KEY not in checkpoint:
        return
    torch.set_rng_state(checkpoint[RNG_STATE_KEY]["torch"])
    if "cuda" in checkpoint[RNG_STATE_KEY] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(checkpoint[RNG_STATE_KEY]["cuda"])


class CheckpointHooks:
    """Checkpoint hooks of :class:`~.lightning_model.SimpleNet`: refuse bad files, adopt the saved architecture.

    A mixin placed before ``AnomalibModule`` in the model's bases; every hook calls the base class's too. The model
    lists the arguments that shape its torch model (``architecture_arguments``) and rebuilds it from a checkpoint's
    values (``rebuild_torch_model``).

    Example:
        >>> import tempfile, torch
        >>> broken = Path(tempfile.mkdtemp()) / "model.ckpt"
        >>> torch.save({"state_dict": {}}, broken)
        >>> _ = broken.write_bytes(broken.read_bytes()[:40])  # a copy cut short
        >>> from anomalib.models import SimpleNet
        >>> SimpleNet.load_from_checkpoint(broken)
        Traceback (most recent call last):
        ...
        ValueError: Checkpoint '...model.ckpt' is damaged or incomplete...

    """

    architecture_arguments: tuple[str, ...] = ()

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Save anomalib's component settings and the random-number state (a resumed fit continues exactly).

        Args:
            checkpoint (dict[str, Any]): The checkpoint being written.

        """
        super().on_save_checkpoint(checkpoint)
        save_rng_state(checkpoint)

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Check that the checkpoint is SimpleNet's and take its architecture; its weights need no download.

        When the checkpoint was trained with another backbone, levels or widths than this instance's
        arguments (``anomalib predict --model SimpleNet --ckpt_path ...`` builds the defaults first), the torch
        model is rebuilt with the checkpoint's settings so its weights fit.

        Args:
            checkpoint (dict[str, Any]): The checkpoint being loaded.

        Raises:
            ValueError: If the checkpoint was saved by another model (one line saying which file to use).

        """
        refuse_foreign_checkpoint(checkpoint)
        drop_derived_weights(checkpoint)
        drop_states_of_other_metrics(checkpoint, self.evaluator.state_dict() if self.evaluator is not None else ())
        wanted = architecture_to_adopt(self.hparams, checkpoint.get("hyper_parameters", {}), self.architecture_arguments)
        if wanted is not None:
            self.rebuild_torch_model(wanted)
        super().on_load_checkpoint(checkpoint)
        self._backbone_ready = True
        if self._resuming_a_fit():
            restore_rng_state(checkpoint)  # continue the interrupted fit's draws

    def _resuming_a_fit(self) -> bool:
        try:
            trainer = self.trainer
        except RuntimeError:  # not attached to a trainer: loaded outside of a fit
            return False
        return trainer is not None and trainer.state.fn == TrainerFn.FITTING

    @classmethod
    def load_from_checkpoint(cls, checkpoint_path: str | Path, *args: Any, **kwargs: Any) -> Any:  # noqa: ANN401
        """Load a SimpleNet checkpoint; a damaged or truncated file is named as such.

        Args:
            checkpoint_path (str | Path): The checkpoint file.
            *args (Any): Passed to Lightning's ``load_from_checkpoint``.
            **kwargs (Any): Passed to Lightning's ``load_from_checkpoint``.

        Returns:
            Any: The loaded model.

        """
        check_checkpoint_file(checkpoint_path)
        return super().load_from_checkpoint(checkpoint_path, *args, **kwargs)
