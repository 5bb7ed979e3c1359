"""The HTML book builds with warnings as errors, exactly as `make book` does.

The build reads the repository in place and writes into a temporary folder
(`--path-output`), so it neither copies the virtual environment nor touches the
repository's own `_build/`.
"""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# The `jupyter-book` script of the environment running pytest.
JUPYTER_BOOK = Path(sys.executable).with_name("jupyter-book")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("jupyter_book") is None,
        reason="jupyter-book is not installed in this environment (pip install -r requirements.txt)",
    ),
]


def test_book_builds_without_warnings(tmp_path):
    assert JUPYTER_BOOK.exists(), f"jupyter_book is importable but {JUPYTER_BOOK} is missing"
    command = [
        str(JUPYTER_BOOK), "build", str(ROOT),
        "-W", "-n", "--keep-going",
        "--path-output", str(tmp_path),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=ROOT)
    log = result.stdout[-6000:] + result.stderr[-6000:]
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{log}"
    html = tmp_path / "_build" / "html"
    assert (html / "index.html").exists(), log
    assert (html / "book" / "intro.html").exists(), log
