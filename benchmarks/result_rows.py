"""What the resumable studies share: CSV rows appended as runs finish, the runs already done, generated tables.

``seed_spread.py`` and ``authors_parity.py`` append one row per finished run (so an interrupted study resumes where it
stopped) and write their tables into their page between ``<!-- NAME:begin -->`` and ``<!-- NAME:end -->``, where a
test compares them with the committed CSV.
"""

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd


def append_row(output: Path, row: dict[str, Any], columns: Sequence[str] | None = None) -> None:
    """Append ``row`` to the CSV (in ``columns`` order, missing ones empty; else in the row's order), header if new."""
    new = not output.is_file()
    output.parent.mkdir(parents=True, exist_ok=True)
    with output.open("a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(columns or row), extrasaction="ignore")
        if new:
            writer.writeheader()
        writer.writerow(row)


def rows_done(output: Path, key: Sequence[str]) -> set[tuple[str, ...]]:
    """Return the ``key`` columns' values of every row already in ``output`` (none if it does not exist yet)."""
    if not output.is_file():
        return set()
    with output.open() as handle:
        return {tuple(row[name] for name in key) for row in csv.DictReader(handle)}


def mean_and_range(values: pd.Series) -> str:
    """Return a table cell: the mean over runs, and their minimum-maximum in brackets (``0.921 (0.905-0.940)``)."""
    return f"{values.mean():.3f} ({values.min():.3f}-{values.max():.3f})"


def markers(name: str) -> tuple[str, str]:
    """Return the begin and end markers of the generated block ``name`` in a Markdown page."""
    return f"<!-- {name}:begin -->", f"<!-- {name}:end -->"


def fill_block(page: Path, name: str, text: str) -> None:
    """Replace what lies between the page's ``name`` markers with ``text``."""
    begin, end = markers(name)
    content = page.read_text()
    if begin not in content or end not in content:
        msg = f"{page} has no {begin} ... {end} block to fill"
        raise SystemExit(msg)
    before, rest = content.split(begin, 1)
    after = rest.split(end, 1)[1]
    page.write_text(f"{before}{begin}\n{text}{end}{after}")


def block(page: Path, name: str) -> str:
    """Return the text between the page's ``name`` markers, as :func:`fill_block` wrote it (without its first newline)."""
    begin, end = markers(name)
    return page.read_text().split(begin, 1)[1].split(end, 1)[0].removeprefix("\n")
