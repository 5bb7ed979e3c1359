"""No line of any solution reaches the students: not the release, not the student edition.

The secrets are every non-trivial line (at least 12 characters, one of them a
letter or a digit) of every solution in the chapters: the code between
`### BEGIN SOLUTION` and `### END SOLUTION`, the code between
`### BEGIN HIDDEN TESTS` and `### END HIDDEN TESTS`, the whole of a solution
cell without such a region (code or markdown), and the body of every
`{solution}` block (the fence and the directive's options are markup, not
solution text).

None may appear in the release that `make student` builds from (every string
of every released notebook: sources, outputs, metadata) nor in any file of the
student edition (each page's raw HTML, its text with tags stripped and
entities unescaped, and that text reduced to its words, which is how a
markdown line of a `{solution}` reads once rendered). A line that the page's
own source shows outside its solutions is excused there: a generic line
(`torch.manual_seed(0)`, a variable name that the exercise asks for) may be in
a solution and in the chapter's text, and the release cannot remove what the
chapter shows (that no solution repeats the chapter's code is the authors'
rule, checked when a chapter is converted).

The first tests check the line extraction and the search on a small made-up
notebook, so that the test fails for the right reason; the last ones read the
student edition that tests/book/conftest.py builds once per session.
"""

from __future__ import annotations

import html as html_lib
import importlib.util
import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))

MIN_CHARS = 12
# A line reduced to words is only searched for when it keeps this many words:
# "return x" would be found everywhere.
MIN_WORDS = 4
REGIONS = (
    ("### BEGIN SOLUTION", "### END SOLUTION"),
    ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"),
)
# The opening line of a {solution} directive, with backticks or colons (colon_fence).
SOLUTION_FENCE = re.compile(r"^(?P<fence>`{3,}|:{3,})\{solution\}")
DIRECTIVE_OPTION = re.compile(r"^:[\w-]+:")
# What the student edition is made of, read as text.
TEXT_SUFFIXES = {".html", ".js", ".txt", ".json", ".ipynb", ".md", ".py", ".inv"}
# What nbgrader puts in place of a solution.
CODE_STUB = "YOUR CODE HERE"
ANSWER_STUB = "YOUR ANSWER HERE"

needs_jupyter_book = pytest.mark.skipif(
    importlib.util.find_spec("jupyter_book") is None,
    reason="jupyter-book is not installed in this environment (pip install -r requirements.txt)",
)


# --- what is secret ------------------------------------------------------------


def is_nontrivial(line: str) -> bool:
    """At least MIN_CHARS characters once stripped, one of them a letter or a digit."""
    text = line.strip()
    return len(text) >= MIN_CHARS and any(char.isalnum() for char in text)


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def _nbgrader(cell: dict) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def _has_region(lines: list[str]) -> bool:
    return any(line.strip() == begin for line in lines for begin, _ in REGIONS)


def _split_regions(lines: list[str]) -> tuple[list[str], list[str]]:
    """(inside, outside): the lines inside the solution / hidden-test regions, and the others."""
    inside: list[str] = []
    outside: list[str] = []
    end = None
    for line in lines:
        marker = line.strip()
        if end is None and any(marker == begin for begin, _ in REGIONS):
            end = dict(REGIONS)[marker]
        elif end is not None and marker == end:
            end = None
        elif end is not None:
            inside.append(line)
        else:
            outside.append(line)
    return inside, outside


def _split_solution_blocks(lines: list[str]) -> tuple[list[str], list[str]]:
    """(bodies, outside): the bodies of the {solution} blocks (options left out), the rest."""
    bodies: list[str] = []
    outside: list[str] = []
    fence = None
    in_options = False
    for line in lines:
        text = line.strip()
        opening = SOLUTION_FENCE.match(text)
        if fence is None and opening:
            fence, in_options = opening["fence"], True
        elif fence is not None and text and set(text) == {fence[0]} and len(text) >= len(fence):
            fence = None
        elif fence is not None:
            if in_options and DIRECTIVE_OPTION.match(text):
                continue
            in_options = False
            bodies.append(line)
        else:
            outside.append(line)
    return bodies, outside


def split_cell(cell: dict) -> tuple[list[str], list[str]]:
    """(secret, public) lines of one cell, as nbgrader's release treats it.

    A solution cell with a region keeps what is outside its regions; one without
    loses everything; hidden tests are removed from any cell; a markdown cell
    also loses the bodies of its {solution} blocks (the release removes them).
    """
    lines = _source(cell).splitlines()
    markdown = cell.get("cell_type") == "markdown"
    if _nbgrader(cell).get("solution") and not _has_region(lines):
        if markdown:  # the model answer, without the {solution} fence and options
            bodies, rest = _split_solution_blocks(lines)
            return rest + bodies, []
        return lines, []
    secret, public = _split_regions(lines)
    if markdown:
        bodies, public = _split_solution_blocks(public)
        secret += bodies
    return secret, public


def solution_lines(notebook: dict) -> list[str]:
    """Every non-trivial line of every solution in a notebook, stripped, in order."""
    lines = (line for cell in notebook["cells"] for line in split_cell(cell)[0])
    return [line.strip() for line in lines if is_nontrivial(line)]


def public_text(notebook: dict) -> str:
    """The notebook's sources with every solution left out: what a student may see."""
    return "\n".join(line for cell in notebook["cells"] for line in split_cell(cell)[1])


# --- where to look -------------------------------------------------------------


# Outputs that are pictures in base64: no line of code or prose can hide in them.
BINARY_OUTPUTS = {"image/png", "image/jpeg", "image/gif"}


def notebook_strings(value) -> Iterator[str]:
    """Every string of a notebook's JSON (a list of strings, as nbformat splits text, joined).

    Base64 pictures are left out (BINARY_OUTPUTS); SVG is text and is read.
    """
    if isinstance(value, str):
        yield value
    elif isinstance(value, list) and value and all(isinstance(item, str) for item in value):
        yield "".join(value)
    elif isinstance(value, list):
        for item in value:
            yield from notebook_strings(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            if key not in BINARY_OUTPUTS:
                yield from notebook_strings(item)


def notebook_text(notebook: dict) -> str:
    """All the strings of a notebook, one after the other (a line never spans two)."""
    return "\n".join(notebook_strings(notebook))


def page_text(html: str) -> str:
    """A page's text: tags stripped (scripts and styles with their content), entities unescaped."""
    html = re.sub(r"<(script|style)\b.*?</\1\s*>", " ", html, flags=re.S | re.I)
    return html_lib.unescape(re.sub(r"<[^>]*>", "", html))


def words(text: str) -> str:
    """The text reduced to its words, one space apart and around: markup and math signs gone."""
    return " " + " ".join(re.findall(r"\w+", text)) + " "


def find_leaks(secrets: Iterable[str], texts: Iterable[str]) -> list[str]:
    """The secrets found in the texts: verbatim, or word for word (at least MIN_WORDS words)."""
    texts = list(texts)
    worded = [words(text) for text in texts]
    leaks = []
    for secret in secrets:
        as_words = words(secret)
        if any(secret in text for text in texts) or (
            len(as_words.split()) >= MIN_WORDS and any(as_words in text for text in worded)
        ):
            leaks.append(secret)
    return leaks


def leaks_beyond_source(secrets: Iterable[str], texts: Iterable[str], shown: str) -> list[str]:
    """The secrets found in the texts, but for those that their source shows anyway.

    The source is read as written and as rendered, without the backticks and
    asterisks of inline markup (`` `name`, `` renders as "name,").
    """
    secrets = list(secrets)
    excused = set(find_leaks(secrets, [shown, re.sub(r"[`*]", "", shown)]))
    return [line for line in find_leaks(secrets, texts) if line not in excused]


def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


# --- the extraction and the search, on made-up notebooks -----------------------


def _cell(cell_type: str, source: str, **nbgrader) -> dict:
    cell = {"cell_type": cell_type, "metadata": {}, "source": source.splitlines(keepends=True)}
    if nbgrader:
        cell["metadata"]["nbgrader"] = {"schema_version": 3, "task": False, **nbgrader}
    if cell_type == "code":
        cell |= {"outputs": [], "execution_count": None}
    return cell


MADE_UP = {
    "cells": [
        _cell(
            "markdown",
            "```{exercise}\n:label: ex-made-up-1\n\n**(3 points)** Write the partition.\n```\n\n"
            "```{solution} ex-made-up-1\n:class: dropdown\n\n"
            "Reshape to $(B, H/M, M, W/M, M, C)$, then **permute** the axes.\n```\n",
        ),
        _cell(
            "code",
            "def partition(x, window_size):\n    ### BEGIN SOLUTION\n"
            "    blocks = x.reshape(-1, window_size)\n    return blocks\n"
            "    ### END SOLUTION\n",
            solution=True,
            grade=False,
            locked=False,
            grade_id="ex-made-up-1-code",
        ),
        _cell(
            "code",
            "from swin_tutorial.coursework import fresh_checkers\n\n"
            "fresh_checkers().check_window_partition(partition).require()\n"
            "### BEGIN HIDDEN TESTS\n"
            'fresh_checkers().check_value("ex (a)", n_windows, 64).require()\n'
            "### END HIDDEN TESTS\n",
            solution=False,
            grade=True,
            locked=True,
            points=3,
            grade_id="ex-made-up-1-test",
        ),
        _cell(
            "code",
            "n_windows = (56 // 7) ** 2\nshort = 1\n",
            solution=True,
            grade=False,
            locked=False,
            grade_id="ex-made-up-2-code",
        ),
        _cell(
            "markdown",
            "```{solution} ex-made-up-3\n:class: dropdown\n\n"
            "The mask must follow the padded map of twelve rows.\n```\n",
            solution=True,
            grade=True,
            locked=False,
            points=2,
            grade_id="ex-made-up-3-answer",
        ),
    ],
    "metadata": {},
    "nbformat": 4,
    "nbformat_minor": 5,
}


def test_solution_lines_are_the_solutions_and_nothing_else():
    assert solution_lines(MADE_UP) == [
        "Reshape to $(B, H/M, M, W/M, M, C)$, then **permute** the axes.",
        "blocks = x.reshape(-1, window_size)",
        "return blocks",
        'fresh_checkers().check_value("ex (a)", n_windows, 64).require()',
        "n_windows = (56 // 7) ** 2",  # a whole solution cell; "short = 1" is trivial
        "The mask must follow the padded map of twelve rows.",
    ]
    public = public_text(MADE_UP)
    assert "def partition(x, window_size):" in public
    assert "fresh_checkers().check_window_partition(partition).require()" in public
    assert "**(3 points)** Write the partition." in public
    assert "permute" not in public and "n_windows" not in public and "padded" not in public


def test_a_solution_line_is_found_verbatim_or_word_for_word():
    secrets = solution_lines(MADE_UP)
    # Verbatim in a notebook's strings.
    leaked = {"cells": [{"source": ["    blocks = x.reshape(-1, window_size)\n"]}]}
    assert find_leaks(secrets, [notebook_text(leaked)]) == ["blocks = x.reshape(-1, window_size)"]
    # In a page: code split by the highlighter's tags, prose rendered with its math.
    page = (
        '<pre><span class="n">blocks</span> <span class="o">=</span> x.reshape('
        '<span class="o">-</span>1, window_size)</pre>'
        "<p>Reshape to \\((B, H/M, M, W/M, M, C)\\), then <strong>permute</strong>"
        " the axes.</p>"
    )
    assert find_leaks(secrets, [page, page_text(page)]) == secrets[:2]
    # The unreleased notebook holds every one; its public part, none.
    assert find_leaks(secrets, [notebook_text(MADE_UP)]) == secrets
    assert find_leaks(secrets, [public_text(MADE_UP)]) == []
    # What the release leaves is clean.
    released = "def partition(x, window_size):\n    # YOUR CODE HERE\n    raise NotImplementedError"
    assert find_leaks(secrets, [released, "<p>YOUR ANSWER HERE</p>"]) == []


def test_a_line_the_source_shows_is_excused_and_no_other():
    secrets = solution_lines(MADE_UP)
    shown = public_text(MADE_UP) + "\nn_windows = (56 // 7) ** 2  # shown in the text\n"
    shown += "Store it in `n_windows_of_the_map`, then ..."
    released = "n_windows = (56 // 7) ** 2\nblocks = x.reshape(-1, window_size)\n"
    page = "<p>Store it in <code>n_windows_of_the_map</code>, then ...</p>"
    secrets += ["n_windows_of_the_map,"]  # a hidden test's argument line
    leaks = leaks_beyond_source(secrets, [released, page_text(page)], shown)
    assert leaks == ["blocks = x.reshape(-1, window_size)"]


# --- the release and the student edition -----------------------------------------


@pytest.fixture(scope="module")
def secrets() -> dict[str, list[str]]:
    """Each chapter's solution lines, by notebook stem."""
    return {path.stem: solution_lines(_load(path)) for path in NOTEBOOKS}


@pytest.fixture(scope="module")
def student(book_build):
    build = book_build("student")
    assert build.returncode == 0, f"{' '.join(build.command)} failed:\n{build.log}"
    return build


def _source_text(stem: str) -> str:
    """What page `stem`'s source shows: the chapter without its solutions, or the prose page."""
    chapter, prose = ROOT / "notebooks" / f"{stem}.ipynb", ROOT / "book" / f"{stem}.md"
    if chapter.exists():
        return public_text(_load(chapter))
    return prose.read_text(encoding="utf-8") if prose.exists() else ""


def _leaks(secrets: dict[str, list[str]], stem: str, texts: list[str]) -> list[str]:
    """The solution lines of every chapter in the texts of page or notebook `stem`."""
    every = list(dict.fromkeys(line for lines in secrets.values() for line in lines))
    return leaks_beyond_source(every, texts, _source_text(stem))


def _graded_cells(notebook: dict) -> list[dict]:
    return [cell for cell in notebook["cells"] if _nbgrader(cell)]


def test_every_chapter_with_exercises_has_secrets(secrets):
    """The test has something to look for: no chapter's solutions vanish from the extraction."""
    for path in NOTEBOOKS:
        notebook = _load(path)
        if any(_nbgrader(cell).get("solution") for cell in notebook["cells"]):
            assert secrets[path.stem], f"{path.name}: no solution line to look for"
            # ... and the search finds them in the unreleased chapter.
            assert _leaks(secrets, path.stem, [notebook_text(notebook)])


@pytest.mark.slow
@needs_jupyter_book
def test_no_solution_line_in_the_release(student, secrets):
    release = student.source / "notebooks"
    assert sorted(path.name for path in release.glob("*.ipynb")) == [p.name for p in NOTEBOOKS]
    leaks = {}
    for path in sorted(release.glob("*.ipynb")):
        found = _leaks(secrets, path.stem, [notebook_text(_load(path))])
        if found:
            leaks[path.name] = found
    assert leaks == {}, f"solution lines in the release ({release}):\n{leaks}"


@pytest.mark.slow
@needs_jupyter_book
def test_no_solution_line_in_the_student_edition(student, secrets):
    leaks = {}
    files = [path for path in student.html.rglob("*") if path.suffix in TEXT_SUFFIXES]
    assert any(path.name == "04_windows.html" for path in files)
    for path in files:
        raw = path.read_text(encoding="utf-8", errors="replace")
        texts = [raw, page_text(raw)] if path.suffix == ".html" else [raw]
        found = _leaks(secrets, path.stem, texts)
        if found:
            leaks[str(path.relative_to(student.html))] = found
    assert leaks == {}, f"solution lines in the student edition ({student.html}):\n{leaks}"


def _outputs(cells: list) -> list[list[dict]]:
    """Each cell's outputs, consecutive stream outputs of one stream merged (as nbclient may)."""
    result = []
    for cell in cells:
        merged: list[dict] = []
        for output in cell.get("outputs", []):
            output = dict(output)
            last = merged[-1] if merged else {}
            if output.get("output_type") == last.get("output_type") == "stream" and (
                output.get("name") == last.get("name")
            ):
                last["text"] += output["text"]
            else:
                merged.append(output)
        result.append(merged)
    return result


@pytest.mark.slow
@needs_jupyter_book
def test_exercise_cells_are_empty_and_other_outputs_kept(student):
    """The student sees stubs, no output from the first graded cell on, and every figure before."""
    release = student.source / "notebooks"
    for path in NOTEBOOKS:
        source = nbformat.read(path, as_version=4)
        released = nbformat.read(release / path.name, as_version=4)
        graded = _graded_cells(source)
        if not graded:
            continue
        html = (student.html / "notebooks" / f"{path.stem}.html").read_text()
        page = page_text(html)
        if any(c.cell_type == "code" and _nbgrader(c).get("solution") for c in graded):
            assert CODE_STUB in page, f"{path.name}: no {CODE_STUB!r} on the student page"
        if any(c.cell_type == "markdown" and _nbgrader(c).get("solution") for c in graded):
            assert ANSWER_STUB in page, f"{path.name}: no {ANSWER_STUB!r} on the student page"
        first = next(i for i, cell in enumerate(released.cells) if _nbgrader(cell))
        assert first == source.cells.index(graded[0]), f"{path.name}: cells before it changed"
        assert not any(_outputs(released.cells[first:])), f"{path.name}: exercise outputs left"
        kept = _outputs(released.cells[:first])
        assert kept == _outputs(source.cells[:first]), f"{path.name}: its outputs changed"
        figures = sum("image/png" in out.get("data", {}) for outs in kept for out in outs)
        assert html.count("<img") >= figures, f"{path.name}: figures missing on the student page"
