"""Publishing: the workflows, the fork setting, and the PDF edition.

- every `make TARGET` that a workflow of .github/workflows runs exists in the
  Makefile, every action is pinned to a commit, and actionlint passes (and
  fails a broken workflow);
- `make set-repo` (tools/set_repo.py) rewrites repository.url and the install
  cells, and nothing else, on a copy of the book; it refuses a malformed address
  (that the real notebooks agree with _config.yml is
  test_notebooks_executed.py's test_first_code_cell_is_the_install_cell);
- `make pdf` builds the PDF edition, in which every chapter title of _toc.yml
  appears, in order (skipped, with `make pdf`'s message, without TeX Live).
"""

import importlib.util
import json
import re
import shutil
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest
import yaml
from toc import PAGES

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
FORK = "https://github.com/someone-else/sliding-window-fork"

_spec = importlib.util.spec_from_file_location("set_repo", ROOT / "tools" / "set_repo.py")
set_repo = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(set_repo)


def _makefile_targets() -> set[str]:
    targets: set[str] = set()
    for line in (ROOT / "Makefile").read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.$()/ -]+?)\s*:(?![:=])", line)
        if match and not line.startswith(("\t", "#")):
            targets.update(match.group(1).split())
    return targets


def _run_scripts(workflow: Path) -> list[str]:
    jobs = yaml.safe_load(workflow.read_text())["jobs"]
    return [step["run"] for job in jobs.values() for step in job["steps"] if "run" in step]


# `make [OPTIONS] TARGET` where a command starts (not `apt-get install make`).
_MAKE_CALL = r"(?:^|[;&|(!]|\bthen|\bdo|\bif)\s*make((?:\s+-\S+)*)\s+([A-Za-z][\w-]*)"


def _make_calls(script: str) -> tuple[set[str], set[str]]:
    """(targets run, targets only asked about with `make -n TARGET`, i.e. optional)."""
    called, optional = set(), set()
    for options, target in re.findall(_MAKE_CALL, script, re.MULTILINE):
        (optional if "-n" in options.split() else called).add(target)
    return called, optional


def test_there_are_workflows():
    assert {path.name for path in WORKFLOWS} >= {"book.yml", "test.yml"}


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_make_targets_exist(workflow):
    targets = _makefile_targets()
    assert {"book", "book-offline", "student", "test", "pdf", "env"} <= targets
    called, optional = set(), set()
    for script in _run_scripts(workflow):
        run, asked = _make_calls(script)
        called |= run
        optional |= asked
    # A target the workflow first asks about (`if make -n book-zh`) may be missing.
    missing = sorted(called - optional - targets)
    assert missing == [], f"{workflow.name} runs make targets the Makefile lacks: {missing}"


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_actions_pinned_to_a_commit(workflow):
    uses = re.findall(r"^\s*(?:-\s+)?uses:\s*(\S+)(.*)$", workflow.read_text(), re.MULTILINE)
    assert uses, workflow.name
    for action, comment in uses:
        assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", action), (
            f"{workflow.name}: {action} is not pinned to a full commit SHA"
        )
        assert re.fullmatch(r"\s*# v\d+\.\d+\.\d+", comment), (
            f"{workflow.name}: {action} needs its version as a comment (# vX.Y.Z)"
        )


def test_actionlint_passes_the_workflows_and_fails_a_broken_one(tmp_path):
    actionlint = BIN / "actionlint"
    assert actionlint.exists(), "actionlint is missing: pip install -r requirements.txt"
    result = subprocess.run(
        [str(actionlint), *map(str, WORKFLOWS)], capture_output=True, text=True, cwd=ROOT
    )
    assert result.returncode == 0, result.stdout + result.stderr
    broken = tmp_path / "broken.yml"
    workflow = WORKFLOWS[0].read_text()
    broken.write_text(workflow.replace("runs-on:", "runs_on:", 1))
    result = subprocess.run([str(actionlint), str(broken)], capture_output=True, text=True)
    assert result.returncode != 0 and "runs_on" in result.stdout, result.stdout


# --- make set-repo ------------------------------------------------------------


@pytest.fixture
def book_copy(tmp_path):
    """_config.yml and notebooks/ copied into a temporary folder."""
    shutil.copy2(ROOT / "_config.yml", tmp_path / "_config.yml")
    shutil.copytree(ROOT / "notebooks", tmp_path / "notebooks")
    return tmp_path


def _set_repo(root: Path, url: str) -> subprocess.CompletedProcess:
    command = [sys.executable, str(ROOT / "tools" / "set_repo.py"), "--root", str(root), url]
    return subprocess.run(command, capture_output=True, text=True)


def _changed_lines(before: str, after: str) -> list[tuple[str, str]]:
    old, new = before.splitlines(keepends=True), after.splitlines(keepends=True)
    assert len(old) == len(new)
    return [(a, b) for a, b in zip(old, new, strict=True) if a != b]


def test_set_repo_rewrites_config_and_every_install_cell(book_copy):
    old_url = set_repo.config_url(ROOT)
    result = _set_repo(book_copy, FORK)
    assert result.returncode == 0, result.stdout + result.stderr
    assert set_repo.config_url(book_copy) == FORK
    assert set_repo.mismatches(book_copy) == []
    changed = _changed_lines(
        (ROOT / "_config.yml").read_text(), (book_copy / "_config.yml").read_text()
    )
    assert changed == [(f"  url: {old_url}\n", f"  url: {FORK}\n")]
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    assert notebooks
    for notebook in notebooks:
        before, after = notebook.read_text(), (book_copy / "notebooks" / notebook.name).read_text()
        # Byte for byte the same notebook but for the one REPO_URL line.
        assert _changed_lines(before, after) == [
            (line, line.replace(old_url, FORK))
            for line in before.splitlines(keepends=True)
            if f'REPO_URL = \\"{old_url}\\"' in line
        ], notebook.name
    # Running it again changes nothing.
    assert _set_repo(book_copy, FORK).returncode == 0
    assert set_repo.mismatches(book_copy) == []


def test_a_notebook_naming_another_address_is_reported(book_copy):
    notebook = sorted((book_copy / "notebooks").glob("*.ipynb"))[0]
    old_url = set_repo.config_url(book_copy)
    notebook.write_text(notebook.read_text().replace(old_url, FORK))
    assert [line.split(":")[0] for line in set_repo.mismatches(book_copy)] == [notebook.name]


@pytest.mark.parametrize(
    "url",
    [
        "",
        "github.com/owner/name",
        "http://github.com/owner/name",
        "https://gitlab.com/owner/name",
        "https://github.com/owner",
        "https://github.com/owner/name/",
        "https://github.com/owner/name.git",
        "https://github.com/owner/name/tree/main",
        'https://github.com/owner/na"me',
        "https://github.com/owner/name extra",
    ],
)
def test_set_repo_refuses_a_malformed_url(book_copy, url):
    config = (book_copy / "_config.yml").read_bytes()
    result = _set_repo(book_copy, url)
    assert result.returncode != 0
    assert "https://github.com/OWNER/NAME" in result.stdout + result.stderr
    assert (book_copy / "_config.yml").read_bytes() == config
    assert set_repo.mismatches(book_copy) == []


def test_make_set_repo_needs_a_url():
    result = subprocess.run(
        ["make", "-o", "env", "set-repo", f"BIN={BIN}"], capture_output=True, text=True, cwd=ROOT
    )
    assert result.returncode != 0
    assert "usage: make set-repo URL=" in result.stdout + result.stderr


# --- make pdf -----------------------------------------------------------------


def _title(path: Path) -> str:
    """The first `# ` heading of a page (.md) or chapter (.ipynb, markdown cells)."""
    if path.suffix == ".ipynb":
        cells = json.loads(path.read_text())["cells"]
        text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    else:
        text = path.read_text()
    heading = next(line for line in text.splitlines() if line.startswith("# "))
    return re.sub(r"[`*$]", "", heading[2:]).strip()


def _toc_pages() -> list[Path]:
    pages = []
    for entry in PAGES:
        found = [
            ROOT / f"{entry}{ext}" for ext in (".md", ".ipynb") if (ROOT / f"{entry}{ext}").exists()
        ]
        assert found, entry
        pages.append(found[0])
    return pages


def _normalize(text: str) -> str:
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text)).strip()


@pytest.fixture(scope="session")
def pdf_edition(tmp_path_factory):
    """`make pdf` into a temporary folder, once per session: the PDF's path."""
    out = tmp_path_factory.mktemp("pdf")
    command = ["make", "-o", "env", "pdf", f"BIN={BIN}", f"PDF_OUT={out}"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=900, cwd=ROOT)
    log = result.stdout[-6000:] + result.stderr[-6000:]
    if result.returncode != 0 and "make pdf: missing" in log:
        pytest.skip(
            next(line for line in log.splitlines() if "make pdf: missing" in line)
            + " "
            + " ".join(log.split("apt-get install", 1)[1:]).strip()
        )
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{log}"
    pdf = out / "book.pdf"
    assert pdf.exists(), log
    return pdf


@pytest.mark.slow
def test_pdf_has_every_chapter_in_order(pdf_edition):
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext is missing: apt-get install poppler-utils")
    text = subprocess.run(
        ["pdftotext", str(pdf_edition), "-"], capture_output=True, text=True, check=True
    ).stdout
    pages = text.split("\f")
    # Leave out the table of contents, which lists every title in order anyway.
    body = [page for page in pages if len(re.findall(r"(?:\. ){6,}", page)) < 3]
    assert len(pages) - len(body) >= 1, "no table of contents found"
    assert len(body) > 100, f"only {len(body)} pages besides the table of contents"
    content = _normalize("\n".join(body))
    position = 0
    for page in _toc_pages():
        title = _normalize(_title(page))
        found = content.find(title, position)
        assert found >= 0, f"{page.name}: {title!r} is not in the PDF after the previous chapter"
        position = found + len(title)
