"""Windows: partition, reverse, padding, cyclic shift, regions and the shift mask.

Layouts used throughout (see ``book/notation.md``):

* feature map, channels-last: ``(B, H, W, C)``
* windows: ``(B * nW, wh, ww, C)`` from :func:`window_partition`, or
  ``(B * nW, wh * ww, C)`` once the two window axes are flattened into tokens.

Windows are enumerated row-major over the map (window row first), and inside a
window tokens are row-major too. Every function here follows that order, which
is also the order of timm and torchvision.

:func:`map_to_windows` chains pad, roll and partition, and
:func:`windows_to_map` undoes them; the Swin block, its attention maps, the
patterns and the probes all cut windows through this one pipeline.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ._checks import Pair, check_int, check_positive_int, check_tensor, to_pair, to_shift_pair


def check_map(name: str, x: object, layout: str = "(B, H, W, C)") -> torch.Tensor:
    """Check that ``x`` is a floating-point rank-4 tensor with no empty axis; return it.

    The door of every function that takes a feature map ``(B, H, W, C)``.
    """
    check_tensor(name, x, 4, layout)
    if 0 in x.shape:
        raise ValueError(f"{name} must have no empty axis {layout}, got shape {tuple(x.shape)}")
    return x


def window_partition(x: torch.Tensor, window_size: int | Sequence[int]) -> torch.Tensor:
    """Cut a feature map into non-overlapping windows.

    Args:
        x: ``(B, H, W, C)``, with ``H`` a multiple of ``wh`` and ``W`` of ``ww``.
        window_size: ``M`` or ``(wh, ww)``.

    Returns:
        ``(B * nW, wh, ww, C)`` with ``nW = (H // wh) * (W // ww)``.
    """
    check_map("x", x)
    wh, ww = to_pair("window_size", window_size)
    B, H, W, C = x.shape
    if H % wh or W % ww:
        raise ValueError(
            f"window_partition needs H and W to be multiples of window_size {(wh, ww)}, "
            f"got H={H}, W={W}; pad first with pad_to_window_multiple"
        )
    return _partition(x, (wh, ww))


def _partition(x: torch.Tensor, window: Pair) -> torch.Tensor:
    """:func:`window_partition` without checks: ``(B, H, W, C) -> (B * nW, wh, ww, C)``."""
    (B, H, W, C), (wh, ww) = x.shape, window
    x = x.reshape(B, H // wh, wh, W // ww, ww, C)
    # (B, rows, wh, cols, ww, C) -> (B, rows, cols, wh, ww, C): window axes next to each other
    return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, wh, ww, C)


def window_reverse(
    windows: torch.Tensor, window_size: int | Sequence[int], H: int, W: int
) -> torch.Tensor:
    """Glue windows back into a feature map; the exact inverse of :func:`window_partition`.

    Args:
        windows: ``(B * nW, wh, ww, C)`` or ``(B * nW, wh * ww, C)``.
        window_size: ``M`` or ``(wh, ww)``.
        H, W: size of the map the windows came from (multiples of the window).

    Returns:
        ``(B, H, W, C)``.
    """
    wh, ww = to_pair("window_size", window_size)
    H, W = check_positive_int("H", H), check_positive_int("W", W)
    if H % wh or W % ww:
        raise ValueError(
            f"window_reverse needs H and W to be multiples of window_size {(wh, ww)}, "
            f"got H={H}, W={W}"
        )
    rank = 4 if isinstance(windows, torch.Tensor) and windows.dim() == 4 else 3
    check_tensor("windows", windows, rank, "(B*nW, wh*ww, C) or (B*nW, wh, ww, C)")
    expected = (wh, ww) if rank == 4 else (wh * ww,)
    count = windows.shape[0]
    per_image = (H // wh) * (W // ww)
    if tuple(windows.shape[1:-1]) != expected or count % per_image or 0 in windows.shape:
        raise ValueError(
            f"windows of shape {tuple(windows.shape)} do not fit window_size {(wh, ww)} and a "
            f"{H}x{W} map: expected (B*nW, {', '.join(map(str, expected))}, C) with C >= 1 "
            f"and B*nW a positive multiple of nW={per_image}"
        )
    return _reverse(windows, (wh, ww), H, W)


def _reverse(windows: torch.Tensor, window: Pair, H: int, W: int) -> torch.Tensor:
    """:func:`window_reverse` without checks: ``(B * nW, ..., C) -> (B, H, W, C)``."""
    (wh, ww), C = window, windows.shape[-1]
    x = windows.reshape(-1, H // wh, W // ww, wh, ww, C)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, H, W, C)


def padding_to_multiple(H: int, W: int, window_size: int | Sequence[int]) -> Pair:
    """Rows and columns to add at the bottom/right so the map is a window multiple.

    Returns:
        ``(pad_h, pad_w)``, each in ``[0, window)``.
    """
    H, W = check_positive_int("H", H), check_positive_int("W", W)
    wh, ww = to_pair("window_size", window_size)
    return (-H) % wh, (-W) % ww


def pad_to_window_multiple(
    x: torch.Tensor, window_size: int | Sequence[int]
) -> tuple[torch.Tensor, Pair]:
    """Zero-pad ``(B, H, W, C)`` at the bottom and right to a multiple of the window.

    Returns:
        the padded map ``(B, H + pad_h, W + pad_w, C)`` and ``(pad_h, pad_w)``;
        undo it with :func:`crop_to`.
    """
    check_map("x", x)
    pad_h, pad_w = padding_to_multiple(x.shape[1], x.shape[2], window_size)
    return _pad(x, pad_h, pad_w), (pad_h, pad_w)


def _pad(x: torch.Tensor, pad_h: int, pad_w: int) -> torch.Tensor:
    """Zero-pad ``(B, H, W, C)`` with ``pad_h`` rows and ``pad_w`` columns; no copy for none."""
    if pad_h or pad_w:
        # F.pad lists pairs from the last dimension backwards: (C), (W), (H)
        x = F.pad(x, (0, 0, 0, pad_w, 0, pad_h))
    return x


def crop_to(x: torch.Tensor, H: int, W: int) -> torch.Tensor:
    """Keep the top-left ``H x W`` of a ``(B, H', W', C)`` map (undo the padding).

    ``1 <= H <= H'`` and ``1 <= W <= W'``.
    """
    check_map("x", x)
    check_int("H", H, 1, x.shape[1])
    check_int("W", W, 1, x.shape[2])
    return x[:, :H, :W, :]


def cyclic_shift(x: torch.Tensor, shift_size: int | Sequence[int]) -> torch.Tensor:
    """Roll a ``(B, H, W, C)`` map up and left by ``shift_size`` (Swin's shift).

    The token at ``(i, j)`` moves to ``(i - sh mod H, j - sw mod W)``. Undo with
    :func:`reverse_cyclic_shift`. A zero shift returns ``x`` itself (no copy).
    """
    return _roll(check_map("x", x), to_shift_pair("shift_size", shift_size), sign=-1)


def reverse_cyclic_shift(x: torch.Tensor, shift_size: int | Sequence[int]) -> torch.Tensor:
    """Roll a ``(B, H, W, C)`` map down and right by ``shift_size``: undo :func:`cyclic_shift`."""
    return _roll(check_map("x", x), to_shift_pair("shift_size", shift_size), sign=1)


def _roll(x: torch.Tensor, shift: Pair, sign: int) -> torch.Tensor:
    """``torch.roll`` of the map axes of ``(B, H, W, C)`` by ``sign * shift``; no copy for 0."""
    if shift == (0, 0):
        return x
    return torch.roll(x, shifts=(sign * shift[0], sign * shift[1]), dims=(1, 2))


def effective_window_and_shift(
    H: int, W: int, window_size: int | Sequence[int], shift_size: int | Sequence[int]
) -> tuple[Pair, Pair]:
    """Window and shift actually used on an ``H x W`` map (timm's rule).

    On an axis where the map is not larger than the window, the window shrinks
    to the map and the shift on that axis is 0 (one window covers the axis, so
    there is nothing to shift across). Used in chapters 2, 6 and 9.
    """
    H, W = check_positive_int("H", H), check_positive_int("W", W)
    wh, ww = to_pair("window_size", window_size)
    sh, sw = to_shift_pair("shift_size", shift_size, (wh, ww))
    return (min(H, wh), min(W, ww)), (0 if H <= wh else sh, 0 if W <= ww else sw)


# --------------------------------------------------------------------------- the pipeline


@dataclass(frozen=True)
class WindowLayout:
    """How a map was cut into windows by :func:`map_to_windows`, i.e. what undoing it needs.

    Attributes:
        size: ``(H, W)`` of the map before padding.
        padded_size: ``(Hp, Wp)``, multiples of the window.
        window_size: ``(wh, ww)``.
        shift_size: ``(sh, sw)``, the cyclic shift applied after padding.
    """

    size: Pair
    padded_size: Pair
    window_size: Pair
    shift_size: Pair

    @property
    def num_windows(self) -> int:
        """Windows per image, ``nW = (Hp / wh) * (Wp / ww)``."""
        return (self.padded_size[0] // self.window_size[0]) * (
            self.padded_size[1] // self.window_size[1]
        )


def window_layout(
    H: int, W: int, window_size: int | Sequence[int], shift_size: int | Sequence[int] = 0
) -> WindowLayout:
    """The layout of an ``H x W`` map padded to a window multiple, rolled by ``shift_size``.

    ``0 <= shift < window`` on each axis; the window may be larger than the map
    (the map is then padded up to one window).
    """
    H, W = check_positive_int("H", H), check_positive_int("W", W)
    window = to_pair("window_size", window_size)
    shift = to_shift_pair("shift_size", shift_size, window)
    pad_h, pad_w = padding_to_multiple(H, W, window)
    return WindowLayout((H, W), (H + pad_h, W + pad_w), window, shift)


def map_to_windows(
    x: torch.Tensor, window_size: int | Sequence[int], shift_size: int | Sequence[int] = 0
) -> tuple[torch.Tensor, WindowLayout]:
    """Pad, roll, partition: the windows a Swin block attends in.

    Args:
        x: ``(B, H, W, C)``.
        window_size: ``M`` or ``(wh, ww)``.
        shift_size: ``s`` or ``(sh, sw)`` with ``0 <= s < M`` (0: regular windows).

    Returns:
        windows ``(B * nW, wh * ww, C)`` and the :class:`WindowLayout` that
        :func:`windows_to_map` needs to undo the three steps.
    """
    check_map("x", x)
    layout = window_layout(x.shape[1], x.shape[2], window_size, shift_size)
    (H, W), (Hp, Wp) = layout.size, layout.padded_size
    x = _pad(x, Hp - H, Wp - W)  # pad before rolling: see chapter 7
    windows = _partition(_roll(x, layout.shift_size, sign=-1), layout.window_size)
    return windows.flatten(1, 2), layout


def windows_to_map(windows: torch.Tensor, layout: WindowLayout) -> torch.Tensor:
    """Reverse partition, reverse roll, crop: the inverse of :func:`map_to_windows`.

    Args:
        windows: ``(B * nW, wh * ww, C)``.
        layout: what :func:`map_to_windows` returned with them.

    Returns:
        ``(B, H, W, C)``.
    """
    if not isinstance(layout, WindowLayout):
        raise TypeError(f"layout must be a WindowLayout, got {type(layout).__name__}")
    check_tensor("windows", windows, 3, "(B*nW, wh*ww, C)")
    x = window_reverse(windows, layout.window_size, *layout.padded_size)
    H, W = layout.size
    return _roll(x, layout.shift_size, sign=1)[:, :H, :W, :]


def window_token_ids(
    layout: WindowLayout, device: torch.device | str | None = None
) -> torch.Tensor:
    """Which token of the map sits at each place of each window: long ``(nW, wh * ww)``.

    Token ``(i, j)`` of the ``H x W`` map has id ``i * W + j``; padding gets id
    ``H * W`` (one past the last token), so a caller can scatter into
    ``H * W + 1`` slots and drop the last. The ids are laid out as a map and
    sent through :func:`map_to_windows`, so they land exactly where the
    features of a block do.
    """
    if not isinstance(layout, WindowLayout):
        raise TypeError(f"layout must be a WindowLayout, got {type(layout).__name__}")
    H, W = layout.size
    # ids from 1 so that the zero padding is told apart; float64 holds them exactly
    ids = torch.arange(1, H * W + 1, dtype=torch.float64).reshape(1, H, W, 1)
    windows, _ = map_to_windows(ids, layout.window_size, layout.shift_size)
    return ((windows[..., 0].long() - 1) % (H * W + 1)).to(device)


# --------------------------------------------------------------------------- the shift mask


def _axis_regions(
    length: int, window: int, shift: int, device: torch.device | None
) -> torch.Tensor:
    """Region label along one axis of the rolled map: ``(length,)`` long.

    After rolling by ``-shift``, the last window of the axis holds ``window - shift``
    tokens from the end of the map followed by ``shift`` tokens that wrapped
    around from its start. Label 0: every ordinary window; 1: the end-of-map part
    of the last window; 2: the wrapped part. With no shift everything is 0.
    """
    labels = torch.zeros(length, dtype=torch.long, device=device)
    if shift:
        labels[length - window : length - shift] = 1
        labels[length - shift :] = 2
    return labels


def region_ids(
    H: int,
    W: int,
    window_size: int | Sequence[int],
    shift_size: int | Sequence[int],
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Label every token of the rolled ``H x W`` map with its region: ``(H, W)`` long.

    Two tokens in the same window may attend each other exactly when they have
    the same label, i.e. when no wrap-around separates them in the original map.
    """
    H, W = to_pair("(H, W)", (H, W))
    wh, ww = to_pair("window_size", window_size)
    sh, sw = to_shift_pair("shift_size", shift_size, (wh, ww))
    if H % wh or W % ww:
        raise ValueError(
            f"H and W must be multiples of window_size {(wh, ww)} (pad first), got H={H}, W={W}"
        )
    rows = _axis_regions(H, wh, sh, device)
    cols = _axis_regions(W, ww, sw, device)
    return rows[:, None] * 3 + cols[None, :]


def shifted_window_mask(
    H: int,
    W: int,
    window_size: int | Sequence[int],
    shift_size: int | Sequence[int],
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Which keys each query may attend under Swin's cyclic shift.

    Args:
        H, W: size of the (already padded) map, multiples of the window.
        window_size: ``M`` or ``(wh, ww)``.
        shift_size: ``s`` or ``(sh, sw)``, each ``0 <= s < window``.
        device: where to build the mask.

    Returns:
        bool ``(nW, N, N)`` with ``N = wh * ww``: ``True`` where query ``n`` of a
        window may attend key ``m`` of the same window.
    """
    wh, ww = to_pair("window_size", window_size)
    ids = region_ids(H, W, (wh, ww), shift_size, device)
    windows = window_partition(ids[None, :, :, None].float(), (wh, ww)).reshape(-1, wh * ww)
    return windows[:, :, None] == windows[:, None, :]
