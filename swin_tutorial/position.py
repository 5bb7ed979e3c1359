"""Relative position bias: the index into Swin v1's table, and Swin v2's log-spaced offsets.

A window of ``wh x ww`` tokens has ``(2wh - 1) * (2ww - 1)`` possible offsets
``(dh, dw)`` between a query and a key, with ``dh`` in ``[-(wh-1), wh-1]`` and
``dw`` in ``[-(ww-1), ww-1]``. Each head learns one scalar per offset, stored in a
table; :func:`relative_position_index` says which row of the table each
(query, key) pair reads.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from ._checks import check_tensor, to_pair


def relative_position_index(
    window_size: int | Sequence[int],
    table_window: int | Sequence[int] | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Table row read by each (query, key) pair of a window.

    ``index[n, m] = (dh + Th - 1) * (2 Tw - 1) + (dw + Tw - 1)`` where
    ``(dh, dw)`` is query ``n``'s coordinate minus key ``m``'s, and ``(Th, Tw)``
    is ``table_window`` (the window the table was made for, by default
    ``window_size`` itself). A window smaller than the table's reads the central
    part of the same table, which is how a block whose feature map is smaller
    than its window reuses its weights.

    Args:
        window_size: ``M`` or ``(wh, ww)``.
        table_window: ``(Th, Tw)`` with ``Th >= wh`` and ``Tw >= ww``.
        device: where to build the index.

    Returns:
        long ``(N, N)`` with ``N = wh * ww``, values in ``[0, (2Th-1)(2Tw-1))``.
    """
    wh, ww = to_pair("window_size", window_size)
    th, tw = (wh, ww) if table_window is None else to_pair("table_window", table_window)
    if wh > th or ww > tw:
        raise ValueError(f"window_size {(wh, ww)} must not exceed table_window {(th, tw)}")
    rows, cols = torch.meshgrid(
        torch.arange(wh, device=device), torch.arange(ww, device=device), indexing="ij"
    )
    coords = torch.stack((rows.flatten(), cols.flatten()))  # (2, N)
    delta = coords[:, :, None] - coords[:, None, :]  # (2, N, N): query minus key
    return (delta[0] + th - 1) * (2 * tw - 1) + (delta[1] + tw - 1)


def bias_table_size(window_size: int | Sequence[int]) -> int:
    """Rows of the bias table for a window: ``(2wh - 1) * (2ww - 1)``."""
    wh, ww = to_pair("window_size", window_size)
    return (2 * wh - 1) * (2 * ww - 1)


def gather_relative_position_bias(table: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Read the bias of every (query, key) pair from the table. Used in chapter 5.

    Args:
        table: ``(T, heads)`` learned biases.
        index: long ``(N, N)`` from :func:`relative_position_index`, values in ``[0, T)``.

    Returns:
        ``(heads, N, N)``.
    """
    check_tensor("table", table, 2, "(T, heads)")
    if not isinstance(index, torch.Tensor) or index.dtype != torch.long or index.dim() != 2:
        got = f"{index.dtype} {tuple(index.shape)}" if isinstance(index, torch.Tensor) else index
        raise TypeError(f"index must be a long tensor (N, N), got {got!r}")
    N = index.shape[0]
    if index.shape[1] != N:
        raise ValueError(f"index must be square (N, N), got shape {tuple(index.shape)}")
    return table[index.reshape(-1)].reshape(N, N, -1).permute(2, 0, 1)


def log_spaced_coordinates(
    window_size: int | Sequence[int],
    normalizer: int | Sequence[int] | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Relative offsets on Swin V2's log scale, one row per table entry: ``(T, 2)``.

    Offsets ``(dh, dw)`` run over ``[-(wh-1), wh-1] x [-(ww-1), ww-1]`` in the
    row-major order of :func:`relative_position_index`. Each is divided by
    ``normalizer - 1`` (by default the window minus one), scaled to ``[-8, 8]``
    and mapped through ``sign(x) * log2(1 + |x|) / log2(8)``, so near offsets are
    spread out and far ones compressed. Normalising by the window a model was
    trained with keeps the inputs of the bias network comparable when the same
    network serves a larger window.

    Returns:
        float ``(T, 2)`` with ``T = (2wh - 1)(2ww - 1)``; when ``normalizer`` is
        the window, the extreme offsets map to ``+-log2(9) / log2(8)`` (about 1.057).
    """
    wh, ww = to_pair("window_size", window_size)
    nh, nw = (wh, ww) if normalizer is None else to_pair("normalizer", normalizer)
    dh = torch.arange(-(wh - 1), wh, dtype=torch.float32, device=device) / max(nh - 1, 1)
    dw = torch.arange(-(ww - 1), ww, dtype=torch.float32, device=device) / max(nw - 1, 1)
    table = torch.stack(torch.meshgrid(dh, dw, indexing="ij"), dim=-1).reshape(-1, 2) * 8
    return torch.sign(table) * torch.log2(table.abs() + 1.0) / math.log2(8)
