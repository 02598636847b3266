"""The demo's output folder: made new (or emptied, if an earlier demo wrote it), its summary, its console lines."""

import json
import shutil
from pathlib import Path
from typing import Any

from .plan import DemoError


def say(message: str) -> None:
    """Print one line of the demo's progress at once."""
    print(message, flush=True)


def write_summary(output: Path, results: list[dict[str, Any]], seconds: float) -> tuple[Path, Path]:
    """Write ``summary.json`` and a short ``summary.md`` table into ``output``; return both paths.

    Example:
        >>> import tempfile
        >>> row = {"category": "fabric", "image_AUROC": 1.0, "pixel_AUROC": 0.97, "pixel_AUPRO": 0.9, "image_F1Score": 0.95,
        ...        "mean_score_good": 0.2, "mean_score_defective": 0.9, "heat_inside_defects": 0.8, "heat_outside_defects": 0.1}
        >>> json_path, md_path = write_summary(Path(tempfile.mkdtemp()), [row], 100.0)
        >>> md_path.read_text().splitlines()[4]
        '| fabric | 1.000 | 0.970 | 0.900 | 0.950 | 0.20 / 0.90 | 0.80 / 0.10 |'

    """
    output.mkdir(parents=True, exist_ok=True)
    json_path = output / "summary.json"
    json_path.write_text(json.dumps({"seconds": round(seconds, 1), "categories": results}, indent=2, default=str))
    lines = [
        "| category | image AUROC | pixel AUROC | PRO | image F1 | mean score good / defective | heat in / out of defects |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['category']} | {r['image_AUROC']:.3f} | {r['pixel_AUROC']:.3f} | {r['pixel_AUPRO']:.3f} "
        f"| {r['image_F1Score']:.3f} "
        f"| {r['mean_score_good']:.2f} / {r['mean_score_defective']:.2f} "
        f"| {r['heat_inside_defects']:.2f} / {r['heat_outside_defects']:.2f} |"
        for r in results
    ]
    md_path = output / "summary.md"
    generated = all(r.get("data") == "generated" for r in results)
    validation = (
        "a separate half of the generated defect images"
        if generated
        else "anomalib's synthetic defects on 10 % of the training images"
    )
    md_path.write_text(
        "# SimpleNet demo\n\n" + "\n".join(lines) + f"\n\nTotal time: {seconds:.0f} s. Scores and heat maps are normalised to "
        f"[0, 1]; above 0.5 means anomalous (threshold fitted on {validation}, never on the test images).\n"
    )
    return json_path, md_path


MARKER = ".simplenet-demo"


def prepare_output(output: Path) -> Path:
    """Create ``output`` (emptying it if a previous demo wrote it) and return its absolute path.

    Raises:
        DemoError: If ``output`` is a file, or a non-empty folder that the demo did not write.

    """
    output = output.expanduser().resolve()
    if output.exists() and not output.is_dir():
        msg = f"--output '{output}' is a file: pass a folder."
        raise DemoError(msg)
    if output.is_dir() and any(output.iterdir()):
        if not (output / MARKER).is_file():
            msg = f"--output '{output}' already holds other files: pass a new or empty folder."
            raise DemoError(msg)
        shutil.rmtree(output)
    output.mkdir(parents=True, exist_ok=True)
    (output / MARKER).write_text("written by simplenet-demo; the next run empties this folder\n")
    return output
