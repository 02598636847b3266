"""MkDocs hook: the committed figures under ``benchmarks/results/`` become part of the site, under ``results/``.

The pages show the plots the benchmark and the studies wrote next to their CSVs, where they were measured, instead of
copies kept in ``docs/``. A page links them by their path in the repository, ``![plot](../benchmarks/results/...png)``
(as ``simplenet-benchmark --report ... --readme docs/benchmark.md`` writes them, and as a repository browser shows
them); the site serves them under ``results/``, and the links are rewritten to match.
"""

from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results"


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Add every PNG of the committed results as ``results/<path>``."""
    for picture in sorted(RESULTS.rglob("*.png")):
        path = "results/" + picture.relative_to(RESULTS).as_posix()
        files.append(File.generated(config, path, abs_src_path=str(picture)))
    return files


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    """Point links into ``../benchmarks/results/`` at the site's ``results/``."""
    return markdown.replace("](../benchmarks/results/", "](results/")
