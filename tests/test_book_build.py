"""The HTML book builds with warnings as errors (the README's `make book`)."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
JUPYTER_BOOK = Path(sys.executable).with_name("jupyter-book")


@pytest.mark.skipif(not JUPYTER_BOOK.exists(), reason="jupyter-book is not installed here")
def test_book_builds_without_warnings(tmp_path):
    source = tmp_path / "src"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(".venv", "_build", ".git", "__pycache__", ".hypothesis"),
    )
    result = subprocess.run(
        [str(JUPYTER_BOOK), "build", str(source), "-W", "-n", "--keep-going"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    html = source / "_build" / "html"
    assert (html / "index.html").exists()
    assert (html / "book" / "intro.html").exists()
