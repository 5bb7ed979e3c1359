"""Drawings of who sees whom: visible keys, receptive-field growth, variants, coverage curves.

Used in chapters 2 and 8.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .._checks import check_int
from ..analysis import query_position
from ..patterns import check_layer_patterns, check_pattern, receptive_field
from .style import (
    CURVE_STYLES,
    LINE_COLOURS,
    VISIBILITY_CMAP,
    map_size,
    new_or_given_axes,
    token_grid,
    visibility_legend,
)


def _draw_visibility(axis: Axes, seen: torch.Tensor, H: int, W: int, i: int, j: int) -> None:
    """Draw bool ``seen`` ``(H*W,)`` on the token grid, the query ``(i, j)`` highlighted."""
    image = seen.cpu().reshape(H, W).to(torch.int64).numpy().copy()
    image[i, j] = 2
    axis.imshow(image, cmap=VISIBILITY_CMAP, vmin=0, vmax=2)
    token_grid(axis, H, W)


def _check_named_patterns(patterns: object, T: int) -> list[str]:
    """Check ``{name: bool (T, T)}``; return the names."""
    if not isinstance(patterns, Mapping):
        raise TypeError(
            f"patterns must be a dict {{name: bool (T, T) tensor}}, got {type(patterns).__name__}"
        )
    if not patterns:
        raise ValueError("patterns must hold at least one pattern, got an empty dict")
    for name, pattern in patterns.items():
        check_pattern(f"patterns[{name!r}]", pattern, T)
    return list(patterns)


def plot_visible_keys(
    H: int,
    W: int,
    query: int | Sequence[int],
    patterns: Mapping[str, torch.Tensor],
    ax: Sequence[Axes] | None = None,
) -> Figure:
    """One panel per scheme: the query and the keys it may attend.

    Args:
        H, W: map size.
        query: token id ``i * W + j`` or ``(i, j)``.
        patterns: ``{name: bool (H*W, H*W)}``, e.g. from :mod:`swin_tutorial.patterns`.
        ax: one ``Axes`` per pattern (default: a new figure).
    """
    H, W = map_size(H, W)
    i, j = query_position(query, H, W)
    names = _check_named_patterns(patterns, H * W)
    fig, axes = new_or_given_axes(ax, len(names), (3.1 * len(names), 4.2))
    for axis, name in zip(axes, names, strict=True):
        seen = patterns[name][i * W + j]
        _draw_visibility(axis, seen, H, W, i, j)
        axis.set_title(f"{name}\n{int(seen.sum())} keys")
    if ax is None:
        visibility_legend(fig, "visible key")
    return fig


def plot_receptive_field_growth(
    H: int,
    W: int,
    query: int | Sequence[int],
    layer_patterns: torch.Tensor | Sequence[torch.Tensor],
    layers: int | Sequence[int],
    ax: Sequence[Axes] | None = None,
    title: str | None = None,
) -> Figure:
    """Receptive field of one query after each number of layers in ``layers``.

    Layer ``l`` (from 0) uses ``layer_patterns[l % len(layer_patterns)]``: ``[window]``
    is a stack without shift, ``[window, shifted]`` Swin's alternation. The field is
    :func:`~swin_tutorial.patterns.receptive_field`.

    Args:
        H, W: map size.
        query: token id or ``(i, j)``.
        layer_patterns: a bool ``(H*W, H*W)`` pattern or a sequence of them, cycled.
        layers: layer counts, each ``>= 1``, one panel each.
        ax: one ``Axes`` per entry of ``layers`` (default: a new figure).
        title: written above the panels (on a new figure) or on the first panel.
    """
    H, W = map_size(H, W)
    i, j = query_position(query, H, W)
    layer_patterns = check_layer_patterns(layer_patterns, H * W)
    layers = list(layers) if isinstance(layers, Sequence | range) else [layers]
    if not layers:
        raise ValueError(f"layers must be a non-empty list of layer counts, got layers={layers!r}")
    for index, count in enumerate(layers):
        check_int(f"layers[{index}]", count, minimum=1)
    fig, axes = new_or_given_axes(ax, len(layers), (2.7 * len(layers), 3.9))
    period = len(layer_patterns)
    for axis, count in zip(axes, layers, strict=True):
        stack = [layer_patterns[layer % period] for layer in range(count)]
        reach = receptive_field(stack, i * W + j)
        _draw_visibility(axis, reach, H, W, i, j)
        axis.set_title(f"{count} layer{'s' if count > 1 else ''}: {int(reach.sum())}/{H * W}")
    if title is not None:
        if ax is None:
            fig.suptitle(title)
        else:
            axes[0].set_title(f"{title}\n{axes[0].get_title()}")
    if ax is None:
        visibility_legend(fig, "in the receptive field")
    return fig


def plot_variants(
    H: int,
    W: int,
    queries: Sequence[int | Sequence[int]],
    patterns: Mapping[str, torch.Tensor],
    ax: np.ndarray | Sequence[Sequence[Axes]] | None = None,
) -> Figure:
    """A grid of visible keys: one row per query (:func:`plot_visible_keys`), one column per scheme.

    Used in chapter 8.

    Args:
        H, W: map size.
        queries: non-empty list of token ids ``i * W + j`` or ``(i, j)`` pairs.
        patterns: ``{name: bool (H*W, H*W)}``, one column each.
        ax: ``len(queries) x len(patterns)`` Axes (default: a new figure).
    """
    H, W = map_size(H, W)
    if isinstance(queries, str) or not isinstance(queries, Sequence) or not queries:
        raise ValueError(
            "queries must be a non-empty list of token ids or (i, j) pairs, "
            f"got queries={queries!r}"
        )
    pairs = [query_position(query, H, W) for query in queries]
    rows, cols = len(pairs), len(_check_named_patterns(patterns, H * W))
    if ax is None:
        fig, grid = plt.subplots(
            rows, cols, figsize=(2.5 * cols, 2.9 * rows + 0.4), squeeze=False, layout="constrained"
        )
    else:
        grid = np.asarray(ax, dtype=object)
        if grid.shape != (rows, cols) or not all(isinstance(a, Axes) for a in grid.flat):
            raise ValueError(
                f"ax must be a {rows} x {cols} grid of Axes (queries x patterns), "
                f"got shape {grid.shape}"
            )
        fig = grid[0, 0].figure
    for row, (i, j) in enumerate(pairs):
        plot_visible_keys(H, W, (i, j), patterns, ax=list(grid[row]))
        grid[row, 0].set_ylabel(f"query ({i}, {j})\nrow i")
    if ax is None:
        visibility_legend(fig, "visible key")
    return fig


def plot_coverage_curves(
    curves: Mapping[str, Sequence[float]],
    ax: Axes | None = None,
    title: str | None = None,
    ylabel: str = "fraction of the map reached",
) -> Figure:
    """Receptive-field growth: one curve per scheme, fraction of the map against layers.

    Entry ``n`` of a curve is the value after ``n + 1`` layers, e.g. from
    :func:`~swin_tutorial.patterns.receptive_field_sizes` divided by the number
    of tokens. Used in chapter 8.

    Args:
        curves: ``{name: fractions in [0, 1]}``, each non-empty.
        ax: an ``Axes`` to draw on (default: a new figure).
        title: title of the panel.
        ylabel: label of the vertical axis.
    """
    if not isinstance(curves, Mapping) or not curves:
        raise ValueError(
            f"curves must be a non-empty dict {{name: fractions}}, got {type(curves).__name__}"
        )
    values = {}
    for name, curve in curves.items():
        array = np.asarray(curve.cpu() if isinstance(curve, torch.Tensor) else curve, dtype=float)
        if array.ndim != 1 or array.size == 0 or not np.all((array >= 0) & (array <= 1)):
            raise ValueError(
                f"curves[{name!r}] must be a non-empty 1-D sequence of fractions in [0, 1], "
                f"got {curve!r}"
            )
        values[name] = array
    fig, (axis,) = new_or_given_axes(ax, 1, (6.4, 4))
    for index, (name, array) in enumerate(values.items()):
        linestyle, marker = CURVE_STYLES[index % len(CURVE_STYLES)]
        axis.plot(
            np.arange(1, array.size + 1),
            array,
            linestyle=linestyle,
            marker=marker,
            markersize=4,
            color=LINE_COLOURS[index % len(LINE_COLOURS)],
            label=name,
        )
    axis.axhline(1.0, color="0.5", linewidth=0.8)
    axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    axis.set_xlabel("layers")
    axis.set_ylabel(ylabel)
    axis.set_ylim(0, 1.05)
    axis.legend(fontsize=7)
    if title is not None:
        axis.set_title(title)
    return fig
