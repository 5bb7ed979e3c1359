"""The release: nbgrader's student notebooks, no solution line left, the chapter's figures kept."""

import json
from pathlib import Path

import pytest
from coursework_fixtures import build

from swin_tutorial.coursework.__main__ import main
from swin_tutorial.coursework.course import (
    GradeCell,
    find_chapters,
    grade_cells,
    prepare_source,
    strip_solution_blocks,
)

FIXTURES = Path(__file__).resolve().parent / "coursework_fixtures"
CHAPTER = FIXTURES / "90_fixture.ipynb"
REGIONS = {
    "### BEGIN SOLUTION": "### END SOLUTION",
    "### BEGIN HIDDEN TESTS": "### END HIDDEN TESTS",
}


def load(path):
    return json.loads(Path(path).read_text(encoding="utf-8"))


def text(cell):
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def nbgrader(cell):
    return cell.get("metadata", {}).get("nbgrader", {})


def secret_lines(notebook):
    """Every line of every solution region, hidden test, {solution} body and written answer."""
    secrets = []
    for cell in notebook["cells"]:
        lines, end = text(cell).splitlines(), None
        if cell["cell_type"] == "markdown" and nbgrader(cell).get("solution"):
            secrets += lines
            continue
        for line in lines:
            marker = line.strip()
            if end is None and (marker in REGIONS or marker.startswith("```{solution}")):
                end = REGIONS.get(marker, "```")
            elif end is not None and marker == end:
                end = None
            elif end is not None:
                secrets.append(line)
    return [line.strip() for line in secrets if len(line.strip()) >= 8 and line[0] != ":"]


def test_the_fixture_has_secrets_to_look_for():
    secrets = secret_lines(load(CHAPTER))
    assert "return blocks.reshape(-1, m, m, c)" in secrets
    assert 'fresh_checkers().check_value("ex-fixture-3 (a)", n_windows, 64).require()' in secrets
    assert any(line.startswith("Split both spatial axes") for line in secrets)
    assert any(line.startswith("After the cyclic shift") for line in secrets)


@pytest.mark.parametrize(
    "markdown, expected",
    [
        (
            "Intro.\n\n```{solution} ex-1\n:class: dropdown\n\nThe answer.\n```\n\nAfter.",
            "Intro.\n\nAfter.",
        ),
        ("A\n::::{solution} ex-1\n```python\nx = 1\n```\n::::\nB", "A\nB"),
        ("````{solution} ex-1\n```\ncode\n```\nstill secret\n````\nkept", "kept"),
        ("No solution here.", "No solution here."),
    ],
)
def test_strip_solution_blocks(markdown, expected):
    assert strip_solution_blocks(markdown) == expected


def test_prepare_source_clears_outputs_from_the_first_exercise_and_keeps_written_answers():
    source = load(CHAPTER)
    prepared = prepare_source(source)
    first = next(i for i, c in enumerate(source["cells"]) if nbgrader(c))
    for before, after in zip(source["cells"][:first], prepared["cells"][:first], strict=True):
        assert before.get("outputs") == after.get("outputs")
    assert all(not c.get("outputs") for c in prepared["cells"][first:] if c["cell_type"] == "code")
    assert "{solution}" not in text(prepared["cells"][2])  # the plain markdown cell
    assert "After the cyclic shift" in text(prepared["cells"][-1])  # nbgrader replaces this one
    assert source == load(CHAPTER)  # the chapter itself is not touched


def test_grade_cells_are_read_in_order_with_points():
    assert grade_cells(load(CHAPTER)) == [
        GradeCell("ex-fixture-1-test", 2.0, False),
        GradeCell("ex-fixture-2-test", 2.0, False),
        GradeCell("ex-fixture-3-test", 1.0, False),
        GradeCell("ex-fixture-3-answer", 1.0, True),
    ]


def test_points_in_the_exercise_text_match_the_grade_cells():
    notebook = load(CHAPTER)
    for cell in notebook["cells"]:
        body = text(cell)
        if body.lstrip("# \n").startswith("Exercises") or "```{exercise}" in body:
            label = body.split(":label: ")[1].split()[0]
            stated = int(body.split("**(")[1].split(" point")[0])
            points = sum(
                c.points for c in grade_cells(notebook) if c.grade_id.startswith(label + "-")
            )
            assert stated == points, label


def test_find_chapters_refuses_unknown_chapters_and_missing_folders(tmp_path):
    assert find_chapters(FIXTURES) == [CHAPTER]
    assert find_chapters(FIXTURES, ["90"]) == [CHAPTER]
    with pytest.raises(ValueError, match="no chapter '04'"):
        find_chapters(FIXTURES, ["04"])
    with pytest.raises(ValueError, match="notebooks_dir must be a folder"):
        find_chapters(tmp_path / "missing")
    with pytest.raises(TypeError, match="chapters must be a list"):
        find_chapters(FIXTURES, "90")
    with pytest.raises(TypeError, match="notebook must be"):
        prepare_source([])


@pytest.mark.parametrize(
    "argv, message",
    [
        (["release", "OUT", "--notebooks", str(FIXTURES), "--chapters", "04"], "no chapter '04'"),
        (["release", "OUT", "--notebooks", "/nonexistent/notebooks"], "must be a folder"),
    ],
)
def test_release_command_exits_2_on_the_instructors_mistakes(argv, message, tmp_path, capsys):
    argv = [str(tmp_path / "out") if a == "OUT" else a for a in argv]
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


@pytest.fixture(scope="module")
def released(request, tmp_path_factory):
    """The fixture chapter released once per session (shared with test_grading.py)."""
    paths = build.once(request, tmp_path_factory, "released", build.make_release)
    return Path(paths["course"]).parent, [Path(paths["release"])]


@pytest.mark.slow
def test_release_has_the_same_names_and_no_solution_line(released):
    out, paths = released
    assert [p.name for p in paths] == [CHAPTER.name]
    assert sorted(p.name for p in (out / "student").iterdir()) == [CHAPTER.name]
    raw = paths[0].read_text(encoding="utf-8")
    leaks = [line for line in secret_lines(load(CHAPTER)) if line in raw]
    assert leaks == []
    assert "YOUR CODE HERE" in raw and "YOUR ANSWER HERE" in raw


@pytest.mark.slow
def test_release_keeps_the_chapters_outputs_and_clears_the_exercises(released):
    _, paths = released
    source, student = load(CHAPTER), load(paths[0])
    first = next(i for i, c in enumerate(student["cells"]) if nbgrader(c))
    assert student["cells"][1]["outputs"] == source["cells"][1]["outputs"] != []
    assert all(not c["outputs"] for c in student["cells"][first:] if c["cell_type"] == "code")
    assert [nbgrader(c).get("grade_id") for c in student["cells"]] == [
        nbgrader(c).get("grade_id") for c in source["cells"]
    ]


@pytest.mark.slow
def test_release_keeps_the_course_for_grading(released):
    out, _ = released
    course = out / "course"
    assert (course / "gradebook.db").is_file()
    kept = load(course / "source" / "90_fixture" / "90_fixture.ipynb")
    assert "### BEGIN SOLUTION" in json.dumps(kept)  # the instructor's copy keeps them


def test_prepare_source_shows_the_stubs_the_book_folds():
    source = load(CHAPTER)
    for cell in source["cells"]:
        if nbgrader(cell):
            cell.setdefault("metadata", {})["tags"] = ["hide-input", "full-width"]
    prepared = prepare_source(source)
    tags = [c["metadata"].get("tags") for c in prepared["cells"] if nbgrader(c)]
    assert tags and all(t == ["full-width"] for t in tags)
