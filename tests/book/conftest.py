"""The book's builds, shared by the tests of this folder.

`book_build(edition)` builds one edition of the HTML book ("default", as
`make book` does, "offline", as `make book-offline` does, "student", as
`make student` does, or "zh", the Chinese edition, as `make book-zh` does)
into a temporary folder, at most once per test session, so that
test_book_build.py, test_browser.py and test_student_release.py share the
builds. The student edition's build also leaves the release it was built from:
`BookBuild.source / "notebooks"`.
"""

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# The `jupyter-book` script of the environment running pytest.
JUPYTER_BOOK = Path(sys.executable).with_name("jupyter-book")
# What `make mathjax` installs (from the npm registry) for the offline edition.
MATHJAX_COMPONENT = ROOT / "_build" / "mathjax" / "static" / "mathjax" / "tex-mml-chtml.js"
EDITIONS = ("default", "offline", "student", "zh")


@dataclass(frozen=True)
class BookBuild:
    """One finished build: the command, its exit status, the end of its log, the HTML folder.

    `source` is the folder the book was built from (the repository, or the
    student edition's source tree that `make student` puts together).
    """

    edition: str
    command: list[str]
    returncode: int
    log: str
    html: Path
    source: Path


def _build_command(edition: str, out: Path) -> list[str]:
    if edition == "default":
        return [
            str(JUPYTER_BOOK),
            "build",
            str(ROOT),
            "-W",
            "-n",
            "--keep-going",
            "--path-output",
            str(out),
        ]
    if edition in ("offline", "zh") and not MATHJAX_COMPONENT.exists():
        pytest.fail(
            f"the {edition} edition needs MathJax, and {MATHJAX_COMPONENT} is missing: "
            "run `make mathjax` once (it installs MathJax from the npm registry; "
            "`make test` does it for you)"
        )
    if edition in ("offline", "zh"):
        # -o env -o mathjax: use the environment running pytest, install nothing.
        target, out_variable = {
            "offline": ("book-offline", "OFFLINE_OUT"),
            "zh": ("book-zh", "ZH_OUT"),
        }[edition]
        return [
            "make",
            "-o",
            "env",
            "-o",
            "mathjax",
            target,
            f"BIN={JUPYTER_BOOK.parent}",
            f"{out_variable}={out}",
        ]
    if edition == "student":
        # -o env: use the environment running pytest (BIN), install nothing.
        return [
            "make",
            "-o",
            "env",
            "student",
            f"BIN={JUPYTER_BOOK.parent}",
            f"STUDENT_OUT={out}",
        ]
    raise ValueError(f"edition must be one of {EDITIONS}, got {edition!r}")


def _source_folder(edition: str, out: Path) -> Path:
    # The Makefile's STUDENT_SRC: the released notebooks, book/, _toc.yml, _config.yml.
    return out / "src" if edition == "student" else ROOT


@pytest.fixture(scope="session")
def book_build(tmp_path_factory):
    """`book_build(edition) -> BookBuild`: the edition built with -W, once per session."""
    builds: dict[str, BookBuild] = {}

    def build(edition: str) -> BookBuild:
        if edition not in builds:
            assert JUPYTER_BOOK.exists(), (
                f"jupyter_book is importable but {JUPYTER_BOOK} is missing"
            )
            out = tmp_path_factory.mktemp(f"book-{edition}")
            command = _build_command(edition, out)
            result = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=ROOT)
            builds[edition] = BookBuild(
                edition,
                command,
                result.returncode,
                result.stdout[-6000:] + result.stderr[-6000:],
                out / "_build" / "html",
                _source_folder(edition, out),
            )
        return builds[edition]

    return build
