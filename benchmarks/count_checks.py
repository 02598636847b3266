"""Count what the test suite checks: tests collected (default and slow sets), ``assert`` statements, doctest examples.

``assert`` statements are counted in the test files (``tests/**/*.py``, helpers and conftest included); doctest
examples are the ``>>>`` lines pytest's ``--doctest-modules`` runs in the package. Tests are counted by pytest's own
collection, so parametrised cases count once each. Run it on two checkouts to compare them::

    python benchmarks/count_checks.py            # this checkout
    python benchmarks/count_checks.py --repo /tmp/old-checkout
"""

import argparse
import ast
import doctest
import os
import re
import subprocess
import sys
from pathlib import Path


def assert_statements(tests: Path) -> int:
    """Return the number of ``assert`` statements in the Python files under ``tests``."""
    return sum(isinstance(node, ast.Assert) for path in tests.rglob("*.py") for node in ast.walk(ast.parse(path.read_text())))


def doctest_examples(package: Path) -> int:
    """Return the number of doctest examples (``>>>`` lines) in the package's docstrings, as doctest parses them."""
    parser, count = doctest.DocTestParser(), 0
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                docstring = ast.get_docstring(node, clean=False)
                if docstring:
                    count += len(parser.get_examples(docstring))
    return count


def collected(repo: Path, *marker: str) -> int:
    """Return how many tests pytest collects in ``repo`` (with its own settings, or ``-m <marker>``)."""
    command = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *marker]
    # The checkout's own package first: the venv's editable install may point at another checkout.
    env = {**os.environ, "PYTHONPATH": str(repo.resolve())}
    output = subprocess.run(command, cwd=repo, capture_output=True, text=True, check=False, env=env).stdout
    found = re.search(r"(\d+)(?:/\d+)? tests? collected", output)
    if not found or re.search(r"\d+ errors? ", output):
        msg = f"pytest's collection failed in {repo}:\n{output[-2000:]}"
        raise SystemExit(msg)
    return int(found.group(1))


def main() -> None:
    """Print the counts for one checkout."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repo", type=Path, default=Path(__file__).resolve().parents[1])
    args = parser.parse_args()
    default, slow = collected(args.repo), collected(args.repo, "-m", "slow")
    asserts, examples = assert_statements(args.repo / "tests"), doctest_examples(args.repo / "anomalib_simplenet")
    print(f"tests: {default} default + {slow} slow = {default + slow}")
    print(f"checks: {asserts} assert statements in tests/ + {examples} doctest examples = {asserts + examples}")


if __name__ == "__main__":
    main()
