"""The review page's web server: the standard library's HTTP server, the page's three files, and a small JSON API.

What a request can do, and nothing more:

* read the page (``/``, ``/static/review.js``, ``/static/review.css``: a fixed list, no paths);
* read the runs (``/api/runs``, ``/api/runs/<run>``) and, by the numbers of a run's rows, the images its table
  names, their heat maps, true masks and predicted outlines (``/api/runs/<run>/<kind>/<row>``), drawn in memory;
* read a file inside the results folder (``/files/<path>``): a path that leaves it (``..``, an absolute path, a
  link pointing out) is refused with 403;
* score an uploaded image with the run's exported model (``POST /api/runs/<run>/score``): at most
  ``MAX_UPLOAD_BYTES``, decoded in memory, nothing written (OpenVINO's compile cache goes to a temporary folder);
* save a threshold beside the run's model (``POST /api/runs/<run>/threshold``): the one file a request can
  write, ``review_threshold.json`` (:mod:`anomalib_simplenet.tools.threshold_file`), never the model itself.

Example:
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> safe_file(root, "../../etc/passwd")
    Traceback (most recent call last):
    ...
    anomalib_simplenet.tools.review.server.RefusedError: '../../etc/passwd' is outside the results folder

"""

import base64
import io
import json
import logging
import re
import tempfile
import threading
import time
from collections import OrderedDict
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import numpy as np

from anomalib_simplenet.tools.openvino_model import ExportedModel, decode
from anomalib_simplenet.tools.threshold_file import ThresholdFileError, write_threshold

from .runs import Row, Run

logger = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 20 * 2**20  # an upload larger than this is refused before it is read
MAX_UPLOAD_PIXELS = 40_000_000  # and a decoded image larger than this
MAX_JSON_BYTES = 4096
STATIC = {"review.js": "text/javascript", "review.css": "text/css"}
SIZES = {"thumb": 192, "detail": 640}
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class RefusedError(Exception):
    """A request the server will not answer; ``status`` is its HTTP status, the message what was wrong.

    Example:
        >>> RefusedError("no run 7", HTTPStatus.NOT_FOUND).status
        <HTTPStatus.NOT_FOUND: 404>

    """

    def __init__(self, message: str, status: HTTPStatus = HTTPStatus.FORBIDDEN) -> None:
        super().__init__(message)
        self.status = status


def safe_file(root: Path, relative: str) -> Path:
    """Return the file ``relative`` to ``root``, refusing anything that resolves outside ``root``.

    Raises:
        RefusedError: For ``..`` out of the folder, an absolute path, a link leading out (403), or no such file (404).

    """
    candidate = Path(relative)
    if candidate.is_absolute() or "\x00" in relative:
        msg = f"{relative!r} is outside the results folder"
        raise RefusedError(msg)
    path = (root / candidate).resolve()
    if path != root and root not in path.parents:
        msg = f"{relative!r} is outside the results folder"
        raise RefusedError(msg)
    if not path.is_file():
        msg = f"no file {relative!r} in the results folder"
        raise RefusedError(msg, HTTPStatus.NOT_FOUND)
    return path


def _jet() -> np.ndarray:
    from matplotlib import colormaps  # noqa: PLC0415

    return (colormaps["jet"](np.linspace(0, 1, 256))[:, :3] * 255).astype(np.uint8)


def _png(image: Any) -> bytes:  # noqa: ANN401 (a PIL image)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _jpeg(image: Any) -> bytes:  # noqa: ANN401
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=88)
    return buffer.getvalue()


class Review:
    """The runs being reviewed, their models (compiled on first use), and the pictures drawn for the page.

    Args:
        root: The results folder; ``/files/`` serves inside it only.
        runs: From :func:`~anomalib_simplenet.tools.review.runs.find_runs`.

    Example:
        >>> review = Review(Path("."), [Run("demo", "predictions.csv", [Row(0, "a.png", 0.7, True)])])
        >>> review.run(0).rows[0].score, review.model(0) is None
        (0.7, True)

    """

    def __init__(self, root: Path, runs: list[Run]) -> None:
        self.root, self.runs = root.resolve(), runs
        self.models: dict[int, ExportedModel] = {}
        self.lock = threading.Lock()  # one OpenVINO request at a time; the caches are shared by the threads
        self.maps: OrderedDict[tuple[int, int], np.ndarray] = OrderedDict()
        self.cache_dir = tempfile.mkdtemp(prefix="simplenet-review-")
        self.colours = _jet()

    def run(self, index: int) -> Run:
        """Return run number ``index``.

        Raises:
            RefusedError: If there is no such run (404).

        """
        if not 0 <= index < len(self.runs):
            msg = f"no run {index}"
            raise RefusedError(msg, HTTPStatus.NOT_FOUND)
        return self.runs[index]

    def row(self, index: int, row: int) -> Row:
        """Return row ``row`` of run ``index`` (rows are numbered in table order).

        Raises:
            RefusedError: If there is no such row (404).

        """
        rows = self.run(index).rows
        if not 0 <= row < len(rows):
            msg = f"no image {row} in run {index}"
            raise RefusedError(msg, HTTPStatus.NOT_FOUND)
        return rows[row]

    def model(self, index: int) -> ExportedModel | None:
        """Return the run's exported model, compiled once (``None`` when the run has none)."""
        xml = self.run(index).model_xml
        if xml is None:
            return None
        with self.lock:
            if index not in self.models:
                self.models[index] = ExportedModel(xml, cache_dir=self.cache_dir)
            return self.models[index]

    def anomaly_map(self, index: int, number: int) -> np.ndarray | None:
        """Return a row's heat map as 8-bit values: saved with the table, else drawn by the run's model, else ``None``."""
        key = (index, number)
        with self.lock:
            if key in self.maps:
                self.maps.move_to_end(key)
                return self.maps[key]
        from PIL import Image  # noqa: PLC0415

        row = self.row(index, number)
        if row.anomaly_map and Path(row.anomaly_map).is_file():
            with Image.open(row.anomaly_map) as saved:
                values = np.asarray(saved.convert("L"))
        else:
            model = self.model(index)
            if model is None:
                return None
            try:
                image = decode(Path(row.path).read_bytes())
            except (OSError, ValueError):
                return None
            with self.lock:
                values = (np.clip(model.score(image).anomaly_map, 0, 1) * 255).round().astype(np.uint8)
        with self.lock:
            self.maps[key] = values
            while len(self.maps) > 512:
                self.maps.popitem(last=False)
        return values

    def view(self, index: int, number: int, size: int) -> bytes:
        """Return the image as the model saw it (resized to its heat map's shape, if any), at most ``size`` px, as JPEG.

        Raises:
            RefusedError: If the image file is gone or unreadable (404).

        """
        from PIL import Image  # noqa: PLC0415

        row = self.row(index, number)
        values = self.anomaly_map(index, number)
        try:
            with Image.open(row.path) as file:
                image = file.convert("RGB")
        except OSError as error:
            msg = f"cannot read {row.path}: {error}"
            raise RefusedError(msg, HTTPStatus.NOT_FOUND) from error
        if values is not None:
            image = image.resize((values.shape[1], values.shape[0]), Image.Resampling.BILINEAR)
        image.thumbnail((size, size))
        return _jpeg(image)

    def heatmap_png(self, values: np.ndarray, size: int) -> bytes:
        """Colour a heat map (jet: blue = normal, red = anomalous), at most ``size`` px, as PNG."""
        from PIL import Image  # noqa: PLC0415

        image = Image.fromarray(self.colours[values])
        image.thumbnail((size, size))
        return _png(image)

    def overlay(self, index: int, number: int, kind: str, size: int) -> bytes:
        """Draw a transparent PNG: the true defect mask (``mask``, green) or the predicted outline (``outline``, red).

        The predicted outline is the edge of the region above the model's pixel threshold (0.5 after anomalib's
        normalisation), as anomalib draws ``pred_mask``.

        Raises:
            RefusedError: If the row has no such picture (404).

        """
        from PIL import Image, ImageFilter  # noqa: PLC0415

        values = self.anomaly_map(index, number)
        row = self.row(index, number)
        if kind == "mask":
            if not row.mask or not Path(row.mask).is_file():
                msg = f"image {number} of run {index} has no true mask"
                raise RefusedError(msg, HTTPStatus.NOT_FOUND)
            with Image.open(row.mask) as file:
                region = file.convert("L")
            colour, fill = (40, 230, 60), 60
        else:
            if values is None:
                msg = f"image {number} of run {index} has no heat map"
                raise RefusedError(msg, HTTPStatus.NOT_FOUND)
            region = Image.fromarray(np.where(values > 127, 255, 0).astype(np.uint8))
            colour, fill = (255, 40, 40), 0
        shape = (values.shape[1], values.shape[0]) if values is not None else region.size
        region = region.resize(shape, Image.Resampling.NEAREST).point(lambda value: 255 if value > 127 else 0)
        region.thumbnail((size, size), Image.Resampling.NEAREST)
        edge = np.asarray(region.filter(ImageFilter.MaxFilter(3))) > np.asarray(region.filter(ImageFilter.MinFilter(3)))
        inside = np.asarray(region) > 0
        rgba = np.zeros((*inside.shape, 4), dtype=np.uint8)
        rgba[..., :3] = colour
        rgba[..., 3] = np.where(edge, 255, np.where(inside, fill, 0))
        return _png(Image.fromarray(rgba))

    def score_upload(self, index: int, data: bytes) -> dict[str, Any]:
        """Score an uploaded image with the run's model, in memory; return score, model label, picture and heat map.

        Raises:
            RefusedError: Without a model (409) or for bytes that are not a readable image or too large (400).

        """
        from PIL import Image  # noqa: PLC0415

        start = time.perf_counter()
        model = self.model(index)
        if model is None:
            msg = "this run has no exported model (openvino/model.xml), so it cannot score new images"
            raise RefusedError(msg, HTTPStatus.CONFLICT)
        try:
            image = decode(data, max_pixels=MAX_UPLOAD_PIXELS)
        except ValueError as error:
            raise RefusedError(f"not scored: {error}", HTTPStatus.BAD_REQUEST) from error
        with self.lock:
            scored = model.score(image)
        values = (np.clip(scored.anomaly_map, 0, 1) * 255).round().astype(np.uint8)
        view = Image.fromarray((image * 255).round().astype(np.uint8)).resize((values.shape[1], values.shape[0]))
        view.thumbnail((SIZES["detail"], SIZES["detail"]))
        return {
            "score": scored.score,
            "model_label": scored.label,
            "image": "data:image/jpeg;base64," + base64.b64encode(_jpeg(view)).decode(),
            "heatmap": "data:image/png;base64," + base64.b64encode(self.heatmap_png(values, SIZES["detail"])).decode(),
            "seconds": time.perf_counter() - start,
        }

    def save_threshold(self, index: int, body: dict[str, Any]) -> dict[str, Any]:
        """Save ``body["threshold"]`` beside the run's model; return where.

        Raises:
            RefusedError: Without a model (409) or for a threshold that is not a number from 0 to 1 (400).

        """
        run = self.run(index)
        if run.model_xml is None:
            msg = "this run has no exported model (openvino/model.xml): there is nothing to save the threshold beside"
            raise RefusedError(msg, HTTPStatus.CONFLICT)
        try:
            path = write_threshold(run.model_xml, body.get("threshold"), note=f"chosen in simplenet-review on {run.name}")
        except ThresholdFileError as error:
            raise RefusedError(str(error), HTTPStatus.BAD_REQUEST) from error
        return {"saved": str(path), "threshold": float(body["threshold"])}


ROUTE = re.compile(r"^/api/runs/(\d+)/(image|heatmap|mask|outline)/(\d+)$")


class Handler(BaseHTTPRequestHandler):
    """Answers the page's requests from :attr:`review`; anything else is a 404 with a line saying so.

    :func:`make_server` makes a subclass bound to one :class:`Review`.

    Example:
        >>> server = make_server(Review(Path("."), []))
        >>> issubclass(server.RequestHandlerClass, Handler)
        True
        >>> server.server_close()

    """

    review: Review
    server_version = "simplenet-review"

    def log_message(self, format: str, *args: object) -> None:
        """Send requests to the debug log, not the console."""
        logger.debug(format, *args)

    def _send(self, status: HTTPStatus, body: bytes, kind: str, cache: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "private, max-age=3600" if cache else "no-store")
        for name, value in SECURITY_HEADERS.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, value: object, status: HTTPStatus = HTTPStatus.OK) -> None:
        self._send(status, json.dumps(value).encode(), "application/json")

    def _answer(self, work: Any) -> None:  # noqa: ANN401 (a function of no arguments)
        try:
            work()
        except RefusedError as refused:
            self._json({"error": str(refused)}, refused.status)
        except ConnectionError:  # the browser left (a closed tab, a picture no longer wanted): nobody to answer
            logger.debug("simplenet-review: the client of %s closed the connection", self.path)
        except Exception:
            logger.exception("simplenet-review: request %s failed", self.path)
            self._json({"error": "the server failed on this request; its console says why"}, HTTPStatus.INTERNAL_SERVER_ERROR)

    def do_GET(self) -> None:
        """Answer for the page, runs, pictures and files."""
        self._answer(self._get)

    def do_POST(self) -> None:
        """Answer uploads to score and thresholds to save."""
        self._answer(self._post)

    def _get(self) -> None:
        split = urlsplit(self.path)
        path, query = split.path, parse_qs(split.query)
        size = SIZES.get(query.get("size", ["thumb"])[0], SIZES["thumb"])
        if path in {"/", "/index.html"}:
            self._send(HTTPStatus.OK, _static("index.html"), "text/html; charset=utf-8")
        elif path.startswith("/static/") and path.removeprefix("/static/") in STATIC:
            name = path.removeprefix("/static/")
            self._send(HTTPStatus.OK, _static(name), f"{STATIC[name]}; charset=utf-8")
        elif path == "/api/runs":
            self._json([run.summary() for run in self.review.runs])
        elif re.fullmatch(r"/api/runs/\d+", path):
            self._json(self.review.run(int(path.rsplit("/", 1)[1])).public())
        elif match := ROUTE.match(path):
            index, kind, number = int(match[1]), match[2], int(match[3])
            if kind == "image":
                self._send(HTTPStatus.OK, self.review.view(index, number, size), "image/jpeg", cache=True)
            elif kind == "heatmap":
                values = self.review.anomaly_map(index, number)
                if values is None:
                    msg = f"image {number} of run {index} has no heat map (no saved map and no exported model)"
                    raise RefusedError(msg, HTTPStatus.NOT_FOUND)
                self._send(HTTPStatus.OK, self.review.heatmap_png(values, size), "image/png", cache=True)
            else:
                self._send(HTTPStatus.OK, self.review.overlay(index, number, kind, size), "image/png", cache=True)
        elif path.startswith("/files/"):
            file = safe_file(self.review.root, unquote(path.removeprefix("/files/")))
            kind = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}.get(file.suffix.lower(), "text/plain")
            self._send(HTTPStatus.OK, file.read_bytes(), kind)
        else:
            msg = f"no page {path}"
            raise RefusedError(msg, HTTPStatus.NOT_FOUND)

    def _body(self, limit: int) -> bytes:
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError as error:
            msg = "the request has no Content-Length"
            raise RefusedError(msg, HTTPStatus.LENGTH_REQUIRED) from error
        if length > limit:
            msg = f"the upload is {length / 2**20:.1f} MB; the limit is {limit / 2**20:.0f} MB"
            raise RefusedError(msg, HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
        return self.rfile.read(length)

    def _post(self) -> None:
        match = re.fullmatch(r"/api/runs/(\d+)/(score|threshold)", urlsplit(self.path).path)
        if match is None:
            msg = f"no action {self.path}"
            raise RefusedError(msg, HTTPStatus.NOT_FOUND)
        index = int(match[1])
        if match[2] == "score":
            kind = self.headers.get("Content-Type", "")
            if not kind.startswith("image/"):
                self._body(MAX_UPLOAD_BYTES)  # read and drop it, so the connection stays usable
                msg = f"not scored: the file is {kind or 'of no type'}, not an image (PNG, JPEG, BMP, TIFF, WebP)"
                raise RefusedError(msg, HTTPStatus.UNSUPPORTED_MEDIA_TYPE)
            self._json(self.review.score_upload(index, self._body(MAX_UPLOAD_BYTES)))
        else:
            try:
                body = json.loads(self._body(MAX_JSON_BYTES) or b"{}")
            except json.JSONDecodeError as error:
                msg = 'the threshold must be sent as JSON: {"threshold": 0.6}'
                raise RefusedError(msg, HTTPStatus.BAD_REQUEST) from error
            if not isinstance(body, dict):
                msg = 'the threshold must be sent as JSON: {"threshold": 0.6}'
                raise RefusedError(msg, HTTPStatus.BAD_REQUEST)
            self._json(self.review.save_threshold(index, body))


def _static(name: str) -> bytes:
    return resources.files("anomalib_simplenet.tools.review").joinpath("static", name).read_bytes()


def make_server(review: Review, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    """Make a server for ``review`` on ``host``:``port`` (0: a free port); call ``serve_forever`` on it.

    Example:
        >>> server = make_server(Review(Path("."), []))
        >>> server.server_address[0]
        '127.0.0.1'
        >>> server.server_close()

    """
    handler = type("ReviewHandler", (Handler,), {"review": review})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server
