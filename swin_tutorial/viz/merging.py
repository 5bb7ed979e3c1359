"""Patch merging, drawn: the slot each token of a 2x2 group takes in the merged token.

Used in chapter 6, with the order read from the model (a forward hook on the merging's norm).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

from .._checks import check_positive_int
from .style import TOL_LIGHT, borders, new_or_given_axes, token_grid

#: The four (row, column) offsets of a 2x2 group.
OFFSETS = ((0, 0), (0, 1), (1, 0), (1, 1))


def _check_order(order: object) -> list[tuple[int, int]]:
    """``order``: the four offsets of a 2x2 group, each once, as ``(row, column)`` pairs."""
    try:
        pairs = [tuple(int(v) for v in offset) for offset in order]  # type: ignore[union-attr]
    except (TypeError, ValueError):
        pairs = None
    if pairs is None or sorted(pairs) != sorted(OFFSETS):
        raise ValueError(
            "order must list the offsets (0, 0), (0, 1), (1, 0), (1, 1) once each, "
            f"in slot order, got order={order!r}"
        )
    return pairs


def plot_merge_order(
    order: Sequence[Sequence[int]], size: int = 4, ax: Axes | None = None
) -> Figure:
    """A ``size x size`` map, coloured by 2x2 group, each token labelled with its slot.

    Patch merging concatenates the ``C`` channels of the four tokens of a
    2x2 group into one token of ``4C`` channels; slot ``k`` holds channels
    ``kC`` to ``(k + 1)C - 1``. Every cell shows its ``(row, column)`` and its slot.

    Args:
        order: the ``(row, column)`` offsets inside a group in slot order,
            e.g. ``[(0, 0), (1, 0), (0, 1), (1, 1)]`` (Swin's order).
        size: the side of the map, an even number of tokens (default 4).
        ax: an ``Axes`` to draw on (default: a new figure).
    """
    slots = {offset: slot for slot, offset in enumerate(_check_order(order))}
    size = check_positive_int("size", size)
    if size % 2:
        raise ValueError(f"size must be even (whole 2x2 groups), got size={size}")
    fig, (axis,) = new_or_given_axes(ax, 1, (4.2, 4.2))
    rows, cols = np.indices((size, size))
    group = (rows // 2) * (size // 2) + cols // 2
    colours = ListedColormap(TOL_LIGHT[: min(len(TOL_LIGHT), group.max() + 1)])
    axis.imshow(group % colours.N, cmap=colours, vmin=-0.5, vmax=colours.N - 0.5)
    token_grid(axis, size, size)
    axis.add_collection(borders(group, colors="black", linewidths=2.5))
    for (i, j), _ in np.ndenumerate(group):
        slot = slots[(i % 2, j % 2)]
        axis.text(j, i, f"({i},{j})\nslot {slot}", ha="center", va="center", fontsize=8)
    axis.set_xticks(range(size))
    axis.set_yticks(range(size))
    half = size // 2
    axis.set_title(
        f"patch merging: {size}x{size} map -> {half}x{half} map\n"
        "(slot = position in the 4C-channel token)",
        fontsize=10,
    )
    return fig
