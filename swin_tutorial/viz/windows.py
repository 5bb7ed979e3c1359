"""Drawings of windows, the cyclic shift, the regions of the rolled map and the shift mask.

Used in chapter 2.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap, to_rgb
from matplotlib.figure import Figure

from .._checks import to_pair, to_shift_pair
from ..analysis import window_labels
from ..windows import cyclic_shift, region_ids, shifted_window_mask
from .style import (
    HIDDEN,
    MAX_LABELLED_TOKENS,
    OKABE_ITO,
    TOL_LIGHT,
    borders,
    map_size,
    new_or_given_axes,
    token_grid,
    window_grid_lines,
    write_values,
)


def _segment_index(labels: np.ndarray, axis: int) -> np.ndarray:
    """Window row (axis 0) or column (axis 1) index of every cell of a grid of windows."""
    line = labels[:, 0] if axis == 0 else labels[0, :]
    index = np.concatenate([[0], np.cumsum(line[1:] != line[:-1])])
    return index[:, None] if axis == 0 else index[None, :]


def _window_colours(labels: np.ndarray) -> np.ndarray:
    """An RGB image ``(H, W, 3)``: windows coloured so that neighbours always differ."""
    rows, cols = _segment_index(labels, 0), _segment_index(labels, 1)
    palette = np.array([to_rgb(c) for c in TOL_LIGHT])
    return palette[(rows % 3) * 3 + (cols % 3)]


def _windows_and_shift(
    H: int, W: int, window_size: int | Sequence[int], shift_size: int | Sequence[int]
) -> tuple[int, int, tuple[int, int], tuple[int, int]]:
    """Check the arguments the drawings of this module share."""
    H, W = map_size(H, W)
    window = to_pair("window_size", window_size)
    return H, W, window, to_shift_pair("shift_size", shift_size, window)


def plot_windows(
    H: int,
    W: int,
    window_size: int | Sequence[int],
    shift_size: int | Sequence[int] = 0,
    ax: Axes | None = None,
    labels: bool | None = None,
) -> Figure:
    """The token grid of an ``H x W`` map with its windows drawn on it.

    With ``shift_size`` the *shifted* windows (thick black) are drawn over the
    regular grid (dashed grey), on the original map, before any roll.

    Args:
        H, W: map size, multiples of the window.
        window_size: ``M`` or ``(M_h, M_w)``.
        shift_size: ``s`` or ``(s_h, s_w)``, ``0 <= s < M``.
        ax: an ``Axes`` to draw on (default: a new figure).
        labels: write token ids on the cells (default: when ``H * W <= 64``).
    """
    H, W, (wh, ww), (sh, sw) = _windows_and_shift(H, W, window_size, shift_size)
    window_of = window_labels(H, W, (wh, ww), (sh, sw)).numpy()
    fig, (axis,) = new_or_given_axes(ax, 1, (4.2, 4.2))
    axis.imshow(_window_colours(window_of))
    token_grid(axis, H, W)
    if sh or sw:
        axis.add_collection(
            window_grid_lines(H, W, wh, ww, colors="0.35", linewidths=1.2, linestyles="--")
        )
    axis.add_collection(borders(window_of, colors="black", linewidths=2.5))
    if labels if labels is not None else H * W <= MAX_LABELLED_TOKENS:
        write_values(axis, np.arange(H * W).reshape(H, W))
    kind = f"shift ({sh}, {sw})" if sh or sw else "no shift"
    count = int(window_of.max()) + 1
    axis.set_title(f"{H}x{W} map, window {wh}x{ww}, {kind}:\n{count} windows")
    return fig


def plot_cyclic_shift(
    H: int,
    W: int,
    window_size: int | Sequence[int],
    shift_size: int | Sequence[int],
    ax: Sequence[Axes] | None = None,
    labels: bool | None = None,
) -> Figure:
    """The map before and after :func:`~swin_tutorial.windows.cyclic_shift`.

    Left: tokens coloured by their shifted window. Right: the same tokens after
    the roll (colours travel with them), the regular grid ``window_partition``
    cuts (thick) and the region borders the mask enforces (dashed).

    Args:
        H, W, window_size, shift_size: as for :func:`plot_windows`.
        ax: two ``Axes`` (default: a new figure).
        labels: write token ids on the cells (default: when ``H * W <= 64``).
    """
    H, W, (wh, ww), (sh, sw) = _windows_and_shift(H, W, window_size, shift_size)
    window_of = window_labels(H, W, (wh, ww), (sh, sw)).numpy()
    colours = torch.from_numpy(_window_colours(window_of))[None]  # (1, H, W, 3)
    ids = torch.arange(H * W, dtype=torch.float64).reshape(1, H, W, 1)
    rolled_colours = cyclic_shift(colours, (sh, sw))[0].numpy()
    rolled_ids = cyclic_shift(ids, (sh, sw))[0, :, :, 0].long().numpy()
    regions = region_ids(H, W, (wh, ww), (sh, sw)).numpy()
    fig, (before, after) = new_or_given_axes(ax, 2, (8, 4.2))

    before.imshow(colours[0].numpy())
    token_grid(before, H, W)
    before.add_collection(borders(window_of, colors="black", linewidths=2.5))
    before.set_title(f"original map: {int(window_of.max()) + 1} shifted windows")

    after.imshow(rolled_colours)
    token_grid(after, H, W)
    window_id = (np.arange(H)[:, None] // wh) * (W // ww) + np.arange(W)[None, :] // ww
    pieces = window_id * 9 + regions  # region borders inside each window of the regular grid
    after.add_collection(borders(pieces, colors="black", linewidths=1.2, linestyles="--"))
    after.add_collection(window_grid_lines(H, W, wh, ww, colors="black", linewidths=2.5))
    after.set_title(f"after cyclic_shift by ({sh}, {sw}): {(H // wh) * (W // ww)} windows")
    if labels if labels is not None else H * W <= MAX_LABELLED_TOKENS:
        write_values(before, np.arange(H * W).reshape(H, W))
        write_values(after, rolled_ids)
    return fig


def plot_regions_and_mask(
    H: int,
    W: int,
    window_size: int | Sequence[int],
    shift_size: int | Sequence[int],
    ax: Sequence[Axes] | None = None,
) -> Figure:
    """Region ids of the rolled map and the ``(nW, N, N)`` mask built from them.

    Left: :func:`~swin_tutorial.windows.region_ids` with the window grid. Right:
    :func:`~swin_tutorial.windows.shifted_window_mask`, one ``N x N`` block per
    window, placed where the window sits (dark: the query row may attend the key
    column).

    Args:
        H, W, window_size, shift_size: as for :func:`plot_windows`.
        ax: two ``Axes`` (default: a new figure).
    """
    H, W, (wh, ww), (sh, sw) = _windows_and_shift(H, W, window_size, shift_size)
    regions = region_ids(H, W, (wh, ww), (sh, sw)).numpy()
    mask = shifted_window_mask(H, W, (wh, ww), (sh, sw)).numpy()  # (nW, N, N)
    rows, cols, N = H // wh, W // ww, wh * ww
    mosaic = np.full((rows * (N + 1) - 1, cols * (N + 1) - 1), np.nan)
    for w in range(rows * cols):
        r, c = divmod(w, cols)
        mosaic[r * (N + 1) : r * (N + 1) + N, c * (N + 1) : c * (N + 1) + N] = mask[w]
    fig, (left, right) = new_or_given_axes(ax, 2, (8.5, 4.2))

    left.imshow(regions, cmap=ListedColormap(TOL_LIGHT), vmin=-0.5, vmax=8.5)
    token_grid(left, H, W)
    left.add_collection(window_grid_lines(H, W, wh, ww, colors="black", linewidths=2.5))
    if H * W <= 4 * MAX_LABELLED_TOKENS:
        write_values(left, regions)
    left.set_title(f"region ids on the rolled map\n(window {wh}x{ww}, shift ({sh}, {sw}))")

    cmap = ListedColormap([HIDDEN, OKABE_ITO["blue"]]).with_extremes(bad="white")
    right.imshow(np.ma.masked_invalid(mosaic), cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
    right.set_xticks([])
    right.set_yticks([])
    right.set_xlabel("key n within the window")
    right.set_ylabel("query n within the window")
    right.set_title(f"mask ({rows * cols}, {N}, {N}): one block per window\n(dark: may attend)")
    return fig
