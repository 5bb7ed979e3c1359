"""Grade a folder of submitted notebooks with the exercise checkers.

Every ``*.ipynb`` is executed in a fresh kernel (a cell that raises does not stop
the notebook), the :class:`~swin_tutorial.coursework.harness.CheckResult` of every
checker it called is collected, and one row per notebook is reported. A notebook
that cannot be read, times out or kills its kernel gets its row; it never stops
the run. Needs ``nbformat``, ``nbclient`` and ``ipykernel`` (in requirements.txt).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from .._checks import check_positive_int
from ..tables import format_table
from .harness import GRADE_LOG_VARIABLE


@dataclass(frozen=True)
class NotebookGrade:
    """One submission: checks called and passed, mean checker score, what went wrong."""

    notebook: str
    checks_run: int
    checks_passed: int
    score: float
    status: str


@contextmanager
def _environment(**values: str) -> Iterator[None]:
    """Set environment variables for the kernels started inside the block."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _error_count(notebook) -> int:
    return sum(
        output.get("output_type") == "error"
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
    )


def _execute(path: Path, log: Path, timeout: int) -> str:
    """Run the notebook at ``path``, checkers logging to ``log``; return its status."""
    import nbclient
    import nbformat

    try:
        notebook = nbformat.read(path, as_version=4)
    except Exception as error:  # a broken file is the student's problem, reported
        return f"could not be read: {type(error).__name__}"
    client = nbclient.NotebookClient(
        notebook,
        timeout=timeout,
        allow_errors=True,
        resources={"metadata": {"path": str(path.parent)}},
    )
    try:
        with _environment(**{GRADE_LOG_VARIABLE: str(log), "MPLBACKEND": "Agg"}):
            client.execute()
    except Exception as error:  # timeout, dead kernel: reported, the run goes on
        return f"stopped: {type(error).__name__}"
    errors = _error_count(notebook)
    return "ok" if errors == 0 else f"{errors} cell(s) raised an error"


def grade_notebook(path: str | os.PathLike, timeout: int = 600) -> NotebookGrade:
    """Execute one notebook (``timeout`` seconds per cell) and collect its checkers' results."""
    path = Path(path)
    check_positive_int("timeout", timeout)
    with tempfile.TemporaryDirectory() as folder:
        log = Path(folder) / "checks.jsonl"
        status = _execute(path, log, timeout)
        results = (
            [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
        )
    passed = sum(result["passed"] for result in results)
    score = sum(result["score"] for result in results) / len(results) if results else 0.0
    if not results and status == "ok":
        status = "no checker was called"
    return NotebookGrade(path.name, len(results), passed, score, status)


def grade_folder(
    folder: str | os.PathLike, timeout: int = 600, progress: bool = True
) -> list[NotebookGrade]:
    """Grade every ``*.ipynb`` directly inside ``folder``, in name order."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"folder must be a directory of notebooks, got folder={str(folder)!r}")
    check_positive_int("timeout", timeout)
    paths = sorted(folder.glob("*.ipynb"))
    return [
        grade_notebook(path, timeout)
        for path in tqdm(paths, desc="grading", unit="notebook", disable=not progress)
    ]


def format_grades(grades: Sequence[NotebookGrade]) -> str:
    """A plain-text table: notebook, checks passed, score (0-1), status."""
    rows = [
        {
            "notebook": g.notebook,
            "checks passed": f"{g.checks_passed}/{g.checks_run}",
            "score": g.score,
            "status": g.status,
        }
        for g in grades
    ]
    columns = ("notebook", "checks passed", "score", "status")
    return format_table(rows, columns, formats={"score": ".2f"})
