"""Independent references, written from token coordinates.

Nothing here calls the package's windowing helpers: the masks come from where
each token sits before and after the cyclic roll (the fp64 pair rules of
:mod:`swin_tutorial.perf.references`), so a bug in the package's partition,
region labels or mask cannot hide in its own reference.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from swin_tutorial.perf import window_pairs


def partition(x: torch.Tensor, M: int) -> torch.Tensor:
    """`(B, H, W, C)` -> `(B * nW, M, M, C)`, windows row-major: a partition written
    with one reshape and one permute, as a student would, not the package's."""
    B, H, W, C = x.shape
    return x.reshape(B, H // M, M, W // M, M, C).permute(0, 1, 3, 2, 4, 5).reshape(-1, M, M, C)


def effective_axis(length: int, window: int, shift: int) -> tuple[int, int]:
    """Window and shift on one axis: a map not larger than the window is one window, unshifted."""
    return (length, 0) if length <= window else (window, shift)


def coordinate_mask(
    Hp: int, Wp: int, window: tuple[int, int], shift: tuple[int, int]
) -> torch.Tensor:
    """Which token may attend which on an ``Hp x Wp`` (padded) map: bool ``(Hp*Wp, Hp*Wp)``.

    The package's fp64 pair rule (:func:`swin_tutorial.perf.window_pairs`), which
    is written from coordinates only and checked against a loop over each
    axis's segments in ``test_bench_suites.py``.
    """
    tokens = torch.arange(Hp * Wp)
    allowed, _ = window_pairs(Hp, Wp, window, shift)(tokens, tokens)
    return allowed


def coordinate_bias(
    Hp: int, Wp: int, table: torch.Tensor, table_window: tuple[int, int]
) -> torch.Tensor:
    """Relative position bias of every token pair by its offset: ``(heads, T, T)``.

    Offsets outside the table (pairs that may not attend anyway) read row 0.
    """
    i, j = torch.meshgrid(torch.arange(Hp), torch.arange(Wp), indexing="ij")
    i, j = i.flatten(), j.flatten()
    dh = i[:, None] - i[None, :] + table_window[0] - 1
    dw = j[:, None] - j[None, :] + table_window[1] - 1
    inside = (dh >= 0) & (dh < 2 * table_window[0] - 1) & (dw >= 0) & (dw < 2 * table_window[1] - 1)
    row = torch.where(inside, dh * (2 * table_window[1] - 1) + dw, torch.zeros_like(dh))
    return table[row].permute(2, 0, 1)


def masked_global_window_attention(
    x: torch.Tensor,
    qkv_weight: torch.Tensor,
    qkv_bias: torch.Tensor,
    proj_weight: torch.Tensor,
    proj_bias: torch.Tensor,
    bias_table: torch.Tensor,
    num_heads: int,
    window_size: tuple[int, int],
    shift_size: tuple[int, int],
    shrink_small_axes: bool = True,
) -> torch.Tensor:
    """Shifted window attention as one global attention with a coordinate mask.

    ``x`` is the normalised map ``(B, H, W, C)``. It is zero-padded at the bottom
    and right to a multiple of the (effective) window, every padded token
    attends as in the reference implementations, and the output is cropped.
    With ``shrink_small_axes`` (a block's rule, timm's), an axis not longer than
    the window is one window with no shift; without it the window and shift are
    used as given (the bare roll/partition pipeline).
    """
    B, H, W, C = x.shape
    if shrink_small_axes:
        wh, sh = effective_axis(H, window_size[0], shift_size[0])
        ww, sw = effective_axis(W, window_size[1], shift_size[1])
    else:
        (wh, ww), (sh, sw) = window_size, shift_size
    Hp, Wp = H + (-H) % wh, W + (-W) % ww
    padded = F.pad(x, (0, 0, 0, Wp - W, 0, Hp - H)).reshape(B, Hp * Wp, C)
    d = C // num_heads
    q, k, v = (
        F.linear(padded, qkv_weight, qkv_bias)
        .reshape(B, -1, 3, num_heads, d)
        .permute(2, 0, 3, 1, 4)
    )
    scores = (q @ k.transpose(-2, -1)) * d**-0.5
    scores = scores + coordinate_bias(Hp, Wp, bias_table, window_size)
    allowed = coordinate_mask(Hp, Wp, (wh, ww), (sh, sw))
    scores = scores.masked_fill(~allowed, float("-inf"))
    out = (scores.softmax(-1) @ v).transpose(1, 2).reshape(B, Hp, Wp, C)
    return F.linear(out, proj_weight, proj_bias)[:, :H, :W]


def tokens_reached_by(
    H: int,
    W: int,
    window_size: tuple[int, int],
    shift_size: tuple[int, int],
    token: tuple[int, int],
) -> torch.Tensor:
    """Tokens of an ``H x W`` map whose query may attend ``token`` in one block: bool ``(H, W)``."""
    wh, sh = effective_axis(H, window_size[0], shift_size[0])
    ww, sw = effective_axis(W, window_size[1], shift_size[1])
    Hp, Wp = H + (-H) % wh, W + (-W) % ww
    allowed = coordinate_mask(Hp, Wp, (wh, ww), (sh, sw))
    column = allowed[:, token[0] * Wp + token[1]].reshape(Hp, Wp)
    return column[:H, :W]


def rolled_window_tokens(
    H: int, W: int, window: tuple[int, int], shift: tuple[int, int]
) -> torch.Tensor:
    """Original flat index ``i * W + j`` of every token of every window of the rolled map.

    Returns long ``(nW, N)``: windows row-major over the ``H x W`` map rolled
    up/left by ``shift``, tokens row-major inside a window. Position ``(r, c)``
    of the rolled map holds the original token ``((r + sh) mod H, (c + sw) mod W)``.
    """
    wh, ww = window
    window_row, window_col, inner_row, inner_col = torch.meshgrid(
        torch.arange(H // wh),
        torch.arange(W // ww),
        torch.arange(wh),
        torch.arange(ww),
        indexing="ij",
    )
    r = window_row * wh + inner_row
    c = window_col * ww + inner_col
    i, j = (r + shift[0]) % H, (c + shift[1]) % W
    return (i * W + j).reshape(-1, wh * ww)


def window_bias(
    table: torch.Tensor, window: tuple[int, int], table_window: tuple[int, int]
) -> torch.Tensor:
    """Bias ``(heads, N, N)`` of a ``window``, read by offsets from a table made for
    ``table_window``."""
    return coordinate_bias(window[0], window[1], table, table_window)


def axis_keys(position: int, length: int, kernel: int, dilation: int) -> list[int]:
    """The ``kernel`` positions one query sees along an axis, listed explicitly."""
    group = [p for p in range(length) if p % dilation == position % dilation]
    a = group.index(position)
    start = min(max(a - kernel // 2, 0), len(group) - kernel)
    return group[start : start + kernel]


def brute_neighborhood(q, k, v, kernel, dilation, bias):
    """NATTEN-style neighbourhood attention, query by query: ``(B, heads, H, W, d)``."""
    B, heads, H, W, d = q.shape
    out = torch.zeros_like(q)
    for i in range(H):
        for j in range(W):
            keys = [
                (r, c)
                for r in axis_keys(i, H, kernel, dilation)
                for c in axis_keys(j, W, kernel, dilation)
            ]
            rows = torch.tensor([r for r, _ in keys])
            cols = torch.tensor([c for _, c in keys])
            scores = (q[:, :, i, j, None, :] * k[:, :, rows, cols, :]).sum(-1) / math.sqrt(d)
            if bias is not None:
                dh = (rows - i) // dilation + kernel - 1
                dw = (cols - j) // dilation + kernel - 1
                scores = scores + bias[:, dh, dw]
            out[:, :, i, j] = (scores.softmax(-1)[..., None] * v[:, :, rows, cols, :]).sum(-2)
    return out


def brute_sliding(q, k, v, window, causal):
    """1-D sliding-window attention, query by query: ``(B, heads, L, d)``."""
    L, d = q.shape[2], q.shape[3]
    out = torch.zeros_like(q)
    for t in range(L):
        if causal:
            keys = [s for s in range(L) if t - window < s <= t]
        else:
            keys = [s for s in range(L) if abs(t - s) <= window // 2]
        scores = (q[:, :, t, None] * k[:, :, keys]).sum(-1) / math.sqrt(d)
        out[:, :, t] = (scores.softmax(-1)[..., None] * v[:, :, keys]).sum(-2)
    return out
