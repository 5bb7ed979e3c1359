"""The HTML book builds with warnings as errors, exactly as `make book` does.

The build reads the repository in place and writes into a temporary folder
(`--path-output`), so it neither copies the virtual environment nor touches the
repository's own `_build/`. The builds are the session fixture `book_build` of
tests/book/conftest.py: the default edition's is reused by tests/book/test_browser.py,
the student edition's (`make student`, from the release) by
tests/book/test_student_release.py.
"""

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# How sphinx-exercise marks a solution in the HTML.
SOLUTION_MARKER = 'class="solution'
# How sphinx-book-theme's launch buttons show in the HTML: their menu, and
# links that open a notebook of the repository on Colab or Binder.
LAUNCH_BUTTONS = re.compile(
    r"dropdown-launch-buttons|colab\.research\.google\.com/github/|mybinder\.org/v2/"
)

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
    # student-edition test looks for is really there ...
    assert any(SOLUTION_MARKER in page.read_text() for page in html.rglob("*.html"))
    # ... and so are the launch buttons.
    assert LAUNCH_BUTTONS.search((html / "notebooks" / "04_windows.html").read_text())


def test_student_edition_builds_from_the_release(book_build):
    """`make student` builds the release with -W, without notebook sources or launch buttons.

    That no line of a solution reaches it is tests/book/test_student_release.py's job.
    """
    build = book_build("student")
    log = build.log
    assert build.returncode == 0, f"{' '.join(build.command)} failed:\n{log}"
    html = build.html
    pages = list(html.rglob("*.html"))
    assert any(page.name == "04_windows.html" for page in pages), log
    # Built from the released notebooks, not from the chapters.
    released = sorted(path.name for path in (build.source / "notebooks").glob("*.ipynb"))
    assert released == sorted(path.name for path in (ROOT / "notebooks").glob("*.ipynb"))
    leaks = [str(page) for page in pages if SOLUTION_MARKER in page.read_text()]
    assert leaks == []
    # No copy of a notebook to download, and no button that opens the
    # repository's chapters (with their solutions) on Colab or Binder.
    assert not (html / "_sources").exists()
    assert list(html.rglob("*.ipynb")) == []
    launchers = [str(page) for page in pages if LAUNCH_BUTTONS.search(page.read_text())]
    assert launchers == []
