"""The nbgrader course built from the chapters, and the student release.

A course folder is nbgrader's: ``source/<stem>/<stem>.ipynb`` (one assignment
per chapter, named by the notebook's stem), ``release/``, ``gradebook.db``. A
chapter enters it with its ``{solution}`` blocks removed from the markdown and
the outputs of its exercise cells cleared (every code cell from the first
nbgrader cell on); nbgrader's ``generate_assignment`` then strips the solution
regions and hidden tests. ``python -m swin_tutorial.coursework release OUT_DIR``
writes the result as ``OUT_DIR/<stem>.ipynb``.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

NOTEBOOKS_DIR = Path(__file__).resolve().parents[2] / "notebooks"
RUNNER = Path(__file__).resolve().with_name("runner.py")
CHAPTER_ID = re.compile(r"^(\d{2})_")
SOLUTION_FENCE = re.compile(r"^\s*(`{3,}|:{3,})\{solution\}")


@dataclass(frozen=True)
class GradeCell:
    """A graded cell of a source notebook: grade id, points, whether a person grades it."""

    grade_id: str
    points: float
    manual: bool


def nbgrader_metadata(cell: dict) -> dict:
    """The cell's ``nbgrader`` metadata (empty for a plain cell)."""
    metadata = cell.get("metadata") or {}
    value = metadata.get("nbgrader") if isinstance(metadata, dict) else None
    return value if isinstance(value, dict) else {}


def cell_source(cell: dict) -> str:
    """The cell's source as one string (nbformat may store it as a list of lines)."""
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def grade_cells(notebook: dict) -> list[GradeCell]:
    """The graded cells of a source notebook, in order (a written answer is ``manual``)."""
    cells = []
    for cell in notebook.get("cells", []):
        meta = nbgrader_metadata(cell)
        if meta.get("grade"):
            manual = bool(meta.get("solution")) or cell.get("cell_type") != "code"
            cells.append(GradeCell(str(meta["grade_id"]), float(meta.get("points", 0)), manual))
    return cells


def strip_solution_blocks(markdown: str) -> str:
    """``markdown`` without its ``{solution}`` directives (backtick or colon fences).

    A block ends at the first line made only of its fence character, at least
    as long as the opening fence (as in CommonMark).
    """
    kept: list[str] = []
    fence: str | None = None
    for line in markdown.splitlines(keepends=True):
        text = line.strip()
        if fence is None:
            opening = SOLUTION_FENCE.match(line)
            if opening:
                fence = opening.group(1)
            else:
                kept.append(line)
        elif text and set(text) == {fence[0]} and len(text) >= len(fence):
            fence = None
    return re.sub(r"\n{3,}", "\n\n", "".join(kept)).rstrip()


def prepare_source(notebook: dict) -> dict:
    """A copy of a chapter ready for nbgrader: ``{solution}`` blocks gone, exercise outputs cleared.

    ``{solution}`` blocks are removed from every markdown cell except nbgrader's
    written-answer cells (nbgrader replaces those whole, and the instructor's
    course keeps the model answer). Every code cell from the first nbgrader
    cell to the end loses its outputs and execution count. nbgrader cells lose the
    book's ``hide-input`` tag, so the student sees the stub and the test it fills.
    """
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        raise TypeError(
            f"notebook must be a notebook dict with a 'cells' list, got {notebook!r:.80}"
        )
    result = copy.deepcopy(notebook)
    first = next((i for i, c in enumerate(result["cells"]) if nbgrader_metadata(c)), None)
    for index, cell in enumerate(result["cells"]):
        meta = nbgrader_metadata(cell)
        tags = cell.get("metadata", {}).get("tags")
        if meta and tags and "hide-input" in tags:
            cell["metadata"]["tags"] = [tag for tag in tags if tag != "hide-input"]
        if cell.get("cell_type") == "markdown" and not meta.get("solution"):
            source = cell_source(cell)
            if "{solution}" in source:
                cell["source"] = strip_solution_blocks(source)
        if cell.get("cell_type") == "code" and first is not None and index >= first:
            cell["outputs"] = []
            cell["execution_count"] = None
    return result


def find_chapters(
    notebooks_dir: str | os.PathLike, chapters: Sequence[str] | None = None
) -> list[Path]:
    """The chapters ``NN_name.ipynb`` in ``notebooks_dir``: all, or those named in ``chapters``.

    A chapter may be named by its two digits (``04``), its stem or its file name.
    """
    folder = Path(notebooks_dir)
    if not folder.is_dir():
        raise ValueError(f"notebooks_dir must be a folder of chapters, got {str(folder)!r}")
    paths = sorted(p for p in folder.glob("*.ipynb") if CHAPTER_ID.match(p.name) and p.is_file())
    if chapters is None:
        return paths
    if isinstance(chapters, str):
        raise TypeError(f"chapters must be a list of chapter ids, got chapters={chapters!r}")
    chosen = []
    for chapter in chapters:
        match = [p for p in paths if str(chapter) in (p.name[:2], p.stem, p.name)]
        if not match:
            known = ", ".join(p.name[:2] for p in paths) or "none"
            raise ValueError(
                f"chapters: no chapter {chapter!r} in {str(folder)!r} (chapters there: {known})"
            )
        chosen += [p for p in match if p not in chosen]
    return chosen


def tool_environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """``os.environ``, this interpreter's ``bin`` first on ``PATH`` (nbgrader runs ``alembic``)."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.update(extra or {})
    return env


def run_runner(
    action: str,
    arguments: Sequence[str],
    env: dict[str, str] | None = None,
    timeout: float | None = None,
    check: bool = True,
) -> list[dict]:
    """Run ``runner.py ACTION ARGUMENTS`` (nbgrader, trusted input); its JSON results.

    With ``check``, raises ``RuntimeError`` with nbgrader's log when an
    assignment failed.
    """
    command = [sys.executable, "-I", str(RUNNER), action, *map(str, arguments)]
    done = subprocess.run(
        command,
        env=env or tool_environment(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    results = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    failed = [r for r in results if not r["success"]]
    if check and (done.returncode != 0 or failed):
        log = "\n".join(r["log"] for r in failed) or done.stderr[-4000:]
        raise RuntimeError(f"nbgrader {action} failed:\n{log}")
    return results


COURSE_CONFIG = """\
# nbgrader's configuration for this course, written by swin_tutorial.coursework.
# The release keeps the chapters' figures: generate_assignment does not clear
# outputs (the exercise cells' outputs are cleared before it runs).
from nbgrader.converters import GenerateAssignment

c = get_config()  # noqa: F821
c.CourseDirectory.root = {root!r}
c.GenerateAssignment.preprocessors = [
    step for step in GenerateAssignment.class_traits()["preprocessors"].default()
    if step.__name__ != "ClearOutput"
]
"""


def course_stems(course_dir: str | os.PathLike) -> list[str]:
    """The assignments whose source notebook the course holds."""
    source = Path(course_dir) / "source"
    return sorted(p.name for p in source.glob("*") if (p / f"{p.name}.ipynb").is_file())


def add_chapters(
    course_dir: str | os.PathLike, paths: Sequence[Path], force: bool = True
) -> list[str]:
    """Put chapters into the course as sources and run ``generate_assignment`` on them.

    With ``force=False`` a chapter the course already holds is left as it is
    (its gradebook may already have submissions). Returns the stems.
    """
    course = Path(course_dir).resolve()
    course.mkdir(parents=True, exist_ok=True)
    config = course / "nbgrader_config.py"
    if not config.exists():
        config.write_text(COURSE_CONFIG.format(root=str(course)), encoding="utf-8")
    existing = set(course_stems(course))
    stems = []
    for path in paths:
        stem = Path(path).stem
        if not force and stem in existing and (course / "gradebook.db").exists():
            continue
        notebook = json.loads(Path(path).read_text(encoding="utf-8"))
        target = course / "source" / stem / f"{stem}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(prepare_source(notebook), indent=1) + "\n", encoding="utf-8")
        stems.append(stem)
    if stems:
        run_runner("generate", [str(course), *stems])
    return stems


def release(
    out_dir: str | os.PathLike,
    chapters: Sequence[str] | None = None,
    notebooks_dir: str | os.PathLike = NOTEBOOKS_DIR,
    course_dir: str | os.PathLike | None = None,
) -> list[Path]:
    """Write the student notebooks of the chosen chapters as ``out_dir/<stem>.ipynb``.

    Builds an nbgrader course (in a temporary folder, or ``course_dir``, which
    keeps the sources and the gradebook for grading) and runs
    ``generate_assignment``. Returns the paths written, in chapter order.
    """
    paths = find_chapters(notebooks_dir, chapters)
    if not paths:
        raise ValueError(f"notebooks_dir has no chapter NN_name.ipynb: {str(notebooks_dir)!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="swin-course-") as scratch:
        course = Path(course_dir) if course_dir is not None else Path(scratch) / "course"
        add_chapters(course, paths)
        written = []
        for path in paths:
            released = course / "release" / path.stem / f"{path.stem}.ipynb"
            shutil.copyfile(released, out / path.name)
            written.append(out / path.name)
    return written


def ensure_course(
    course_dir: str | os.PathLike, stems: Sequence[str], notebooks_dir: str | os.PathLike
) -> list[str]:
    """Make sure the course holds each assignment in ``stems``, with its gradebook entry.

    A chapter the course lacks is added from ``notebooks_dir``; one the course
    holds is left as it is (it keeps the source it was released from). Returns
    the stems added.
    """
    course = Path(course_dir)
    held = set(course_stems(course)) if (course / "gradebook.db").exists() else set()
    missing = [stem for stem in stems if stem not in held]
    if not missing:
        return []
    folder = Path(notebooks_dir)
    paths = []
    for stem in missing:
        if (course / "source" / stem / f"{stem}.ipynb").is_file():
            paths.append(None)  # a source without its gradebook entry: generate only
        elif (folder / f"{stem}.ipynb").is_file():
            paths.append(folder / f"{stem}.ipynb")
        else:
            raise ValueError(
                f"chapters: no source for {stem!r} in the course or in {str(folder)!r}"
            )
    add_chapters(course, [p for p in paths if p is not None], force=True)
    regenerate = [stem for stem, path in zip(missing, paths, strict=True) if path is None]
    if regenerate:
        run_runner("generate", [str(course.resolve()), *regenerate])
    return missing


def read_notebook(path: str | os.PathLike) -> dict:
    """A notebook file's JSON."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def snapshot_database(database: str | os.PathLike, target: str | os.PathLike) -> None:
    """A consistent copy of an SQLite database (nbgrader's gradebook), even while it is in use."""
    source = sqlite3.connect(database)
    try:
        copy_db = sqlite3.connect(target)
        try:
            source.backup(copy_db)
        finally:
            copy_db.close()
    finally:
        source.close()
