"""Drawings of the attention primer: one query weighing its keys, and why scores are scaled.

Used in chapter 1. What they draw is computed by the caller (a few lines of the
chapter), so the numbers on the page are the chapter's own.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .style import CURVE_STYLES, OKABE_ITO, QUERY, new_or_given_axes

#: One colour per token of the primer (the query keeps the vermilion of every drawing).
TOKEN_COLOURS = [
    OKABE_ITO["blue"],
    OKABE_ITO["bluish_green"],
    OKABE_ITO["orange"],
    OKABE_ITO["reddish_purple"],
    OKABE_ITO["sky_blue"],
    OKABE_ITO["black"],
]


def _as_array(name: str, value: object, shape: tuple[int | None, ...]) -> np.ndarray:
    """``value`` as a float numpy array of ``shape`` (``None``: any length)."""
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a tensor, got {type(value).__name__}")
    array = value.detach().cpu().double().numpy()
    if array.ndim != len(shape) or any(
        want is not None and got != want for got, want in zip(array.shape, shape, strict=True)
    ):
        wanted = "(" + ", ".join("T" if s is None else str(s) for s in shape) + ")"
        raise ValueError(f"{name} must have shape {wanted}, got {tuple(array.shape)}")
    return array


def _arrow(ax: Axes, vector: np.ndarray, colour: str, width: float) -> None:
    ax.annotate(
        "",
        xy=tuple(vector),
        xytext=(0, 0),
        arrowprops={"arrowstyle": "-|>", "color": colour, "lw": width, "shrinkA": 0, "shrinkB": 0},
    )


def _label(ax: Axes, point: np.ndarray, text: str, colour: str) -> None:
    """Write ``text`` just beyond ``point``, away from the origin."""
    direction = point / max(float(np.linalg.norm(point)), 1e-9)
    ax.annotate(
        text,
        tuple(point),
        xytext=tuple(9 * direction),
        textcoords="offset points",
        ha="left" if direction[0] >= -0.3 else "right",
        va="bottom" if direction[1] >= -0.3 else "top",
        fontsize=8.5,
        color=colour,
    )


def _square_limits(ax: Axes, points: np.ndarray) -> None:
    reach = max(1.0, float(np.abs(points).max())) * 1.6
    ax.set_xlim(-reach, reach)
    ax.set_ylim(-reach, reach)
    ax.set_aspect("equal")
    ax.axhline(0, color="0.85", lw=0.8, zorder=0)
    ax.axvline(0, color="0.85", lw=0.8, zorder=0)


def plot_attention_primer(
    query: torch.Tensor,
    keys: torch.Tensor,
    values: torch.Tensor,
    scores: torch.Tensor,
    weights: torch.Tensor,
    output: torch.Tensor,
    labels: Sequence[str] | None = None,
    ax: Sequence[Axes] | None = None,
) -> Figure:
    """One query attending ``T`` tokens in two dimensions, in three panels.

    Left: the query and the keys as arrows, each key labelled with its score.
    Middle: scores and softmax weights, one pair of bars per token. Right: the
    values as points sized by their weight, and the output, their weighted sum.

    Args:
        query: ``(2,)``; keys, values: ``(T, 2)``, one row per token, ``T <= 6``.
        scores, weights: ``(T,)``, the scaled scores and their softmax.
        output: ``(2,)``, ``weights @ values``.
        labels: ``T`` token names (default ``token 0``, ...).
        ax: three ``Axes`` (default: a new figure).
    """
    q = _as_array("query", query, (2,))
    k = _as_array("keys", keys, (None, 2))
    T = k.shape[0]
    if not 1 <= T <= len(TOKEN_COLOURS):
        raise ValueError(f"keys must hold 1 to {len(TOKEN_COLOURS)} tokens, got {T}")
    v = _as_array("values", values, (T, 2))
    z = _as_array("scores", scores, (T,))
    a = _as_array("weights", weights, (T,))
    y = _as_array("output", output, (2,))
    labels = [f"token {t}" for t in range(T)] if labels is None else list(labels)
    if len(labels) != T:
        raise ValueError(f"labels must name the {T} tokens, got {len(labels)} labels")
    colours = TOKEN_COLOURS[:T]
    fig, (left, middle, right) = new_or_given_axes(ax, 3, (11, 3.8))

    for t in range(T):
        _arrow(left, k[t], colours[t], 1.5)
        _label(left, k[t], f"$\\mathbf{{k}}_{t}$: {z[t]:.2f}", colours[t])
    _arrow(left, q, QUERY, 2.5)
    _label(left, q, "$\\mathbf{q}$", QUERY)
    _square_limits(left, np.vstack([k, q[None]]))
    left.set_title(
        "1. the query meets every key\n(score $\\mathbf{q} \\cdot \\mathbf{k}_t / \\sqrt{d}$)"
    )

    positions = np.arange(T)
    middle.bar(
        positions - 0.2, z, width=0.4, color="white", edgecolor=colours, hatch="//", label="score"
    )
    middle.bar(positions + 0.2, a, width=0.4, color=colours, label="weight (softmax)")
    for t in range(T):
        middle.text(positions[t] + 0.2, a[t], f"{a[t]:.2f}", ha="center", va="bottom", fontsize=8)
    middle.axhline(0, color="0.5", lw=0.8)
    middle.set_xticks(positions, labels, fontsize=8)
    middle.legend(fontsize=8, frameon=False, loc="upper right")
    middle.set_title("2. softmax turns scores into weights\n(positive, summing to 1)")

    for t in range(T):
        right.scatter(*v[t], s=60 + 400 * a[t], color=colours[t], zorder=2)
        right.plot([y[0], v[t, 0]], [y[1], v[t, 1]], color=colours[t], lw=0.8, ls=":")
        _label(right, v[t], f"$\\mathbf{{v}}_{t}$", colours[t])
    right.scatter(*y, marker="*", s=220, color=QUERY, zorder=3)
    right.annotate(
        "output", tuple(y), xytext=(6, -12), textcoords="offset points", fontsize=8, color=QUERY
    )
    _square_limits(right, np.vstack([v, y[None]]))
    right.set_title("3. the output mixes the values\n(marker size: weight)")
    return fig


def plot_score_scaling(
    dims: Sequence[int],
    variance: Sequence[float],
    variance_scaled: Sequence[float],
    largest_weight: Sequence[float],
    largest_weight_scaled: Sequence[float],
    ax: Sequence[Axes] | None = None,
) -> Figure:
    """Why scores are divided by ``sqrt(d)``, against the head dimension ``d``.

    Left: the variance of ``q . k`` with and without the scale (log-log).
    Right: the mean largest softmax weight of a row, with and without the scale.

    Args:
        dims: head dimensions ``d``, one point each.
        variance, variance_scaled: variance of ``q . k`` and of ``q . k / sqrt(d)``.
        largest_weight, largest_weight_scaled: the mean largest weight of a row of
            softmax weights, without and with the scale.
        ax: two ``Axes`` (default: a new figure).
    """
    series = [list(map(float, s)) for s in (variance, variance_scaled)]
    weights = [list(map(float, s)) for s in (largest_weight, largest_weight_scaled)]
    dims = [int(d) for d in dims]
    if not dims or any(d < 1 for d in dims):
        raise ValueError(f"dims must be a non-empty list of positive ints, got {dims!r}")
    for name, values in zip(
        ("variance", "variance_scaled", "largest_weight", "largest_weight_scaled"),
        series + weights,
        strict=True,
    ):
        if len(values) != len(dims):
            raise ValueError(f"{name} must have one value per d ({len(dims)}), got {len(values)}")
    fig, (left, right) = new_or_given_axes(ax, 2, (9, 3.4))
    names = ("$\\mathbf{q} \\cdot \\mathbf{k}$", "$\\mathbf{q} \\cdot \\mathbf{k} / \\sqrt{d}$")
    colours = (OKABE_ITO["vermillion"], OKABE_ITO["blue"])
    for values, name, colour, (line, marker) in zip(
        series, names, colours, CURVE_STYLES[:2], strict=True
    ):
        left.plot(dims, values, ls=line, marker=marker, color=colour, label=name)
    left.set(xscale="log", yscale="log", xlabel="head dimension $d$", ylabel="variance")
    left.set_title("variance of the score")
    left.legend(fontsize=8, frameon=False)
    for values, name, colour, (line, marker) in zip(
        weights,
        ("without the scale", "divided by $\\sqrt{d}$"),
        colours,
        CURVE_STYLES[:2],
        strict=True,
    ):
        right.plot(dims, values, ls=line, marker=marker, color=colour, label=name)
    right.axhline(1, color="0.6", lw=0.8, ls=":")
    right.set(xscale="log", ylim=(0, 1.05), xlabel="head dimension $d$")
    right.set_ylabel("largest weight of a row (mean)")
    right.set_title("softmax saturation")
    right.legend(fontsize=8, frameon=False, loc="center right")
    return fig
