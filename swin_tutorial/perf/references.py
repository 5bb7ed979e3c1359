"""fp64 references of the attention schemes, written from token coordinates.

A pair rule says, for a chunk of query tokens and all key tokens of an
``H x W`` map (row-major ids), which pairs may attend and what bias their score
gets. The rules use nothing from ``windows.py``, ``position.py`` or
``neighborhood.py``, only each token's row and column, so a bug in a fast path
cannot hide in its own reference. The tests import them too. Used in chapter 11.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .._checks import check_positive_int, check_tensor, to_pair, to_shift_pair

PairRule = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor | None]]
"""``(queries (q,), keys (k,)) -> (allowed bool (q, k), bias (heads, q, k) or None)``."""


def global_pairs() -> PairRule:
    """Every query attends every key, no bias (global attention)."""

    def rule(queries: torch.Tensor, keys: torch.Tensor) -> tuple[torch.Tensor, None]:
        return torch.ones(len(queries), len(keys), dtype=torch.bool, device=keys.device), None

    return rule


def _same_window(
    a: torch.Tensor, b: torch.Tensor, length: int, window: int, shift: int
) -> torch.Tensor:
    """On one axis: same window of the rolled axis, no wrap-around between ``a`` and ``b``."""
    ra, rb = (a - shift) % length, (b - shift) % length
    offset = a[:, None] - b[None, :]
    same = ra[:, None] // window == rb[None, :] // window
    return same & (offset == ra[:, None] - rb[None, :])


def window_pairs(
    H: int,
    W: int,
    window_size: int | Sequence[int],
    shift_size: int | Sequence[int] = 0,
    table: torch.Tensor | None = None,
) -> PairRule:
    """Swin's (shifted) window attention on an ``H x W`` map, from coordinates.

    Token ``(i, j)`` sits at ``((i - sh) mod H, (j - sw) mod W)`` after the roll;
    two tokens attend iff they share a window of the rolled map and no
    wrap-around separates them. ``table`` (``((2wh-1)(2ww-1), heads)``) gives the
    bias of a pair by its offset, query minus key. Used in chapter 11.
    """
    H, W = check_positive_int("H", H), check_positive_int("W", W)
    wh, ww = to_pair("window_size", window_size)
    sh, sw = to_shift_pair("shift_size", shift_size, (wh, ww))
    if H % wh or W % ww:
        raise ValueError(f"H and W must be multiples of window_size {(wh, ww)}, got H={H}, W={W}")

    def rule(queries: torch.Tensor, keys: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        qi, qj, ki, kj = queries // W, queries % W, keys // W, keys % W
        allowed = _same_window(qi, ki, H, wh, sh) & _same_window(qj, kj, W, ww, sw)
        if table is None:
            return allowed, None
        di = (qi[:, None] - ki[None, :] + wh - 1).clamp(0, 2 * wh - 2)
        dj = (qj[:, None] - kj[None, :] + ww - 1).clamp(0, 2 * ww - 2)
        return allowed, table[di * (2 * ww - 1) + dj].permute(2, 0, 1)

    return rule


def neighborhood_pairs(
    H: int, W: int, kernel_size: int, bias: torch.Tensor | None = None
) -> PairRule:
    """Neighbourhood attention (NAT, dilation 1) on an ``H x W`` map, from coordinates.

    Along each axis the query at ``p`` sees the ``k`` positions from
    ``clamp(p - k // 2, 0, length - k)``. ``bias`` (``(heads, 2k-1, 2k-1)``) gives
    the bias of a pair by its offset, key minus query. Used in chapter 11.
    """
    H, W = check_positive_int("H", H), check_positive_int("W", W)
    k = check_positive_int("kernel_size", kernel_size)
    if k > min(H, W):
        raise ValueError(
            f"kernel_size must be at most min(H, W) = {min(H, W)}, got kernel_size={k}"
        )

    def inside(q: torch.Tensor, key: torch.Tensor, length: int) -> torch.Tensor:
        start = (q - k // 2).clamp(0, length - k)
        return (key[None, :] >= start[:, None]) & (key[None, :] < start[:, None] + k)

    def rule(queries: torch.Tensor, keys: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        qi, qj, ki, kj = queries // W, queries % W, keys // W, keys % W
        allowed = inside(qi, ki, H) & inside(qj, kj, W)
        if bias is None:
            return allowed, None
        di = (ki[None, :] - qi[:, None] + k - 1).clamp(0, 2 * k - 2)
        dj = (kj[None, :] - qj[:, None] + k - 1).clamp(0, 2 * k - 2)
        return allowed, bias[:, di, dj]

    return rule


def _linear64(t: torch.Tensor, layer: nn.Linear) -> torch.Tensor:
    """``layer(t)`` with the layer's weights in float64."""
    double = {"dtype": torch.float64, "device": t.device}
    bias = None if layer.bias is None else layer.bias.detach().to(**double)
    return F.linear(t, layer.weight.detach().to(**double), bias)


def attention_reference(
    x: torch.Tensor,
    qkv: nn.Linear,
    proj: nn.Linear,
    num_heads: int,
    pairs: PairRule,
    chunk: int = 512,
) -> torch.Tensor:
    """Multi-head attention over ``x`` ``(B, T, C)`` in float64, with the pairs ``pairs`` allows.

    ``qkv`` gives channels ordered ``(3, heads, d)`` as in timm; the softmax is
    written out; queries go ``chunk`` at a time (memory ``chunk x T`` per head).
    Returns ``(B, T, C)`` float64. Used in chapter 11.
    """
    check_tensor("x", x, 3, "(B, T, C)")
    check_positive_int("num_heads", num_heads)
    check_positive_int("chunk", chunk)
    B, T, C = x.shape
    if C % num_heads:
        raise ValueError(f"num_heads={num_heads} must divide the {C} channels of x")
    d = C // num_heads
    with torch.no_grad():
        projected = _linear64(x.to(torch.float64), qkv)
        q, k, v = projected.reshape(B, T, 3, num_heads, d).permute(2, 0, 3, 1, 4)
        keys = torch.arange(T, device=x.device)
        out = torch.empty(B, num_heads, T, d, dtype=torch.float64, device=x.device)
        for start in range(0, T, chunk):
            queries = keys[start : start + chunk]
            allowed, bias = pairs(queries, keys)
            scores = q[:, :, queries] @ k.transpose(-2, -1) / math.sqrt(d)  # (B, heads, chunk, T)
            if bias is not None:
                scores = scores + bias.to(torch.float64)
            scores = scores.masked_fill(~allowed, -math.inf)
            weights = (scores - scores.amax(dim=-1, keepdim=True)).exp()
            out[:, :, queries] = (weights / weights.sum(dim=-1, keepdim=True)) @ v
        return _linear64(out.transpose(1, 2).reshape(B, T, C), proj)
