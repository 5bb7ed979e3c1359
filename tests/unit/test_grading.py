"""End to end: a folder of submissions graded by nbgrader, each with its expected points.

The submissions are built from the release of a small chapter in the book's
coursework conventions (coursework_fixtures/90_fixture.ipynb: two code
exercises, a number checked by a hidden test and a written answer); switching
CHAPTER and the answers below to a real chapter (notebooks/04_windows.ipynb)
reuses everything else. The ``none`` run grades every kind of submission;
the ``bwrap`` run (where bubblewrap works) grades a correct one beside one
that tries to get out of its sandbox. The expensive runs are shared by the
pytest-xdist workers (``build.once``).

The cases: correct; wrong (wrong answers, a test cell edited to ``pass``, the
written answer left blank); a kernel that dies before the second exercise; a
deleted test cell; the package's own function as the answer; a patched
checker; a cell that loops forever; a hostile cell (overwrites another
student's file, leaves a daemon, shadows the package); a file that is not
JSON; a folder named like the notebook.
"""

import csv
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from coursework_fixtures import build

from swin_tutorial.coursework.__main__ import main
from swin_tutorial.coursework.course import NOTEBOOKS_DIR, find_chapters, grade_cells, release
from swin_tutorial.coursework.feedback import generate_feedback, strip_hidden_tests
from swin_tutorial.coursework.grading import (
    GradeReport,
    chapter_stems,
    format_flags,
    format_summary,
    grade,
    notebook_problem,
)
from swin_tutorial.coursework.sandbox import bwrap_works

FIXTURES = Path(__file__).resolve().parent / "coursework_fixtures"
CHAPTER = FIXTURES / "90_fixture.ipynb"
STEM = CHAPTER.stem
EXERCISES = ("ex-fixture-1-test", "ex-fixture-2-test", "ex-fixture-3-test", "ex-fixture-3-answer")
CELL_TIMEOUT = 20  # seconds: the looping cell costs this much
SLEEPER = "import time\n\ntime.sleep(600)"

WRONG_PARTITION = (
    "def window_partition(x, window_size):\n"
    "    return x.reshape(-1, window_size, window_size, x.shape[-1])"
)
WRONG_REVERSE = (
    "def window_reverse(windows, window_size, height, width):\n"
    "    return windows.reshape(-1, height, width, windows.shape[-1])"
)
PATCH_CHECKER = (
    "import swin_tutorial.coursework.checkers as c\nc.check_window_partition = lambda *a, **k: None"
)

# Points per exercise ("" = a written answer waiting for a person; a blank one scores 0).
FULL = ("2", "2", "1", "")
EXPECTED = {
    "correct": FULL,
    "wrong": ("0", "0", "0", "0"),
    "crash": ("2", "0", "0", ""),
    "deleted_test": ("0", "2", "1", ""),
    "package_answer": ("0", "2", "1", ""),
    "patched_checker": ("0", "2", "1", ""),
    "loops_forever": FULL,
    "hostile": FULL,
    "not_json": ("0", "0", "0", "0"),
    "folder_not_file": ("0", "0", "0", "0"),
}

needs_bwrap = pytest.mark.skipif(
    shutil.which("bwrap") is None or not bwrap_works(shutil.which("bwrap")),
    reason="bubblewrap is missing or cannot start a sandbox here (apt-get install bubblewrap)",
)


def hostile_cell(victim: Path, pidfile: Path) -> str:
    """Overwrite another student's submission, leave a daemon, shadow the package."""
    return (
        "import os, pathlib, subprocess, sys\n"
        f"pathlib.Path({str(victim)!r}).write_text('{{ overwritten')\n"
        "daemon = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'],"
        " start_new_session=True)\n"
        f"pathlib.Path({str(pidfile)!r}).write_text(str(daemon.pid))\n"
        "os.makedirs('swin_tutorial', exist_ok=True)\n"
        "pathlib.Path('swin_tutorial/__init__.py').write_text('raise ImportError')\n"
    )


def probe_cell(victim: Path, outside: Path, port: int, submissions: Path) -> str:
    """Try to get out of the sandbox; print what happened (a student cell: errors do not count)."""
    return (
        "import os, pathlib, socket\n"
        "for name, attempt in [\n"
        f"    ('write outside', lambda: pathlib.Path({str(outside)!r}).write_text('x')),\n"
        f"    ('write victim', lambda: pathlib.Path({str(victim)!r}).write_text('x')),\n"
        f"    ('connect', lambda: socket.create_connection(('127.0.0.1', {port}), timeout=3)),\n"
        "]:\n"
        "    try:\n"
        "        attempt()\n"
        "        print(name, 'ALLOWED')\n"
        "    except OSError as error:\n"
        "        print(name, 'refused:', type(error).__name__)\n"
        f"print('submissions visible:', os.path.exists({str(submissions / 'correct')!r}))\n"
    )


def build_submissions(folder: Path, release_nb: dict, source: dict, extras: dict) -> None:
    solved = build.solved(release_nb, source)
    wrong = build.with_cell(release_nb, "ex-fixture-1-code", WRONG_PARTITION)
    wrong = build.with_cell(wrong, "ex-fixture-2-code", WRONG_REVERSE)
    wrong = build.with_cell(wrong, "ex-fixture-3-code", "n_windows = 49")
    wrong = build.with_cell(wrong, "ex-fixture-1-test", "pass  # an edited test is restored")
    notebooks = {
        "correct": solved,
        "wrong": wrong,
        "crash": build.with_student_cell(solved, "ex-fixture-2-code", "import os\nos._exit(1)"),
        "deleted_test": build.without_cell(solved, "ex-fixture-1-test"),
        "package_answer": build.with_cell(
            solved, "ex-fixture-1-code", "from swin_tutorial import window_partition"
        ),
        "patched_checker": build.with_student_cell(
            build.with_cell(solved, "ex-fixture-1-code", WRONG_PARTITION),
            "ex-fixture-1-test",
            PATCH_CHECKER,
        ),
        "loops_forever": build.with_student_cell(
            solved, "ex-fixture-2-code", "while True:\n    pass"
        ),
        **{
            name: build.with_student_cell(solved, "ex-fixture-1-test", cell)
            for name, cell in extras.items()
        },
    }
    for student, notebook in notebooks.items():
        build.write(notebook, folder / student / f"{STEM}.ipynb")


def read_csv(path: Path) -> dict[str, tuple[str, ...]]:
    with path.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    by_student: dict[str, list[str]] = {}
    for row in rows:
        assert row["notebook"] == STEM
        by_student.setdefault(row["student"], []).append((row["exercise"], row["points"]))
    for student, pairs in by_student.items():
        assert [exercise for exercise, _ in pairs] == list(EXERCISES), student
    return {student: tuple(points for _, points in pairs) for student, pairs in by_student.items()}


@pytest.fixture(scope="module")
def released(request, tmp_path_factory):
    """The fixture chapter released once: (course folder, release notebook, source notebook)."""
    paths = build.once(request, tmp_path_factory, "released", build.make_release)
    return Path(paths["course"]), build.read(paths["release"]), build.read(paths["source"])


@pytest.fixture(scope="module")
def graded(request, released, tmp_path_factory):
    """Every kind of submission, graded with ``--sandbox none`` by the command line."""

    def make(root: Path) -> dict:
        course_src, release_nb, source = released
        course = root / "course"
        shutil.copytree(course_src, course)
        submissions = root / "submissions"
        pidfile = root / "daemon.pid"
        victim = submissions / "correct" / f"{STEM}.ipynb"
        hostile = hostile_cell(victim, pidfile)
        build_submissions(submissions, release_nb, source, {"hostile": hostile})
        (submissions / "not_json").mkdir()
        (submissions / "not_json" / f"{STEM}.ipynb").write_text("{ this is not json")
        (submissions / "folder_not_file" / f"{STEM}.ipynb").mkdir(parents=True)
        command = [sys.executable, "-m", "swin_tutorial.coursework", "grade", str(submissions)]
        command += ["--out", str(root / "grades.csv"), "--course", str(course)]
        command += ["--notebooks", str(FIXTURES), "--cell-timeout", str(CELL_TIMEOUT)]
        command += ["--timeout", "300", "--jobs", "2", "--sandbox", "none", "--no-progress"]
        done = subprocess.run(command, capture_output=True, text=True, timeout=1200)
        return {
            "root": str(root),
            "returncode": done.returncode,
            "stdout": done.stdout,
            "stderr": done.stderr[-5000:],
        }

    result = build.once(request, tmp_path_factory, "graded", make)
    root = Path(result["root"])
    return {
        **result,
        "root": root,
        "course": root / "course",
        "pidfile": root / "daemon.pid",
        "victim": root / "submissions" / "correct" / f"{STEM}.ipynb",
    }


@pytest.mark.slow
def test_the_command_succeeds_and_prints_the_summary(graded):
    assert graded["returncode"] == 0, graded["stderr"]
    assert "sandbox: none" in graded["stdout"]
    for student in EXPECTED:
        assert student in graded["stdout"]


@pytest.mark.slow
@pytest.mark.parametrize("student", sorted(EXPECTED))
def test_each_submission_gets_its_expected_points(graded, student):
    assert read_csv(graded["root"] / "grades.csv")[student] == EXPECTED[student]


@pytest.mark.slow
def test_broken_files_are_reported_not_fatal(graded):
    out = graded["stdout"]
    assert "not a notebook: not JSON" in out
    assert "not a notebook: a folder" in out


@pytest.mark.slow
def test_another_students_files_and_a_daemon_change_nothing(graded):
    assert graded["victim"].read_text().startswith("{ overwritten")  # it did write, with our rights
    assert read_csv(graded["root"] / "grades.csv")["correct"] == FULL  # read before it did
    pid = int(graded["pidfile"].read_text())
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        state = "gone"
    assert state in ("gone", "Z", "X"), f"the daemon {pid} outlived the grading ({state})"


@pytest.mark.slow
def test_gradebook_and_autograded_notebooks_are_in_the_course(graded):
    from nbgrader.api import Gradebook

    course = graded["course"]
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        assert gb.find_submission_notebook(STEM, STEM, "correct").score == 5
        assert gb.find_submission_notebook(STEM, STEM, "wrong").score == 0
        assert gb.find_submission_notebook(STEM, STEM, "correct").needs_manual_grade
    crashed = build.read(course / "autograded" / "crash" / STEM / f"{STEM}.ipynb")
    assert "KernelStopped" in json.dumps(crashed)
    assert not (course / "autograded" / "not_json").exists()


@pytest.mark.slow
def test_the_grader_lists_what_reaches_for_its_machinery(graded):
    with (graded["course"] / "flags.csv").open(encoding="utf-8") as handle:
        flags = list(csv.DictReader(handle))
    flagged = {(f["student"], f["finding"]) for f in flags}
    assert ("patched_checker", "imports swin_tutorial.coursework.checkers") in flagged
    assert ("hostile", "imports subprocess") in flagged
    assert {f["student"] for f in flags} <= {"patched_checker", "hostile", "crash"}
    assert "patched_checker/90_fixture" in graded["stdout"]


@pytest.mark.slow
def test_feedback_writes_a_page_per_graded_submission_without_hidden_tests(graded, tmp_path):
    pages = generate_feedback(graded["course"], tmp_path / "feedback")
    names = {page.parent.name for page in pages}
    assert {"correct", "wrong", "crash", "hostile"} <= names
    assert "not_json" not in names
    html = (tmp_path / "feedback" / "correct" / f"{STEM}.html").read_text(encoding="utf-8")
    assert "5" in html and "n_windows" in html
    assert "64).require()" not in html


@pytest.fixture(scope="module")
def sandboxed(request, released, tmp_path_factory):
    """A correct submission beside one that tries to get out, graded inside bwrap."""

    def make(root: Path) -> dict:
        course_src, release_nb, source = released
        shutil.copytree(course_src, root / "course")
        submissions = root / "submissions"
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.setblocking(False)
        victim = submissions / "correct" / f"{STEM}.ipynb"
        probe = probe_cell(victim, root / "outside.txt", listener.getsockname()[1], submissions)
        solved = build.solved(release_nb, source)
        build.write(solved, victim)
        # and a cell that sleeps past the cell limit: the interrupt reaches the kernel in bwrap
        escaping = build.with_student_cell(solved, "ex-fixture-1-test", probe)
        escaping = build.with_student_cell(escaping, "ex-fixture-2-code", SLEEPER)
        build.write(escaping, submissions / "probe" / f"{STEM}.ipynb")
        report = grade(
            submissions,
            root / "grades.csv",
            root / "course",
            notebooks_dir=FIXTURES,
            cell_timeout=CELL_TIMEOUT,
            timeout=300,
            jobs=2,
            sandbox="bwrap",
            progress=False,
        )
        try:
            listener.accept()
            connected = True
        except BlockingIOError:
            connected = False
        listener.close()
        return {"root": str(root), "sandbox": report.sandbox, "connected": connected}

    result = build.once(request, tmp_path_factory, "sandboxed", make)
    root = Path(result["root"])
    return {
        **result,
        "root": root,
        "course": root / "course",
        "victim": root / "submissions" / "correct" / f"{STEM}.ipynb",
    }


@pytest.mark.slow
@needs_bwrap
def test_in_bwrap_the_submission_cannot_write_outside_or_connect(sandboxed):
    assert sandboxed["sandbox"] == "bwrap"
    grades = read_csv(sandboxed["root"] / "grades.csv")
    assert grades == {"correct": FULL, "probe": FULL}
    assert not (sandboxed["root"] / "outside.txt").exists()
    assert not sandboxed["victim"].read_text().startswith("x")
    assert not sandboxed["connected"]
    autograded = sandboxed["course"] / "autograded" / "probe" / STEM / f"{STEM}.ipynb"
    printed = "".join(
        "".join(output.get("text", ""))
        for cell in build.read(autograded)["cells"]
        for output in cell.get("outputs", [])
    )
    assert "ALLOWED" not in printed
    assert printed.count("refused:") == 3
    assert "submissions visible: False" in printed


@pytest.mark.slow
def test_a_notebook_that_outlives_its_time_scores_zero_and_the_run_goes_on(released, tmp_path):
    """A cell that sleeps within a generous cell limit: the notebook is killed at --timeout."""
    course_src, release_nb, source = released
    shutil.copytree(course_src, tmp_path / "course")
    solved = build.solved(release_nb, source)
    notebook = build.with_student_cell(solved, "ex-fixture-1-test", SLEEPER)
    build.write(notebook, tmp_path / "subs" / "stubborn" / f"{STEM}.ipynb")
    report = grade(
        tmp_path / "subs",
        tmp_path / "grades.csv",
        tmp_path / "course",
        notebooks_dir=FIXTURES,
        cell_timeout=600,
        timeout=20,
        sandbox="none",
        progress=False,
    )
    assert [row["status"] for row in report.summary] == ["timed out after 20 s"]
    assert read_csv(tmp_path / "grades.csv") == {"stubborn": ("0", "0", "0", "0")}


# --- fast: the instructor's mistakes, the small pieces --------------------------


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"submissions_dir": "/nonexistent/submissions"}, "submissions_dir must be a folder"),
        ({"chapters": ["04"]}, "unknown chapter '04'"),
        ({"out": "/nonexistent/folder/grades.csv"}, "out must be a writable file"),
        ({"cell_timeout": 0}, "cell_timeout"),
        ({"sandbox": "docker"}, "sandbox must be one of"),
    ],
)
def test_the_instructors_mistakes_are_value_errors(tmp_path, kwargs, message):
    arguments = {
        "submissions_dir": tmp_path,
        "out": tmp_path / "grades.csv",
        "course_dir": tmp_path / "course",
        "notebooks_dir": FIXTURES,
        "sandbox": "none",
        **kwargs,
    }
    with pytest.raises(ValueError, match=message):
        grade(**arguments)


def test_the_command_exits_2_for_a_missing_folder(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["grade", "/nonexistent/submissions", "--out", "g.csv", "--sandbox", "none"])
    assert exit_info.value.code == 2
    assert "submissions_dir must be a folder" in capsys.readouterr().err


def test_chapter_stems_come_from_the_course_and_the_chapters(tmp_path):
    (tmp_path / "source" / "05_x").mkdir(parents=True)
    (tmp_path / "source" / "05_x" / "05_x.ipynb").write_text("{}")
    assert chapter_stems(tmp_path, FIXTURES, None) == ["05_x", STEM]
    assert chapter_stems(tmp_path, FIXTURES, ["90"]) == [STEM]


@pytest.mark.parametrize(
    "data, problem",
    [
        (b"{ not json", "not a notebook: not JSON"),
        (b"[1, 2]", "not a notebook: no list of cells"),
        (b'{"cells": [], "nbformat": 3}', "not a notebook: nbformat 3"),
        (b'{"cells": [], "nbformat": 4}', None),
    ],
)
def test_notebook_problem(data, problem):
    found = notebook_problem(data)
    assert found == problem or (problem and found.startswith(problem))


def test_summary_and_flags_are_tables_for_the_instructor():
    report = GradeReport("none")
    report.summary = [
        {"student": "b", "notebook": STEM, "points": 5.0, "max": 6.0, "status": "ok"},
        {"student": "a", "notebook": STEM, "points": 0.5, "max": 6.0, "status": "timed out"},
    ]
    lines = format_summary(report).splitlines()
    assert lines[0].split() == ["student", "notebook", "points", "max", "status"]
    assert lines[2].split()[:4] == ["a", STEM, "0.5", "6"] and lines[3].split()[2] == "5"
    assert format_flags(report).startswith("No student cell")
    report.flags = [{"student": "a", "notebook": STEM, "cell": 3, "line": 1, "finding": "uses gc"}]
    assert f"a/{STEM}: cell 3, line 1: uses gc" in format_flags(report)


def test_feedback_copies_leave_hidden_tests_out():
    notebook = {
        "cells": [
            {
                "cell_type": "code",
                "source": "x = 1\n### BEGIN HIDDEN TESTS\ncheck(x, 64)\n### END HIDDEN TESTS",
                "outputs": [
                    {
                        "output_type": "error",
                        "ename": "E",
                        "evalue": "no",
                        "traceback": ["check(x, 64)"],
                    }
                ],
            }
        ]
    }
    stripped = strip_hidden_tests(notebook)
    assert stripped["cells"][0]["source"] == "x = 1"
    assert stripped["cells"][0]["outputs"][0]["traceback"] == ["E: no"]
    assert "64" in notebook["cells"][0]["source"]  # the original is not touched


def test_feedback_needs_a_gradebook(tmp_path):
    with pytest.raises(ValueError, match="gradebook.db"):
        generate_feedback(tmp_path, tmp_path / "out")
    assert os.listdir(tmp_path) == []


# --- a real chapter ----------------------------------------------------------------

#: Chapters graded end to end with the instructor's solutions and as released (blank).
REAL_CHAPTERS = ("04",)


@pytest.mark.slow
@pytest.mark.parametrize("chapter", REAL_CHAPTERS)
def test_a_real_chapter_solved_scores_full_marks_and_blank_scores_zero(chapter, tmp_path):
    (path,) = find_chapters(NOTEBOOKS_DIR, [chapter])
    if not grade_cells(build.read(path)):
        pytest.skip(f"{path.name} has no nbgrader cells yet")
    (student_nb,) = release(tmp_path / "student", [chapter], course_dir=tmp_path / "course")
    source = build.read(tmp_path / "course" / "source" / path.stem / path.name)
    released_nb = build.read(student_nb)
    build.write(build.solved(released_nb, source), tmp_path / "subs" / "solved" / path.name)
    build.write(released_nb, tmp_path / "subs" / "blank" / path.name)
    report = grade(
        tmp_path / "subs",
        tmp_path / "grades.csv",
        tmp_path / "course",
        chapters=[chapter],
        jobs=2,
        progress=False,
    )
    cells = {cell.grade_id: cell for cell in grade_cells(source)}
    for row in report.rows:
        cell = cells[row["exercise"]]
        if row["student"] == "blank":
            assert row["points"] == "0", row
        elif cell.manual:
            assert row["points"] == "", row
        else:
            assert float(row["points"]) == cell.points, row
    assert len(report.rows) == 2 * len(cells)
