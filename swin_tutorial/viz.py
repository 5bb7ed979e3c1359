"""Drawings of windows, shifts, masks, visible keys, receptive fields and attention maps.

Every ``plot_*`` function draws with the package's own functions (the windows
come from :func:`~swin_tutorial.windows.window_partition` and
:func:`~swin_tutorial.windows.cyclic_shift` through
:mod:`swin_tutorial.patterns`), returns the :class:`~matplotlib.figure.Figure`
and never calls ``plt.show()``. Each takes an optional ``ax``: one
``Axes`` for a one-panel drawing, a sequence of ``Axes`` (one per panel) for a
multi-panel one; without it a new figure is made.

Colours are colour-blind safe: the Okabe-Ito palette for highlights and Paul
Tol's "light" palette for region/window fills, with numbers written on the
cells wherever the map is small enough, so no information rests on colour
alone.

:func:`interactive_principle` wraps the drawings in an ``ipywidgets`` widget
for readers with a running kernel.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.colors import ListedColormap, to_rgb
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from ._checks import check_positive_int, to_pair, to_shift_pair
from .neighborhood import neighborhood_mask
from .patterns import global_pattern, receptive_field, shifted_window_pattern, window_pattern
from .windows import cyclic_shift, region_ids, shifted_window_mask

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
#: Ordered so that, read as a 3x3 grid, neighbouring entries are easy to tell apart
#: (the two olives are not side by side).
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
_VISIBILITY_CMAP = ListedColormap([HIDDEN, VISIBLE, QUERY])
#: Token ids are written on the cells up to this many tokens.
MAX_LABELLED_TOKENS = 64


# --------------------------------------------------------------------------- helpers


def _map_size(H: int, W: int) -> tuple[int, int]:
    return check_positive_int("H", H), check_positive_int("W", W)


def _query_pair(query: int | Sequence[int], H: int, W: int) -> tuple[int, int]:
    """Read ``query`` as a token id ``i * W + j`` or a pair ``(i, j)``; return ``(i, j)``."""
    if isinstance(query, int | np.integer) and not isinstance(query, bool):
        if not 0 <= query < H * W:
            raise ValueError(f"query must be a token id in [0, {H * W}), got {query!r}")
        return int(query) // W, int(query) % W
    if (
        isinstance(query, Sequence)
        and len(query) == 2
        and all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in query)
    ):
        i, j = int(query[0]), int(query[1])
        if not (0 <= i < H and 0 <= j < W):
            raise ValueError(f"query (row, col) must lie in the {H}x{W} map, got {tuple(query)!r}")
        return i, j
    raise ValueError(f"query must be a token id or a (row, col) pair, got {query!r}")


def _axes(
    ax: Axes | Sequence[Axes] | None, n: int, figsize: tuple[float, float]
) -> tuple[Figure, list[Axes]]:
    """The figure and ``n`` axes to draw on: the caller's, or a new row of panels."""
    if ax is None:
        fig, axes = plt.subplots(1, n, figsize=figsize, squeeze=False, layout="constrained")
        return fig, list(axes[0])
    axes = [ax] if isinstance(ax, Axes) else list(np.ravel(np.asarray(ax, dtype=object)))
    if len(axes) != n or not all(isinstance(a, Axes) for a in axes):
        wanted = "an Axes" if n == 1 else f"{n} Axes"
        raise ValueError(f"ax must be {wanted} (one per panel), got {ax!r}")
    return axes[0].figure, axes


# The id of the thin lines between tokens, so that they can be told from window borders.
TOKEN_GRID_GID = "token-grid"


def _token_grid(ax: Axes, H: int, W: int) -> None:
    """Ticks, labels and thin white lines between tokens on an ``H x W`` image."""
    # One collection for all the lines: far faster to draw than a grid of minor ticks.
    vertical = [[(x, -0.5), (x, H - 0.5)] for x in np.arange(0.5, W - 1, 1)]
    horizontal = [[(-0.5, y), (W - 0.5, y)] for y in np.arange(0.5, H - 1, 1)]
    ax.add_collection(
        LineCollection(vertical + horizontal, colors="white", linewidths=0.6, gid=TOKEN_GRID_GID)
    )
    step_w, step_h = max(1, W // 8), max(1, H // 8)
    ax.set_xticks(range(0, W, step_w))
    ax.set_yticks(range(0, H, step_h))
    ax.set_xlabel("column j")
    ax.set_ylabel("row i")
    ax.set_xlim(-0.5, W - 0.5)
    ax.set_ylim(H - 0.5, -0.5)


def _write_values(ax: Axes, values: np.ndarray, fontsize: float = 7) -> None:
    """Write the integer ``values[i, j]`` on every cell."""
    for (i, j), value in np.ndenumerate(values):
        ax.text(j, i, str(int(value)), ha="center", va="center", fontsize=fontsize, color="black")


def _borders(labels: np.ndarray, **style) -> LineCollection:
    """Lines between neighbouring cells whose labels differ, plus the frame."""
    H, W = labels.shape
    segments = []
    for i in range(H):
        for j in range(W - 1):
            if labels[i, j] != labels[i, j + 1]:
                segments.append([(j + 0.5, i - 0.5), (j + 0.5, i + 0.5)])
    for i in range(H - 1):
        for j in range(W):
            if labels[i, j] != labels[i + 1, j]:
                segments.append([(j - 0.5, i + 0.5), (j + 0.5, i + 0.5)])
    segments += [
        [(-0.5, -0.5), (W - 0.5, -0.5)],
        [(W - 0.5, -0.5), (W - 0.5, H - 0.5)],
        [(W - 0.5, H - 0.5), (-0.5, H - 0.5)],
        [(-0.5, H - 0.5), (-0.5, -0.5)],
    ]
    return LineCollection(segments, **style)


def window_labels(
    H: int, W: int, window_size: int | Sequence[int], shift_size: int | Sequence[int] = 0
) -> torch.Tensor:
    """Which window each token of the *original* map belongs to: long ``(H, W)``.

    Windows are the classes of :func:`~swin_tutorial.patterns.shifted_window_pattern`
    (tokens that may attend each other), numbered ``0, 1, ...`` in row-major
    order of their top-left token. With a shift, a map of ``H/M x W/M`` windows
    shows ``(H/M + 1)(W/M + 1)`` of them.
    """
    pattern = shifted_window_pattern(H, W, window_size, shift_size)
    first = pattern.to(torch.uint8).argmax(dim=1)  # smallest token id of each token's window
    return torch.unique(first, return_inverse=True)[1].reshape(H, W)


def _segment_index(labels: np.ndarray, axis: int) -> np.ndarray:
    """Window row (axis 0) or column (axis 1) index of every cell of a grid of windows."""
    line = labels[:, 0] if axis == 0 else labels[0, :]
    index = np.concatenate([[0], np.cumsum(line[1:] != line[:-1])])
    return index[:, None] if axis == 0 else index[None, :]


def _window_colours(labels: np.ndarray) -> np.ndarray:
    """An RGB image ``(H, W, 3)``: windows coloured so that neighbours always differ."""
    rows, cols = _segment_index(labels, 0), _segment_index(labels, 1)
    colour_id = (rows % 3) * 3 + (cols % 3)
    palette = np.array([to_rgb(c) for c in TOL_LIGHT])
    return palette[colour_id]


def _window_grid_lines(H: int, W: int, wh: int, ww: int, **style) -> LineCollection:
    """Borders of the regular window grid (multiples of the window)."""
    rows = np.arange(H)[:, None] // wh
    cols = np.arange(W)[None, :] // ww
    return _borders(rows * (W // ww + 1) + cols, **style)


# --------------------------------------------------------------------------- windows


def plot_windows(
    H: int,
    W: int,
    window_size: int | Sequence[int],
    shift_size: int | Sequence[int] = 0,
    ax: Axes | None = None,
    labels: bool | None = None,
) -> Figure:
    """The token grid of an ``H x W`` map with its windows drawn on it.

    With ``shift_size`` the *shifted* windows are drawn on the original map (thick
    black borders) over the regular grid (dashed grey): the partition a shifted
    Swin block really attends in, before any roll.

    Args:
        H, W: map size, multiples of the window.
        window_size: ``M`` or ``(M_h, M_w)``.
        shift_size: ``s`` or ``(s_h, s_w)``, ``0 <= s < M``.
        ax: an ``Axes`` to draw on (default: a new figure).
        labels: write token ids on the cells (default: when ``H * W <= 64``).
    """
    H, W = _map_size(H, W)
    wh, ww = to_pair("window_size", window_size)
    sh, sw = to_shift_pair("shift_size", shift_size, (wh, ww))
    window_of = window_labels(H, W, (wh, ww), (sh, sw)).numpy()
    fig, (axis,) = _axes(ax, 1, (4.2, 4.2))
    axis.imshow(_window_colours(window_of))
    _token_grid(axis, H, W)
    if sh or sw:
        regular = _window_grid_lines(H, W, wh, ww, colors="0.35", linewidths=1.2, linestyles="--")
        axis.add_collection(regular)
    axis.add_collection(_borders(window_of, colors="black", linewidths=2.5))
    if labels if labels is not None else H * W <= MAX_LABELLED_TOKENS:
        _write_values(axis, np.arange(H * W).reshape(H, W))
    count = int(window_of.max()) + 1
    kind = f"shift ({sh}, {sw})" if sh or sw else "no shift"
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

    Left: the original map, tokens coloured by their shifted window. Right: the
    same tokens after the roll; the colours travel with the tokens. The thick
    lines are the regular grid that ``window_partition`` cuts the rolled map
    into, the dashed lines the region borders the mask enforces inside it.

    Args:
        H, W, window_size, shift_size: as for :func:`plot_windows`.
        ax: two ``Axes`` (default: a new figure).
        labels: write token ids on the cells (default: when ``H * W <= 64``).
    """
    H, W = _map_size(H, W)
    wh, ww = to_pair("window_size", window_size)
    sh, sw = to_shift_pair("shift_size", shift_size, (wh, ww))
    window_of = window_labels(H, W, (wh, ww), (sh, sw)).numpy()
    colours = torch.from_numpy(_window_colours(window_of))[None]  # (1, H, W, 3)
    ids = torch.arange(H * W, dtype=torch.float64).reshape(1, H, W, 1)
    rolled_colours = cyclic_shift(colours, (sh, sw))[0].numpy()
    rolled_ids = cyclic_shift(ids, (sh, sw))[0, :, :, 0].long().numpy()
    regions = region_ids(H, W, (wh, ww), (sh, sw)).numpy()
    write = labels if labels is not None else H * W <= MAX_LABELLED_TOKENS
    fig, (before, after) = _axes(ax, 2, (8, 4.2))

    before.imshow(colours[0].numpy())
    _token_grid(before, H, W)
    before.add_collection(_borders(window_of, colors="black", linewidths=2.5))
    before.set_title(f"original map: {int(window_of.max()) + 1} shifted windows")

    after.imshow(rolled_colours)
    _token_grid(after, H, W)
    # region borders inside each window of the regular grid
    window_id = (np.arange(H)[:, None] // wh) * (W // ww) + np.arange(W)[None, :] // ww
    pieces = window_id * 9 + regions
    after.add_collection(_borders(pieces, colors="black", linewidths=1.2, linestyles="--"))
    after.add_collection(_window_grid_lines(H, W, wh, ww, colors="black", linewidths=2.5))
    after.set_title(f"after cyclic_shift by ({sh}, {sw}): {(H // wh) * (W // ww)} windows")
    if write:
        _write_values(before, np.arange(H * W).reshape(H, W))
        _write_values(after, rolled_ids)
    return fig


def plot_regions_and_mask(
    H: int,
    W: int,
    window_size: int | Sequence[int],
    shift_size: int | Sequence[int],
    ax: Sequence[Axes] | None = None,
) -> Figure:
    """Region ids of the rolled map and the ``(nW, N, N)`` mask built from them.

    Left: :func:`~swin_tutorial.windows.region_ids` on the rolled map, with the
    window grid. Right: :func:`~swin_tutorial.windows.shifted_window_mask`, one
    ``N x N`` block per window placed where the window sits on the map (dark:
    the query, a row, may attend the key, a column).

    Args:
        H, W, window_size, shift_size: as for :func:`plot_windows`.
        ax: two ``Axes`` (default: a new figure).
    """
    H, W = _map_size(H, W)
    wh, ww = to_pair("window_size", window_size)
    sh, sw = to_shift_pair("shift_size", shift_size, (wh, ww))
    regions = region_ids(H, W, (wh, ww), (sh, sw)).numpy()
    mask = shifted_window_mask(H, W, (wh, ww), (sh, sw)).numpy()  # (nW, N, N)
    rows, cols, N = H // wh, W // ww, wh * ww
    mosaic = np.full((rows * (N + 1) - 1, cols * (N + 1) - 1), np.nan)
    for w in range(rows * cols):
        r, c = divmod(w, cols)
        mosaic[r * (N + 1) : r * (N + 1) + N, c * (N + 1) : c * (N + 1) + N] = mask[w]
    fig, (left, right) = _axes(ax, 2, (8.5, 4.2))

    left.imshow(regions, cmap=ListedColormap(TOL_LIGHT), vmin=-0.5, vmax=8.5)
    _token_grid(left, H, W)
    left.add_collection(_window_grid_lines(H, W, wh, ww, colors="black", linewidths=2.5))
    if H * W <= 4 * MAX_LABELLED_TOKENS:
        _write_values(left, regions)
    left.set_title(f"region ids on the rolled map\n(window {wh}x{ww}, shift ({sh}, {sw}))")

    cmap = ListedColormap([HIDDEN, OKABE_ITO["blue"]]).with_extremes(bad="white")
    right.imshow(np.ma.masked_invalid(mosaic), cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
    right.set_xticks([])
    right.set_yticks([])
    right.set_xlabel("key n within the window")
    right.set_ylabel("query n within the window")
    right.set_title(f"mask ({rows * cols}, {N}, {N}): one block per window\n(dark: may attend)")
    return fig


# --------------------------------------------------------------------------- who sees whom


def _check_patterns(name: str, patterns: Sequence[torch.Tensor], T: int) -> None:
    for index, pattern in enumerate(patterns):
        if not isinstance(pattern, torch.Tensor) or pattern.dtype != torch.bool:
            raise ValueError(
                f"{name}[{index}] must be a bool tensor ({T}, {T}), got {type(pattern).__name__}"
            )
        if tuple(pattern.shape) != (T, T):
            raise ValueError(
                f"{name}[{index}] must have shape ({T}, {T}) for an H*W={T} map, "
                f"got {tuple(pattern.shape)}"
            )


def _visibility_image(seen: torch.Tensor, H: int, W: int, i: int, j: int) -> np.ndarray:
    image = seen.reshape(H, W).to(torch.int64).numpy().copy()
    image[i, j] = 2
    return image


def _legend(fig: Figure, seen_label: str) -> None:
    handles = [
        Patch(facecolor=QUERY, label="query"),
        Patch(facecolor=VISIBLE, label=seen_label),
        Patch(facecolor=HIDDEN, edgecolor="0.6", label="other tokens"),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncols=3, frameon=False)


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
        patterns: ``{name: bool (H*W, H*W)}``, e.g. global, window, shifted
            window and neighbourhood patterns from :mod:`swin_tutorial.patterns`.
        ax: one ``Axes`` per pattern (default: a new figure).
    """
    H, W = _map_size(H, W)
    i, j = _query_pair(query, H, W)
    if not isinstance(patterns, Mapping):
        raise TypeError(
            f"patterns must be a dict {{name: bool (T, T) tensor}}, got {type(patterns).__name__}"
        )
    if not patterns:
        raise ValueError("patterns must hold at least one pattern, got an empty dict")
    names = list(patterns)
    _check_patterns("patterns", [patterns[n] for n in names], H * W)
    fig, axes = _axes(ax, len(names), (3.1 * len(names), 4.2))
    for axis, name in zip(axes, names):
        seen = patterns[name][i * W + j].cpu()
        axis.imshow(_visibility_image(seen, H, W, i, j), cmap=_VISIBILITY_CMAP, vmin=0, vmax=2)
        _token_grid(axis, H, W)
        axis.set_title(f"{name}\n{int(seen.sum())} keys")
    if ax is None:
        _legend(fig, "visible key")
    return fig


def plot_receptive_field_growth(
    H: int,
    W: int,
    query: int | Sequence[int],
    layer_patterns: torch.Tensor | Sequence[torch.Tensor],
    layers: Sequence[int],
    ax: Sequence[Axes] | None = None,
    title: str | None = None,
) -> Figure:
    """Receptive field of one query after each number of layers in ``layers``.

    Layer ``l`` (from 0) uses ``layer_patterns[l % len(layer_patterns)]``, so
    ``[window]`` is a stack without shift and ``[window, shifted]`` Swin's
    alternation. The receptive field is
    :func:`~swin_tutorial.patterns.receptive_field`.

    Args:
        H, W: map size.
        query: token id or ``(i, j)``.
        layer_patterns: a bool ``(H*W, H*W)`` pattern or a sequence of them, cycled.
        layers: layer counts, each ``>= 1``, one panel each.
        ax: one ``Axes`` per entry of ``layers`` (default: a new figure).
        title: written above the panels (on a new figure) or on the first panel.
    """
    H, W = _map_size(H, W)
    i, j = _query_pair(query, H, W)
    if isinstance(layer_patterns, torch.Tensor):
        layer_patterns = [layer_patterns]
    if not isinstance(layer_patterns, Sequence) or not layer_patterns:
        raise ValueError("layer_patterns must be a bool (T, T) tensor or a non-empty list of them")
    _check_patterns("layer_patterns", layer_patterns, H * W)
    layers = list(layers) if isinstance(layers, Sequence | range) else [layers]
    if not layers or any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in layers):
        raise ValueError(f"layers must be a non-empty list of layer counts >= 1, got {layers!r}")
    fig, axes = _axes(ax, len(layers), (2.7 * len(layers), 3.9))
    period = len(layer_patterns)
    for axis, count in zip(axes, layers):
        stack = [layer_patterns[layer % period] for layer in range(count)]
        reach = receptive_field(stack, i * W + j).cpu()
        axis.imshow(_visibility_image(reach, H, W, i, j), cmap=_VISIBILITY_CMAP, vmin=0, vmax=2)
        _token_grid(axis, H, W)
        axis.set_title(f"{count} layer{'s' if count > 1 else ''}: {int(reach.sum())}/{H * W}")
    if title is not None:
        if ax is None:
            fig.suptitle(title)
        else:
            axes[0].set_title(f"{title}\n{axes[0].get_title()}")
    if ax is None:
        _legend(fig, "in the receptive field")
    return fig


def plot_attention_map(
    attn: torch.Tensor | np.ndarray,
    ax: Axes | None = None,
    title: str = "attention weights",
    xlabel: str = "key",
    ylabel: str = "query",
    cmap: str = "viridis",
    colorbar: bool = True,
    vmin: float | None = None,
    vmax: float | None = None,
) -> Figure:
    """Heatmap of a 2-D array: attention weights ``(N, N)`` or one query's map ``(H, W)``.

    For an ``(H, W)`` map pass ``xlabel="column j", ylabel="row i"``.
    """
    if isinstance(attn, torch.Tensor):
        attn = attn.detach().float().cpu().numpy()
    if not isinstance(attn, np.ndarray) or attn.ndim != 2:
        shape = getattr(attn, "shape", type(attn).__name__)
        raise ValueError(f"attn must be a 2-D array (N, N) or (H, W), got {shape}")
    fig, (axis,) = _axes(ax, 1, (4.6, 4))
    image = axis.imshow(attn, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
    axis.set_title(title)
    axis.set_xlabel(xlabel)
    axis.set_ylabel(ylabel)
    if colorbar:
        fig.colorbar(image, ax=axis, shrink=0.85)
    return fig


# --------------------------------------------------------------------------- widget


def _require_ipywidgets():
    try:
        import ipywidgets
    except ImportError as error:  # ipywidgets is in requirements.txt, but not everywhere
        raise ImportError(
            "interactive_principle needs ipywidgets: `pip install ipywidgets` (it is in the "
            "book's requirements.txt), then restart the kernel. The static figures in the "
            "chapter show the same content."
        ) from error
    return ipywidgets


def principle_figure(
    H: int,
    W: int,
    window_size: int,
    shift_size: int,
    query_row: int,
    query_col: int,
    layers: int,
    kernel_size: int,
) -> Figure:
    """The widget's drawing: who one query sees, and its receptive field after ``layers``.

    Top row: keys visible to the query under global, window, shifted-window and
    neighbourhood attention. Bottom row: the shifted windows on the map, then
    the receptive field after ``layers`` layers of windows without shift,
    alternating regular/shifted windows, and neighbourhood attention.
    """
    H, W = _map_size(H, W)
    shift_size = min(shift_size, window_size - 1)
    query = (query_row, query_col)
    regular = window_pattern(H, W, window_size)
    shifted = shifted_window_pattern(H, W, window_size, shift_size)
    neighbours = neighborhood_mask(H, W, kernel_size)
    fig, axes = plt.subplots(2, 4, figsize=(13, 7.2), layout="constrained")
    plot_visible_keys(
        H,
        W,
        query,
        {
            "global": global_pattern(H, W),
            f"window {window_size}": regular,
            f"shifted window {window_size}, shift {shift_size}": shifted,
            f"neighbourhood {kernel_size}x{kernel_size}": neighbours,
        },
        ax=axes[0],
    )
    plot_windows(H, W, window_size, shift_size, ax=axes[1, 0], labels=False)
    for axis, name, stack in (
        (axes[1, 1], "windows, no shift", [regular]),
        (axes[1, 2], "alternating shift", [regular, shifted]),
        (axes[1, 3], f"neighbourhood {kernel_size}x{kernel_size}", [neighbours]),
    ):
        plot_receptive_field_growth(H, W, query, stack, [layers], ax=[axis], title=name)
    _legend(fig, "visible key / in the receptive field")
    fig.suptitle(
        f"{H}x{W} map, window {window_size}, shift {shift_size}, query ({query_row}, {query_col}), "
        f"{layers} layer{'s' if layers > 1 else ''}"
    )
    return fig


def interactive_principle(H: int = 8, W: int = 8, show: Callable[[Figure], None] | None = None):
    """An ``ipywidgets.interactive`` widget redrawing :func:`principle_figure`.

    Sliders: window size (divisors of ``H`` and ``W``), shift, query row and
    column, number of layers, neighbourhood kernel size. Display the returned
    widget (make it the last expression of a cell).

    Args:
        H, W: map size; dense ``(H*W, H*W)`` patterns are drawn, so ``H * W <= 1024``.
        show: how to display each new figure (default: ``IPython.display.display``);
            the figure is closed afterwards. ``widget.result`` holds the last figure.

    Returns:
        the ``ipywidgets.interactive`` widget.
    """
    widgets = _require_ipywidgets()
    H, W = _map_size(H, W)
    if H * W > 1024:
        raise ValueError(f"H*W must be at most 1024 for the dense drawings, got H={H}, W={W}")
    sizes = [m for m in range(2, min(H, W) + 1) if H % m == 0 and W % m == 0]
    if not sizes:
        raise ValueError(f"H={H} and W={W} must share a divisor >= 2 to be cut into windows")
    kernels = list(range(3, min(H, W) + 1, 2)) or [1]
    if show is None:
        from IPython.display import display as show

    slow = {"continuous_update": False}  # redraw when the slider is released
    window = widgets.Dropdown(
        options=sizes, value=4 if 4 in sizes else sizes[0], description="window M"
    )
    shift = widgets.IntSlider(
        value=window.value // 2, min=0, max=window.value - 1, description="shift s", **slow
    )
    row = widgets.IntSlider(value=0, min=0, max=H - 1, description="query row", **slow)
    col = widgets.IntSlider(value=0, min=0, max=W - 1, description="query col", **slow)
    layers = widgets.IntSlider(
        value=2, min=1, max=2 * max(H, W) // min(sizes) + 1, description="layers", **slow
    )
    kernel = widgets.SelectionSlider(
        options=kernels, value=kernels[0], description="kernel k", **slow
    )

    def follow_window(change) -> None:
        shift.max = change["new"] - 1

    window.observe(follow_window, names="value")

    def draw(window_size, shift_size, query_row, query_col, layers, kernel_size):
        fig = principle_figure(
            H, W, window_size, shift_size, query_row, query_col, layers, kernel_size
        )
        show(fig)
        plt.close(fig)
        return fig

    return widgets.interactive(
        draw,
        window_size=window,
        shift_size=shift,
        query_row=row,
        query_col=col,
        layers=layers,
        kernel_size=kernel,
    )


# --------------------------------------------------------------------------- variants of the window
# (chapter 8: several schemes side by side, and how fast their receptive fields grow)

#: Line styles and markers for curves, so that no curve is told apart by colour alone.
_CURVE_STYLES = [
    ("-", "o"),
    ("--", "s"),
    ("-.", "^"),
    (":", "D"),
    ("-", "v"),
    ("--", "P"),
    ("-.", "X"),
    (":", "*"),
]


def plot_variants(
    H: int,
    W: int,
    queries: Sequence[int | Sequence[int]],
    patterns: Mapping[str, torch.Tensor],
    ax: np.ndarray | Sequence[Sequence[Axes]] | None = None,
) -> Figure:
    """A grid of visible keys: one row per query, one column per scheme.

    Each row is :func:`plot_visible_keys` for one query, so the schemes can be
    compared for, say, a query in the middle of the map and one in a corner.

    Args:
        H, W: map size.
        queries: non-empty list of token ids ``i * W + j`` or ``(i, j)`` pairs.
        patterns: ``{name: bool (H*W, H*W)}``, one column each.
        ax: ``len(queries) x len(patterns)`` Axes (default: a new figure).
    """
    H, W = _map_size(H, W)
    if isinstance(queries, str) or not isinstance(queries, Sequence) or not queries:
        raise ValueError(
            f"queries must be a non-empty list of token ids or (i, j) pairs, got {queries!r}"
        )
    pairs = [_query_pair(query, H, W) for query in queries]
    if not isinstance(patterns, Mapping) or not patterns:
        raise ValueError(
            f"patterns must be a non-empty dict {{name: bool (T, T)}}, got {type(patterns).__name__}"
        )
    rows, cols = len(pairs), len(patterns)
    if ax is None:
        fig, grid = plt.subplots(
            rows, cols, figsize=(2.5 * cols, 2.9 * rows + 0.4), squeeze=False, layout="constrained"
        )
    else:
        grid = np.asarray(ax, dtype=object)
        if grid.shape != (rows, cols) or not all(isinstance(a, Axes) for a in grid.flat):
            raise ValueError(
                f"ax must be a {rows} x {cols} grid of Axes (queries x patterns), got shape {grid.shape}"
            )
        fig = grid[0, 0].figure
    for row, (i, j) in enumerate(pairs):
        plot_visible_keys(H, W, (i, j), patterns, ax=list(grid[row]))
        grid[row, 0].set_ylabel(f"query ({i}, {j})\nrow i")
    if ax is None:
        _legend(fig, "visible key")
    return fig


def plot_coverage_curves(
    curves: Mapping[str, Sequence[float]],
    ax: Axes | None = None,
    title: str | None = None,
    ylabel: str = "fraction of the map reached",
) -> Figure:
    """Receptive-field growth: one curve per scheme, fraction of the map against layers.

    Entry ``n`` of each curve is the value after ``n + 1`` layers (for example
    the smallest receptive field over all queries, divided by the number of
    tokens, from :func:`~swin_tutorial.patterns.receptive_field_sizes`). A
    curve that reaches 1 covers the map; one that flattens below 1 never does.

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
                f"curves[{name!r}] must be a non-empty 1-D sequence of fractions in [0, 1], got {curve!r}"
            )
        values[name] = array
    fig, (axis,) = _axes(ax, 1, (6.4, 4))
    colours = [c for name, c in OKABE_ITO.items() if name != "yellow"]  # yellow is faint as a line
    for index, (name, array) in enumerate(values.items()):
        linestyle, marker = _CURVE_STYLES[index % len(_CURVE_STYLES)]
        layers = np.arange(1, array.size + 1)
        axis.plot(
            layers,
            array,
            linestyle=linestyle,
            marker=marker,
            markersize=4,
            color=colours[index % len(colours)],
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


# --------------------------------------------------------------------------- trained models (chapter 12)
# Learning curves, attention maps and effective receptive fields of a trained model.


def _history_lists(name: str, history: object) -> dict[str, list[float]]:
    """Read a training history (a ``train.History`` or a dict of lists) as a dict of lists."""
    record = history.as_dict() if hasattr(history, "as_dict") else history
    keys = ("epoch", "train_loss", "val_loss", "val_accuracy")
    if not isinstance(record, Mapping) or any(key not in record for key in keys):
        raise ValueError(
            f"{name} must be a History from swin_tutorial.train.fit or a dict with keys {keys}, "
            f"got {type(history).__name__}"
        )
    lengths = {len(record[key]) for key in keys}
    if len(lengths) != 1 or lengths == {0}:
        raise ValueError(
            f"{name} must hold one value per epoch in each of {keys}, got lengths {lengths}"
        )
    return {key: [float(v) for v in record[key]] for key in keys}


def plot_learning_curves(
    histories: object,
    ax: Sequence[Axes] | None = None,
    title: str | None = None,
    chance: float | None = None,
) -> Figure:
    """Loss and accuracy per epoch: one panel each, one colour per run.

    Args:
        histories: one history (``swin_tutorial.train.History`` or a dict of
            lists with ``epoch``, ``train_loss``, ``val_loss``, ``val_accuracy``)
            or a dict ``{name: history}`` to compare runs.
        ax: two ``Axes`` (loss, accuracy); default a new figure.
        title: written above the panels.
        chance: draw this accuracy as a grey line (e.g. 0.5 for two balanced classes).

    Solid lines are the training loss (averaged over each epoch's batches),
    dashed lines the held-out loss; the right panel shows held-out accuracy.
    """
    if isinstance(histories, Mapping) and "epoch" not in histories:
        if not histories:
            raise ValueError("histories must not be an empty dict")
        runs = {
            str(name): _history_lists(f"histories[{name!r}]", h) for name, h in histories.items()
        }
    else:
        runs = {"": _history_lists("histories", histories)}
    fig, (loss_ax, acc_ax) = _axes(ax, 2, (9, 3.4))
    colours = [c for name, c in OKABE_ITO.items() if name != "yellow"]
    for index, (name, run) in enumerate(runs.items()):
        colour = colours[index % len(colours)]
        prefix = f"{name}: " if name else ""
        loss_ax.plot(
            run["epoch"],
            run["train_loss"],
            color=colour,
            marker="o",
            markersize=3,
            label=f"{prefix}train",
        )
        loss_ax.plot(
            run["epoch"],
            run["val_loss"],
            color=colour,
            linestyle="--",
            marker="s",
            markersize=3,
            label=f"{prefix}held out",
        )
        acc_ax.plot(
            run["epoch"],
            run["val_accuracy"],
            color=colour,
            marker="o",
            markersize=3,
            label=name or "held out",
        )
    if chance is not None:
        acc_ax.axhline(chance, color="0.5", linewidth=0.8, linestyle=":", label="chance")
    for axis, label in ((loss_ax, "cross-entropy loss"), (acc_ax, "held-out accuracy")):
        axis.set_xlabel("epoch")
        axis.set_ylabel(label)
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.legend(fontsize=7)
    acc_ax.set_ylim(0, 1.02)
    if title is not None:
        fig.suptitle(title)
    return fig


def _check_feature_model(model: object) -> None:
    if not isinstance(model, torch.nn.Module) or not callable(
        getattr(model, "forward_features", None)
    ):
        raise TypeError(
            f"model must be a torch.nn.Module with forward_features(images) -> (B, h, w, C), "
            f"e.g. a SwinTransformer; got {type(model).__name__}"
        )


def _check_images(images: object) -> torch.Tensor:
    if not isinstance(images, torch.Tensor) or images.dim() != 4 or not images.is_floating_point():
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise ValueError(f"images must be a float tensor (B, C_in, H, W), got {shape}")
    return images


def effective_receptive_field(
    model: torch.nn.Module, images: torch.Tensor, query: Sequence[int]
) -> torch.Tensor:
    """How strongly each input pixel moves one output token, averaged over images.

    For each image, the output token at ``query`` of ``model.forward_features``
    (the map *before* pooling) is a vector ``z`` of ``C`` channels; its
    Jacobian with respect to the input has one row per channel. The effective
    receptive field is the norm of that Jacobian at every pixel,
    ``sqrt(sum over output channels c and input channels k of (dz_c / dx_k)^2)``,
    averaged over the images. A pixel with value exactly 0 cannot influence the
    token at all.

    The ``C`` rows come from one backward pass: each image is repeated ``C``
    times and copy ``c`` contributes only ``z_c``. This is exact when samples
    do not interact inside the model (true of any model in ``eval()`` mode
    without batch statistics, like every model of this package).

    Args:
        model: has ``forward_features(images) -> (B, h, w, C)``; evaluated in
            ``eval()`` mode and left in the mode it was in.
        images: ``(B, C_in, H, W)``.
        query: ``(i, j)`` on the ``h x w`` output map.

    Returns:
        ``(H, W)`` float, non-negative, on the model's device.
    """
    _check_feature_model(model)
    images = _check_images(images)
    parameter = next(model.parameters(), None)
    if parameter is not None:  # the images go where the model is
        images = images.to(parameter.device)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            probe = model.forward_features(images[:1])
        if probe.dim() != 4:
            raise ValueError(
                f"model.forward_features must return (B, h, w, C), got {tuple(probe.shape)}"
            )
        _, h, w, C = probe.shape
        i, j = _query_pair(query, h, w)
        B = images.shape[0]
        copies = (
            images.detach().repeat_interleave(C, dim=0).requires_grad_(True)
        )  # (B*C, C_in, H, W)
        tokens = model.forward_features(copies)[:, i, j, :]  # (B*C, C)
        channel = torch.arange(B * C, device=tokens.device) % C
        (grad,) = torch.autograd.grad(tokens.gather(1, channel[:, None]).sum(), copies)
    finally:
        model.train(was_training)
    jacobian = grad.reshape(B, C, *images.shape[1:])  # (B, C, C_in, H, W)
    return jacobian.square().sum(dim=(1, 2)).sqrt().mean(dim=0)


def plot_effective_receptive_field(
    erf: torch.Tensor | np.ndarray,
    query: Sequence[int],
    patch_size: int,
    window_size: int | Sequence[int],
    ax: Axes | None = None,
    title: str = "effective receptive field",
    log_floor: float | None = 1e-4,
) -> Figure:
    """Draw an effective receptive field ``(H, W)`` with the regular windows and the query.

    The map is divided by its maximum and drawn on a logarithmic scale from
    ``log_floor`` to 1 (smaller values get the colour of ``log_floor``);
    pixels that cannot influence the token at all (value exactly 0) are grey,
    so "exactly nothing" is not confused with "very little". The regular
    window grid (``window_size`` tokens of ``patch_size`` pixels) is drawn in
    white and the query's patch outlined.

    Args:
        erf: ``(H, W)`` from :func:`effective_receptive_field`.
        query: ``(i, j)`` of the output token on the token map.
        patch_size: pixels per token side.
        window_size: tokens per window side, ``M`` or ``(wh, ww)``.
        ax: an ``Axes`` to draw on (default: a new figure).
        title: title of the panel.
        log_floor: lowest value of the logarithmic scale, in ``(0, 1)``;
            ``None`` draws a linear scale from 0 to 1.
    """
    from matplotlib.colors import LogNorm, Normalize

    if isinstance(erf, torch.Tensor):
        erf = erf.detach().float().cpu().numpy()
    if not isinstance(erf, np.ndarray) or erf.ndim != 2 or erf.min() < 0:
        raise ValueError(
            f"erf must be a non-negative 2-D array (H, W), got {getattr(erf, 'shape', erf)!r}"
        )
    if log_floor is not None and not 0 < log_floor < 1:
        raise ValueError(f"log_floor must be in (0, 1) or None, got {log_floor!r}")
    p = check_positive_int("patch_size", patch_size)
    wh, ww = to_pair("window_size", window_size)
    H, W = erf.shape
    i, j = _query_pair(query, H // p, W // p)
    fig, (axis,) = _axes(ax, 1, (4.2, 3.8))
    scaled = np.ma.masked_equal(erf / erf.max() if erf.max() > 0 else erf, 0.0)
    if log_floor is not None:
        scaled = np.ma.maximum(scaled, log_floor)  # exact zeros stay masked
    norm = Normalize(0, 1) if log_floor is None else LogNorm(log_floor, 1)
    cmap = plt.get_cmap("magma").with_extremes(bad=HIDDEN)
    image = axis.imshow(scaled, cmap=cmap, norm=norm, interpolation="nearest")
    axis.add_collection(_window_grid_lines(H, W, wh * p, ww * p, colors="white", linewidths=1.2))
    axis.add_patch(
        plt.Rectangle(
            (j * p - 0.5, i * p - 0.5),
            p,
            p,
            fill=False,
            edgecolor=OKABE_ITO["sky_blue"],
            linewidth=2,
        )
    )
    axis.set_xlabel("pixel column")
    axis.set_ylabel("pixel row")
    axis.set_title(title)
    label = "relative influence" + ("" if log_floor is None else " (log scale)")
    fig.colorbar(image, ax=axis, shrink=0.85, label=label)
    return fig


def attention_maps(
    model: torch.nn.Module, image: torch.Tensor, query: Sequence[int], stage: int = 0
) -> torch.Tensor:
    """The attention weights one query gives the map, in every block of a stage.

    ``model`` is a :class:`~swin_tutorial.model.SwinTransformer`; the image runs
    through it once, the input of each block of ``model.layers[stage]`` is
    caught on the way, and :meth:`~swin_tutorial.model.SwinBlock.attention_weights`
    gives the weights from there.

    Args:
        model: a window-attention ``SwinTransformer`` (``model.layers[stage].blocks``
            must have ``attention_weights``).
        image: ``(C_in, H, W)``, one image.
        query: ``(i, j)`` token on the stage's ``h x w`` map.
        stage: index of the stage.

    Returns:
        ``(blocks, heads, h, w)`` on the model's device: block ``b``, head ``k``,
        the weight of each token for the query (zero outside the query's
        window; each map sums to 1).
    """
    _check_feature_model(model)
    if not isinstance(image, torch.Tensor) or image.dim() != 3:
        shape = tuple(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__
        raise ValueError(f"image must be one image (C_in, H, W), got {shape}")
    layers = getattr(model, "layers", None)
    if not isinstance(stage, int) or layers is None or not 0 <= stage < len(layers):
        raise ValueError(
            f"stage must index model.layers (0 .. {len(layers or []) - 1}), got {stage!r}"
        )
    blocks = list(layers[stage].blocks)
    if not all(hasattr(block, "attention_weights") for block in blocks):
        raise TypeError(f"the blocks of stage {stage} have no window attention weights to show")
    parameter = next(model.parameters(), None)
    if parameter is not None:  # the image goes where the model is
        image = image.to(parameter.device)
    inputs: list[torch.Tensor] = []
    hooks = [
        block.register_forward_pre_hook(lambda module, args: inputs.append(args[0]))
        for block in blocks
    ]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(image[None])
            _, h, w, _ = inputs[0].shape
            i, j = _query_pair(query, h, w)
            maps = [block.attention_weights(x)[0, :, i * w + j] for block, x in zip(blocks, inputs)]
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    return torch.stack(maps).reshape(len(blocks), -1, h, w)


def plot_attention_maps(
    image: torch.Tensor,
    maps: torch.Tensor,
    query: Sequence[int],
    patch_size: int,
    titles: Sequence[str] | None = None,
    ax: Sequence[Axes] | None = None,
) -> Figure:
    """An image and, beside it, where one query looks in each block (heads averaged).

    Keys with weight exactly 0 (outside the query's window) are grey.

    Args:
        image: ``(C_in, H, W)``; the first channel is drawn in grey.
        maps: ``(blocks, heads, h, w)`` from :func:`attention_maps`.
        query: ``(i, j)`` token, outlined on every panel.
        patch_size: pixels per token side of the image (``H = h * patch_size``).
        titles: one per block (default ``"block 1"``, ...).
        ax: ``1 + blocks`` Axes (default: a new figure).
    """
    if not isinstance(maps, torch.Tensor) or maps.dim() != 4:
        raise ValueError(
            f"maps must be (blocks, heads, h, w), got {getattr(maps, 'shape', type(maps).__name__)}"
        )
    if not isinstance(image, torch.Tensor) or image.dim() != 3:
        raise ValueError(
            f"image must be (C_in, H, W), got {getattr(image, 'shape', type(image).__name__)}"
        )
    blocks, _, h, w = maps.shape
    p = check_positive_int("patch_size", patch_size)
    if image.shape[1:] != (h * p, w * p):
        raise ValueError(
            f"image of shape {tuple(image.shape)} does not match maps of {h}x{w} tokens "
            f"with patch_size={p} (expected H, W = {h * p}, {w * p})"
        )
    titles = [f"block {b + 1}" for b in range(blocks)] if titles is None else list(titles)
    if len(titles) != blocks:
        raise ValueError(f"titles must have one entry per block ({blocks}), got {len(titles)}")
    i, j = _query_pair(query, h, w)
    fig, axes = _axes(ax, blocks + 1, (3.1 * (blocks + 1), 3.1))
    axes[0].imshow(image[0].detach().cpu().numpy(), cmap="gray_r", interpolation="nearest")
    axes[0].add_patch(
        plt.Rectangle((j * p - 0.5, i * p - 0.5), p, p, fill=False, edgecolor=QUERY, linewidth=2)
    )
    axes[0].set_title("image and query")
    axes[0].set_axis_off()
    mean = maps.detach().float().mean(dim=1).cpu().numpy()
    cmap = plt.get_cmap("viridis").with_extremes(bad=HIDDEN)  # weight exactly 0: grey
    for index, (axis, weights, name) in enumerate(zip(axes[1:], mean, titles)):
        plot_attention_map(
            np.ma.masked_equal(weights, 0.0),
            ax=axis,
            title=name,
            xlabel="column j",
            ylabel="row i",
            cmap=cmap,
            colorbar=index == blocks - 1,
            vmin=0.0,
            vmax=float(mean.max()),
        )
        axis.add_patch(
            plt.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor=QUERY, linewidth=2)
        )
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.yaxis.set_major_locator(MaxNLocator(integer=True))
    return fig
