"""`simplenet-review`'s server on a real demo run: what it serves, what it refuses, uploads, thresholds, the command.

Every test on the demo's run is in the slow set (conftest marks what uses ``demo_run``); the others run by default.

The browser's side (the page itself) is ``test_review_browser.py``.
"""

import csv
import hashlib
import http.client
import io
import json
import os
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from PIL import Image

from anomalib_simplenet.tools.predict.run import predict_openvino
from anomalib_simplenet.tools.review.runs import Row, Run
from anomalib_simplenet.tools.review.server import MAX_UPLOAD_BYTES, RefusedError, Review

from conftest import console_command, run_command

REVIEW = console_command("simplenet-review")


def request(base: str, method: str, path: str, body: bytes | None = None, headers: dict | None = None) -> tuple[int, dict, bytes]:
    """Send the path exactly as written (no client-side clean-up of ``..``): what a hostile client can send."""
    address = urlsplit(base)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=60)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def table(output: Path) -> list[dict[str, str]]:
    with (output / "fabric" / "heatmaps" / "predictions.csv").open() as file:
        return list(csv.DictReader(file))


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(path): (path.stat().st_size, path.stat().st_mtime_ns) for path in folder.rglob("*") if path.is_file()}


def test_the_runs_and_their_rows_are_the_demo_tables(review_server: tuple[str, Path]) -> None:
    base, output = review_server
    status, _, body = request(base, "GET", "/api/runs")
    runs = json.loads(body)
    assert status == 200
    assert [run["name"] for run in runs] == ["fabric/heatmaps", "fabric/openvino_predictions"]
    run = json.loads(request(base, "GET", "/api/runs/0")[2])
    rows = table(output)
    assert [row["score"] for row in run["rows"]] == [float(row["pred_score"]) for row in rows]
    assert [row["gt"] for row in run["rows"]] == [bool(int(row["gt_label"])) for row in rows]
    assert run["model"]
    assert run["model_threshold"] == 0.5
    assert run["good"] + run["defective"] == len(rows)
    assert run["defective"] > 0
    assert run["good"] > 0


def test_each_row_has_its_picture_heat_map_true_mask_and_outline(review_server: tuple[str, Path]) -> None:
    base, _output = review_server
    rows = json.loads(request(base, "GET", "/api/runs/0")[2])["rows"]
    defective = next(row for row in rows if row["gt"])
    good = next(row for row in rows if row["gt"] is False)
    status, headers, body = request(base, "GET", f"/api/runs/0/image/{defective['id']}")
    assert (status, headers["Content-Type"]) == (200, "image/jpeg")
    assert max(Image.open(io.BytesIO(body)).size) == 192  # a thumbnail, as the model saw the image (256 x 256)
    status, _, body = request(base, "GET", f"/api/runs/0/heatmap/{defective['id']}?size=detail")
    assert status == 200
    assert Image.open(io.BytesIO(body)).size == (256, 256)
    status, _, body = request(base, "GET", f"/api/runs/0/mask/{defective['id']}?size=detail")
    mask = Image.open(io.BytesIO(body))
    assert status == 200
    assert mask.mode == "RGBA"
    assert mask.getextrema()[3][1] == 255
    assert request(base, "GET", f"/api/runs/0/mask/{good['id']}")[0] == 404  # a good image has no true defect
    assert request(base, "GET", f"/api/runs/0/outline/{defective['id']}")[0] == 200
    # the second run (the exported model's re-scoring) has no saved maps for this test to lean on: drawn by the model
    status, _, body = request(base, "GET", "/api/runs/1/heatmap/0?size=detail")
    assert status == 200
    assert Image.open(io.BytesIO(body)).size == (256, 256)


@pytest.mark.parametrize(
    "path",
    [
        "/files/../../../../etc/passwd",
        "/files/..%2f..%2f..%2f..%2fetc%2fpasswd",
        "/files/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/files//etc/passwd",
        "/files/%2Fetc%2Fpasswd",
        "/files/fabric/../../../../../etc/passwd",
    ],
)
def test_paths_out_of_the_results_folder_are_refused(review_server: tuple[str, Path], path: str) -> None:
    base, _ = review_server
    status, _, body = request(base, "GET", path)
    assert status == 403
    assert b"root:" not in body
    assert b"outside the results folder" in body


def test_a_link_pointing_out_of_the_results_folder_is_refused(review_server: tuple[str, Path]) -> None:
    base, output = review_server
    link = output / "escape"
    link.symlink_to("/etc")
    try:
        assert request(base, "GET", "/files/escape/passwd")[0] == 403
    finally:
        link.unlink()


def test_files_inside_the_folder_are_served_and_nothing_else_is_a_page(review_server: tuple[str, Path]) -> None:
    base, _ = review_server
    status, headers, _ = request(base, "GET", "/files/fabric/overview.png")
    assert (status, headers["Content-Type"]) == (200, "image/png")
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    for path in ("/static/../runs.py", "/static/server.py", "/api/runs/7", "/api/runs/0/image/99999", "/api/runs/0/exec/0"):
        assert request(base, "GET", path)[0] == 404, path
    assert request(base, "POST", "/api/runs/0/run", body=b"{}")[0] == 404


def test_an_upload_is_scored_as_tools_predict_scores_it_and_nothing_is_written(
    review_server: tuple[str, Path], tmp_path: Path
) -> None:
    base, output = review_server
    image = Path(next(row["image_path"] for row in table(output) if row["gt_label"] == "1"))
    expected = predict_openvino(output / "fabric" / "openvino" / "model.xml", [image], tmp_path / "predict")[0]
    before = snapshot(output)
    status, _, body = request(base, "POST", "/api/runs/0/score", body=image.read_bytes(), headers={"Content-Type": "image/png"})
    result = json.loads(body)
    assert status == 200
    assert result["score"] == pytest.approx(expected.pred_score, abs=1e-5)
    assert result["model_label"] == expected.pred_label
    assert result["heatmap"].startswith("data:image/png;base64,")
    assert snapshot(output) == before


def _huge_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (9000, 5000)).save(buffer, format="PNG")  # 45 M pixels: small on disk, large in memory
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("body", "kind", "status", "message"),
    [
        (b"just some text, not an image", "image/png", 400, "not scored: not a readable image"),
        (b"#!/bin/sh\necho hi\n", "text/x-shellscript", 415, "not an image"),
        (b"", "", 415, "of no type"),
        (None, "image/png", 400, "larger than 40000000 pixels"),
    ],
)
def test_a_bad_upload_gets_a_clear_message_and_nothing_is_written(
    review_server: tuple[str, Path], body: bytes | None, kind: str, status: int, message: str
) -> None:
    base, output = review_server
    before = snapshot(output)
    body = _huge_png() if body is None else body
    answer = request(base, "POST", "/api/runs/0/score", body=body, headers={"Content-Type": kind})
    assert answer[0] == status
    assert message in json.loads(answer[2])["error"]
    assert snapshot(output) == before


def test_an_upload_over_the_size_limit_is_refused_before_it_is_read(review_server: tuple[str, Path]) -> None:
    base, _ = review_server
    address = urlsplit(base)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
    connection.putrequest("POST", "/api/runs/0/score")
    connection.putheader("Content-Type", "image/png")
    connection.putheader("Content-Length", str(MAX_UPLOAD_BYTES + 1))
    connection.endheaders()  # and no body: the server answers from the header alone
    response = connection.getresponse()
    assert response.status == 413
    assert "the limit is 20 MB" in json.loads(response.read())["error"]
    connection.close()


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_saved_threshold_sits_beside_the_model_and_the_predict_command_honours_it(
    review_server: tuple[str, Path], tmp_path: Path
) -> None:
    base, output = review_server
    model = output / "fabric" / "openvino" / "model.xml"
    digests = {path: _digest(path) for path in (model, model.with_suffix(".bin"))}
    rows = table(output)
    scores = sorted(float(row["pred_score"]) for row in rows)
    threshold = round((scores[len(scores) // 2] + scores[len(scores) // 2 + 1]) / 2, 4)  # some images change label
    try:
        status, _, body = request(
            base, "POST", "/api/runs/0/threshold", body=json.dumps({"threshold": threshold}).encode(),
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        assert status == 200
        assert json.loads(body)["saved"] == str(model.parent / "review_threshold.json")
        assert {path: _digest(path) for path in digests} == digests  # the model itself: untouched
        assert json.loads(request(base, "GET", "/api/runs/0")[2])["saved_threshold"] == threshold

        images = [Path(row["image_path"]) for row in rows]
        result = run_command(
            [console_command("python"), "-m", "anomalib_simplenet.tools.predict", "--model", str(model), "--data",
             str(images[0].parents[1]), "--output", str(tmp_path / "out")]
        )  # fmt: skip
        assert f"Labels at the threshold {threshold:g} saved in" in result.stdout
        with (tmp_path / "out" / "predictions.csv").open() as file:
            predicted = list(csv.DictReader(file))
        assert len(predicted) >= len(rows)  # the folder also holds the validation half of the generated images
        assert all(int(row["pred_label"]) == (float(row["pred_score"]) > threshold) for row in predicted)
        assert {int(row["pred_label"]) for row in predicted} == {0, 1}
    finally:
        (model.parent / "review_threshold.json").unlink(missing_ok=True)


@pytest.mark.parametrize(
    ("body", "message"),
    [(b'{"threshold": 2}', "must be a number from 0 to 1"), (b"0.6", "as JSON"), (b"{nope", "as JSON"), (b'{"t": 1}', "None")],
)
def test_a_nonsense_threshold_is_refused_and_nothing_is_saved(review_server: tuple[str, Path], body: bytes, message: str) -> None:
    base, output = review_server
    status, _, answer = request(base, "POST", "/api/runs/0/threshold", body=body, headers={"Content-Type": "application/json"})
    assert status == 400
    assert message in json.loads(answer)["error"]
    assert not (output / "fabric" / "openvino" / "review_threshold.json").exists()


def test_a_run_without_a_model_neither_scores_nor_saves(tmp_path: Path) -> None:
    review = Review(tmp_path, [Run("old", "predictions.csv", [Row(0, str(tmp_path / "a.png"), 0.7, True)])])
    with pytest.raises(RefusedError, match="nothing to save the threshold beside") as refused:
        review.save_threshold(0, {"threshold": 0.6})
    assert refused.value.status == 409
    with pytest.raises(RefusedError, match="cannot score new images"):
        review.score_upload(0, b"")
    assert list(tmp_path.iterdir()) == []


def _start(arguments: list[str], cwd: Path) -> tuple[subprocess.Popen, list[str]]:
    """Start ``simplenet-review`` and return it with its first two lines of output."""
    process = subprocess.Popen(
        [REVIEW, *arguments], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    lines = [process.stdout.readline() for _ in range(2)]
    return process, lines


def test_the_command_without_an_argument_serves_the_demo_on_this_machine_only(demo_run: tuple[Path, dict, str]) -> None:
    workdir = demo_run[0].parents[1]  # where simplenet-demo ran: results/demo is its default output
    process, lines = _start(["--port", "0"], workdir)
    try:
        assert "2 run(s)" in lines[0], lines
        address = lines[1].split("open ", 1)[1].split()[0]
        assert address.startswith("http://127.0.0.1:")
        status, _, body = request(address.rstrip("/"), "GET", "/")
        assert status == 200
        assert b"SimpleNet review" in body
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_listening_beyond_this_machine_is_said_loudly(demo_run: tuple[Path, dict, str]) -> None:
    process, _ = _start([str(demo_run[0]), "--host", "0.0.0.0", "--port", "0"], demo_run[0])
    try:
        time.sleep(0.5)
    finally:
        process.terminate()
        _, errors = process.communicate(timeout=30)
    assert "WARNING: listening on 0.0.0.0, not only on this machine" in errors


def test_nothing_to_review_is_a_one_line_error(tmp_path: Path) -> None:
    result = run_command([REVIEW, str(tmp_path / "nothing")], expect=2)
    assert result.stderr.strip().count("\n") == 0
    assert "simplenet-review: error:" in result.stderr
    assert "not found" in result.stderr
