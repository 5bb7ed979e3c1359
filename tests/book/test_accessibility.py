"""Figures every reader can use: alt text and a caption for each, colour-blind-safe colours.

A notebook's figure reaches the HTML book as an `<img>` whose alt text MyST-NB
takes from the cell's metadata, `{"mystnb": {"image": {"alt": "..."}}}`;
without it the alt text is the image's file name. Its caption is either an
italic paragraph opening the next markdown cell (the book's convention,
`*Figure: ...*`) or `{"mystnb": {"figure": {"caption": "..."}}}` in the cell's
metadata. tests/book/test_browser.py checks the same in the built pages; this test
names the notebook and the cell, and needs no build.
"""

import inspect
import json
import re
from pathlib import Path

import pytest

from swin_tutorial import viz

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
RICH_OUTPUTS = ("display_data", "execute_result")

# The published palettes: Okabe & Ito (2008), "Color Universal Design", and
# Paul Tol's "light" qualitative scheme (https://personal.sron.nl/~pault/).
OKABE_ITO = {"#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#000000"}
TOL_LIGHT = {
    "#77AADD",
    "#EE8866",
    "#EEDD88",
    "#FFAABB",
    "#99DDFF",
    "#44BB99",
    "#BBCC33",
    "#AAAA00",
    "#DDDDDD",
}
# Colour maps whose lightness rises monotonically: readable in grey and by
# colour-blind readers (matplotlib's perceptually uniform maps).
UNIFORM_MAPS = {"viridis", "cividis", "magma", "inferno", "plasma"}


def _figure_cells(notebook: Path):
    """(index, cell, next cell or None) for every code cell with an image output."""
    cells = json.loads(notebook.read_text())["cells"]
    for index, cell in enumerate(cells):
        if cell["cell_type"] != "code":
            continue
        if any(
            key.startswith("image/")
            for out in cell.get("outputs", [])
            for key in out.get("data", {})
        ):
            yield index, cell, cells[index + 1] if index + 1 < len(cells) else None


def _italic_caption(cell) -> bool:
    """Does this markdown cell open with a paragraph in italics (`*...*`)?"""
    if cell is None or cell["cell_type"] != "markdown":
        return False
    paragraph = "".join(cell["source"]).strip().split("\n\n")[0].strip()
    return bool(re.fullmatch(r"\*[^*\s].*[^*\s]\*", paragraph, flags=re.S))


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_every_figure_has_alt_text_and_a_caption(notebook):
    problems = []
    for index, cell, following in _figure_cells(notebook):
        mystnb = cell.get("metadata", {}).get("mystnb", {})
        alt = str(mystnb.get("image", {}).get("alt", "")).strip()
        if len(alt) < 30:
            problems.append(
                f"cell {index}: alt text {alt!r} is missing or too short: describe what the figure "
                'shows in cell metadata {"mystnb": {"image": {"alt": "..."}}}'
            )
        elif re.search(r"\.(png|jpe?g|svg)\b", alt) or "$" in alt or "{" in alt:
            problems.append(
                f"cell {index}: alt text must be plain words, not a file name or markup: {alt!r}"
            )
        caption = str(mystnb.get("figure", {}).get("caption", "")).strip()
        if not caption and not _italic_caption(following):
            problems.append(
                f"cell {index}: no caption: open the next markdown cell with an italic paragraph "
                '(*Figure: ...*) or set {"mystnb": {"figure": {"caption": "..."}}}'
            )
        rich = [out for out in cell.get("outputs", []) if out.get("output_type") in RICH_OUTPUTS]
        if "figure" in mystnb and len(rich) > 1:
            # MyST-NB wraps each rich output in its own figure, caption and all.
            problems.append(
                f"cell {index}: a figure caption on a cell with {len(rich)} rich outputs"
            )
    assert problems == [], f"{notebook.name}:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_alt_text_sits_on_a_figure(notebook):
    """Alt text on a cell without a figure is never shown, and never translated: when a
    figure moves to another cell, its description must move with it."""
    figures = {index for index, _, _ in _figure_cells(notebook)}
    cells = json.loads(notebook.read_text())["cells"]
    stray = [
        index
        for index, cell in enumerate(cells)
        if "alt" in cell.get("metadata", {}).get("mystnb", {}).get("image", {})
        and index not in figures
    ]
    assert stray == [], f"{notebook.name}: alt text on cells without a figure: {stray}"


def test_every_chapter_with_figures_is_checked():
    """The test above is not vacuous: the chapters do have figures, and the check sees them."""
    assert sum(1 for notebook in NOTEBOOKS for _ in _figure_cells(notebook)) >= 10
    assert _italic_caption(
        {"cell_type": "markdown", "source": ["*Figure: the map.*\n", "\n", "More."]}
    )
    assert not _italic_caption({"cell_type": "markdown", "source": ["The map, *in italics*."]})
    assert not _italic_caption({"cell_type": "code", "source": ["*x*"]})


def _lightness(colour: str) -> float:
    """CIE L* (0 black .. 100 white) of an sRGB colour `#RRGGBB`."""
    linear = []
    for k in (1, 3, 5):
        c = int(colour[k : k + 2], 16) / 255
        linear.append(c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4)
    y = 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    return 116 * y ** (1 / 3) - 16 if y > (6 / 29) ** 3 else y * (29 / 3) ** 3


def test_lightness_reference_values():
    assert _lightness("#000000") == pytest.approx(0, abs=1e-9)
    assert _lightness("#FFFFFF") == pytest.approx(100, abs=1e-6)
    assert _lightness("#777777") == pytest.approx(50.0, abs=0.5)  # mid grey


def test_viz_palettes_are_colour_blind_safe():
    assert {c.upper() for c in viz.OKABE_ITO.values()} <= OKABE_ITO
    assert {c.upper() for c in viz.TOL_LIGHT} <= TOL_LIGHT
    assert {viz.VISIBLE.upper(), viz.QUERY.upper()} <= OKABE_ITO
    # Query, visible key and other token differ in lightness too, so that they
    # stay apart for any colour vision and in a greyscale print.
    levels = sorted(_lightness(c) for c in (viz.HIDDEN, viz.VISIBLE, viz.QUERY))
    assert min(b - a for a, b in zip(levels, levels[1:], strict=False)) > 12, levels


def test_viz_default_colour_map_is_perceptually_uniform():
    default = inspect.signature(viz.plot_attention_map).parameters["cmap"].default
    assert default in UNIFORM_MAPS
