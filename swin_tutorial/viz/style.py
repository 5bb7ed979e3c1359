"""The drawings' palettes and the helpers they share: axes, token grid, borders, legend.

Colours are colour-blind safe: Okabe-Ito for highlights and lines, Paul Tol's
"light" palette for region and window fills.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from .._checks import check_positive_int

#: Okabe-Ito palette (colour-blind safe), for highlights.
OKABE_ITO = {
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
    "black": "#000000",
}
#: Paul Tol's "light" palette (colour-blind safe, readable under black text), for fills.
#: Ordered so that, read as a 3x3 grid, neighbouring entries are easy to tell apart.
TOL_LIGHT = [
    "#77AADD",
    "#EE8866",
    "#EEDD88",
    "#FFAABB",
    "#99DDFF",
    "#44BB99",
    "#BBCC33",
    "#DDDDDD",
    "#AAAA00",
]
HIDDEN, VISIBLE, QUERY = "#EEEEEE", OKABE_ITO["sky_blue"], OKABE_ITO["vermillion"]
#: Colour map of a visibility image: 0 hidden, 1 visible, 2 the query.
VISIBILITY_CMAP = ListedColormap([HIDDEN, VISIBLE, QUERY])
#: Colours for lines (yellow is too faint as a line).
LINE_COLOURS = [colour for name, colour in OKABE_ITO.items() if name != "yellow"]
#: Line styles and markers for curves, so that no curve is told apart by colour alone.
CURVE_STYLES = [
    ("-", "o"),
    ("--", "s"),
    ("-.", "^"),
    (":", "D"),
    ("-", "v"),
    ("--", "P"),
    ("-.", "X"),
    (":", "*"),
]
#: Token ids are written on the cells up to this many tokens.
MAX_LABELLED_TOKENS = 64
#: The id of the thin lines between tokens, so that they can be told from window borders.
TOKEN_GRID_GID = "token-grid"


def map_size(H: int, W: int) -> tuple[int, int]:
    """Check a map size: two positive ints."""
    return check_positive_int("H", H), check_positive_int("W", W)


def new_or_given_axes(
    ax: Axes | Sequence[Axes] | None, n: int, figsize: tuple[float, float]
) -> tuple[Figure, list[Axes]]:
    """The figure and ``n`` axes to draw on: the caller's ``ax``, or a new row of panels."""
    if ax is None:
        fig, axes = plt.subplots(1, n, figsize=figsize, squeeze=False, layout="constrained")
        return fig, list(axes[0])
    axes = [ax] if isinstance(ax, Axes) else list(np.ravel(np.asarray(ax, dtype=object)))
    if len(axes) != n or not all(isinstance(a, Axes) for a in axes):
        wanted = "an Axes" if n == 1 else f"{n} Axes"
        raise ValueError(f"ax must be {wanted} (one per panel), got ax={ax!r}")
    return axes[0].figure, axes


def token_grid(ax: Axes, H: int, W: int) -> None:
    """Ticks, labels and thin white lines between tokens on an ``H x W`` image."""
    # One collection for all the lines: far faster to draw than a grid of minor ticks.
    vertical = [[(x, -0.5), (x, H - 0.5)] for x in np.arange(0.5, W - 1, 1)]
    horizontal = [[(-0.5, y), (W - 0.5, y)] for y in np.arange(0.5, H - 1, 1)]
    ax.add_collection(
        LineCollection(vertical + horizontal, colors="white", linewidths=0.6, gid=TOKEN_GRID_GID)
    )
    ax.set_xticks(range(0, W, max(1, W // 8)))
    ax.set_yticks(range(0, H, max(1, H // 8)))
    ax.set_xlabel("column j")
    ax.set_ylabel("row i")
    ax.set_xlim(-0.5, W - 0.5)
    ax.set_ylim(H - 0.5, -0.5)


def write_values(ax: Axes, values: np.ndarray, fontsize: float = 7) -> None:
    """Write the integer ``values[i, j]`` on every cell."""
    for (i, j), value in np.ndenumerate(values):
        ax.text(j, i, str(int(value)), ha="center", va="center", fontsize=fontsize, color="black")


def borders(labels: np.ndarray, **style) -> LineCollection:
    """Lines between neighbouring cells of ``labels`` ``(H, W)`` that differ, plus the frame."""
    H, W = labels.shape
    segments = [
        [(j + 0.5, i - 0.5), (j + 0.5, i + 0.5)]
        for i in range(H)
        for j in range(W - 1)
        if labels[i, j] != labels[i, j + 1]
    ]
    segments += [
        [(j - 0.5, i + 0.5), (j + 0.5, i + 0.5)]
        for i in range(H - 1)
        for j in range(W)
        if labels[i, j] != labels[i + 1, j]
    ]
    segments += [
        [(-0.5, -0.5), (W - 0.5, -0.5)],
        [(W - 0.5, -0.5), (W - 0.5, H - 0.5)],
        [(W - 0.5, H - 0.5), (-0.5, H - 0.5)],
        [(-0.5, H - 0.5), (-0.5, -0.5)],
    ]
    return LineCollection(segments, **style)


def window_grid_lines(H: int, W: int, wh: int, ww: int, **style) -> LineCollection:
    """Borders of the regular grid of ``wh x ww`` windows on an ``H x W`` map."""
    rows = np.arange(H)[:, None] // wh
    cols = np.arange(W)[None, :] // ww
    return borders(rows * (W // ww + 1) + cols, **style)


def outline_cell(ax: Axes, i: int, j: int, size: int = 1, colour: str = QUERY) -> None:
    """Outline the ``size x size`` cell whose top-left pixel is ``(i * size, j * size)``."""
    corner = (j * size - 0.5, i * size - 0.5)
    ax.add_patch(plt.Rectangle(corner, size, size, fill=False, edgecolor=colour, linewidth=2))


def visibility_legend(fig: Figure, seen_label: str) -> None:
    """The legend of :data:`VISIBILITY_CMAP`, below the panels."""
    handles = [
        Patch(facecolor=QUERY, label="query"),
        Patch(facecolor=VISIBLE, label=seen_label),
        Patch(facecolor=HIDDEN, edgecolor="0.6", label="other tokens"),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncols=3, frameon=False)
