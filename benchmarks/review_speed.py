r"""How fast the review page is in a real browser: opening a run of ``--images`` images, and scoring an upload.

Makes the run the way a user would: ``--images`` generated 256 px images (the demo's ``fabric``, half good, half
defective, a seed of its own) scored by ``tools/predict/`` with the exported model ``--model`` (pictures, heat maps
and ``predictions.csv``). Then serves it with ``simplenet-review``'s server (in this process, 127.0.0.1) and drives
Debian's Chromium with Playwright:

* open: a new browser context per load (empty browser cache), ``goto`` the page; ``ready_ms`` is the page's own
  ``performance.now()`` when the grid of every image is built and labelled (``body[data-ready]``), ``images_ms``
  when every image and heat map in the first screen has loaded (polled every 20 ms). The first load is the server's
  cold one (thumbnails drawn from the files), the others warm;
* upload: ``--uploads`` images scored through the page's file input, the round trip measured by the page (request
  sent to answer received: decode, OpenVINO, heat map, all in the server), a 256 px and a 900 px image (``--large``).

    python benchmarks/review_speed.py --model results/demo/fabric/openvino/model.xml \\
        --large ../shared/data/mvtec_ad/bottle/test/broken_large \\
        --output benchmarks/results/2026-12-03-cpu-2core/review_speed.csv
"""

import argparse
import csv
import os
import platform
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path

from PIL import Image
from playwright.sync_api import sync_playwright

from anomalib_simplenet.tools.generated_data import make_demo_dataset
from anomalib_simplenet.tools.predict.run import predict_openvino
from anomalib_simplenet.tools.review.runs import find_runs
from anomalib_simplenet.tools.review.server import Review, make_server


def make_run(model: Path, images: int, work: Path) -> Path:
    """Score ``images`` generated images with ``model`` through tools/predict/; return the folder of its table."""
    quarter = images // 4
    root = make_demo_dataset(work / "data", ("fabric",), n_train=1, n_test_good=2 * quarter, n_test_defective=2 * quarter, seed=7)
    files = sorted((root / "fabric" / "test").rglob("*.png"))
    start = time.perf_counter()
    predict_openvino(model, files, work / "run")
    print(f"scored {len(files)} images with tools/predict/ in {time.perf_counter() - start:.0f} s")
    return work / "run"


def wait_until(page: object, expression: str, timeout: float = 60.0, every_ms: int = 20) -> None:
    """Poll ``expression`` in the page until it is true (the page's CSP rules out ``wait_for_function``)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise TimeoutError(expression)
        page.wait_for_timeout(every_ms)


FIRST_SCREEN_LOADED = """(() => {
    const shown = [];  // the cards of the first screen: in grid order until one starts below the window
    for (const card of document.querySelectorAll('#grid .card:not([hidden])')) {
        if (card.getBoundingClientRect().top >= innerHeight) break;
        shown.push(...card.querySelectorAll('img'));
    }
    return shown.length > 0 && shown.every(img => img.complete && img.naturalWidth > 0);
})()"""


def measure_open(browser: object, address: str, loads: int) -> list[dict]:
    """Open the page ``loads`` times, each in a new browser context; one row per load."""
    rows = []
    for load in range(loads):
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.goto(address)
        wait_until(page, "document.body.dataset.ready === '1'")
        ready = page.evaluate("performance.now()")  # at most one poll (20 ms) after the grid was ready
        wait_until(page, FIRST_SCREEN_LOADED)
        loaded = page.evaluate("performance.now()")
        cards = page.evaluate("document.querySelectorAll('#grid .card').length")
        rows.append({"measure": "open", "load": load, "server": "cold" if load == 0 else "warm", "cards": cards,
                     "ready_ms": round(ready), "images_ms": round(loaded)})  # fmt: skip
        print(rows[-1])
        context.close()
    return rows


def measure_uploads(browser: object, address: str, files: list[Path]) -> list[dict]:
    """Score each of ``files`` through the page's file input; one row per upload."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(address)
    wait_until(page, "document.body.dataset.ready === '1'")
    rows = []
    for index, file in enumerate(files):
        page.evaluate("document.getElementById('upload-result').removeAttribute('data-score')")  # set by the answer
        page.set_input_files("#upload-file", str(file))
        wait_until(page, "document.getElementById('upload-result').dataset.score !== undefined")
        seconds = float(page.get_attribute("#upload-result", "data-seconds"))
        width = page.evaluate("document.getElementById('upload-image').naturalWidth")
        rows.append({"measure": "upload", "load": index, "server": "first" if index == 0 else "warm", "file": file.name,
                     "pixels": _pixels(file), "round_trip_ms": round(seconds * 1000), "shown_width": width})  # fmt: skip
        print(rows[-1])
    context.close()
    return rows


def _pixels(path: Path) -> str:
    with Image.open(path) as image:
        return f"{image.width}x{image.height}"


def main() -> None:
    """Make the run, measure, write the CSV and print the medians."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, required=True, help="an exported model.xml (e.g. the demo's fabric model)")
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--loads", type=int, default=5)
    parser.add_argument("--uploads", type=int, default=10, help="uploads of each size")
    parser.add_argument("--large", type=Path, help="a folder of large images to upload too (e.g. MVTec AD bottle's, 900 px)")
    parser.add_argument("--work", type=Path, help="keep the generated run here and reuse it next time (default: temporary)")
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="review-speed-"))
    try:
        folder = work / "run"
        if not (folder / "predictions.csv").is_file():
            make_run(args.model, args.images, work)
            # the run's model: beside the table, where simplenet-review looks for it
            (folder / "openvino").mkdir()
            for suffix in (".xml", ".bin"):
                shutil.copy(args.model.with_suffix(suffix), folder / "openvino" / f"model{suffix}")
        runs = find_runs(folder)
        server = make_server(Review(folder, runs), "127.0.0.1", 0)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        address = f"http://127.0.0.1:{server.server_address[1]}/"
        uploads = sorted((work / "data" / "fabric" / "test").rglob("*.png"))[: args.uploads]
        if args.large:
            uploads += sorted(args.large.glob("*.png"))[: args.uploads]
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
            rows = measure_open(browser, address, args.loads) + measure_uploads(browser, address, uploads)
            browser.close()
        server.shutdown()
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Chromium via Playwright"
    fields = ["measure", "load", "server", "cards", "ready_ms", "images_ms", "file", "pixels", "round_trip_ms", "shown_width"]
    args.output.parent.mkdir(parents=True, exist_ok=True)
    with args.output.open("w", newline="") as handle:
        handle.write(f"# {machine}; {args.images} images; python benchmarks/review_speed.py\n")
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    opens = [row for row in rows if row["measure"] == "open"]
    warm = [row for row in rows if row["measure"] == "upload" and row["server"] == "warm"]
    print(f"open {args.images} images: ready {opens[0]['ready_ms']} ms cold, median "
          f"{statistics.median(r['ready_ms'] for r in opens[1:])} ms warm; first screen of images "
          f"{opens[0]['images_ms']} ms cold, median {statistics.median(r['images_ms'] for r in opens[1:])} ms warm")  # fmt: skip
    for pixels in sorted({row["pixels"] for row in warm}):
        times = [row["round_trip_ms"] for row in warm if row["pixels"] == pixels]
        print(f"upload {pixels}: median {statistics.median(times)} ms, max {max(times)} ms ({len(times)} uploads)")
    print(f"-> {args.output}")


if __name__ == "__main__":
    main()
