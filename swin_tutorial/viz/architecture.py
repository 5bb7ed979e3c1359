"""Architecture drawings: a Swin model's stages, and the order of the layers in a block.

What they draw is computed by :mod:`swin_tutorial.anatomy` from the model itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch

from ..anatomy import StageShape
from .style import OKABE_ITO, TOL_LIGHT, new_or_given_axes

#: What each child module of a block is called in the drawings.
LAYER_NAMES = {
    "norm1": "LayerNorm",
    "norm2": "LayerNorm",
    "attn": "(S)W-MSA",
    "mlp": "MLP",
}


def _box(ax: Axes, x: float, y: float, width: float, height: float, colour: str, text: str) -> None:
    """A rounded box centred on ``(x, y)`` with ``text`` inside."""
    ax.add_patch(
        FancyBboxPatch(
            (x - width / 2, y - height / 2),
            width,
            height,
            boxstyle="round,pad=0.02,rounding_size=0.08",
            facecolor=colour,
            edgecolor="black",
            linewidth=0.8,
        )
    )
    ax.text(x, y, text, ha="center", va="center", fontsize=8)


def _arrow(ax: Axes, start: tuple[float, float], end: tuple[float, float], text: str = "") -> None:
    ax.annotate("", end, start, arrowprops={"arrowstyle": "->", "linewidth": 0.9})
    if text:
        middle = ((start[0] + end[0]) / 2, (start[1] + end[1]) / 2 + 0.12)
        ax.text(*middle, text, ha="center", va="bottom", fontsize=7)


def _check_shapes(shapes: object) -> list[StageShape]:
    if not isinstance(shapes, Sequence) or not shapes:
        raise ValueError(f"shapes must be a non-empty list of StageShape, got {shapes!r}")
    for index, shape in enumerate(shapes):
        if not isinstance(shape, StageShape):
            raise TypeError(f"shapes[{index}] must be a StageShape, got {type(shape).__name__}")
    return list(shapes)


def plot_architecture(
    shapes: Sequence[StageShape],
    image_size: Sequence[int],
    head: str | None = None,
    ax: Axes | None = None,
) -> Figure:
    """The stages of a model, left to right, each box as tall as its map.

    Args:
        shapes: :func:`~swin_tutorial.anatomy.stage_shapes` of the model.
        image_size: the ``(H, W)`` of the images the shapes were computed for.
        head: what follows the last stage (e.g. ``"norm, pool\\n1000 classes"``), or ``None``.
        ax: the ``Axes`` to draw on (default: a new figure).
    """
    shapes = _check_shapes(shapes)
    if head is not None and not isinstance(head, str):
        raise TypeError(f"head must be a str or None, got {type(head).__name__}")
    boxes = len(shapes) + 1 + (head is not None)
    fig, (axis,) = new_or_given_axes(ax, 1, (1.75 * boxes, 3.4))
    tallest = shapes[0].height
    _box(axis, 0, 0, 1.3, 2.2, "white", f"image\n{image_size[0]}x{image_size[1]}")
    for index, shape in enumerate(shapes, start=1):
        height = 0.6 + 1.6 * shape.height / tallest
        text = (
            f"stage {shape.stage}\n{shape.height}x{shape.width}\nC = {shape.channels}\n"
            f"{shape.depth} blocks\n{shape.heads} heads\n"
            f"{shape.windows} window{'s' * (shape.windows != 1)}"
        )
        _box(axis, 2.1 * index, 0, 1.3, max(height, 1.5), TOL_LIGHT[index - 1], text)
        label = "merge 2x2" if shape.merges else "patch embed"
        _arrow(axis, (2.1 * index - 1.45, 0), (2.1 * index - 0.65, 0), label)
    if head is not None:
        x = 2.1 * (len(shapes) + 1)
        _box(axis, x, 0, 1.3, 1.2, "white", head)
        _arrow(axis, (x - 1.45, 0), (x - 0.65, 0))
    axis.set_xlim(-0.8, 2.1 * (boxes - 1) + 0.8)
    axis.set_ylim(-1.4, 1.4)
    axis.set_axis_off()
    return fig


def _branches(order: Sequence[str]) -> list[list[str]]:
    """Split a block's call order into its residual branches: ``norm1``/``attn``, ``norm2``/``mlp``.

    The names are timm's (and this package's); the order inside each branch is the call order.
    """
    first = [name for name in order if name in ("norm1", "attn")]
    return [first, [name for name in order if name not in first]]


def plot_block_orders(
    orders: Mapping[str, Sequence[str]], ax: Sequence[Axes] | None = None
) -> Figure:
    """One column per block kind: its layers bottom to top, a residual around each branch.

    Args:
        orders: ``{title: call order}``, from :func:`~swin_tutorial.anatomy.block_call_order`,
            e.g. ``{"Swin V1": ["norm1", "attn", "norm2", "mlp"]}``.
        ax: one ``Axes`` per entry (default: a new figure).
    """
    if not isinstance(orders, Mapping) or not orders:
        raise ValueError(f"orders must be a non-empty dict {{title: layer names}}, got {orders!r}")
    fig, axes = new_or_given_axes(ax, len(orders), (2.6 * len(orders), 4.6))
    for axis, (title, order) in zip(axes, orders.items(), strict=True):
        unknown = [name for name in order if name not in LAYER_NAMES]
        if unknown or "mlp" not in order or "attn" not in order:
            raise ValueError(
                f"orders[{title!r}] must name layers among {sorted(LAYER_NAMES)} with 'attn' and "
                f"'mlp', got {list(order)!r}"
            )
        y = 0.0
        _box(axis, 0, y, 1.6, 0.42, "white", "x")
        for branch in _branches(order):
            start = y
            for name in branch:
                colour = OKABE_ITO["sky_blue"] if name.startswith("norm") else TOL_LIGHT[2]
                _arrow(axis, (0, y + 0.21), (0, y + 0.49))
                y += 0.7
                _box(axis, 0, y, 1.6, 0.42, colour, LAYER_NAMES[name])
            _arrow(axis, (0, y + 0.21), (0, y + 0.49))
            y += 0.7
            axis.text(
                0,
                y,
                "+",
                ha="center",
                va="center",
                fontsize=10,
                bbox={"boxstyle": "circle,pad=0.2", "facecolor": "white"},
            )
            axis.annotate(
                "",
                (-0.2, y),
                (-0.8, start + 0.1),
                arrowprops={"arrowstyle": "->", "connectionstyle": "angle,angleA=90,angleB=180"},
            )
        axis.set_title(title, fontsize=10)
        axis.set_xlim(-1.2, 1.2)
        axis.set_ylim(-0.4, y + 0.4)
        axis.set_axis_off()
    return fig
