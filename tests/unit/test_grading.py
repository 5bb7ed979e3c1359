"""The grading command scores a correct, a wrong and a crashing submission, and goes on."""

import subprocess
import sys

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from swin_tutorial.coursework.grading import NotebookGrade, format_grades, grade_folder

IMPORTS = "from swin_tutorial import coursework as ex"
CORRECT = """
def my_partition(x, m):
    B, H, W, C = x.shape
    x = x.reshape(B, H // m, m, W // m, m, C).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, m, m, C)
"""
WRONG = """
def my_partition(x, m):
    return x.reshape(-1, m, m, x.shape[-1])
"""
CRASHING = """
def my_partition(x, m):
    return x.reshape(-1, m, m, x.shape[-1])
raise RuntimeError("the student's notebook crashes here")
"""
CHECK = "ex.check_window_partition(my_partition, seed=0)"

# Each test starts subprocesses (kernels, capped interpreters): `make test` runs them,
# `make check` leaves them out.
pytestmark = pytest.mark.slow


def _write(folder, name, *sources):
    notebook = new_notebook(cells=[new_code_cell(source) for source in sources])
    nbformat.write(notebook, folder / name)


@pytest.fixture(scope="module")
def submissions(tmp_path_factory):
    folder = tmp_path_factory.mktemp("submissions")
    _write(folder, "a_correct.ipynb", IMPORTS, CORRECT, CHECK)
    _write(folder, "b_wrong.ipynb", IMPORTS, WRONG, CHECK)
    # The crash happens in the cell that should define the function, so the
    # check cell meets a NameError: the checker never runs.
    _write(folder, "c_crashing.ipynb", IMPORTS, "1 / 0\n" + CORRECT, CHECK)
    _write(folder, "d_no_checks.ipynb", IMPORTS, CORRECT)
    (folder / "e_broken.ipynb").write_text("{ this is not json")
    return folder


@pytest.fixture(scope="module")
def grades(submissions):
    return {g.notebook: g for g in grade_folder(submissions, timeout=120, progress=False)}


def test_correct_submission_gets_full_marks(grades):
    assert grades["a_correct.ipynb"] == NotebookGrade("a_correct.ipynb", 1, 1, 1.0, "ok")


def test_wrong_submission_fails_its_check(grades):
    grade = grades["b_wrong.ipynb"]
    assert (grade.checks_run, grade.checks_passed, grade.status) == (1, 0, "ok")
    assert grade.score < 1.0


def test_crashing_submission_is_reported_and_scores_zero(grades):
    grade = grades["c_crashing.ipynb"]
    assert (grade.checks_run, grade.score) == (0, 0.0)
    assert grade.status == "2 cell(s) raised an error"


def test_notebook_without_checks_and_unreadable_file_are_reported(grades):
    assert grades["d_no_checks.ipynb"].status == "no checker was called"
    assert grades["e_broken.ipynb"].status.startswith("could not be read")
    assert grades["e_broken.ipynb"].score == 0.0


def test_table_has_a_row_per_notebook(grades):
    table = format_grades(sorted(grades.values(), key=lambda g: g.notebook))
    lines = table.splitlines()
    assert lines[0].split() == ["notebook", "checks", "passed", "score", "status"]
    assert [line.split()[0] for line in lines[2:]] == sorted(grades)
    assert lines[2].split()[1:] == ["1/1", "1.00", "ok"]


def test_command_line_prints_the_table(tmp_path):
    _write(tmp_path, "only.ipynb", IMPORTS, CORRECT, CHECK)
    result = subprocess.run(
        [sys.executable, "-m", "swin_tutorial.coursework", "grade", str(tmp_path), "--no-progress"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "only.ipynb" in result.stdout and "1/1" in result.stdout


@pytest.mark.parametrize(
    "folder, timeout, message",
    [("/nonexistent/folder", 10, "folder must be a directory"), (".", 0, "timeout must be")],
)
def test_bad_arguments(folder, timeout, message):
    with pytest.raises(ValueError, match=message):
        grade_folder(folder, timeout)


def test_command_line_rejects_a_missing_folder():
    result = subprocess.run(
        [sys.executable, "-m", "swin_tutorial.coursework", "grade", "/nonexistent/folder"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "folder must be a directory" in result.stderr


def test_format_grades_is_one_aligned_row_per_grade():
    grades = [
        NotebookGrade("short.ipynb", 2, 1, 0.625, "ok"),
        NotebookGrade("a_much_longer_name.ipynb", 0, 0, 0.0, "could not be read: ValueError"),
    ]
    lines = format_grades(grades).splitlines()
    assert lines[0].split() == ["notebook", "checks", "passed", "score", "status"]
    assert set(lines[1]) == {"-", " "}
    assert lines[2].split() == ["short.ipynb", "1/2", "0.62", "ok"]
    assert lines[3].split()[:3] == ["a_much_longer_name.ipynb", "0/0", "0.00"]
    assert lines[3].endswith("could not be read: ValueError")
    assert lines[2].index("1/2") == lines[3].index("0/0") == lines[0].index("checks")
