"""Grade a folder of submitted notebooks with the exercise checkers.

``python -m swin_tutorial.exercises grade SUBMISSIONS_DIR`` executes every
``*.ipynb`` in the folder in a fresh kernel (errors do not stop a notebook: the
remaining cells still run), collects the :class:`~swin_tutorial.exercises.CheckResult`
of every checker the notebook called, and prints one row per notebook. A
notebook that cannot be read, times out or kills its kernel is reported in
its row; it never stops the run.

Needs ``nbformat``, ``nbclient`` and ``ipykernel`` (all in requirements.txt).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from .exercises import GRADE_LOG_VARIABLE


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
    """Execute one notebook and collect the results of the checkers it called."""
    path = Path(path)
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
        raise ValueError(f"folder must be a directory of notebooks, got {str(folder)!r}")
    if not isinstance(timeout, int) or isinstance(timeout, bool) or timeout <= 0:
        raise ValueError(f"timeout must be a positive number of seconds (int), got {timeout!r}")
    paths = sorted(folder.glob("*.ipynb"))
    return [
        grade_notebook(path, timeout)
        for path in tqdm(paths, desc="grading", unit="notebook", disable=not progress)
    ]


def format_grades(grades: Sequence[NotebookGrade]) -> str:
    """A plain-text table: notebook, checks passed, score (0-1), status."""
    header = ("notebook", "checks passed", "score", "status")
    rows = [
        (g.notebook, f"{g.checks_passed}/{g.checks_run}", f"{g.score:.2f}", g.status)
        for g in grades
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()
        for row in [header, *rows]
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``grade SUBMISSIONS_DIR [--timeout S] [--no-progress]``."""
    parser = argparse.ArgumentParser(
        prog="python -m swin_tutorial.exercises",
        description="Run the exercise checkers over a folder of submitted notebooks.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    grade = commands.add_parser("grade", help="execute every notebook in a folder and score it")
    grade.add_argument("folder", help="folder holding the submitted .ipynb files")
    grade.add_argument("--timeout", type=int, default=600, help="seconds allowed per cell")
    grade.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    args = parser.parse_args(argv)
    try:
        grades = grade_folder(args.folder, args.timeout, progress=not args.no_progress)
    except ValueError as error:
        parser.error(str(error))
    if not grades:
        print(f"no notebooks (*.ipynb) in {args.folder}")
        return 0
    print(format_grades(grades))
    return 0
