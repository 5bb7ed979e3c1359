"""Windows: partition, reverse, padding, cyclic shift, regions and the shift mask.

Layouts used throughout (see ``book/notation.md``):

* feature map, channels-last: ``(B, H, W, C)``
* windows: ``(B * nW, wh, ww, C)`` from :func:`window_partition`, or
  ``(B * nW, wh * ww, C)`` once the two window axes are flattened into tokens.

Windows are enumerated row-major over the map (window row first), and inside a
window tokens are row-major too. Every function here follows that order, which
is also the order of timm and torchvision.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from ._checks import Pair, check_tensor, to_pair, to_shift_pair


def window_partition(x: torch.Tensor, window_size: int | Sequence[int]) -> torch.Tensor:
    """Cut a feature map into non-overlapping windows.

    Args:
        x: ``(B, H, W, C)``, with ``H`` a multiple of ``wh`` and ``W`` of ``ww``.
        window_size: ``M`` or ``(wh, ww)``.

    Returns:
        ``(B * nW, wh, ww, C)`` with ``nW = (H // wh) * (W // ww)``.
    """
    check_tensor("x", x, 4, "(B, H, W, C)")
    wh, ww = to_pair("window_size", window_size)
    B, H, W, C = x.shape
    if H % wh or W % ww:
        raise ValueError(
            f"window_partition needs H and W to be multiples of window_size {(wh, ww)}, "
            f"got H={H}, W={W}; pad first with pad_to_window_multiple"
        )
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
    if not isinstance(windows, torch.Tensor) or windows.dim() not in (3, 4):
        shape = (
            tuple(windows.shape) if isinstance(windows, torch.Tensor) else type(windows).__name__
        )
        raise ValueError(f"windows must be (B*nW, wh, ww, C) or (B*nW, wh*ww, C), got {shape}")
    H, W = to_pair("(H, W)", (H, W))
    if H % wh or W % ww:
        raise ValueError(
            f"window_reverse needs H and W to be multiples of window_size {(wh, ww)}, "
            f"got H={H}, W={W}"
        )
    C = windows.shape[-1]
    tokens = windows.numel() // C
    if windows.shape[1:-1].numel() != wh * ww or tokens % (H * W):
        raise ValueError(
            f"windows of shape {tuple(windows.shape)} do not fit window_size {(wh, ww)} "
            f"and a {H}x{W} map"
        )
    B = tokens // (H * W)
    x = windows.reshape(B, H // wh, W // ww, wh, ww, C)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(B, H, W, C)


def padding_to_multiple(H: int, W: int, window_size: int | Sequence[int]) -> Pair:
    """Rows and columns to add at the bottom/right so the map is a window multiple.

    Returns:
        ``(pad_h, pad_w)``, each in ``[0, window)``.
    """
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
    check_tensor("x", x, 4, "(B, H, W, C)")
    pad_h, pad_w = padding_to_multiple(x.shape[1], x.shape[2], window_size)
    if pad_h or pad_w:
        # F.pad lists pairs from the last dimension backwards: (C), (W), (H)
        x = F.pad(x, (0, 0, 0, pad_w, 0, pad_h))
    return x, (pad_h, pad_w)


def crop_to(x: torch.Tensor, H: int, W: int) -> torch.Tensor:
    """Keep the top-left ``H x W`` of a ``(B, H', W', C)`` map (undo the padding)."""
    check_tensor("x", x, 4, "(B, H, W, C)")
    if H > x.shape[1] or W > x.shape[2]:
        raise ValueError(f"cannot crop a map of shape {tuple(x.shape)} to H={H}, W={W}")
    return x[:, :H, :W, :]


def cyclic_shift(x: torch.Tensor, shift_size: int | Sequence[int]) -> torch.Tensor:
    """Roll a ``(B, H, W, C)`` map up and left by ``shift_size`` (Swin's shift).

    The token at ``(i, j)`` moves to ``(i - sh mod H, j - sw mod W)``. Undo with
    :func:`reverse_cyclic_shift`. A zero shift returns ``x`` itself (no copy).
    """
    return _roll(x, to_shift_pair("shift_size", shift_size), sign=-1)


def _roll(x: torch.Tensor, shift: tuple[int, int], sign: int) -> torch.Tensor:
    """``torch.roll`` over the map axes of ``(B, H, W, C)`` by ``sign * shift``; no copy for zero."""
    if shift == (0, 0):
        return x
    return torch.roll(x, shifts=(sign * shift[0], sign * shift[1]), dims=(1, 2))


def reverse_cyclic_shift(x: torch.Tensor, shift_size: int | Sequence[int]) -> torch.Tensor:
    """Roll a ``(B, H, W, C)`` map down and right by ``shift_size``; inverse of :func:`cyclic_shift`."""
    return _roll(x, to_shift_pair("shift_size", shift_size), sign=1)


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
