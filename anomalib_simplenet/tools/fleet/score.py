"""``simplenet-fleet score``: every image of a folder or a manifest, scored by its product's exported model on Ray.

Ray Data reads the files (a stage of small tasks, so reading overlaps scoring) and an actor pool runs the
OpenVINO models that ``simplenet-fleet train`` exported: each actor keeps the models of the last few products it
used, compiled once, with as many OpenVINO threads as CPUs it asked for. Each image is decoded as anomalib's
``read_image`` does and run as anomalib's ``OpenVINOInferencer`` runs it, so a score is the score
``tools/predict/`` gives the same file.

Output, under ``--output``::

    scores.parquet/   one table (a folder of parts): path, product, score, label, heatmap, model_key
    errors.parquet/   one table: path, product, error (unreadable files, products without a model)
    heatmaps/<product>/<name>-<hash>.png   with --heatmaps: the image, its heat map and outline, captioned
    score_run.json    the models folder and each product's model.xml (``simplenet-review`` finds the models by it)

Parts are written atomically as results arrive. A rerun skips every (path, product) already in the scores table
with the product's current model (a retrained product is scored again and its old rows are dropped), and tries
the images of the errors table again.

Example:
    >>> import pandas as pd, tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> for name in ("cable/a.png", "cable/b.png", "screw/c.png"):
    ...     (folder / name).parent.mkdir(exist_ok=True); _ = (folder / name).write_bytes(b"")
    >>> manifest_from(str(folder), product=None)[["product"]].value_counts().to_dict()
    {('cable',): 2, ('screw',): 1}

"""

import hashlib
import io
import json
import os
import tempfile
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fsspec
import numpy as np
import pandas as pd

from anomalib_simplenet.tools.image_files import IMAGE_SUFFIXES, images_under
from anomalib_simplenet.tools.jobs.store import read_marker, write_atomic
from anomalib_simplenet.tools.openvino_model import ExportedModel, decode
from anomalib_simplenet.tools.threshold_file import ThresholdFileError, read_threshold

SCORES_TABLE, ERRORS_TABLE, HEATMAPS, RUN_FILE = "scores.parquet", "errors.parquet", "heatmaps", "score_run.json"
SCORE_COLUMNS = ["path", "product", "score", "label", "heatmap", "model_key"]
ERROR_COLUMNS = ["path", "product", "error"]
READ_CPUS = 0  # reading files waits on storage (decoding is the actors' work): the declared CPUs go to the actors


class ScoreError(Exception):
    """A mistake in the input of ``simplenet-fleet score``; the message says what to do.

    Example:
        >>> manifest_from("/no/such/folder", product=None)
        Traceback (most recent call last):
        ...
        anomalib_simplenet.tools.fleet.score.ScoreError: --input '/no/such/folder' not found: ...

    """


@dataclass(frozen=True)
class TrainedModel:
    """A product's exported model, the key of the fit that made it, and the threshold saved by ``simplenet-review``.

    ``key`` names what the scores and labels of the product depend on: the fit, and the saved threshold when there
    is one (a rerun after a new threshold scores the product again, so no label is stale).

    Example:
        >>> TrainedModel("/models/cable/openvino/model.xml", "3f2a").key
        '3f2a'
        >>> TrainedModel("/models/cable/openvino/model.xml", "3f2a", threshold=0.62).key
        '3f2a+threshold=0.62'

    """

    xml: str
    fit_key: str
    threshold: float | None = None

    @property
    def key(self) -> str:
        """The fit's key, with the saved threshold when there is one."""
        return self.fit_key if self.threshold is None else f"{self.fit_key}+threshold={self.threshold:g}"


def manifest_from(source: str, product: str | None) -> pd.DataFrame:
    """Return the images to score as a table of ``path`` and ``product``.

    ``source`` is a CSV or Parquet manifest with those two columns (paths may be fsspec URLs), or a folder: with
    ``product``, every image below it belongs to that product; without, each subfolder is a product.

    Raises:
        ScoreError: For a missing source, a manifest without the columns, or a folder without images.

    """
    path = Path(source)
    if source.endswith((".csv", ".parquet")):
        if "://" not in source and not path.is_file():
            msg = f"manifest '{source}' not found."
            raise ScoreError(msg)
        table = pd.read_parquet(source) if source.endswith(".parquet") else pd.read_csv(source)
        if product is not None and "product" not in table:
            table["product"] = product
        missing = [column for column in ("path", "product") if column not in table]
        if missing:
            msg = f"manifest '{source}' lacks column(s) {missing}: it needs path and product (or give --product)."
            raise ScoreError(msg)
        return table[["path", "product"]].astype(str).drop_duplicates().reset_index(drop=True)
    if not path.is_dir():
        msg = f"--input '{source}' not found: give a folder of images, or a CSV/Parquet manifest (path, product)."
        raise ScoreError(msg)
    if product is not None:
        rows = [(str(image), product) for image in images_under(path)]
    else:
        rows = [
            (str(image), folder.name) for folder in sorted(path.iterdir()) if folder.is_dir() for image in images_under(folder)
        ]
    if not rows:
        layout = "" if product else " (one subfolder per product, or give --product)"
        msg = f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in '{source}'{layout}."
        raise ScoreError(msg)
    return pd.DataFrame(rows, columns=["path", "product"])


def trained_models(models: str) -> dict[str, TrainedModel]:
    """Return the finished products in a ``simplenet-fleet train`` output (a completion marker and an exported model).

    Raises:
        ScoreError: If ``models`` holds no finished product.

    """
    fs, root = fsspec.core.url_to_fs(models)
    found = {}
    for marker in sorted(fs.glob(f"{root.rstrip('/')}/*/_COMPLETE.json")):
        folder = marker.rsplit("/", 1)[0]
        record, xml = read_marker(_url(models, folder)), f"{folder}/openvino/model.xml"
        if record is not None and fs.exists(xml):
            try:
                threshold = read_threshold(_url(models, xml))
            except ThresholdFileError as error:
                raise ScoreError(str(error)) from error
            found[folder.rsplit("/", 1)[1]] = TrainedModel(_url(models, xml), record["key"], threshold)
    if not found:
        msg = f"no trained products in '{models}': give the --output folder of `simplenet-fleet train`."
        raise ScoreError(msg)
    return found


def _url(reference: str, path: str) -> str:
    """``path`` of the file system of ``reference``, as a URL when that is an object store."""
    protocol = reference.split("://", 1)[0] if "://" in reference else ""
    return f"{protocol}://{path}" if protocol and protocol != "file" else path


def read_files(batch: pd.DataFrame) -> pd.DataFrame:
    """Ray Data stage: add each file's bytes (``data``) or why it could not be read (``error``)."""
    contents, errors = [], []
    for path in batch["path"]:
        try:
            with fsspec.open(path, "rb") as handle:
                contents.append(handle.read())
            errors.append("")
        except (OSError, ValueError) as error:
            contents.append(b"")
            errors.append(f"cannot read the file: {type(error).__name__}: {error}")
    return batch.assign(data=contents, error=errors)


def heatmap_name(path: str) -> str:
    """File name of an image's heat-map picture: its stem and a hash of its whole path (unique per image).

    Example:
        >>> heatmap_name("/line1/cam2/0001.png")
        '0001-ea897adf9d.png'

    """
    return f"{Path(path).stem}-{hashlib.sha1(path.encode()).hexdigest()[:10]}.png"


class ProductScorer:
    """Ray Data actor: scores batches of (path, product, data) with each product's exported OpenVINO model.

    Keeps the ``cache_size`` most recently used products' models compiled, with ``threads`` OpenVINO threads at full
    precision (as ``tools/predict/``). It runs the compiled model as anomalib's ``OpenVINOInferencer`` does (the same
    input, the same outputs) without importing anomalib, so an actor starts in a second; anomalib is imported only
    to draw heat maps. Each image is run alone: on a small CPU, batches were slower per image than one image at a
    time (``benchmarks/fleet_speed.py`` measures it; figures in ``docs/fleet.md``).

    Example:
        >>> scorer = ProductScorer({}, threads=1)
        >>> scorer(pd.DataFrame({"path": ["x.png"], "product": ["cable"], "data": [b"not an image"], "error": [""]}))[
        ...     ["product", "error"]].to_dict("records")
        [{'product': 'cable', 'error': 'no trained model for product cable'}]

    """

    def __init__(
        self,
        models: dict[str, str],
        threads: int,
        cache_size: int = 4,
        heatmaps: str | None = None,
        thresholds: dict[str, float] | None = None,
    ) -> None:
        self.models, self.threads, self.cache_size, self.heatmaps = models, threads, cache_size, heatmaps
        self.thresholds = thresholds or {}
        self.compiled: OrderedDict[str, ExportedModel] = OrderedDict()
        self.cache_dir = tempfile.mkdtemp(prefix="simplenet-fleet-ov-")

    def model(self, product: str) -> ExportedModel:
        """Return the compiled model of ``product``, loaded once and kept while among the most recently used."""
        if product in self.compiled:
            self.compiled.move_to_end(product)
            return self.compiled[product]
        self.compiled[product] = ExportedModel(self.models[product], threads=self.threads, cache_dir=self.cache_dir)
        while len(self.compiled) > self.cache_size:
            self.compiled.popitem(last=False)
        return self.compiled[product]

    def __call__(self, batch: pd.DataFrame) -> pd.DataFrame:
        """Score the rows of ``batch``; rows that fail keep their reason in ``error``.

        A product with a threshold saved by ``simplenet-review`` (``thresholds``) is labelled by it (anomalous when
        the score is above it, as anomalib labels); the others keep their model's own label.
        """
        count = len(batch)
        scores, labels, heatmaps = np.full(count, np.nan), np.zeros(count, dtype=bool), [""] * count
        errors = list(batch["error"])
        for index, (path, product, data) in enumerate(zip(batch["path"], batch["product"], batch["data"], strict=True)):
            if errors[index]:
                continue
            if product not in self.models:
                errors[index] = f"no trained model for product {product}"
                continue
            try:
                image = decode(data)
            except ValueError as error:
                errors[index] = str(error)
                continue
            try:
                outputs = self.model(product).outputs(image)
            except RuntimeError as error:  # e.g. a model exported for one input size only
                errors[index] = f"the model of {product} could not score it: {str(error).strip().splitlines()[-1]}"
                continue
            scores[index] = float(np.asarray(outputs["pred_score"]).reshape(-1)[0])
            threshold = self.thresholds.get(product)
            own_label = bool(np.asarray(outputs["pred_label"]).reshape(-1)[0])
            labels[index] = own_label if threshold is None else bool(scores[index] > threshold)
            if self.heatmaps is not None:
                heatmaps[index] = self._draw(outputs, path, product, scores[index], labels[index])
        return pd.DataFrame({
            "path": batch["path"].to_numpy(),
            "product": batch["product"].to_numpy(),
            "score": scores,
            "label": labels,
            "heatmap": heatmaps,
            "error": errors,
        })  # fmt: skip

    def _draw(self, outputs: dict, path: str, product: str, score: float, anomalous: bool) -> str:
        from anomalib.data import NumpyImageBatch  # noqa: PLC0415
        from anomalib.visualization import ImageVisualizer  # noqa: PLC0415

        from anomalib_simplenet.visualization.predictions import add_caption, caption_text  # noqa: PLC0415

        item = next(iter(NumpyImageBatch(**outputs)))  # what OpenVINOInferencer.predict returns
        picture = add_caption(ImageVisualizer(fields=["image"]).visualize(item), caption_text(score, anomalous), anomalous)
        target = f"{self.heatmaps}/{product}/{heatmap_name(path)}"
        buffer = io.BytesIO()
        picture.save(buffer, format="PNG")
        write_atomic(target, buffer.getvalue())
        return target


COLUMN_TYPES = {"path": str, "product": str, "score": "float64", "label": bool, "heatmap": str, "model_key": str, "error": str}


def _write_part(table: str, rows: pd.DataFrame) -> None:
    # Ray Data hands over Arrow-backed columns; the tables are written with pandas' own types, so that they read back
    # as any pandas table does (``.str`` and all).
    rows = rows.astype({column: kind for column, kind in COLUMN_TYPES.items() if column in rows})
    buffer = io.BytesIO()
    rows.reset_index(drop=True).to_parquet(buffer, index=False)
    write_atomic(f"{table}/part-{time.time_ns()}-{uuid.uuid4().hex[:8]}.parquet", buffer.getvalue())


def _parts(table: str) -> list[str]:
    fs, root = fsspec.core.url_to_fs(table)
    return [_url(table, part) for part in sorted(fs.glob(f"{root.rstrip('/')}/part-*.parquet"))]


def written_scores(output: str, models: dict[str, TrainedModel]) -> pd.DataFrame:
    """Return the score rows already in ``output``, after dropping (atomically, part by part) rows of replaced models."""
    table, kept = f"{output.rstrip('/')}/{SCORES_TABLE}", []
    current = {product: model.key for product, model in models.items()}
    for part in _parts(table):
        rows = pd.read_parquet(part)
        fresh = rows["model_key"].to_numpy() == rows["product"].map(current).to_numpy()
        if not fresh.all():
            fs, path = fsspec.core.url_to_fs(part)
            if fresh.any():
                _write_part(table, rows[fresh])
            fs.rm(path)
        kept.append(rows[fresh])
    return pd.concat(kept, ignore_index=True) if kept else pd.DataFrame(columns=SCORE_COLUMNS)


def _collect(
    dataset: Any,  # noqa: ANN401
    output: str,
    keys: dict[str, str],
    total: int,
    part_rows: int,
    say: Callable[[str], None],
) -> tuple[int, int]:
    """Write the rows of ``dataset`` as they arrive (errors at once, scores in parts); return scored and failed counts."""
    errors_table, scored, failed, start = f"{output.rstrip('/')}/{ERRORS_TABLE}", 0, 0, time.perf_counter()
    pending: list[pd.DataFrame] = []
    last_line = time.perf_counter()
    for batch in dataset.iter_batches(batch_format="pandas", batch_size=None):
        bad = batch["error"] != ""
        if bad.any():
            _write_part(errors_table, batch.loc[bad, ERROR_COLUMNS])
            failed += int(bad.sum())
        good = batch.loc[~bad].assign(model_key=lambda rows: rows["product"].map(keys))
        pending.append(good[SCORE_COLUMNS])
        scored += len(good)
        if sum(len(rows) for rows in pending) >= part_rows:
            _write_part(f"{output.rstrip('/')}/{SCORES_TABLE}", pd.concat(pending))
            pending = []
        if time.perf_counter() - last_line > 10:
            rate = (scored + failed) / (time.perf_counter() - start)
            say(f"... {scored + failed} / {total} images ({rate:.0f} img/s), {failed} errors")
            last_line = time.perf_counter()
    if pending:
        _write_part(f"{output.rstrip('/')}/{SCORES_TABLE}", pd.concat(pending))
    return scored, failed


def score_fleet(
    source: str,
    models_dir: str,
    output: str,
    product: str | None = None,
    actors: int = 1,
    cpus_per_actor: float | None = None,
    batch_size: int = 16,
    cache_size: int = 4,
    heatmaps: bool = False,
    part_rows: int = 1000,
    address: str | None = None,
    local_cpus: int | None = None,
    say: Callable[[str], None] | None = print,
) -> dict[str, Any]:
    """Score every image of ``source`` (folder or manifest) not already scored in ``output``; return a summary.

    ``cpus_per_actor`` defaults to all of this machine's CPUs: one actor with every core scored faster here than one
    actor per core (``docs/fleet.md``). On a cluster, give one actor per node and the node's cores.

    Raises:
        ScoreError: For an input mistake (see :func:`manifest_from`, :func:`trained_models`) or nonsense sizes.

    """
    import ray  # noqa: PLC0415

    from anomalib_simplenet.tools.jobs.ray_runner import connect  # noqa: PLC0415

    say = say or (lambda _line: None)
    cpus_per_actor = float(os.cpu_count() or 1) if cpus_per_actor is None else cpus_per_actor
    if actors < 1 or cpus_per_actor <= 0 or batch_size < 1 or cache_size < 1 or part_rows < 1:
        msg = "--actors, --batch-size, --cache-models and the part size must be at least 1, --cpus-per-actor above 0."
        raise ScoreError(msg)
    output = output if "://" in output else os.path.abspath(output)
    models_dir = models_dir if "://" in models_dir else os.path.abspath(models_dir)
    models = trained_models(models_dir)
    manifest = manifest_from(source, product)
    manifest["path"] = [path if "://" in path else os.path.abspath(path) for path in manifest["path"]]
    manifest["model_key"] = manifest["product"].map({name: model.key for name, model in models.items()})
    run = {"models": models_dir, "products": {name: model.xml for name, model in models.items()}}
    write_atomic(f"{output.rstrip('/')}/{RUN_FILE}", json.dumps(run, indent=1).encode())
    written = written_scores(output, models)
    done = set(zip(written["path"], written["product"], strict=True))
    todo = manifest[[(path, name) not in done for path, name in zip(manifest["path"], manifest["product"], strict=True)]]
    todo = todo.sort_values("product", kind="stable")  # a batch holds one product: models stay in the actors' caches
    earlier = len(manifest) - len(todo)
    errors_table = f"{output.rstrip('/')}/{ERRORS_TABLE}"
    for part in _parts(errors_table):  # the last run's errors are tried again
        fs, path = fsspec.core.url_to_fs(part)
        fs.rm(path)
    say(
        f"simplenet-fleet score: {len(manifest)} images of {manifest['product'].nunique()} products; {earlier} scored earlier, "
        f"{len(todo)} to score with {actors} actor(s) x {cpus_per_actor:g} CPU(s) -> {output}"
    )
    scored = failed = 0
    start = time.perf_counter()
    if len(todo):
        say(f"simplenet-fleet score: {connect(address, local_cpus)}")
        ray.data.DataContext.get_current().enable_progress_bars = False  # the command prints its own progress
        # Blocks of up to 1,000 rows (a few per actor on small inputs): Ray Data splits them into batches; fewer, larger
        # blocks keep the object store's bookkeeping small for millions of images.
        rows = max(batch_size, min(1000, -(-len(todo) // (4 * actors))))
        blocks = [todo.iloc[index : index + rows].reset_index(drop=True) for index in range(0, len(todo), rows)]
        keys = dict(zip(todo["product"], todo["model_key"], strict=True))
        dataset = ray.data.from_pandas(blocks).map_batches(read_files, batch_format="pandas", num_cpus=READ_CPUS)
        dataset = dataset.map_batches(
            ProductScorer,
            fn_constructor_kwargs={
                "models": {name: model.xml for name, model in models.items()},
                "threads": max(1, int(cpus_per_actor)),
                "cache_size": cache_size,
                "heatmaps": f"{output.rstrip('/')}/{HEATMAPS}" if heatmaps else None,
                "thresholds": {name: model.threshold for name, model in models.items() if model.threshold is not None},
            },
            batch_format="pandas",
            batch_size=batch_size,
            concurrency=actors,
            num_cpus=cpus_per_actor,
        )
        scored, failed = _collect(dataset, output, keys, len(todo), part_rows, say)
    seconds = time.perf_counter() - start
    summary = {"images": len(manifest), "earlier": earlier, "scored": scored, "errors": failed, "seconds": seconds}
    rate = f" in {seconds:.1f} s ({scored / seconds:.0f} img/s)" if scored else ""
    say(f"simplenet-fleet score: {scored} scored{rate}, {earlier} earlier, {failed} errors -> {output}/{SCORES_TABLE}")
    if failed:
        say(f"simplenet-fleet score: {failed} image(s) could not be scored; reasons in {errors_table}")
    return summary
