"""Drawings of a trained model: learning curves and the effective receptive field.

Used in chapter 12.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.colors import LogNorm, Normalize
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .._checks import check_positive_int, check_real, to_pair
from ..analysis import query_position
from .style import (
    HIDDEN,
    LINE_COLOURS,
    OKABE_ITO,
    new_or_given_axes,
    outline_cell,
    window_grid_lines,
)

HISTORY_KEYS = ("epoch", "train_loss", "val_loss", "val_accuracy")


def _history_lists(name: str, history: object) -> dict[str, list[float]]:
    """Read a training history (a ``train.History`` or a dict of lists) as a dict of lists."""
    record = history.as_dict() if hasattr(history, "as_dict") else history
    if not isinstance(record, Mapping) or any(key not in record for key in HISTORY_KEYS):
        raise ValueError(
            f"{name} must be a History from swin_tutorial.train.fit or a dict with keys "
            f"{HISTORY_KEYS}, got {type(history).__name__}"
        )
    lengths = {len(record[key]) for key in HISTORY_KEYS}
    if len(lengths) != 1 or lengths == {0}:
        raise ValueError(
            f"{name} must hold one value per epoch in each of {HISTORY_KEYS}, got lengths {lengths}"
        )
    return {key: [float(v) for v in record[key]] for key in HISTORY_KEYS}


def plot_learning_curves(
    histories: object,
    ax: Sequence[Axes] | None = None,
    title: str | None = None,
    chance: float | None = None,
) -> Figure:
    """Loss and accuracy per epoch: one panel each, one colour per run.

    Solid lines: training loss (mean over each epoch's batches); dashed: held-out
    loss; right panel: held-out accuracy.

    Args:
        histories: one history (``swin_tutorial.train.History`` or a dict of lists
            with ``epoch``, ``train_loss``, ``val_loss``, ``val_accuracy``) or a
            dict ``{name: history}`` to compare runs.
        ax: two ``Axes`` (loss, accuracy); default a new figure.
        title: written above the panels.
        chance: draw this accuracy as a grey line (e.g. 0.5 for two balanced classes).
    """
    if isinstance(histories, Mapping) and "epoch" not in histories:
        if not histories:
            raise ValueError("histories must not be an empty dict")
        runs = {
            str(name): _history_lists(f"histories[{name!r}]", h) for name, h in histories.items()
        }
    else:
        runs = {"": _history_lists("histories", histories)}
    fig, (loss_ax, acc_ax) = new_or_given_axes(ax, 2, (9, 3.4))
    for index, (name, run) in enumerate(runs.items()):
        colour = LINE_COLOURS[index % len(LINE_COLOURS)]
        prefix = f"{name}: " if name else ""
        style = {"color": colour, "markersize": 3}
        loss_ax.plot(run["epoch"], run["train_loss"], marker="o", label=f"{prefix}train", **style)
        loss_ax.plot(
            run["epoch"],
            run["val_loss"],
            linestyle="--",
            marker="s",
            label=f"{prefix}held out",
            **style,
        )
        acc_ax.plot(
            run["epoch"], run["val_accuracy"], marker="o", label=name or "held out", **style
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


def plot_effective_receptive_field(
    erf: torch.Tensor | np.ndarray,
    query: int | Sequence[int],
    patch_size: int,
    window_size: int | Sequence[int],
    ax: Axes | None = None,
    title: str = "effective receptive field",
    log_floor: float | None = 1e-4,
) -> Figure:
    """Draw an effective receptive field ``(H, W)`` with the regular windows and the query.

    The map is divided by its maximum and drawn on a log scale from ``log_floor``
    to 1; pixels with value exactly 0 (no influence at all) are grey. The window
    grid is white and the query's patch outlined.

    Args:
        erf: ``(H, W)`` from :func:`~swin_tutorial.analysis.effective_receptive_field`.
        query: ``(i, j)`` of the output token on the token map.
        patch_size: pixels per token side.
        window_size: tokens per window side, ``M`` or ``(wh, ww)``.
        ax: an ``Axes`` to draw on (default: a new figure).
        title: title of the panel.
        log_floor: lowest value of the log scale, in ``(0, 1)``; ``None`` draws a
            linear scale from 0 to 1.
    """
    if isinstance(erf, torch.Tensor):
        erf = erf.detach().float().cpu().numpy()
    if not isinstance(erf, np.ndarray) or erf.ndim != 2 or erf.min() < 0:
        raise ValueError(
            f"erf must be a non-negative 2-D array (H, W), got {getattr(erf, 'shape', erf)!r}"
        )
    if log_floor is not None:
        check_real("log_floor", log_floor, 0.0, 1.0, low_open=True, high_open=True)
    p = check_positive_int("patch_size", patch_size)
    wh, ww = to_pair("window_size", window_size)
    H, W = erf.shape
    i, j = query_position(query, H // p, W // p)
    fig, (axis,) = new_or_given_axes(ax, 1, (4.2, 3.8))
    scaled = np.ma.masked_equal(erf / erf.max() if erf.max() > 0 else erf, 0.0)
    if log_floor is not None:
        scaled = np.ma.maximum(scaled, log_floor)  # exact zeros stay masked
    norm = Normalize(0, 1) if log_floor is None else LogNorm(log_floor, 1)
    cmap = plt.get_cmap("magma").with_extremes(bad=HIDDEN)
    image = axis.imshow(scaled, cmap=cmap, norm=norm, interpolation="nearest")
    axis.add_collection(window_grid_lines(H, W, wh * p, ww * p, colors="white", linewidths=1.2))
    outline_cell(axis, i, j, p, colour=OKABE_ITO["sky_blue"])
    axis.set_xlabel("pixel column")
    axis.set_ylabel("pixel row")
    axis.set_title(title)
    label = "relative influence" + ("" if log_floor is None else " (log scale)")
    fig.colorbar(image, ax=axis, shrink=0.85, label=label)
    return fig
