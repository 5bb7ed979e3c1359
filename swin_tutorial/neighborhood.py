"""Truly sliding attention: every query has its own neighbourhood.

Neighbourhood attention (NAT, Hassani et al., 2023) gives each query the
``k x k`` keys around it. At the borders the neighbourhood is not cut short but
shifted inward, so every query sees exactly ``k * k`` keys. With dilation ``d``
each axis is split into ``d`` interleaved groups (positions with the same index
modulo ``d``) and the neighbourhood is taken inside the query's group, every
``d``-th position.

This module starts with the mask that says which key each query may see.
"""

from __future__ import annotations

import torch

from ._checks import check_positive_int


def _axis_neighbourhood(
    length: int, kernel_size: int, dilation: int, device: torch.device | str | None
) -> torch.Tensor:
    """Which position each position sees along one axis: bool ``(length, length)``.

    Position ``p`` belongs to group ``g = p mod d`` at group index ``a = p // d``;
    the group holds ``n_g = ceil((length - g) / d)`` positions. The query sees the
    ``kernel_size`` group indices starting at
    ``clamp(a - kernel_size // 2, 0, n_g - kernel_size)``.
    """
    pos = torch.arange(length, device=device)
    group, index = pos % dilation, pos // dilation
    group_length = (length - group + dilation - 1) // dilation
    start = torch.minimum((index - kernel_size // 2).clamp(min=0), group_length - kernel_size)
    same_group = group[:, None] == group[None, :]
    inside = (index[None, :] >= start[:, None]) & (index[None, :] < start[:, None] + kernel_size)
    return same_group & inside


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

    Args:
        H, W: size of the map, each at least ``kernel_size * dilation``.
        kernel_size: odd side ``k`` of the neighbourhood.
        dilation: step ``d`` between neighbours (1: contiguous).
        device: where to build the mask.

    Returns:
        bool ``(H * W, H * W)`` indexed by row-major token ids (``i * W + j``);
        every row holds exactly ``k * k`` ``True``.
    """
    H, W = check_positive_int("H", H), check_positive_int("W", W)
    kernel_size = check_positive_int("kernel_size", kernel_size)
    dilation = check_positive_int("dilation", dilation)
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
    rows = _axis_neighbourhood(H, kernel_size, dilation, device)  # (H, H)
    cols = _axis_neighbourhood(W, kernel_size, dilation, device)  # (W, W)
    # (i, j, k, l) -> rows (i, j), columns (k, l), both row-major
    return (rows[:, None, :, None] & cols[None, :, None, :]).reshape(H * W, H * W)
