"""One submission, autograded by nbgrader in a copy of the course of its own.

:func:`autograde` makes a temporary course (the gradebook snapshot, the
chapter's source, the submitted notebook), writes the kernelspec of
:mod:`~swin_tutorial.coursework.sandbox`, runs nbgrader's ``autograde`` in
:func:`~swin_tutorial.coursework.sandbox.run_isolated` (a session of its own,
its own working folder and ``HOME``, a minimal environment with a unique
marker, a time limit), then reads the scores back from the copy's gradebook
and the autograded notebook into memory and deletes the copy. Nothing in the
instructor's course is written here: the caller records the result.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from .course import RUNNER, GradeCell, nbgrader_metadata
from .sandbox import kernel_spec, run_isolated

KERNEL_NAME = "swin-grader"
MARKER = "SWIN_TUTORIAL_GRADER_RUN"
#: Environment variables a submission's processes inherit from the grader (no others).
PASSED_ON = (
    "PATH",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "ATEN_CPU_CAPABILITY",
    "CUDA_VISIBLE_DEVICES",
)
#: The largest autograded notebook read back (outputs are limited by nbgrader).
MAX_NOTEBOOK_BYTES = 64 * 2**20


@dataclass(frozen=True)
class GradeJob:
    """What :func:`autograde` needs: the submission (bytes) and where the course is."""

    student: str
    stem: str
    notebook: bytes
    course_dir: Path
    gradebook: Path
    sandbox: str
    cell_timeout: int
    timeout: float
    hidden: tuple[str, ...] = ()


@dataclass(frozen=True)
class GradedNotebook:
    """A submission's result: score per grade id (``None``: a person grades it), what happened.

    ``autograded`` is nbgrader's executed notebook (``None`` when it did not
    finish); ``comments`` are nbgrader's automatic comments per grade id.
    """

    student: str
    stem: str
    scores: dict[str, float | None]
    status: str
    autograded: bytes | None = None
    comments: dict[str, str | None] = field(default_factory=dict)
    seconds: float = 0.0


def zero_scores(cells: list[GradeCell]) -> dict[str, float | None]:
    """Every grade cell at 0: a submission that could not be graded."""
    return {cell.grade_id: 0.0 for cell in cells}


def _environment(work: Path, marker: str) -> dict[str, str]:
    env = {name: os.environ[name] for name in PASSED_ON if name in os.environ}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "/usr/bin")])
    home = work / "home"
    env.update(
        HOME=str(home),
        JUPYTER_PATH=str(work / "jupyter"),
        JUPYTER_RUNTIME_DIR=str(work / "run"),
        JUPYTER_CONFIG_DIR=str(home / ".jupyter"),
        JUPYTER_DATA_DIR=str(home / ".local" / "share" / "jupyter"),
        JUPYTER_PLATFORM_DIRS="0",
        PYDEVD_DISABLE_FILE_VALIDATION="1",
        **{MARKER: marker},
    )
    return env


def _lay_out(job: GradeJob, work: Path) -> tuple[Path, Path]:
    """The copy of the course and the kernel's folders; returns (course, autograded folder)."""
    course = work / "course"
    (course / "source").mkdir(parents=True)
    shutil.copyfile(job.gradebook, course / "gradebook.db")
    shutil.copytree(job.course_dir / "source" / job.stem, course / "source" / job.stem)
    submitted = course / "submitted" / job.student / job.stem
    submitted.mkdir(parents=True)
    (submitted / f"{job.stem}.ipynb").write_bytes(job.notebook)
    autograded = course / "autograded" / job.student / job.stem
    kernel_home = work / "kernel" / "home"
    for folder in (work / "run", work / "home", kernel_home / "tmp", work / "kernel" / "cwd"):
        folder.mkdir(parents=True)
    binds = [
        (str(work / "run"), str(work / "run")),
        (str(kernel_home), str(kernel_home)),
        (str(work / "kernel" / "cwd"), str(autograded)),
    ]
    spec = kernel_spec(
        job.sandbox,
        home=str(kernel_home),
        binds=binds,
        hidden=(str(work), *job.hidden),
        workdir=str(autograded),
    )
    spec_dir = work / "jupyter" / "kernels" / KERNEL_NAME
    spec_dir.mkdir(parents=True)
    (spec_dir / "kernel.json").write_text(json.dumps(spec, indent=1), encoding="utf-8")
    return course, autograded


def _runner_result(path: Path) -> dict | None:
    """The runner's JSON result (``None`` if it never wrote one)."""
    try:
        return json.loads(path.read_text(encoding="utf-8").splitlines()[-1])
    except (OSError, ValueError, IndexError):
        return None


def _tail(path: Path, size: int = 65536) -> str:
    """The end of a log (a kernel may have filled it)."""
    try:
        with open(path, "rb") as handle:
            handle.seek(max(0, path.stat().st_size - size))
            return handle.read().decode("utf-8", errors="replace")
    except OSError:
        return ""


def _failure(result: dict | None, log: Path) -> str:
    """A one-line reason why nbgrader's autograde failed."""
    text = result["log"] if result else _tail(log)
    errors = [line for line in text.splitlines() if "ERROR" in line or "Error" in line]
    reason = (errors or text.strip().splitlines() or ["no output"])[-1].strip()
    return f"autograde failed: {reason[:160]}"


def _read_regular_file(path: Path) -> bytes | None:
    """The bytes of a regular file (not a link), at most MAX_NOTEBOOK_BYTES; else ``None``."""
    try:
        if not path.is_file() or path.is_symlink() or path.stat().st_size > MAX_NOTEBOOK_BYTES:
            return None
        return path.read_bytes()
    except OSError:
        return None


def _present_grade_ids(notebook: bytes | None) -> set[str]:
    """The grade ids of the graded cells in an autograded notebook."""
    try:
        cells = json.loads(notebook)["cells"] if notebook else []
    except (ValueError, KeyError, TypeError):
        return set()
    return {
        str(nbgrader_metadata(c).get("grade_id"))
        for c in cells
        if isinstance(c, dict) and nbgrader_metadata(c).get("grade")
    }


def read_scores(
    gradebook: Path, job: GradeJob, cells: list[GradeCell], autograded: bytes | None
) -> tuple[dict[str, float | None], dict[str, str | None]]:
    """Scores and automatic comments from a copy's gradebook, checked against the source.

    A grade cell missing from the autograded notebook (deleted) scores 0; an
    automatic score outside ``[0, points]`` or not finite counts as 0.
    """
    from nbgrader.api import Gradebook

    present = _present_grade_ids(autograded)
    with Gradebook(f"sqlite:///{gradebook}") as gb:
        submitted = gb.find_submission_notebook(job.stem, job.stem, job.student)
        found = {grade.name: grade.auto_score for grade in submitted.grades}
        comments = {comment.name: comment.auto_comment for comment in submitted.comments}
    scores: dict[str, float | None] = {}
    for cell in cells:
        score = found.get(cell.grade_id, 0.0)
        if cell.grade_id not in present:
            score = 0.0
        elif score is not None:
            score = float(score)
            if not math.isfinite(score) or not 0.0 <= score <= cell.points:
                score = 0.0
        elif not cell.manual:
            score = 0.0
        scores[cell.grade_id] = score
    return scores, comments


def autograde(job: GradeJob, cells: list[GradeCell]) -> GradedNotebook:
    """Autograde one submission in a temporary copy of the course; never raises for its content.

    ``cells`` are the grade cells of the chapter's source notebook.
    """
    work = Path(tempfile.mkdtemp(prefix="swin-grade-"))
    marker = uuid.uuid4().hex
    try:
        course, autograded_dir = _lay_out(job, work)
        command = [sys.executable, "-I", str(RUNNER), "autograde", str(course), job.stem]
        command += [job.student, "--cell-timeout", str(job.cell_timeout)]
        command += ["--kernel", KERNEL_NAME, "--ip", str(work / "run" / "kernel")]
        command += ["--result", str(work / "result.json")]
        log = work / "nbgrader.log"
        outcome = run_isolated(
            command, _environment(work, marker), work, job.timeout, log, (MARKER, marker)
        )
        if outcome.timed_out:
            status = f"timed out after {job.timeout:g} s"
            return GradedNotebook(job.student, job.stem, zero_scores(cells), status, None, {})
        result = _runner_result(work / "result.json")
        if outcome.returncode != 0 or not result or not result["success"]:
            status = _failure(result, log)
            return GradedNotebook(job.student, job.stem, zero_scores(cells), status, None, {})
        notebook = _read_regular_file(autograded_dir / f"{job.stem}.ipynb")
        scores, comments = read_scores(course / "gradebook.db", job, cells, notebook)
        return GradedNotebook(
            job.student, job.stem, scores, "graded", notebook, comments, outcome.seconds
        )
    except Exception as error:  # the grader's own trouble with this copy: reported, run goes on
        status = f"grader error: {type(error).__name__}: {error}"[:200]
        return GradedNotebook(job.student, job.stem, zero_scores(cells), status, None, {})
    finally:
        shutil.rmtree(work, ignore_errors=True)
