"""Where one token's change lands: a locality probe's map beside the outputs allowed to change.

Draws what :func:`swin_tutorial.probes.locality_probe` measured against what
:func:`swin_tutorial.probes.receivers` allows. Used in chapter 7.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from .._checks import to_pair
from .style import HIDDEN, OKABE_ITO, new_or_given_axes, token_grid, window_grid_lines

#: What each code of :func:`locality_codes` means, in order 0 to 3.
LOCALITY_LABELS = (
    "not changed, not allowed",
    "changed, allowed",
    "changed, NOT allowed (leak)",
    "allowed, not changed (missed)",
)
#: The colour of each code: grey, blue, vermillion, orange (colour-blind safe).
LOCALITY_COLOURS = (HIDDEN, OKABE_ITO["blue"], OKABE_ITO["vermillion"], OKABE_ITO["orange"])
_CMAP = ListedColormap(list(LOCALITY_COLOURS))


def _check_map(name: str, value: object) -> torch.Tensor:
    if not isinstance(value, torch.Tensor) or value.dtype != torch.bool or value.dim() != 2:
        got = (
            f"{value.dtype} tensor of shape {tuple(value.shape)}"
            if isinstance(value, torch.Tensor)
            else type(value).__name__
        )
        raise TypeError(f"{name} must be a bool (H, W) tensor, got {got}")
    return value


def locality_codes(changed: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
    """Code each output: 0 untouched, 1 changed and allowed, 2 a leak, 3 missed.

    ``changed`` and ``allowed`` are bool ``(H, W)`` of the same shape; returns
    long ``(H, W)`` (the meaning of each code is :data:`LOCALITY_LABELS`).
    """
    changed = _check_map("changed", changed)
    allowed = _check_map("allowed", allowed)
    if changed.shape != allowed.shape:
        raise ValueError(
            f"changed and allowed must have the same shape, got {tuple(changed.shape)} "
            f"and {tuple(allowed.shape)}"
        )
    codes = torch.zeros(changed.shape, dtype=torch.long)
    codes[changed & allowed] = 1
    codes[changed & ~allowed] = 2
    codes[~changed & allowed] = 3
    return codes


def plot_locality(
    panels: Mapping[str, tuple[torch.Tensor, torch.Tensor]],
    token: Sequence[int] | None = None,
    window: int | Sequence[int] | None = None,
    title: str | None = None,
    ax: Axes | Sequence[Axes] | None = None,
) -> Figure:
    """One panel per entry: which outputs changed, against which were allowed to.

    Args:
        panels: ``{panel title: (changed, allowed)}``, each a bool ``(H, W)``,
            e.g. ``(locality_probe(fn, x, token), receivers(H, W, M, s, token))``.
        token: ``(row, col)`` of the perturbed token, marked with a cross.
        window: draw the borders of the regular grid of windows of this size.
        title: a title above the panels (a new figure only).
        ax: one ``Axes`` per panel (default: a new figure, with a legend).
    """
    if not isinstance(panels, Mapping) or not panels:
        raise ValueError(
            f"panels must be a non-empty dict {{title: (changed, allowed)}}, got {panels!r}"
        )
    codes = {}
    for name, pair in panels.items():
        if not isinstance(pair, tuple | list) or len(pair) != 2:
            raise TypeError(f"panels[{name!r}] must be a pair (changed, allowed), got {pair!r}")
        codes[name] = locality_codes(*pair)
    shapes = {tuple(c.shape) for c in codes.values()}
    if len(shapes) != 1:
        raise ValueError(f"every panel must have the same map size, got {sorted(shapes)}")
    H, W = shapes.pop()
    if token is not None:
        if (
            not isinstance(token, tuple | list)
            or len(token) != 2
            or not (0 <= token[0] < H and 0 <= token[1] < W)
        ):
            raise ValueError(f"token must be a (row, col) inside the {H}x{W} map, got {token!r}")
    wh, ww = (None, None) if window is None else to_pair("window", window)
    given = ax is not None
    # tall enough for the square panels, their titles, a title and the legend
    # (in one column under a single panel)
    n = len(codes)
    fig, axes = new_or_given_axes(ax, n, (max(3.2 * n + 0.4, 4.4), 4.4 + 0.4 * (n == 1)))
    for axis, (name, code) in zip(axes, codes.items(), strict=True):
        axis.imshow(code.numpy(), cmap=_CMAP, vmin=0, vmax=3)
        token_grid(axis, H, W)
        axis.set_xticks(range(0, W, 2 if W > 10 else 1))  # readable at this size
        axis.set_yticks(range(0, H, 2 if H > 10 else 1))
        if wh is not None:
            axis.add_collection(window_grid_lines(H, W, wh, ww, colors="black", linewidths=1.2))
        if token is not None:
            axis.scatter([token[1]], [token[0]], marker="x", color="black", s=40, zorder=3)
        axis.set_title(name, fontsize=10)
    if not given:
        handles = [
            Patch(facecolor=colour, edgecolor="0.6", label=label)
            for colour, label in zip(LOCALITY_COLOURS[1:], LOCALITY_LABELS[1:], strict=True)
        ]
        fig.legend(
            handles=handles,
            loc="outside lower center",
            ncols=1 if n == 1 else 3,
            frameon=False,
            fontsize=9,
        )
        if title:
            fig.suptitle(title, fontsize=10)
    return fig
