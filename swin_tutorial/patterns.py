"""Who attends whom: dense ``(T, T)`` visibility matrices for teaching.

Every function here returns a boolean matrix indexed by row-major token ids
(token ``(i, j)`` of an ``H x W`` map has id ``i * W + j``, ``T = H * W``):
entry ``[q, k]`` is ``True`` when query ``q`` may attend key ``k``. Dense
matrices are wasteful for real models but make the schemes easy to compare,
draw and compose.

The window patterns are built *from the package's own machinery*
(:func:`~swin_tutorial.windows.cyclic_shift`,
:func:`~swin_tutorial.windows.window_partition`,
:func:`~swin_tutorial.windows.shifted_window_mask`): token ids are rolled and
partitioned exactly as the features of a Swin block are, and the mask is
scattered back to the original ids. They therefore show what the package
does, not what we think it does.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ._checks import check_positive_int, to_pair
from .neighborhood import neighborhood_mask
from .windows import cyclic_shift, shifted_window_mask, window_partition


def global_pattern(H: int, W: int) -> torch.Tensor:
    """Global attention: every query sees every key. Bool ``(H*W, H*W)``, all ``True``."""
    H, W = check_positive_int("H", H), check_positive_int("W", W)
    return torch.ones(H * W, H * W, dtype=torch.bool)


def shifted_window_pattern(
    H: int,
    W: int,
    window_size: int | Sequence[int],
    shift_size: int | Sequence[int],
) -> torch.Tensor:
    """What a Swin block with shifted windows lets each token see: bool ``(H*W, H*W)``.

    The token ids ``0 .. H*W-1`` are laid out as an ``(1, H, W, 1)`` map, rolled
    with :func:`cyclic_shift` and cut with :func:`window_partition`, exactly as a
    Swin block treats its features. Inside window ``w`` the query at position
    ``n`` may see the key at position ``m`` when
    ``shifted_window_mask(...)[w, n, m]``; that permission is written at
    ``[id of n, id of m]`` in the original numbering.

    Args:
        H, W: size of the map, multiples of the window.
        window_size: ``M`` or ``(M_h, M_w)``.
        shift_size: ``s`` or ``(s_h, s_w)`` with ``0 <= s < M`` (0: regular windows).
    """
    H, W = check_positive_int("H", H), check_positive_int("W", W)
    wh, ww = to_pair("window_size", window_size)
    mask = shifted_window_mask(H, W, (wh, ww), shift_size)  # (nW, N, N), validates sizes
    ids = torch.arange(H * W, dtype=torch.float64).reshape(1, H, W, 1)
    rolled = cyclic_shift(ids, shift_size)
    windows = window_partition(rolled, (wh, ww)).reshape(-1, wh * ww).long()  # (nW, N)
    nW, N = windows.shape
    pattern = torch.zeros(H * W, H * W, dtype=torch.bool)
    queries = windows[:, :, None].expand(nW, N, N)
    keys = windows[:, None, :].expand(nW, N, N)
    pattern[queries, keys] = mask
    return pattern


def window_pattern(H: int, W: int, window_size: int | Sequence[int]) -> torch.Tensor:
    """Regular (unshifted) windows: a query sees the tokens of its own window.

    Bool ``(H*W, H*W)``; ``H`` and ``W`` must be multiples of the window.
    """
    return shifted_window_pattern(H, W, window_size, 0)


def neighborhood_pattern(H: int, W: int, kernel_size: int, dilation: int = 1) -> torch.Tensor:
    """Neighbourhood (truly sliding) attention: bool ``(H*W, H*W)``.

    Each query sees exactly ``kernel_size**2`` keys; see
    :func:`~swin_tutorial.neighborhood.neighborhood_mask`.
    """
    return neighborhood_mask(H, W, kernel_size, dilation)


def _check_pattern(name: str, pattern: object, T: int | None) -> int:
    """Check one pattern is a square bool tensor (of side ``T`` if given); return its side."""
    if not isinstance(pattern, torch.Tensor) or pattern.dtype != torch.bool:
        kind = pattern.dtype if isinstance(pattern, torch.Tensor) else type(pattern).__name__
        raise TypeError(f"{name} must be a bool torch.Tensor (T, T), got {kind}")
    if pattern.dim() != 2 or pattern.shape[0] != pattern.shape[1]:
        raise ValueError(f"{name} must be square (T, T), got shape {tuple(pattern.shape)}")
    if T is not None and pattern.shape[0] != T:
        raise ValueError(
            f"{name} has shape {tuple(pattern.shape)} but the first pattern has T={T}: "
            f"all layers must act on the same tokens"
        )
    return pattern.shape[0]


def receptive_field(patterns: Sequence[torch.Tensor], query: int) -> torch.Tensor:
    """Input tokens that can influence ``query``'s output after the layers, in order.

    Layer ``l`` (``patterns[l]``, applied first for ``l = 0``) computes the output
    at ``q`` from its inputs at the keys ``k`` with ``patterns[l][q, k]``.
    Walking back from the last layer, the set of tokens that can reach the
    query grows by one composition per layer:
    ``reach <- {k : patterns[l][q, k] for some q in reach}``. (The residual
    connection adds ``q`` itself; every pattern in this module contains the
    diagonal, so it changes nothing here.)

    Args:
        patterns: non-empty sequence of bool ``(T, T)``, the first layer first.
        query: token id in ``[0, T)``.

    Returns:
        bool ``(T,)``.
    """
    if isinstance(patterns, torch.Tensor) or not isinstance(patterns, Sequence) or not patterns:
        raise ValueError(
            "patterns must be a non-empty list of bool (T, T) tensors, one per layer, "
            f"got {type(patterns).__name__}"
        )
    T = _check_pattern("patterns[0]", patterns[0], None)
    for index, pattern in enumerate(patterns[1:], start=1):
        _check_pattern(f"patterns[{index}]", pattern, T)
    if isinstance(query, bool) or not isinstance(query, int) or not 0 <= query < T:
        raise ValueError(f"query must be a token id in [0, {T}), got {query!r}")
    reach = torch.zeros(T, dtype=torch.bool, device=patterns[0].device)
    reach[query] = True
    for pattern in reversed(patterns):
        reach = pattern[reach].any(dim=0)
    return reach
