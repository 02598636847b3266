"""MkDocs hook: the committed figures under ``benchmarks/results/`` become part of the site, under ``results/``.

The pages show the plots the benchmark and the studies wrote next to their CSVs, where they were measured, instead of
copies kept in ``docs/``: ``![plot](results/<folder>/<file>.png)`` in a page at the top of ``docs/``.
"""

from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files

RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results"


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Add every PNG of the committed results as ``results/<path>``."""
    for picture in sorted(RESULTS.rglob("*.png")):
        path = "results/" + picture.relative_to(RESULTS).as_posix()
        files.append(File.generated(config, path, abs_src_path=str(picture)))
    return files
