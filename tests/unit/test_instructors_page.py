"""book/instructors.md states the points and the checkers that the chapters really have.

The numbers come from the chapters' nbgrader metadata: for each chapter, how
many exercises (`{exercise}` directives), how many points the autograded test
cells carry, and how many the written answers (graded by hand) carry. The page's
"Points per chapter" table must say the same, and its "What grades what" table
must name, for each checker, the chapters whose graded test cells call it.

After converting or changing a chapter, print the tables to paste into the page:

    .venv/bin/python tests/unit/test_instructors_page.py
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "book" / "instructors.md"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
EXERCISE = re.compile(r"^(`{3,}|:{3,})\{exercise\}", re.M)
CHAPTER_LABEL = re.compile(r"^\((chapter-[\w-]+)\)=", re.M)
CHECKER_CALL = re.compile(r"\.\s*(check_\w+)\s*\(")
POINTS_HEADER = "| chapter | exercises | autograded points | points graded by hand | total |"
CHECKERS_HEADER = "| checker | chapters | the student writes |"


@dataclass(frozen=True)
class ChapterPoints:
    """One chapter's exercises and points, read from its nbgrader metadata."""

    number: int
    label: str
    exercises: int
    autograded: int
    by_hand: int

    @property
    def total(self) -> int:
        return self.autograded + self.by_hand


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def _grade_cells(notebook: dict) -> list[tuple[dict, dict]]:
    """(cell, nbgrader metadata) of every graded cell."""
    cells = []
    for cell in notebook["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade"):
            cells.append((cell, meta))
    return cells


def _is_autograded(cell: dict, meta: dict) -> bool:
    # A written answer (a solution cell, or markdown) is graded by a person.
    return cell["cell_type"] == "code" and not meta.get("solution")


def chapter_points(path: Path) -> ChapterPoints:
    """The exercises and points of one chapter notebook."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    markdown = "\n".join(_source(c) for c in notebook["cells"] if c["cell_type"] == "markdown")
    label = CHAPTER_LABEL.search(markdown)
    autograded = by_hand = 0
    for cell, meta in _grade_cells(notebook):
        if _is_autograded(cell, meta):
            autograded += int(meta.get("points", 0))
        else:
            by_hand += int(meta.get("points", 0))
    return ChapterPoints(
        number=int(path.name[:2]),
        label=label.group(1) if label else path.stem,
        exercises=len(EXERCISE.findall(markdown)),
        autograded=autograded,
        by_hand=by_hand,
    )


def checker_chapters() -> dict[str, list[int]]:
    """For every checker, the chapters whose autograded test cells call it (hidden tests too)."""
    chapters: dict[str, set[int]] = {}
    for path in NOTEBOOKS:
        notebook = json.loads(path.read_text(encoding="utf-8"))
        for cell, meta in _grade_cells(notebook):
            if _is_autograded(cell, meta):
                for name in CHECKER_CALL.findall(_source(cell)):
                    chapters.setdefault(name, set()).add(int(path.name[:2]))
    return {name: sorted(numbers) for name, numbers in sorted(chapters.items())}


def points_table() -> str:
    """The "Points per chapter" table, as the page must hold it."""
    rows = [POINTS_HEADER, "| --- | ---: | ---: | ---: | ---: |"]
    every = [chapter_points(path) for path in NOTEBOOKS]
    for c in every:
        rows.append(
            f"| {c.number}. {{ref}}`{c.label}` | {c.exercises} | {c.autograded} "
            f"| {c.by_hand} | {c.total} |"
        )
    sums = [sum(getattr(c, key) for c in every) for key in ("exercises", "autograded", "by_hand")]
    rows.append(f"| all chapters | {sums[0]} | {sums[1]} | {sums[2]} | {sum(sums[1:])} |")
    return "\n".join(rows)


def _table_after(page: str, header: str) -> list[list[str]]:
    """The rows (cells stripped) of the markdown table that starts with `header`."""
    lines = page.splitlines()
    assert header in lines, f"book/instructors.md has no table with the header {header!r}"
    start = lines.index(header) + 2  # the header, then its alignment row
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows


def test_every_chapter_is_a_notebook_with_a_label():
    assert len(NOTEBOOKS) >= 12
    for path in NOTEBOOKS:
        assert chapter_points(path).label.startswith("chapter-"), path.name


def test_points_table_states_the_chapters_points():
    expected = points_table()
    page = PAGE.read_text(encoding="utf-8")
    stated = _table_after(page, POINTS_HEADER)
    wanted = _table_after(expected, POINTS_HEADER)
    assert stated == wanted, (
        "the points per chapter in book/instructors.md differ from the chapters' nbgrader "
        f"metadata; the table should read:\n\n{expected}\n"
    )


def test_exercise_cells_state_their_points():
    """The first line of each `{exercise}`'s body says "**(N points)**"; the page sums them."""
    for path in NOTEBOOKS:
        points = chapter_points(path)
        if not points.total:
            continue
        notebook = json.loads(path.read_text(encoding="utf-8"))
        stated = 0
        for cell in notebook["cells"]:
            source = _source(cell)
            if cell["cell_type"] == "markdown" and EXERCISE.search(source):
                found = re.search(r"\*\*\((\d+) points?\)\*\*", source)
                assert found, f"{path.name}: an exercise without '**(N points)**'"
                stated += int(found.group(1))
        assert stated == points.total, f"{path.name}: exercises say {stated} points"


def checkers_of_page(page: str) -> dict[str, list[int]]:
    """The page's "What grades what" table: checker -> chapters."""
    stated: dict[str, list[int]] = {}
    for row in _table_after(page, CHECKERS_HEADER):
        numbers = sorted(int(n) for n in re.findall(r"\d+", row[1]))
        for name in re.findall(r"`(check_\w+)`", row[0]):
            stated[name] = numbers
    return stated


def test_what_grades_what_names_the_checkers_the_chapters_call():
    stated = checkers_of_page(PAGE.read_text(encoding="utf-8"))
    called = checker_chapters()
    rows = "\n".join(f"`{name}`: {', '.join(map(str, n))}" for name, n in called.items())
    assert stated == called, (
        "the checkers in book/instructors.md's 'What grades what' differ from those the "
        f"chapters' autograded cells call; they are:\n{rows}\n"
    )


def test_the_tables_are_read_as_written():
    page = (
        f"text\n\n{CHECKERS_HEADER}\n| --- | --- | --- |\n"
        "| `check_window_partition`, `check_window_reverse` | 4 | the partition |\n"
        "| `check_value` | 2, 4, 10 | numbers |\n\nmore text\n| not | this |\n"
    )
    assert checkers_of_page(page) == {
        "check_window_partition": [4],
        "check_window_reverse": [4],
        "check_value": [2, 4, 10],
    }
    assert _table_after(points_table(), POINTS_HEADER)[-1][0] == "all chapters"


if __name__ == "__main__":
    print(points_table())
    print()
    for name, numbers in checker_chapters().items():
        print(f"| `{name}` | {', '.join(map(str, numbers))} | |")
