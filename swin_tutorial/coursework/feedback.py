"""Feedback for students: ``python -m swin_tutorial.coursework feedback``.

nbgrader's ``generate_feedback`` renders each autograded notebook with its
scores from the gradebook (manual grades and comments included) as one HTML
page, written to ``OUT/<student>/<stem>.html``. The pages are made from copies
in which the hidden tests are left out, and the tracebacks of the cells that
held them cut to their last line, so that a page never shows a hidden answer.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import tempfile
from pathlib import Path

from .course import cell_source, run_runner, snapshot_database

HIDDEN_BEGIN = "### BEGIN HIDDEN TESTS"
HIDDEN_END = "### END HIDDEN TESTS"


def strip_hidden_tests(notebook: dict) -> dict:
    """A copy of ``notebook``: hidden-test regions removed, their cells' tracebacks one line."""
    result = copy.deepcopy(notebook)
    for cell in result.get("cells", []):
        lines = cell_source(cell).splitlines(keepends=True)
        if not any(line.strip() == HIDDEN_BEGIN for line in lines):
            continue
        kept, hidden = [], False
        for line in lines:
            if line.strip() == HIDDEN_BEGIN:
                hidden = True
            elif line.strip() == HIDDEN_END:
                hidden = False
            elif not hidden:
                kept.append(line)
        cell["source"] = "".join(kept).rstrip("\n")
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                output["traceback"] = [f"{output.get('ename', '')}: {output.get('evalue', '')}"]
    return result


def autograded_notebooks(course_dir: Path) -> list[tuple[str, str, Path]]:
    """``(student, stem, path)`` of every ``autograded/<student>/<stem>/<stem>.ipynb``."""
    found = []
    for path in sorted(course_dir.glob("autograded/*/*/*.ipynb")):
        if path.stem == path.parent.name and path.is_file() and not path.is_symlink():
            found.append((path.parent.parent.name, path.stem, path))
    return found


def generate_feedback(
    course_dir: str | os.PathLike = "course", out_dir: str | os.PathLike = "feedback"
) -> list[Path]:
    """One HTML page per autograded submission, ``out_dir/<student>/<stem>.html``; their paths."""
    course = Path(course_dir)
    if not (course / "gradebook.db").is_file():
        raise ValueError(f"course_dir must hold nbgrader's gradebook.db, got {str(course)!r}")
    notebooks = autograded_notebooks(course)
    out = Path(out_dir)
    written: list[Path] = []
    if not notebooks:
        return written
    with tempfile.TemporaryDirectory(prefix="swin-feedback-") as scratch:
        copy_dir = Path(scratch) / "course"
        copy_dir.mkdir()
        snapshot_database(course / "gradebook.db", copy_dir / "gradebook.db")
        for student, stem, path in notebooks:
            folder = copy_dir / "autograded" / student / stem
            folder.mkdir(parents=True)
            notebook = strip_hidden_tests(json.loads(path.read_text(encoding="utf-8")))
            (folder / f"{stem}.ipynb").write_text(json.dumps(notebook), encoding="utf-8")
        stems = sorted({stem for _, stem, _ in notebooks})
        # a page nbgrader could not render is left out; the others are written
        run_runner("feedback", [str(copy_dir), *stems], check=False)
        for student, stem, _ in notebooks:
            page = copy_dir / "feedback" / student / stem / f"{stem}.html"
            if page.is_file():
                (out / student).mkdir(parents=True, exist_ok=True)
                shutil.copyfile(page, out / student / f"{stem}.html")
                written.append(out / student / f"{stem}.html")
    return written
