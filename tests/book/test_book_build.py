"""The HTML book builds with warnings as errors, exactly as `make book` does.

The build reads the repository in place and writes into a temporary folder
(`--path-output`), so it neither copies the virtual environment nor touches the
repository's own `_build/`. The default edition's build is the session fixture
`book_build` of tests/book/conftest.py, which tests/book/test_browser.py reuses.
"""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# The `jupyter-book` script of the environment running pytest.
JUPYTER_BOOK = Path(sys.executable).with_name("jupyter-book")

# How sphinx-exercise marks a solution in the HTML.
SOLUTION_MARKER = 'class="solution'

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("jupyter_book") is None,
        reason="jupyter-book is not installed in this environment "
        "(pip install -r requirements.txt)",
    ),
]


def test_book_builds_without_warnings(book_build):
    # The build (tests/book/conftest.py) is shared with tests/book/test_browser.py.
    build = book_build("default")
    log = build.log
    assert build.returncode == 0, f"{' '.join(build.command)} failed:\n{log}"
    html = build.html
    assert (html / "index.html").exists(), log
    assert (html / "book" / "intro.html").exists(), log
    # The default edition keeps the (collapsed) solutions: the marker the
    # student-edition test looks for is really there.
    assert any(SOLUTION_MARKER in page.read_text() for page in html.rglob("*.html"))


def test_student_edition_has_no_solutions(tmp_path):
    """`make student` builds with -W and leaves no solution (nor notebook source) behind."""
    command = [
        "make",
        "-o",
        "env",
        "student",
        f"BIN={JUPYTER_BOOK.parent}",
        f"STUDENT_OUT={tmp_path}",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=ROOT)
    log = result.stdout[-6000:] + result.stderr[-6000:]
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{log}"
    html = tmp_path / "_build" / "html"
    pages = list(html.rglob("*.html"))
    assert any(page.name == "04_windows.html" for page in pages), log
    leaks = [str(page) for page in pages if SOLUTION_MARKER in page.read_text()]
    assert leaks == []
    assert not (html / "_sources").exists()
