"""Every chapter is committed executed, listed in the table of contents, and error-free.

nbval silently skips cells that never ran, so a chapter committed with an
unexecuted cell would pass without being checked; this test closes that gap.
"""

import json
from pathlib import Path

import pytest
import yaml
from toc import PAGES

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_toc_entries_exist():
    for entry in PAGES:
        candidates = [ROOT / f"{entry}{ext}" for ext in (".md", ".ipynb")]
        assert any(path.exists() for path in candidates), f"_toc.yml names missing file {entry}"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_in_toc(notebook):
    assert f"notebooks/{notebook.stem}" in PAGES, f"{notebook.name} is not in _toc.yml"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_every_code_cell_executed_without_error(notebook):
    cells = json.loads(notebook.read_text())["cells"]
    for index, cell in enumerate(cells):
        if cell["cell_type"] != "code" or not "".join(cell["source"]).strip():
            continue
        assert cell["execution_count"] is not None, f"{notebook.name} cell {index} never ran"
        errors = [out for out in cell.get("outputs", []) if out.get("output_type") == "error"]
        assert not errors, f"{notebook.name} cell {index} has an error output"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_no_saved_widget_state(notebook):
    """Saved widget state makes every page of the book load require.js and the widget
    manager from CDNs, which the offline edition must not need. The widgets are for
    readers with a kernel; the book shows the same content as static figures.
    `jupyter execute` saves it: delete the notebook's `metadata.widgets` afterwards."""
    metadata = json.loads(notebook.read_text())["metadata"]
    assert "widgets" not in metadata, f"{notebook.name} carries saved widget state"


REPO_URL = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_first_code_cell_is_the_install_cell(notebook):
    """The install cell runs only on Colab and names the repository of `_config.yml`."""
    cells = json.loads(notebook.read_text())["cells"]
    code = [cell for cell in cells if cell["cell_type"] == "code"]
    assert code, f"{notebook.name} has no code cell"
    source = "".join(code[0]["source"])
    assert '"google.colab" in sys.modules' in source, (
        f"{notebook.name}: the first code cell must install the package on Colab only"
    )
    assert f'REPO_URL = "{REPO_URL}"' in source, (
        f"{notebook.name}: the install cell's REPO_URL must be {REPO_URL} "
        "(repository.url in _config.yml)"
    )
