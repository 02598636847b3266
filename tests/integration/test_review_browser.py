"""The review page in a real browser: Debian's Chromium, driven by Playwright, on the demo's run (slow: see conftest).

No browser is downloaded: Playwright drives ``/usr/bin/chromium`` (``apt-get install chromium chromium-driver``, which
``.ci/run`` does). Without it these tests fail, they are not skipped. Screenshots go to the test's temporary folder,
and also to ``$REVIEW_SCREENSHOTS`` when that is set (to look at them, as the README's was made).
"""

import itertools
import json
import os
import shutil
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from anomalib_simplenet.tools.predict.run import predict_openvino
from anomalib_simplenet.tools.review.runs import confusion, find_runs

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.is_file():
        pytest.fail("Debian's Chromium is missing: `apt-get install chromium chromium-driver` (as .ci/run does).")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: object, review_server: tuple[str, Path]) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(review_server[0] + "/")
    page.wait_for_selector("body[data-ready]")
    yield page
    context.close()
    assert errors == [], errors  # no JavaScript error on any page


@pytest.fixture(scope="module")
def rows(review_server: tuple[str, Path]) -> list[dict]:
    """The first run's rows as the server hands them to the page."""
    with urllib.request.urlopen(review_server[0] + "/api/runs/0") as response:
        return json.loads(response.read())["rows"]


def screenshot(page: object, name: str, tmp_path: Path) -> Path:
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    if os.environ.get("REVIEW_SCREENSHOTS"):
        Path(os.environ["REVIEW_SCREENSHOTS"]).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(os.environ["REVIEW_SCREENSHOTS"]) / path.name)
    return path


def wait_until(page: object, expression: str, timeout: float = 15.0) -> None:
    """Poll ``expression`` in the page until it is true (the page's Content-Security-Policy forbids Playwright's
    ``wait_for_function``, which evaluates strings; ``evaluate`` goes through the debugger and is allowed)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"not true after {timeout} s: {expression}"
        page.wait_for_timeout(50)


def shown_ids(page: object) -> list[int]:
    return page.eval_on_selector_all("#grid .card:not([hidden])", "cards => cards.map(card => Number(card.dataset.id))")


def figures_on_the_page(page: object) -> dict:
    read = {key: f"#count-{key}" for key in ("tp", "fp", "fn", "tn")}
    read |= {key: f"#{key}" for key in ("precision", "recall", "f1", "flagged")}
    return {key: float(page.get_attribute(selector, "data-value")) for key, selector in read.items()}


def python_figures(rows: list[dict], threshold: float) -> dict:
    return {key: float(value) for key, value in confusion([r["score"] for r in rows], [r["gt"] for r in rows], threshold).items()}


def test_every_image_is_shown_sorted_with_its_heat_map(
    page: object, rows: list[dict], review_server: tuple, tmp_path: Path
) -> None:
    by_score = sorted(rows, key=lambda row: (-row["score"], row["id"]))
    assert shown_ids(page) == [row["id"] for row in by_score]
    assert page.locator("#grid .card .heat").count() == len(rows)
    wait_until(page, "[...document.querySelectorAll('#grid .card:first-child img')].every(img => img.naturalWidth > 0)")
    first = page.locator("#grid .card").first
    assert first.locator("img.img").evaluate("img => img.naturalWidth") == 192
    assert first.locator("img.heat").evaluate("img => img.naturalWidth") == 192
    assert first.locator(".score").inner_text() == f"{by_score[0]['score']:.3f}"
    assert "true: defective" in first.inner_text() or "true: good" in first.inner_text()
    page.select_option("#sort", "asc")
    assert shown_ids(page) == [row["id"] for row in sorted(rows, key=lambda row: (row["score"], row["id"]))]
    # the same rows as Python reads them from the demo's predictions.csv
    (run, _) = find_runs(review_server[1])
    assert [row.score for row in run.rows] == [row["score"] for row in rows]
    screenshot(page, "review-grid", tmp_path)


def test_counts_and_labels_follow_the_threshold_exactly_as_python_computes_them(page: object, rows: list[dict]) -> None:
    scores = sorted({row["score"] for row in rows})
    for threshold in [0.0, 0.1, 0.3, 0.5, 0.65, 0.9, 1.0, *scores[::3]]:  # a score itself: ties go to "normal"
        page.fill("#threshold-number", str(threshold))
        assert float(page.get_attribute("body", "data-threshold")) == threshold
        assert figures_on_the_page(page) == python_figures(rows, threshold), threshold
        labels = page.eval_on_selector_all(
            "#grid .card", "cards => cards.map(c => [Number(c.dataset.id), c.querySelector('.pred').textContent])"
        )
        expected = {row["id"]: "ANOMALOUS" if row["score"] > threshold else "normal" for row in rows}
        assert dict(labels) == expected
    # the slider itself, moved with the keyboard as a person can: 50 steps of 0.001 from 0.5
    page.click("#threshold-model")
    page.focus("#threshold-slider")
    for _ in range(50):
        page.keyboard.press("ArrowRight")
    threshold = float(page.get_attribute("body", "data-threshold"))
    assert threshold == pytest.approx(0.55)
    assert float(page.input_value("#threshold-number")) == threshold
    assert figures_on_the_page(page) == python_figures(rows, threshold)


def test_the_model_threshold_is_marked_and_restored(page: object) -> None:
    assert page.inner_text("#threshold-model") == "model's own (0.5)"
    assert page.locator("#histogram line[stroke-dasharray]").get_attribute("x1") == "200"  # 0.5 of the 400-wide plot
    page.fill("#threshold-number", "0.8")
    assert page.locator("#histogram-threshold").get_attribute("x1") == "320"
    page.click("#threshold-model")
    assert page.get_attribute("body", "data-threshold") == "0.5"
    assert page.locator("#histogram rect.good").count() > 0
    assert page.locator("#histogram rect.defective").count() > 0


def _threshold_with_mistakes(rows: list[dict]) -> float:
    """A threshold (between two scores) at which the demo's model has both false positives and false negatives."""
    scores = sorted({row["score"] for row in rows})
    candidates = [(low + high) / 2 for low, high in itertools.pairwise(scores)]
    for threshold in candidates:
        figures = python_figures(rows, threshold)
        if figures["fp"] and figures["fn"]:
            return threshold
    return next(t for t in candidates if python_figures(rows, t)["fp"])  # a model with no overlap: false positives only


def test_filters_show_exactly_the_false_positives_false_negatives_good_and_defective(
    page: object, rows: list[dict], tmp_path: Path
) -> None:
    threshold = _threshold_with_mistakes(rows)
    page.fill("#threshold-number", str(threshold))
    expected = {
        "fp": [r["id"] for r in rows if r["gt"] is False and r["score"] > threshold],
        "fn": [r["id"] for r in rows if r["gt"] and r["score"] <= threshold],
        "good": [r["id"] for r in rows if r["gt"] is False],
        "defective": [r["id"] for r in rows if r["gt"]],
        "flagged": [r["id"] for r in rows if r["score"] > threshold],
    }
    assert expected["fp"]
    for name, ids in expected.items():
        page.select_option("#filter", name)
        assert sorted(shown_ids(page)) == sorted(ids), name
        assert page.get_attribute("#shown", "data-value") == str(len(ids))
    page.select_option("#filter", "fp")
    assert set(page.eval_on_selector_all("#grid .card:not([hidden])", "cards => cards.map(c => c.dataset.outcome)")) == {"fp"}
    screenshot(page, "review-false-positives", tmp_path)


def test_one_image_in_detail_with_its_mask_outline_and_path_and_the_arrow_keys(
    page: object, rows: list[dict], tmp_path: Path
) -> None:
    page.select_option("#filter", "defective")
    order = [row for row in sorted(rows, key=lambda row: (-row["score"], row["id"])) if row["gt"]]
    page.locator("#grid .card:not([hidden])").first.click()
    page.wait_for_selector("#detail[open]")
    assert page.inner_text("#detail-title") == order[0]["name"]
    assert page.inner_text("#detail-path") == order[0]["path"]
    assert f"{order[0]['score']:.4f}" in page.inner_text("#detail-info")
    for layer in ("image", "heat", "mask", "outline"):
        wait_until(page, f"document.getElementById('detail-{layer}').complete")
        assert page.eval_on_selector(f"#detail-{layer}", "img => img.naturalWidth") == 256, layer
        assert page.is_visible(f"#detail-{layer}"), layer
    page.uncheck("#layer-heat")
    assert not page.is_visible("#detail-heat")
    screenshot(page, "review-detail", tmp_path)
    page.keyboard.press("ArrowRight")
    assert page.inner_text("#detail-title") == order[1]["name"]
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowLeft")
    assert page.inner_text("#detail-title") == order[1]["name"]
    page.keyboard.press("Escape")
    assert not page.is_visible("#detail")


def test_heat_maps_can_be_hidden_and_faded(page: object) -> None:
    heat = page.locator("#grid .card .heat").first
    page.locator("#opacity").fill("0.8")
    assert heat.evaluate("img => getComputedStyle(img).opacity") == "0.8"
    page.uncheck("#heat-toggle")
    assert heat.evaluate("img => getComputedStyle(img).display") == "none"
    page.check("#heat-toggle")
    assert heat.evaluate("img => getComputedStyle(img).display") != "none"


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(path): (path.stat().st_size, path.stat().st_mtime_ns) for path in folder.rglob("*") if path.is_file()}


def test_a_new_part_is_scored_by_the_exported_model_as_tools_predict_scores_it(
    page: object, review_server: tuple[str, Path], tmp_path: Path
) -> None:
    output = review_server[1]
    image = sorted((output / "data" / "fabric" / "test").rglob("*.png"))[-1]
    expected = predict_openvino(output / "fabric" / "openvino" / "model.xml", [image], tmp_path / "predict")[0]
    before = _snapshot(output)
    page.set_input_files("#upload-file", str(image))
    page.wait_for_selector("#upload-result:not([hidden])")
    assert float(page.get_attribute("#upload-result", "data-score")) == pytest.approx(expected.pred_score, abs=1e-5)
    label = "anomalous" if expected.pred_score > 0.5 else "normal"
    assert page.get_attribute("#upload-result", "data-label") == label
    assert "scored in" in page.inner_text("#upload-caption")
    wait_until(page, "document.getElementById('upload-heat').complete")
    assert page.eval_on_selector("#upload-heat", "img => img.naturalWidth") == 256
    assert _snapshot(output) == before
    screenshot(page, "review-upload", tmp_path)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("notes.txt", b"not an image at all", "not an image"),
        ("fake.png", b"\x89PNG\r\n\x1a\n but then nothing", "not a readable image"),
    ],
)
def test_a_file_that_is_not_an_image_gets_a_message_on_the_page_and_nothing_is_written(
    page: object, review_server: tuple[str, Path], tmp_path: Path, name: str, content: bytes, message: str
) -> None:
    upload = tmp_path / name
    upload.write_bytes(content)
    before = _snapshot(review_server[1])
    page.set_input_files("#upload-file", str(upload))
    wait_until(page, "document.getElementById('upload-error').textContent.length > 0")
    assert message in page.inner_text("#upload-error")
    assert name in page.inner_text("#upload-error")
    assert page.is_hidden("#upload-result")
    assert _snapshot(review_server[1]) == before


def test_the_chosen_threshold_is_saved_beside_the_model(page: object, review_server: tuple[str, Path]) -> None:
    saved = review_server[1] / "fabric" / "openvino" / "review_threshold.json"
    try:
        page.fill("#threshold-number", "0.615")
        page.click("#threshold-save")
        wait_until(page, "document.getElementById('save-status').textContent.startsWith('saved 0.615')")
        assert json.loads(saved.read_text())["threshold"] == 0.615
        page.reload()
        page.wait_for_selector("body[data-ready]")
        assert page.get_attribute("body", "data-threshold") == "0.615"  # a saved threshold is where the page opens
    finally:
        saved.unlink(missing_ok=True)


@pytest.mark.parametrize(("width", "height", "name"), [(768, 1024, "tablet"), (390, 844, "phone")])
def test_the_page_fits_a_tablet_and_a_phone(
    browser: object, review_server: tuple[str, Path], width: int, height: int, name: str, tmp_path: Path
) -> None:
    context = browser.new_context(viewport={"width": width, "height": height}, device_scale_factor=1)
    page = context.new_page()
    page.goto(review_server[0] + "/")
    page.wait_for_selector("body[data-ready]")
    assert page.evaluate("document.documentElement.scrollWidth") <= width  # nothing wider than the screen
    columns = page.eval_on_selector("#grid", "grid => getComputedStyle(grid).gridTemplateColumns.split(' ').length")
    assert columns >= 2
    assert page.is_visible("#threshold-slider")
    assert page.is_visible("#count-tp")
    screenshot(page, f"review-{name}", tmp_path)
    context.close()
