"""``simplenet-review [RESULTS]``: serve the review page of a results folder on this machine, until Ctrl+C.

Example:
    >>> build_parser().parse_args([]).results, build_parser().parse_args([]).host
    (PosixPath('results/demo'), '127.0.0.1')

"""

import argparse
import sys
import webbrowser
from collections.abc import Sequence
from pathlib import Path

from .runs import ReviewError, find_runs
from .server import Review, make_server

DEFAULT_RESULTS = Path("results") / "demo"  # where simplenet-demo writes by default
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


def build_parser() -> argparse.ArgumentParser:
    """Command-line options of ``simplenet-review``."""
    parser = argparse.ArgumentParser(
        prog="simplenet-review",
        description="Review a run in the browser: every image with its heat map, the threshold set by eye, new images "
        "scored by the exported model. Reads a simplenet-demo output, an anomalib test/predict results folder, "
        "a simplenet-benchmark run (save_predictions: true) or a simplenet-fleet score output.",
    )
    parser.add_argument(
        "results", nargs="?", type=Path, default=DEFAULT_RESULTS, help=f"results folder (default: {DEFAULT_RESULTS})"
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine only)")
    parser.add_argument("--port", type=int, default=8765, help="port (default: 8765; 0: any free port)")
    parser.add_argument("--open", action="store_true", help="open the page in this machine's web browser")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; return the exit status (2 for an input mistake, printed as one line)."""
    args = build_parser().parse_args(argv)
    try:
        runs = find_runs(args.results)
    except ReviewError as error:
        print(f"simplenet-review: error: {error}", file=sys.stderr)
        return 2
    try:
        server = make_server(Review(args.results, runs), args.host, args.port)
    except OSError as error:
        print(f"simplenet-review: error: cannot listen on {args.host}:{args.port} ({error}); try --port 0.", file=sys.stderr)
        return 2
    host, port = server.server_address[:2]
    address = f"http://{'127.0.0.1' if host == '0.0.0.0' else host}:{port}/"
    if args.host not in LOCAL_HOSTS:
        print(
            f"simplenet-review: WARNING: listening on {args.host}, not only on this machine: anyone who can reach port "
            f"{port} sees these images and can score images and save a threshold beside the models.",
            file=sys.stderr,
        )
    images = sum(len(run.rows) for run in runs)
    print(f"simplenet-review: {len(runs)} run(s), {images} images from {args.results.resolve()}")
    print(f"simplenet-review: open {address}  (Ctrl+C to stop)", flush=True)
    if args.open:
        webbrowser.open(address)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("simplenet-review: stopped.")
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
