"""The interactive principle widget (ipywidgets) and the static figure it redraws.

Used in chapter 2; the static figure keeps the HTML book complete without a kernel.
"""

from __future__ import annotations

from collections.abc import Callable

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from ..neighborhood import neighborhood_mask
from ..patterns import global_pattern, shifted_window_pattern, window_pattern
from .patterns import plot_receptive_field_growth, plot_visible_keys
from .style import map_size, visibility_legend
from .windows import plot_windows

#: The widget draws dense ``(H*W, H*W)`` patterns: at most this many tokens.
MAX_WIDGET_TOKENS = 1024


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

    Top row: keys visible under global, window, shifted-window and neighbourhood
    attention. Bottom row: the shifted windows, then the receptive field after
    ``layers`` layers of windows without shift, alternating shift, and
    neighbourhood attention.
    """
    H, W = map_size(H, W)
    shift_size = min(shift_size, window_size - 1)
    query = (query_row, query_col)
    regular = window_pattern(H, W, window_size)
    shifted = shifted_window_pattern(H, W, window_size, shift_size)
    neighbours = neighborhood_mask(H, W, kernel_size)
    fig, axes = plt.subplots(2, 4, figsize=(13, 7.2), layout="constrained")
    schemes = {
        "global": global_pattern(H, W),
        f"window {window_size}": regular,
        f"shifted window {window_size}, shift {shift_size}": shifted,
        f"neighbourhood {kernel_size}x{kernel_size}": neighbours,
    }
    plot_visible_keys(H, W, query, schemes, ax=axes[0])
    plot_windows(H, W, window_size, shift_size, ax=axes[1, 0], labels=False)
    for axis, name, stack in (
        (axes[1, 1], "windows, no shift", [regular]),
        (axes[1, 2], "alternating shift", [regular, shifted]),
        (axes[1, 3], f"neighbourhood {kernel_size}x{kernel_size}", [neighbours]),
    ):
        plot_receptive_field_growth(H, W, query, stack, [layers], ax=[axis], title=name)
    visibility_legend(fig, "visible key / in the receptive field")
    fig.suptitle(
        f"{H}x{W} map, window {window_size}, shift {shift_size}, query ({query_row}, {query_col}), "
        f"{layers} layer{'s' if layers > 1 else ''}"
    )
    return fig


def interactive_principle(H: int = 8, W: int = 8, show: Callable[[Figure], None] | None = None):
    """An ``ipywidgets.interactive`` widget redrawing :func:`principle_figure`.

    Sliders: window size (divisors of ``H`` and ``W``), shift, query row and
    column, layers, neighbourhood kernel size. Used in chapter 2.

    Args:
        H, W: map size, ``H * W <= 1024``.
        show: displays each new figure (default ``IPython.display.display``); the
            figure is closed afterwards and ``widget.result`` holds the last one.
    """
    widgets = _require_ipywidgets()
    H, W = map_size(H, W)
    if H * W > MAX_WIDGET_TOKENS:
        raise ValueError(
            f"H*W must be at most {MAX_WIDGET_TOKENS} for the dense drawings, got H={H}, W={W}"
        )
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

    class PrincipleWidget(widgets.interactive):
        def __repr__(self) -> str:
            # What a page without a kernel shows in place of the controls.
            return "(interactive widget: needs a running kernel)"

    return PrincipleWidget(
        draw,
        window_size=window,
        shift_size=shift,
        query_row=row,
        query_col=col,
        layers=layers,
        kernel_size=kernel,
    )
