"""Build students' submissions from a released chapter, for the grader's end-to-end tests.

Works on any chapter in the coursework conventions: :func:`solved` fills every
solution cell of the release with the instructor's solution from the source
(the ``### BEGIN/END SOLUTION`` lines dropped), and the other helpers change
one cell, found by its grade id, or add a student cell next to one.
"""

from __future__ import annotations

import copy
import fcntl
import json
import shutil
from pathlib import Path

from swin_tutorial.coursework.course import release

FIXTURES = Path(__file__).resolve().parent
CHAPTER = FIXTURES / "90_fixture.ipynb"

SOLUTION_MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")


def read(path: Path) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def write(notebook: dict, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(notebook, indent=1), encoding="utf-8")
    return path


def grade_id(cell: dict) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def source(cell: dict) -> str:
    text = cell.get("source", "")
    return "".join(text) if isinstance(text, list) else text


def index_of(notebook: dict, wanted: str) -> int:
    for index, cell in enumerate(notebook["cells"]):
        if grade_id(cell) == wanted:
            return index
    raise KeyError(f"no cell with grade id {wanted!r}")


def code_cell(text: str) -> dict:
    return {
        "cell_type": "code",
        "metadata": {},
        "source": text,
        "outputs": [],
        "execution_count": None,
    }


def solved(release: dict, source_notebook: dict, answer: str = "A written answer.") -> dict:
    """The release with every solution cell as in the source (markers dropped)."""
    result = copy.deepcopy(release)
    reference = {grade_id(c): c for c in source_notebook["cells"] if grade_id(c)}
    for cell in result["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if not meta.get("solution"):
            continue
        if cell["cell_type"] == "markdown":
            cell["source"] = answer
            continue
        lines = source(reference[meta["grade_id"]]).splitlines()
        cell["source"] = "\n".join(line for line in lines if line.strip() not in SOLUTION_MARKERS)
    return result


def with_cell(notebook: dict, wanted: str, text: str) -> dict:
    """``notebook`` with the cell of grade id ``wanted`` holding ``text``."""
    result = copy.deepcopy(notebook)
    result["cells"][index_of(result, wanted)]["source"] = text
    return result


def without_cell(notebook: dict, wanted: str) -> dict:
    result = copy.deepcopy(notebook)
    del result["cells"][index_of(result, wanted)]
    return result


def with_student_cell(notebook: dict, before: str, text: str) -> dict:
    """``notebook`` with a new code cell ``text`` just before the cell of grade id ``before``."""
    result = copy.deepcopy(notebook)
    result["cells"].insert(index_of(result, before), code_cell(text))
    return result


def once(request, tmp_path_factory, name: str, make) -> dict:
    """``make(folder)``'s JSON result, computed by the first of pytest-xdist's workers to ask.

    The grading runs are the slow part of the suite: with ``-n 2`` both workers
    would otherwise run each of them. The folder and the result are shared
    through the session's temporary root, under a file lock.
    """
    base = tmp_path_factory.getbasetemp()
    if getattr(request.config, "workerinput", None) is not None:
        base = base.parent  # the workers' common root for this session
    folder, result = base / name, base / f"{name}.json"
    with open(base / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not result.exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            result.write_text(json.dumps(make(folder)), encoding="utf-8")
    return json.loads(result.read_text(encoding="utf-8"))


def make_release(folder: Path) -> dict:
    """The fixture chapter released into ``folder``, keeping its course; the paths."""
    (path,) = release(folder / "student", notebooks_dir=FIXTURES, course_dir=folder / "course")
    source = folder / "course" / "source" / CHAPTER.stem / f"{CHAPTER.stem}.ipynb"
    return {"course": str(folder / "course"), "release": str(path), "source": str(source)}
