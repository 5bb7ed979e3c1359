"""Grade a folder of submissions with nbgrader: ``python -m swin_tutorial.coursework grade``.

``SUBMISSIONS_DIR/<student>/<stem>.ipynb`` are read into memory first; each is
autograded in a copy of the course of its own (:mod:`~swin_tutorial.coursework.worker`,
in bubblewrap where available, :mod:`~swin_tutorial.coursework.sandbox`). As
each finishes, this process (which runs no student code) writes its scores into
the course's master gradebook, copies the autograded notebook to
``course/autograded/<student>/<stem>/`` and appends its rows to the CSV file,
flushed, so that a crash loses nothing finished. A broken, hanging or hostile
submission gets zeros and a status; it never stops the run. Student cells that
reach for the grader's machinery are listed (:mod:`~swin_tutorial.coursework.scan`).
"""

from __future__ import annotations

import csv
import json
import os
import re
import tempfile
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from .._checks import check_bool, check_positive_int
from ..tables import format_table
from .course import (
    CHAPTER_ID,
    NOTEBOOKS_DIR,
    GradeCell,
    cell_source,
    course_stems,
    ensure_course,
    grade_cells,
    nbgrader_metadata,
    read_notebook,
    snapshot_database,
)
from .sandbox import hideable, resolve_sandbox
from .scan import Finding, scan_notebook
from .worker import GradedNotebook, GradeJob, autograde, zero_scores

CSV_COLUMNS = ("student", "notebook", "exercise", "points", "max_points")
FLAG_COLUMNS = ("student", "notebook", "cell", "line", "finding")
SUMMARY_COLUMNS = ("student", "notebook", "points", "max", "status")
#: A student folder's name is the student's id in the gradebook.
STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}$")
#: The largest submission read (a chapter with its figures is a few MB).
MAX_SUBMISSION_BYTES = 64 * 2**20


@dataclass(frozen=True)
class Submission:
    """A submitted notebook as read: its bytes, or the reason it cannot be graded."""

    student: str
    stem: str
    notebook: bytes | None
    problem: str | None = None


@dataclass
class GradeReport:
    """What a run did: the CSV rows, one summary row per submission, the findings, notes."""

    sandbox: str
    rows: list[dict] = field(default_factory=list)
    summary: list[dict] = field(default_factory=list)
    flags: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def notebook_problem(data: bytes) -> str | None:
    """Why ``data`` is not a notebook nbgrader can read (``None`` when it looks like one)."""
    try:
        notebook = json.loads(data)
    except (ValueError, UnicodeDecodeError) as error:
        return f"not a notebook: not JSON ({type(error).__name__})"
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        return "not a notebook: no list of cells"
    if notebook.get("nbformat") != 4:
        return f"not a notebook: nbformat {notebook.get('nbformat')!r}, expected 4"
    return None


def read_submission(path: Path, student: str, stem: str) -> Submission:
    """Read one submitted file into memory (a link, a folder or a huge file is refused)."""
    if path.is_symlink():
        return Submission(student, stem, None, "not a notebook: a symbolic link")
    if path.is_dir():
        return Submission(student, stem, None, "not a notebook: a folder")
    try:
        if path.stat().st_size > MAX_SUBMISSION_BYTES:
            return Submission(student, stem, None, "not a notebook: larger than 64 MB")
        data = path.read_bytes()
    except OSError as error:
        return Submission(student, stem, None, f"cannot be read: {type(error).__name__}")
    return Submission(student, stem, data, notebook_problem(data))


def read_submissions(folder: Path, stems: Sequence[str]) -> tuple[list[Submission], list[str]]:
    """Every ``<student>/<stem>.ipynb`` under ``folder`` (given stems); notes on the rest."""
    submissions, notes = [], []
    for student_dir in sorted(folder.iterdir()):
        if not student_dir.is_dir() or student_dir.is_symlink():
            notes.append(f"skipped {student_dir.name!r}: not a student folder")
            continue
        if not STUDENT_ID.match(student_dir.name):
            notes.append(f"skipped folder {student_dir.name!r}: not usable as a student id")
            continue
        for path in sorted(student_dir.iterdir()):
            if path.stem not in stems:
                notes.append(f"{student_dir.name}: {path.name!r} is not a notebook being graded")
        for stem in stems:
            path = student_dir / f"{stem}.ipynb"
            if path.exists() or path.is_symlink():
                submissions.append(read_submission(path, student_dir.name, stem))
    return submissions, notes


def chapter_stems(
    course_dir: Path, notebooks_dir: Path, chapters: Sequence[str] | None
) -> list[str]:
    """The assignments to grade: the course's and the chapters', or those named by ``chapters``."""
    known = set(course_stems(course_dir))
    if notebooks_dir.is_dir():
        known |= {p.stem for p in notebooks_dir.glob("*.ipynb") if CHAPTER_ID.match(p.name)}
    if chapters is None:
        return sorted(known)
    if isinstance(chapters, str):
        raise TypeError(f"chapters must be a list of chapter ids, got chapters={chapters!r}")
    chosen = []
    for chapter in chapters:
        match = sorted(s for s in known if str(chapter) in (s[:2], s, f"{s}.ipynb"))
        if not match:
            raise ValueError(
                f"chapters: unknown chapter {chapter!r} "
                f"(known: {', '.join(sorted(known)) or 'none'})"
            )
        chosen += [s for s in match if s not in chosen]
    return chosen


def record_in_gradebook(course_dir: Path, result: GradedNotebook) -> dict[str, float | None]:
    """Write a result into the master gradebook; the final score per grade id.

    A manual score a grader already gave is kept (and the cell marked for
    review, as nbgrader does); a written answer without one scores ``None``.
    """
    from nbgrader.api import Gradebook
    from sqlalchemy.exc import SAWarning

    final: dict[str, float | None] = {}
    with warnings.catch_warnings(), Gradebook(f"sqlite:///{course_dir / 'gradebook.db'}") as gb:
        # nbgrader's own session handling warns on every new submission; nothing is lost
        warnings.simplefilter("ignore", SAWarning)
        gb.update_or_create_student(result.student)
        gb.update_or_create_submission(result.stem, result.student)
        notebook = gb.find_submission_notebook(result.stem, result.stem, result.student)
        for grade in notebook.grades:
            score = result.scores.get(grade.name, 0.0)
            grade.auto_score = score
            grade.needs_manual_grade = grade.manual_score is not None or score is None
            final[grade.name] = grade.manual_score if grade.manual_score is not None else score
        for comment in notebook.comments:
            comment.auto_comment = result.comments.get(comment.name)
        gb.db.commit()
    return final


def _save_autograded(course_dir: Path, result: GradedNotebook) -> None:
    folder = course_dir / "autograded" / result.student / result.stem
    path = folder / f"{result.stem}.ipynb"
    if path.exists() or path.is_symlink():
        path.unlink()
    if result.autograded is not None:
        folder.mkdir(parents=True, exist_ok=True)
        path.write_bytes(result.autograded)


def _format_points(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def _status(result: GradedNotebook, final: dict, cells: list[GradeCell], flagged: int) -> str:
    status = result.status
    if status == "graded":
        lost = [c for c in cells if not c.manual and (final.get(c.grade_id) or 0) < c.points]
        status = (
            "ok" if not lost else f"{len(lost)} of {sum(not c.manual for c in cells)} tests failed"
        )
        by_hand = sum(final.get(c.grade_id) is None for c in cells)
        if by_hand:
            status += f"; {by_hand} answer(s) to grade by hand"
    if flagged:
        status += f"; {flagged} finding(s) to read"
    return status


class _Course:
    """The instructor's course as the grader reads it: grade cells and trusted cell texts."""

    def __init__(self, course_dir: Path, stems: Sequence[str]) -> None:
        self.dir = course_dir
        self.cells: dict[str, list[GradeCell]] = {}
        self.trusted: dict[str, set[str]] = {}
        self.restored: dict[str, set[str]] = {}
        for stem in stems:
            source = read_notebook(course_dir / "source" / stem / f"{stem}.ipynb")
            self.cells[stem] = grade_cells(source)
            texts = {cell_source(c) for c in source["cells"] if c.get("cell_type") == "code"}
            released = course_dir / "release" / stem / f"{stem}.ipynb"
            if released.is_file():
                texts |= {cell_source(c) for c in read_notebook(released)["cells"]}
            self.trusted[stem] = texts
            self.restored[stem] = {
                str(nbgrader_metadata(c).get("grade_id"))
                for c in source["cells"]
                if nbgrader_metadata(c).get("locked")
            }

    def findings(self, submission: Submission) -> list[Finding]:
        """The scan of a submission's student cells (a notebook that defeats it is a finding)."""
        try:
            notebook = json.loads(submission.notebook or b"")
            return scan_notebook(
                notebook, self.trusted[submission.stem], self.restored[submission.stem]
            )
        except Exception as error:  # deeply nested code, odd JSON: worth a look in itself
            return [Finding(0, 0, f"could not be scanned ({type(error).__name__})")]


@dataclass(frozen=True)
class GradeOptions:
    """How :func:`grade` runs the jobs."""

    cell_timeout: int = 60
    timeout: int = 600
    jobs: int = 1
    progress: bool = True
    hidden: tuple[str, ...] = ()
    on_result: Callable[[dict], None] | None = None


class _Run:
    """One grading run: starts the jobs and records each result in the main thread."""

    def __init__(self, course: _Course, report: GradeReport, csv_file, options: GradeOptions):
        self.course, self.report, self.options = course, report, options
        self.csv_file = csv_file
        self.writer = csv.DictWriter(csv_file, CSV_COLUMNS)
        self.writer.writeheader()
        csv_file.flush()

    def grade(self, submissions: list[Submission]) -> None:
        options, cells = self.options, self.course.cells
        bar = tqdm(
            total=len(submissions), desc="grading", unit="notebook", disable=not options.progress
        )
        with tempfile.TemporaryDirectory(prefix="swin-gradebook-") as scratch:
            template = Path(scratch) / "gradebook.db"
            snapshot_database(self.course.dir / "gradebook.db", template)
            by_key = {(s.student, s.stem): s for s in submissions}
            with ThreadPoolExecutor(max_workers=options.jobs) as pool:
                futures = []
                for s in submissions:
                    if s.problem is not None:
                        zeros = zero_scores(cells[s.stem])
                        self.record(s, GradedNotebook(s.student, s.stem, zeros, s.problem))
                        bar.update()
                        continue
                    job = GradeJob(
                        s.student,
                        s.stem,
                        s.notebook,
                        self.course.dir,
                        template,
                        self.report.sandbox,
                        options.cell_timeout,
                        options.timeout,
                        options.hidden,
                    )
                    futures.append(pool.submit(autograde, job, cells[s.stem]))
                for future in as_completed(futures):
                    result = future.result()
                    self.record(by_key[(result.student, result.stem)], result)
                    bar.update()
        bar.close()

    def record(self, submission: Submission, result: GradedNotebook) -> None:
        """Gradebook, autograded copy, CSV rows (flushed), findings, summary row."""
        course, report = self.course, self.report
        cells = course.cells[result.stem]
        try:
            final = record_in_gradebook(course.dir, result)
            _save_autograded(course.dir, result)
        except Exception as error:  # the master gradebook is busy or broken: the CSV still counts
            final = dict(result.scores)
            report.notes.append(f"{result.student}/{result.stem}: not in the gradebook ({error})")
        rows = [
            {
                "student": result.student,
                "notebook": result.stem,
                "exercise": cell.grade_id,
                "points": _format_points(final.get(cell.grade_id, 0.0)),
                "max_points": _format_points(cell.points),
            }
            for cell in cells
        ]
        self.writer.writerows(rows)
        self.csv_file.flush()
        report.rows += rows
        findings = course.findings(submission) if submission.problem is None else []
        report.flags += [
            {
                "student": result.student,
                "notebook": result.stem,
                "cell": finding.cell,
                "line": finding.line,
                "finding": finding.what,
            }
            for finding in findings
        ]
        row = {
            "student": result.student,
            "notebook": result.stem,
            "points": sum(v for v in final.values() if v is not None),
            "max": sum(cell.points for cell in cells),
            "status": _status(result, final, cells, len(findings)),
        }
        report.summary.append(row)
        if self.options.on_result is not None:
            self.options.on_result(row)


def grade(
    submissions_dir: str | os.PathLike,
    out: str | os.PathLike,
    course_dir: str | os.PathLike = "course",
    chapters: Sequence[str] | None = None,
    notebooks_dir: str | os.PathLike = NOTEBOOKS_DIR,
    cell_timeout: int = 60,
    timeout: int = 600,
    jobs: int = 1,
    sandbox: str = "auto",
    progress: bool = True,
    on_result: Callable[[dict], None] | None = None,
) -> GradeReport:
    """Autograde every submission under ``submissions_dir``; rows to the CSV file ``out``.

    ``course_dir`` holds (or receives, from ``notebooks_dir``) the assignments
    and the master gradebook; the findings go to ``course_dir/flags.csv``.
    Raises ``ValueError`` for the instructor's mistakes only (a missing folder,
    an unknown chapter, an unwritable ``out``, bad limits). ``on_result`` is
    called with each summary row as its submission finishes.
    """
    folder, course_path = Path(submissions_dir), Path(course_dir).resolve()
    if not folder.is_dir():
        raise ValueError(
            f"submissions_dir must be a folder of student folders, got {str(folder)!r}"
        )
    for name, value in (("cell_timeout", cell_timeout), ("timeout", timeout), ("jobs", jobs)):
        check_positive_int(name, value)
    check_bool("progress", progress)
    report = GradeReport(resolve_sandbox(sandbox))
    stems = chapter_stems(course_path, Path(notebooks_dir), chapters)
    try:
        csv_file = open(out, "w", newline="", encoding="utf-8")  # noqa: SIM115
    except OSError as error:
        raise ValueError(f"out must be a writable file, got {str(out)!r} ({error})") from error
    with csv_file:
        submissions, report.notes = read_submissions(folder, stems)
        if not submissions:
            return report
        needed = sorted({s.stem for s in submissions})
        ensure_course(course_path, needed, notebooks_dir)
        hidden = tuple(hideable([course_path, folder, Path.home()]))
        options = GradeOptions(cell_timeout, timeout, jobs, progress, hidden, on_result)
        run = _Run(_Course(course_path, needed), report, csv_file, options)
        run.grade(submissions)
    _write_flags(course_path / "flags.csv", report.flags)
    return report


def _write_flags(path: Path, flags: list[dict]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, FLAG_COLUMNS)
        writer.writeheader()
        writer.writerows(flags)


def format_summary(report: GradeReport) -> str:
    """One line per submission: student, notebook, points, max, status."""
    rows = sorted(report.summary, key=lambda r: (r["student"], r["notebook"]))
    return format_table(rows, SUMMARY_COLUMNS, formats={"points": "g", "max": "g"})


def format_flags(report: GradeReport) -> str:
    """The findings, grouped by submission, for the instructor to read."""
    if not report.flags:
        return "No student cell reaches for the grader's machinery."
    lines = ["Student cells to read (they reach for the grader's machinery):"]
    for flag in sorted(
        report.flags, key=lambda f: (f["student"], f["notebook"], f["cell"], f["line"])
    ):
        lines.append(
            f"  {flag['student']}/{flag['notebook']}: cell {flag['cell']}, line {flag['line']}: "
            f"{flag['finding']}"
        )
    return "\n".join(lines)
