"""The timeline of local attention: works on a time axis, images above, text below.

Used in chapter 1.
"""

from __future__ import annotations

from collections.abc import Sequence

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .style import OKABE_ITO, new_or_given_axes

#: What each kind of data is drawn with: (side of the axis, colour, legend label).
DATA_STYLE = {
    "images": (1, OKABE_ITO["blue"], "images"),
    "text": (-1, OKABE_ITO["vermillion"], "text and sequences"),
    "sequences": (-1, OKABE_ITO["vermillion"], "text and sequences"),
}


def plot_timeline(
    works: Sequence[tuple[int, str, str, bool]],
    ax: Axes | None = None,
    title: str = "From global to local attention",
) -> Figure:
    """Works on a time axis: images above it, text and sequences below.

    Filled markers: local or windowed attention; hollow markers: global attention.
    Works of the same year and side are stacked.

    Args:
        works: ``(year, name, data, local)`` per work; ``data`` is ``"images"``,
            ``"text"`` or ``"sequences"``; ``name`` may hold a line break.
        ax: the ``Axes`` to draw on (default: a new figure).
        title: the title above the axis.
    """
    works = list(works)
    if not works:
        raise ValueError("works must list at least one (year, name, data, local) work")
    for index, work in enumerate(works):
        if not (isinstance(work, tuple | list) and len(work) == 4):
            raise ValueError(f"works[{index}] must be (year, name, data, local), got {work!r}")
        if work[2] not in DATA_STYLE:
            raise ValueError(
                f"works[{index}] data must be one of {sorted(DATA_STYLE)}, got {work[2]!r}"
            )
    fig, (axis,) = new_or_given_axes(ax, 1, (8, 3.5))
    axis.axhline(0, color="0.3", lw=1)
    placed: dict[tuple[int, int], int] = {}
    for year, name, data, local in works:
        side, colour, _ = DATA_STYLE[data]
        level = placed.get((year, side), 0) + 1
        placed[(year, side)] = level
        height = side * (0.55 + 0.75 * (level - 1))
        axis.plot([year, year], [0, height], color=colour, lw=1)
        face = colour if local else "white"
        axis.plot(year, height, "o", color=colour, markersize=7, markerfacecolor=face)
        axis.annotate(
            name,
            (year, height),
            xytext=(6, 0),
            textcoords="offset points",
            va="center",
            fontsize=7.5,
        )
    for _, colour, label in {DATA_STYLE[w[2]][2]: DATA_STYLE[w[2]] for w in works}.values():
        axis.plot([], [], "o", color=colour, label=label)
    axis.plot([], [], "o", color="0.3", markerfacecolor="white", label="global attention")
    axis.plot([], [], "o", color="0.3", label="local / windowed attention")
    years = [w[0] for w in works]
    up, down = (
        max([n for (_, s), n in placed.items() if s == side], default=0) for side in (1, -1)
    )
    axis.set(
        xlim=(min(years) - 0.4, max(years) + 0.9),
        ylim=(-(0.75 * down + 0.35) if down else -0.5, 0.75 * up + 0.65 if up else 0.5),
        yticks=[],
        xlabel="year of publication",
    )
    axis.set_title(title)
    axis.legend(loc="upper left", fontsize=7, ncol=2, frameon=False)
    for spine in ("left", "right", "top"):
        axis.spines[spine].set_visible(False)
    return fig
