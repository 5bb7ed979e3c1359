"""Drawings of 1-D attention patterns: which keys of a sequence each query may attend.

Used in chapter 10 (causal windows, symmetric bands, global tokens, the
blocked path's staircase).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

from .style import HIDDEN, TOKEN_GRID_GID, VISIBLE, new_or_given_axes

#: Colour map of a sequence pattern: 0 a key the query may not attend, 1 one it may.
SEQUENCE_CMAP = ListedColormap([HIDDEN, VISIBLE])
#: The number of keys of each query is written right of its row up to this length.
MAX_COUNTED_TOKENS = 16


def _check_masks(masks: object) -> dict[str, torch.Tensor]:
    """Check ``{title: bool (T, T)}``, all of one length; return it as a dict."""
    if not isinstance(masks, Mapping) or not masks:
        raise ValueError(
            f"masks must be a non-empty dict of title: bool (T, T) tensor, "
            f"got {type(masks).__name__}"
        )
    lengths = set()
    for title, mask in masks.items():
        if not isinstance(title, str):
            raise TypeError(f"masks keys must be str titles, got {title!r}")
        if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
            raise TypeError(f"masks[{title!r}] must be a bool tensor, got {mask!r:.60}")
        if mask.dim() != 2 or mask.shape[0] != mask.shape[1] or mask.shape[0] == 0:
            raise ValueError(
                f"masks[{title!r}] must be a square (T, T) pattern, got shape {tuple(mask.shape)}"
            )
        lengths.add(mask.shape[0])
    if len(lengths) != 1:
        raise ValueError(f"masks must all have the same length T, got {sorted(lengths)}")
    return dict(masks)


def _sequence_grid(ax: Axes, T: int) -> None:
    """Thin white lines between tokens, ticks every few tokens, axes named t and u."""
    lines = [[(x, -0.5), (x, T - 0.5)] for x in np.arange(0.5, T - 1, 1)]
    lines += [[(-0.5, y), (T - 0.5, y)] for y in np.arange(0.5, T - 1, 1)]
    ax.add_collection(LineCollection(lines, colors="white", linewidths=0.6, gid=TOKEN_GRID_GID))
    step = 5 if T <= 40 else max(1, T // 8)
    ax.set_xticks(range(0, T, step))
    ax.set_yticks(range(0, T, step))
    ax.set_xlim(-0.5, T - 0.5)
    ax.set_ylim(T - 0.5, -0.5)
    ax.set_xlabel("key u")
    ax.set_ylabel("query t")


def plot_sequence_masks(
    masks: Mapping[str, torch.Tensor],
    ax: Axes | Sequence[Axes] | None = None,
    counts: bool | None = None,
) -> Figure:
    """One panel per pattern ``{title: bool (T, T)}``: row t a query, column u a key.

    Keys the query may attend are blue, the others light grey. With ``counts``
    (default: when ``T <= MAX_COUNTED_TOKENS``) the number of keys of each query
    is written right of its row, so that no number rests on colour alone.

    Args:
        masks: the patterns to draw, all of one length ``T``, by panel title.
        ax: one ``Axes`` per pattern (default: a new row of panels).
        counts: write the keys per query (``None``: when the numbers can be read).
    """
    masks = _check_masks(masks)
    T = next(iter(masks.values())).shape[0]
    if counts is None:
        counts = T <= MAX_COUNTED_TOKENS
    elif not isinstance(counts, bool):
        raise TypeError(f"counts must be a bool or None, got {counts!r}")
    fig, axes = new_or_given_axes(ax, len(masks), (2.9 * len(masks), 3.3))
    for axis, (title, mask) in zip(axes, masks.items(), strict=True):
        axis.imshow(mask.cpu().int().numpy(), cmap=SEQUENCE_CMAP, vmin=0, vmax=1)
        _sequence_grid(axis, T)
        if counts:
            for t, keys in enumerate(mask.sum(dim=-1).tolist()):
                axis.text(T - 0.2, t, f" {keys}", va="center", fontsize=7)
        axis.set_title(title)
    return fig
