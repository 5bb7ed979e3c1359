"""Drawings of attention weights: one heatmap, and one query's maps across the blocks.

Used in chapters 2, 4, 5 and 12.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .._checks import check_positive_int, check_tensor
from ..analysis import query_position
from .style import HIDDEN, new_or_given_axes, outline_cell


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
    fig, (axis,) = new_or_given_axes(ax, 1, (4.6, 4))
    image = axis.imshow(attn, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
    axis.set_title(title)
    axis.set_xlabel(xlabel)
    axis.set_ylabel(ylabel)
    if colorbar:
        fig.colorbar(image, ax=axis, shrink=0.85)
    return fig


def plot_attention_maps(
    image: torch.Tensor,
    maps: torch.Tensor,
    query: int | Sequence[int],
    patch_size: int,
    titles: Sequence[str] | None = None,
    ax: Sequence[Axes] | None = None,
) -> Figure:
    """An image and, beside it, where one query looks in each block (heads averaged).

    Keys with weight exactly 0 (outside the query's window) are grey. Used in chapter 12.

    Args:
        image: ``(C_in, H, W)``; the first channel is drawn in grey.
        maps: ``(blocks, heads, h, w)`` from :func:`~swin_tutorial.analysis.attention_maps`.
        query: ``(i, j)`` token, outlined on every panel.
        patch_size: pixels per token side of the image (``H = h * patch_size``).
        titles: one per block (default ``"block 1"``, ...).
        ax: ``1 + blocks`` Axes (default: a new figure).
    """
    check_tensor("maps", maps, 4, "(blocks, heads, h, w)")
    check_tensor("image", image, 3, "(C_in, H, W)")
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
    i, j = query_position(query, h, w)
    fig, axes = new_or_given_axes(ax, blocks + 1, (3.1 * (blocks + 1), 3.1))
    axes[0].imshow(image[0].detach().cpu().numpy(), cmap="gray_r", interpolation="nearest")
    outline_cell(axes[0], i, j, p)
    axes[0].set_title("image and query")
    axes[0].set_axis_off()
    mean = maps.detach().float().mean(dim=1).cpu().numpy()
    cmap = plt.get_cmap("viridis").with_extremes(bad=HIDDEN)  # weight exactly 0: grey
    for index, (axis, weights, name) in enumerate(zip(axes[1:], mean, titles, strict=True)):
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
        outline_cell(axis, i, j)
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.yaxis.set_major_locator(MaxNLocator(integer=True))
    return fig
