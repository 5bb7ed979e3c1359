"""The HTML book builds with warnings as errors, exactly as `make book` does.

The build reads the repository in place and writes into a temporary folder
(`--path-output`), so it neither copies the virtual environment nor touches the
repository's own `_build/`. The builds are the session fixture `book_build` of
tests/book/conftest.py: the default edition's is reused by tests/book/test_browser.py,
the student edition's (`make student`, from the release) by
tests/book/test_student_release.py.
"""

import importlib.util
import pickle
import re
from pathlib import Path

import pytest
from toc import PAGES

ROOT = Path(__file__).resolve().parents[2]

# How sphinx-exercise marks a solution in the HTML.
SOLUTION_MARKER = 'class="solution'
# How sphinx-book-theme's launch buttons show in the HTML: their menu, and
# links that open a notebook of the repository on Colab or Binder.
LAUNCH_BUTTONS = re.compile(
    r"dropdown-launch-buttons|colab\.research\.google\.com/github/|mybinder\.org/v2/"
)

# A Chinese character (CJK Unified Ideographs).
CJK = re.compile(r"[\u4e00-\u9fff]")

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


def _language_switch(html: str) -> str | None:
    """Where the page's language switch (book/_ext/language_switch.py) points."""
    found = re.search(r'<a class="btn btn-sm language-switch" href="([^"]+)"', html)
    return found and found.group(1)


def test_chinese_edition_builds_with_every_page_in_chinese(book_build):
    """`make book-zh` builds with -W; every page is Chinese and links to its English page."""
    build = book_build("zh")
    assert build.returncode == 0, f"{' '.join(build.command)} failed:\n{build.log}"
    for page in PAGES:
        html = (build.html / f"{page}.html").read_text()
        assert '<html lang="zh-CN"' in html, page
        title = re.search(r"<h1>(.*?)<", html, re.S).group(1)
        assert CJK.search(title), f"{page}: the title {title!r} is not translated"
        assert _language_switch(html) == "../" * page.count("/") + f"../{page}.html", page


def test_chinese_edition_shows_every_translation(book_build):
    """Every message of the catalogs reaches the Chinese pages: Sphinx leaves a message in
    English, silently, when its translation does not parse as the same kind of node (a
    numbered heading `4. ...` parsed as a list item), or when a node is added after it
    translates (the captions of the table of contents)."""
    from babel.messages.pofile import read_po
    from docutils import nodes
    from sphinx import addnodes
    from sphinx.util.nodes import extract_messages

    build = book_build("zh")
    assert build.returncode == 0, f"{' '.join(build.command)} failed:\n{build.log}"
    catalogs = ROOT / "locales" / "zh_CN" / "LC_MESSAGES"
    doctrees = build.html.parent / ".doctrees"
    shown, missing = 0, []
    for path in sorted(catalogs.rglob("*.po")):
        document = path.relative_to(catalogs).with_suffix("").as_posix()
        with path.open("rb") as handle:
            translations = {m.id: m.string for m in read_po(handle) if m.id and m.string != m.id}
        doctree = pickle.loads((doctrees / f"{document}.doctree").read_bytes())
        for node, message in extract_messages(doctree):
            if message not in translations:
                continue
            if isinstance(node, addnodes.toctree):
                done = node["caption"] == translations[message]
            elif isinstance(node, nodes.image):
                done = node["alt"] == translations[message]
            else:
                done = node.get("translated") is True
            shown += done
            if not done:
                missing.append(f"{document}: {type(node).__name__} {message[:60]!r}")
    assert missing == [], "\n".join(missing)
    assert shown > 1500, shown


def test_english_pages_link_to_their_chinese_page(book_build):
    """The default edition's switch points into zh/, where `make site` puts the Chinese edition;
    the student edition, with no Chinese edition beside it, has none."""
    default, student = book_build("default"), book_build("student")
    for page in PAGES:
        html = (default.html / f"{page}.html").read_text()
        assert _language_switch(html) == "../" * page.count("/") + f"zh/{page}.html", page
        assert _language_switch((student.html / f"{page}.html").read_text()) is None, page
