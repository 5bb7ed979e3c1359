"""2-D neighbourhood attention: every query has its own ``k x k`` neighbourhood (chapter 8).

Neighbourhood attention (NAT, Hassani et al., 2023) gives each query the
``k x k`` keys around it. At the borders the neighbourhood is not cut short but
shifted inward, so every query sees exactly ``k * k`` keys. With dilation ``d``
each axis is split into ``d`` interleaved groups (positions with the same index
modulo ``d``) and the neighbourhood is taken inside the query's group, every
``d``-th position.

:func:`neighborhood_attention_2d` has three implementations with the same
numbers (see :mod:`swin_tutorial.backends`): ``"dense"`` (the full mask, memory
quadratic in the tokens), ``"flex"`` (FlexAttention) and ``"gather"``, which
gathers each query's ``k * k`` keys and values by index, a band of query rows at
a time, so memory grows linearly with the tokens. :func:`neighborhood_backend`
says which one ``"auto"`` runs.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ._checks import (
    check_channels,
    check_choice,
    check_heads,
    check_positive_int,
    check_qkv,
    check_tensor,
)
from .backends import BACKENDS, flex_masked_attention, resolve_backend

#: Backends of :func:`neighborhood_attention_2d`: those of :mod:`~swin_tutorial.backends` and
#: ``"gather"``.
NEIGHBORHOOD_BACKENDS = (*BACKENDS, "gather")
#: The ``"gather"`` backend holds at most about this many gathered key entries at once.
GATHER_CHUNK_ELEMENTS = 2**22


def _axis_window_start(
    index: torch.Tensor, length: int, kernel_size: int, dilation: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Group and first group index of the neighbourhood of positions ``index`` on one axis.

    Position ``p`` belongs to group ``g = p mod d`` at group index ``a = p // d``;
    the group holds ``n_g = ceil((length - g) / d)`` positions. The query sees the
    ``kernel_size`` group indices starting at
    ``clamp(a - kernel_size // 2, 0, n_g - kernel_size)``.
    """
    group, position = index % dilation, index // dilation
    group_length = (length - group + dilation - 1) // dilation
    start = torch.minimum((position - kernel_size // 2).clamp(min=0), group_length - kernel_size)
    return group, start


def _axis_neighborhood(
    length: int, kernel_size: int, dilation: int, device: torch.device | str | None
) -> torch.Tensor:
    """Which position each position sees along one axis: bool ``(length, length)``."""
    pos = torch.arange(length, device=device)
    group, start = _axis_window_start(pos, length, kernel_size, dilation)
    index = pos // dilation
    same_group = group[:, None] == group[None, :]
    inside = (index[None, :] >= start[:, None]) & (index[None, :] < start[:, None] + kernel_size)
    return same_group & inside


def _axis_neighbors(
    length: int, kernel_size: int, dilation: int, device: torch.device | str | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Neighbours of every position along one axis and their bias indices, each ``(length, k)``.

    Entry ``[p, a]`` is the ``a``-th key position of query ``p``, and
    ``(key - query) / dilation + k - 1``, the index into the bias table.
    """
    pos = torch.arange(length, device=device)
    group, start = _axis_window_start(pos, length, kernel_size, dilation)
    index = start[:, None] + torch.arange(kernel_size, device=device)  # group indices (length, k)
    offset = index - (pos // dilation)[:, None] + kernel_size - 1
    return index * dilation + group[:, None], offset


def _check_map(H: int, W: int, kernel_size: int, dilation: int) -> None:
    """Check that an odd ``kernel_size`` with ``dilation`` fits an ``H x W`` map."""
    check_positive_int("H", H)
    check_positive_int("W", W)
    check_positive_int("kernel_size", kernel_size)
    check_positive_int("dilation", dilation)
    if kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be odd (a centred neighbourhood), got {kernel_size}")
    if kernel_size > min(H, W):
        raise ValueError(
            f"kernel_size={kernel_size} is larger than the map (H={H}, W={W}); "
            f"it must be at most min(H, W)"
        )
    if kernel_size * dilation > min(H, W):
        raise ValueError(
            f"dilation={dilation} with kernel_size={kernel_size} spans "
            f"{kernel_size * dilation} positions, more than the map (H={H}, W={W}): "
            f"a dilation group would hold fewer than kernel_size positions; "
            f"need kernel_size * dilation <= min(H, W)"
        )


def neighborhood_mask(
    H: int,
    W: int,
    kernel_size: int,
    dilation: int = 1,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Which key each query may attend under neighbourhood attention.

    Query ``(i, j)`` may attend key ``(k, l)`` when ``k`` is in the row
    neighbourhood of ``i`` and ``l`` in the column neighbourhood of ``j``. Along
    an axis, with dilation ``d``, positions split into groups by index modulo
    ``d``; a query at index ``a`` of its group (of ``n_g`` positions) sees the
    ``kernel_size`` group positions starting at
    ``clamp(a - kernel_size // 2, 0, n_g - kernel_size)``: centred on the query
    away from the borders, shifted inward near them (NATTEN's semantics).
    Used in chapters 2 and 8.

    Args:
        H, W: size of the map, each at least ``kernel_size * dilation``.
        kernel_size: odd side ``k`` of the neighbourhood.
        dilation: step ``d`` between neighbours (1: contiguous).
        device: where to build the mask.

    Returns:
        bool ``(H * W, H * W)`` indexed by row-major token ids (``i * W + j``);
        every row holds exactly ``k * k`` ``True``.
    """
    _check_map(H, W, kernel_size, dilation)
    rows = _axis_neighborhood(H, kernel_size, dilation, device)  # (H, H)
    cols = _axis_neighborhood(W, kernel_size, dilation, device)  # (W, W)
    # (i, j, k, l) -> rows (i, j), columns (k, l), both row-major
    return (rows[:, None, :, None] & cols[None, :, None, :]).reshape(H * W, H * W)


def neighborhood_backend(
    backend: str, H: int, W: int, device: torch.device | str, batch_heads: int = 1
) -> str:
    """Which implementation :func:`neighborhood_attention_2d` runs: dense, flex or gather.

    ``"auto"`` runs ``"dense"`` while ``batch_heads * (H * W) ** 2`` is at most
    :data:`~swin_tutorial.backends.DENSE_AUTO_MAX_SCORES`, then FlexAttention on
    CUDA and ``"gather"`` elsewhere (see :func:`~swin_tutorial.backends.resolve_backend`).
    """
    H, W = check_positive_int("H", H), check_positive_int("W", W)
    dense_scores = check_positive_int("batch_heads", batch_heads) * (H * W) ** 2
    return resolve_backend(backend, device, dense_scores, "gather")


def neighborhood_attention_2d(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    kernel_size: int,
    dilation: int = 1,
    bias: torch.Tensor | None = None,
    backend: str = "auto",
) -> torch.Tensor:
    """2-D neighbourhood attention: each query attends its ``k x k`` neighbours.

    Scores are ``q . k * d ** -0.5`` (as in ``F.scaled_dot_product_attention``)
    plus, optionally, a relative position bias; neighbourhoods follow
    :func:`neighborhood_mask` (NATTEN's semantics, shifted inward at borders,
    dilation by index groups). Used in chapter 8.

    Args:
        q, k, v: ``(B, heads, H, W, d)``.
        kernel_size: odd ``k``, at most ``min(H, W) // dilation``.
        dilation: step between neighbours.
        bias: ``(heads, 2k - 1, 2k - 1)``; the pair (query, key) reads
            ``bias[:, dh + k - 1, dw + k - 1]`` with ``(dh, dw)`` = (key - query)
            / dilation, NATTEN's convention (note: Swin's index is query - key).
        backend: one of :data:`NEIGHBORHOOD_BACKENDS` (see :func:`neighborhood_backend`).

    Returns:
        ``(B, heads, H, W, d)``.
    """
    check_qkv(q, k, v, 5, "(B, heads, H, W, d)")
    B, heads, H, W, d = q.shape
    _check_map(H, W, kernel_size, dilation)
    table = (heads, 2 * kernel_size - 1, 2 * kernel_size - 1)
    if bias is not None and (not isinstance(bias, torch.Tensor) or bias.shape != table):
        shape = tuple(bias.shape) if isinstance(bias, torch.Tensor) else type(bias).__name__
        raise ValueError(f"bias must have shape (heads, 2k-1, 2k-1) = {table}, got {shape}")
    chosen = neighborhood_backend(backend, H, W, q.device, B * heads)
    if chosen == "gather":
        return _gathered_neighborhood_attention(q, k, v, kernel_size, dilation, bias)
    flat = [t.reshape(B, heads, H * W, d) for t in (q, k, v)]
    if chosen == "dense":
        mask = neighborhood_mask(H, W, kernel_size, dilation, device=q.device)
        additive = torch.zeros(heads, H * W, H * W, dtype=q.dtype, device=q.device)
        if bias is not None:
            additive = additive + _pair_bias(bias, H, W, kernel_size, dilation).to(q.dtype)
        additive = additive.masked_fill(~mask, float("-inf"))
        out = F.scaled_dot_product_attention(*flat, attn_mask=additive)
    else:
        out = flex_masked_attention(*flat, *_neighborhood_mods(H, W, kernel_size, dilation, bias))
    return out.reshape(B, heads, H, W, d)


def _gathered_neighborhood_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    kernel_size: int,
    dilation: int,
    bias: torch.Tensor | None,
) -> torch.Tensor:
    """Neighbourhood attention by gathering each query's ``k * k`` keys: ``(B, heads, H, W, d)``.

    Query rows go in bands of ``R`` rows; a band gathers ``(B, heads, R, W, k * k, d)``
    keys and values, with ``R`` chosen so that this stays near
    :data:`GATHER_CHUNK_ELEMENTS` entries.
    """
    B, heads, H, W, d = q.shape
    kk = kernel_size * kernel_size
    rows, row_bias = _axis_neighbors(H, kernel_size, dilation, q.device)  # (H, k) each
    cols, col_bias = _axis_neighbors(W, kernel_size, dilation, q.device)  # (W, k) each
    band = max(1, GATHER_CHUNK_ELEMENTS // (B * heads * W * kk * d))
    out = []
    for first in range(0, H, band):
        r, rb = rows[first : first + band], row_bias[first : first + band]  # (R, k)
        R = r.shape[0]
        query = q[:, :, first : first + R, :, None] * d**-0.5  # (B, heads, R, W, 1, d)
        scores = (query @ _gather(k, r, cols).transpose(-2, -1))[
            ..., 0, :
        ]  # (B, heads, R, W, k * k)
        if bias is not None:
            # (heads, R, W, k, k): row offset of key a, column offset of key b
            pair = bias[:, rb[:, None, :, None], col_bias[None, :, None, :]]
            scores = scores + pair.reshape(heads, R, W, kk).to(q.dtype)
        out.append((scores.softmax(dim=-1)[..., None, :] @ _gather(v, r, cols))[..., 0, :])
    return torch.cat(out, dim=2)


def _gather(t: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """Neighbours of a band of queries: ``(B, heads, H, W, d)`` -> ``(B, heads, R, W, k * k, d)``.

    ``rows`` ``(R, k)`` and ``cols`` ``(W, k)`` hold the neighbour positions along each axis.
    """
    B, heads, _, _, d = t.shape
    picked = t[:, :, rows[:, :, None, None], cols[None, None]]  # (B, heads, R, k, W, k, d)
    return picked.transpose(3, 4).reshape(B, heads, rows.shape[0], cols.shape[0], -1, d)


def _pair_bias(bias: torch.Tensor, H: int, W: int, kernel_size: int, dilation: int) -> torch.Tensor:
    """Bias of every (query, key) pair, ``(heads, HW, HW)``.

    Pairs outside a neighbourhood read a clamped entry.
    """
    i = torch.arange(H, device=bias.device)
    j = torch.arange(W, device=bias.device)
    dh = ((i[None, :] - i[:, None]) // dilation + kernel_size - 1).clamp(0, 2 * kernel_size - 2)
    dw = ((j[None, :] - j[:, None]) // dilation + kernel_size - 1).clamp(0, 2 * kernel_size - 2)
    rows = dh[:, None, :, None].expand(H, W, H, W)
    cols = dw[None, :, None, :].expand(H, W, H, W)
    return bias[:, rows, cols].reshape(bias.shape[0], H * W, H * W)


def _neighborhood_mods(
    H: int, W: int, kernel_size: int, dilation: int, bias: torch.Tensor | None
) -> tuple[Callable, Callable | None]:
    """FlexAttention ``mask_mod`` and ``score_mod`` for 2-D neighbourhoods on an ``H x W`` map."""

    def inside(query: torch.Tensor, key: torch.Tensor, length: int) -> torch.Tensor:
        group, start = _axis_window_start(query, length, kernel_size, dilation)
        position = key // dilation
        return (key % dilation == group) & (position >= start) & (position < start + kernel_size)

    def mask_mod(b, h, q_idx, kv_idx):
        return inside(q_idx // W, kv_idx // W, H) & inside(q_idx % W, kv_idx % W, W)

    if bias is None:
        return mask_mod, None

    def score_mod(score, b, h, q_idx, kv_idx):
        dh = ((kv_idx // W - q_idx // W) // dilation + kernel_size - 1).clamp(
            0, 2 * kernel_size - 2
        )
        dw = ((kv_idx % W - q_idx % W) // dilation + kernel_size - 1).clamp(0, 2 * kernel_size - 2)
        return score + bias[h, dh, dw]

    return mask_mod, score_mod


class NeighborhoodAttention2D(nn.Module):
    """Multi-head neighbourhood attention on a channels-last map, with a relative position bias.

    Used in chapter 8 (and by :class:`~swin_tutorial.model.NeighborhoodBlock`).

    Args:
        dim: channels ``C``.
        num_heads: heads; must divide ``dim``.
        kernel_size: odd side ``k`` of each query's neighbourhood.
        dilation: step between neighbours.
        qkv_bias: learn a bias in the Q/K/V projection.
        backend: one of :data:`NEIGHBORHOOD_BACKENDS` (see :func:`neighborhood_backend`).
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        kernel_size: int = 7,
        dilation: int = 1,
        qkv_bias: bool = True,
        backend: str = "auto",
    ) -> None:
        super().__init__()
        check_heads(dim, num_heads)
        if check_positive_int("kernel_size", kernel_size) % 2 == 0:
            raise ValueError(
                f"kernel_size must be odd (a centred neighbourhood), got {kernel_size}"
            )
        self.dim, self.num_heads = dim, num_heads
        self.kernel_size, self.dilation = kernel_size, check_positive_int("dilation", dilation)
        self.backend = check_choice("backend", backend, NEIGHBORHOOD_BACKENDS)
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.rpb = nn.Parameter(torch.zeros(num_heads, 2 * kernel_size - 1, 2 * kernel_size - 1))
        nn.init.trunc_normal_(self.rpb, std=0.02)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, H, W, C)`` -> ``(B, H, W, C)``, with ``H, W >= kernel_size * dilation``."""
        check_tensor("x", x, 4, "(B, H, W, C)")
        check_channels("x", x, self.dim)
        B, H, W, C = x.shape
        qkv = self.qkv(x).reshape(B, H, W, 3, self.num_heads, C // self.num_heads)
        q, k, v = qkv.permute(3, 0, 4, 1, 2, 5).unbind(0)  # each (B, heads, H, W, d)
        out = neighborhood_attention_2d(
            q, k, v, self.kernel_size, self.dilation, self.rpb, self.backend
        )
        return self.proj(out.permute(0, 2, 3, 1, 4).reshape(B, H, W, C))
