"""A threshold chosen by eye in ``simplenet-review``, kept in a small JSON file beside an exported model.

The file is ``review_threshold.json`` in the folder of ``model.xml``; the model files are never touched. The
threshold is on the scale of the scores every tool here shows, anomalib's normalised image score, where the
model's own threshold (fitted on validation data) is 0.5; an image is anomalous when its score is above the
threshold, as anomalib labels. ``tools/predict/`` and ``simplenet-fleet score`` label with it when the file is
there. Standard library only (fsspec for object-store models, imported when such a path is given).

Example:
    >>> import tempfile
    >>> xml = Path(tempfile.mkdtemp()) / "model.xml"
    >>> _ = xml.write_text("<net/>")  # an exported model
    >>> read_threshold(xml) is None
    True
    >>> write_threshold(xml, 0.62).name
    'review_threshold.json'
    >>> read_threshold(xml)
    0.62

"""

import json
import math
import os
import tempfile
import time
from pathlib import Path

THRESHOLD_FILE = "review_threshold.json"
MODEL_THRESHOLD = 0.5  # anomalib's normalisation puts the model's own (validation) threshold at 0.5


class ThresholdFileError(ValueError):
    """A threshold file or value that cannot be used; the message says what to do.

    Example:
        >>> isinstance(ThresholdFileError("..."), ValueError)
        True

    """


def threshold_path(model_xml: str | Path) -> str:
    """Path (or URL) of the threshold file beside ``model_xml``.

    Example:
        >>> threshold_path("/models/cable/openvino/model.xml")
        '/models/cable/openvino/review_threshold.json'

    """
    return f"{str(model_xml).rsplit('/', 1)[0]}/{THRESHOLD_FILE}" if "/" in str(model_xml) else THRESHOLD_FILE


def check_threshold(value: object) -> float:
    """Return ``value`` as a threshold: a finite number from 0 to 1.

    Raises:
        ThresholdFileError: For anything else.

    Example:
        >>> check_threshold("2")
        Traceback (most recent call last):
        ...
        anomalib_simplenet.tools.threshold_file.ThresholdFileError: threshold '2' must be a number from 0 to 1 ...

    """
    try:
        threshold = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        threshold = math.nan
    if isinstance(value, bool) or not (0.0 <= threshold <= 1.0):
        msg = f"threshold {value!r} must be a number from 0 to 1 (anomalib's normalised score; the model's own is 0.5)."
        raise ThresholdFileError(msg)
    return threshold


def read_threshold(model_xml: str | Path) -> float | None:
    """Return the threshold saved beside ``model_xml``, or ``None`` when there is none.

    Raises:
        ThresholdFileError: If the file is there but not a threshold file (say what to do: fix or delete it).

    """
    path = threshold_path(model_xml)
    try:
        if "://" in path:
            import fsspec  # noqa: PLC0415

            with fsspec.open(path, "r") as handle:
                text = handle.read()
        else:
            text = Path(path).read_text()
    except FileNotFoundError:
        return None
    try:
        return check_threshold(json.loads(text)["threshold"])
    except (json.JSONDecodeError, KeyError, TypeError, ThresholdFileError) as error:
        msg = f"'{path}' is not a threshold file ({error}): save the threshold again with simplenet-review, or delete it."
        raise ThresholdFileError(msg) from error


def write_threshold(model_xml: str | Path, threshold: float, note: str = "") -> Path:
    """Save ``threshold`` beside the local ``model_xml`` (a new file, renamed into place); return its path.

    Raises:
        ThresholdFileError: For a threshold outside [0, 1] or a model file that is not there.

    """
    threshold = check_threshold(threshold)
    model_xml = Path(model_xml)
    if not model_xml.is_file():
        msg = f"no exported model at '{model_xml}': a threshold is saved beside a model.xml."
        raise ThresholdFileError(msg)
    record = {
        "threshold": threshold,
        "scale": "anomalib's normalised image score; anomalous when the score is above the threshold",
        "model_threshold": MODEL_THRESHOLD,
        "model": model_xml.name,
        "saved": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "note": note,
    }
    target = Path(threshold_path(model_xml))
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".threshold-", suffix=".json")
    with os.fdopen(handle, "w") as file:
        json.dump(record, file, indent=1)
    Path(temporary).replace(target)
    return target
