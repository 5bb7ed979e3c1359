"""Who attends whom: dense ``(T, T)`` visibility matrices for teaching.

Every function here returns a boolean matrix indexed by row-major token ids
(token ``(i, j)`` of an ``H x W`` map has id ``i * W + j``, ``T = H * W``):
entry ``[q, k]`` is ``True`` when query ``q`` may attend key ``k``. Dense
matrices are wasteful for real models but make the schemes easy to compare,
draw and compose.

The window patterns are built *from the package's own machinery*
(:func:`~swin_tutorial.windows.window_token_ids`, which sends token ids through
the block's windowing pipeline, and :func:`~swin_tutorial.windows.shifted_window_mask`):
the mask is scattered back to the original ids. They therefore show what the package
does, not what we think it does.

Two more local schemes are written from coordinates, one rule per axis:
overlapping windows with a stride (:func:`overlapping_window_pattern`) and
HaloNet's query blocks with a halo of keys (:func:`halo_pattern`). Three
tools compare schemes: :func:`pattern_cost` (keys per query, multiply-adds),
:func:`receptive_field_sizes` and :func:`layers_to_cover` (how fast
information spreads through a stack of layers), and
:func:`separable_factors`, which splits a pattern into a row and a column
pattern so that questions about large maps can be answered one axis at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from ._checks import check_choice, check_int, check_positive_int, to_pair, to_shift_pair
from .neighborhood import neighborhood_mask
from .windows import shifted_window_mask, window_layout, window_token_ids


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

    :func:`~swin_tutorial.windows.window_token_ids` says which token sits at
    each place of each window, exactly as in a Swin block. Inside window ``w``
    the query at position
    ``n`` may see the key at position ``m`` when
    ``shifted_window_mask(...)[w, n, m]``; that permission is written at
    ``[id of n, id of m]`` in the original numbering.

    Args:
        H, W: size of the map, multiples of the window.
        window_size: ``M`` or ``(M_h, M_w)``.
        shift_size: ``s`` or ``(s_h, s_w)`` with ``0 <= s < M`` (0: regular windows).
    """
    H, W = check_positive_int("H", H), check_positive_int("W", W)
    mask = shifted_window_mask(H, W, window_size, shift_size)  # (nW, N, N), validates sizes
    windows = window_token_ids(window_layout(H, W, window_size, shift_size))  # (nW, N)
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


def check_pattern(name: str, pattern: object, T: int | None = None) -> int:
    """Check ``pattern`` is a square bool ``(T, T)`` (of side ``T`` if given); return its side."""
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
    T = check_pattern("patterns[0]", patterns[0], None)
    for index, pattern in enumerate(patterns[1:], start=1):
        check_pattern(f"patterns[{index}]", pattern, T)
    check_int("query", query, 0, T - 1)
    reach = torch.zeros(T, dtype=torch.bool, device=patterns[0].device)
    reach[query] = True
    for pattern in reversed(patterns):
        reach = pattern[reach].any(dim=0)
    return reach


# --------------------------------------------------------------------------- more variants
#
# Overlapping windows with a stride and HaloNet's blocked local attention. Both
# are separable, like every pattern above: query (i, j) sees key (a, b) when the
# row rule lets row i see row a and the column rule lets column j see column b.
# Each is therefore built from two 1-D "axis" patterns.

OVERLAP_RULES = ("nearest", "union")


def _axis_product(rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """Bool ``(H*W, H*W)`` from axis patterns ``rows (H, H)`` and ``cols (W, W)``, row-major ids."""
    H, W = rows.shape[0], cols.shape[0]
    return (rows[:, None, :, None] & cols[None, :, None, :]).reshape(H * W, H * W)


def _window_starts(length: int, window: int, stride: int) -> torch.Tensor:
    """First position of each window along one axis: ``min(t * stride, length - window)``.

    ``t = 0 .. ceil((length - window) / stride)``: windows every ``stride``
    positions, the last one pulled back to end at the border.
    """
    count = -(-(length - window) // stride) + 1
    return (torch.arange(count) * stride).clamp(max=length - window)


def _axis_overlapping(length: int, window: int, stride: int, rule: str) -> torch.Tensor:
    """Which position each position sees along an axis under overlapping windows: ``(L, L)``."""
    starts = _window_starts(length, window, stride)  # (n,)
    pos = torch.arange(length)
    inside = (pos[None, :] >= starts[:, None]) & (pos[None, :] < starts[:, None] + window)  # (n, L)
    if rule == "union":
        member = inside.T.float()  # (L, n): position p lies in window t
        return (member @ inside.float()) > 0
    # twice the distance from p to the centre starts + (window - 1) / 2, in integers;
    # argmin returns the first minimum, so a tie goes to the window that starts first
    distance = (2 * pos[:, None] - 2 * starts[None, :] - (window - 1)).abs()  # (L, n)
    return inside[distance.argmin(dim=1)]


def overlapping_window_pattern(
    H: int,
    W: int,
    window_size: int | Sequence[int],
    stride: int | Sequence[int],
    rule: str = "nearest",
) -> torch.Tensor:
    """Overlapping windows of ``M`` tokens placed every ``S`` tokens: bool ``(H*W, H*W)``.

    Along an axis of length ``L`` the windows start at
    ``a_t = min(t * S, L - M)`` for ``t = 0, 1, ..., ceil((L - M) / S)``: one
    every ``S`` positions from the first, the last one pulled back so that it
    ends at the border (every window lies inside the map; none is padded).
    Windows overlap when ``S < M``, so a token lies in up to ``ceil(M / S)``
    windows per axis, and the rule says what a query sees:

    * ``"nearest"``: the query belongs to the window whose centre
      ``a_t + (M - 1) / 2`` is nearest to it (on a tie, the window that starts
      first) and sees that window's ``M`` keys per axis, ``M_h * M_w`` keys in
      all. It always lies in its own window. ``S = 1`` gives neighbourhood
      attention (for odd ``M``, NATTEN's semantics); ``S = M`` with ``M``
      dividing the map gives non-overlapping block windows.
    * ``"union"``: the query sees every key of every window that contains it,
      what its output depends on when attention runs in each window and the
      copies of a token's output are averaged back onto the map.

    The 2-D window is a product: query ``(i, j)`` sees key ``(a, b)`` when
    row ``i`` sees row ``a`` and column ``j`` sees column ``b`` under the 1-D rule.

    Args:
        H, W: size of the map, each at least the window on its axis.
        window_size: ``M`` or ``(M_h, M_w)``.
        stride: ``S`` or ``(S_h, S_w)``, ``1 <= S <= M`` (a larger stride would
            leave tokens in no window).
        rule: ``"nearest"`` or ``"union"``.

    Returns:
        bool ``(H*W, H*W)``, row-major token ids ``i * W + j``.
    """
    H, W = check_positive_int("H", H), check_positive_int("W", W)
    wh, ww = to_pair("window_size", window_size)
    sh, sw = to_pair("stride", stride)
    if wh > H or ww > W:
        raise ValueError(
            f"window_size {(wh, ww)} is larger than the map (H={H}, W={W}); "
            f"it must be at most (H, W)"
        )
    if sh > wh or sw > ww:
        raise ValueError(
            f"stride must satisfy 1 <= stride <= window_size {(wh, ww)} on each axis "
            f"(a larger stride leaves tokens in no window), got {stride!r}"
        )
    check_choice("rule", rule, OVERLAP_RULES)
    return _axis_product(_axis_overlapping(H, wh, sh, rule), _axis_overlapping(W, ww, sw, rule))


def _axis_halo(length: int, block: int, halo: int) -> torch.Tensor:
    """Positions each position sees along an axis under blocks with a halo: bool ``(L, L)``."""
    pos = torch.arange(length)
    first = (pos // block) * block - halo  # the key region of p's block, before clipping
    return (pos[None, :] >= first[:, None]) & (pos[None, :] < first[:, None] + block + 2 * halo)


def halo_pattern(
    H: int,
    W: int,
    block_size: int | Sequence[int],
    halo: int | Sequence[int],
) -> torch.Tensor:
    """HaloNet's blocked local attention: which *real* tokens each query sees, bool ``(H*W, H*W)``.

    The queries are cut into non-overlapping ``b x b`` blocks. All the queries
    of a block attend the same key region: the block grown by ``h`` tokens on
    every side, ``(b + 2h) x (b + 2h)`` positions. Query ``(i, j)`` with block
    corner ``(r, c) = (b * (i // b), b * (j // b))`` sees key ``(a, l)`` when
    ``r - h <= a < r + b + h`` and ``c - h <= l < c + b + h``.

    HaloNet pads the map with ``h`` zeros on each side before gathering the
    regions, so at the border part of a region is padding, not tokens. This
    pattern lists the real tokens only: a border query sees fewer than
    ``(b + 2h)^2`` keys (``(b + h)^2`` at a corner), while an implementation
    that gathers padded regions still computes ``(b + 2h)^2`` scores per query
    (unless it masks the padding, the padding slots also take a share of the
    softmax, with zero values).

    Args:
        H, W: size of the map, multiples of the block.
        block_size: ``b`` or ``(b_h, b_w)``.
        halo: ``h`` or ``(h_h, h_w)``, ``>= 0`` (0: block windows).

    Returns:
        bool ``(H*W, H*W)``, row-major token ids ``i * W + j``.
    """
    H, W = check_positive_int("H", H), check_positive_int("W", W)
    bh, bw = to_pair("block_size", block_size)
    hh, hw = to_shift_pair("halo", halo)
    if H % bh or W % bw:
        raise ValueError(
            f"block_size {(bh, bw)} must divide the map (H={H}, W={W}): HaloNet cuts "
            f"the queries into whole blocks (pad the map first)"
        )
    return _axis_product(_axis_halo(H, bh, hh), _axis_halo(W, bw, hw))


# --------------------------------------------------------------------------- cost and reach


@dataclass(frozen=True)
class PatternCost:
    """Keys per query and the attention work a pattern asks for.

    Attributes:
        keys_mean, keys_min, keys_max: keys per query (``True`` per row).
        score_macs: multiply-adds of ``Q K^T`` and ``A V`` over the allowed
            pairs only, ``2 * C * (number of True entries)``: what an
            implementation that computes nothing outside the pattern does.
    """

    keys_mean: float
    keys_min: int
    keys_max: int
    score_macs: int


def pattern_cost(pattern: torch.Tensor, channels: int) -> PatternCost:
    """Keys per query and score multiply-adds of one attention layer with this pattern.

    For each allowed pair ``(q, k)`` the layer computes one dot product of
    ``C`` channels for the score and adds ``C`` channels of the value: ``2 C``
    multiply-adds (the projections are not counted, as in
    :func:`~swin_tutorial.complexity.attention_flops`, whose second term this
    equals for window patterns).

    Args:
        pattern: bool ``(T, T)``.
        channels: ``C``, channels of queries, keys and values (all heads together).
    """
    check_pattern("pattern", pattern, None)
    channels = check_positive_int("channels", channels)
    keys = pattern.sum(dim=1)
    return PatternCost(
        keys_mean=float(keys.double().mean()),
        keys_min=int(keys.min()),
        keys_max=int(keys.max()),
        score_macs=2 * channels * int(keys.sum()),
    )


def check_layer_patterns(layer_patterns: object, T: int | None = None) -> list[torch.Tensor]:
    """``layer_patterns`` (one bool ``(T, T)`` pattern or a sequence of them) as a list.

    Every pattern must be square and bool, all of one size: ``T``, or the
    first one's when ``T`` is ``None``.
    """
    if isinstance(layer_patterns, torch.Tensor):
        layer_patterns = [layer_patterns]
    if not isinstance(layer_patterns, Sequence) or not layer_patterns:
        raise ValueError(
            "layer_patterns must be a bool (T, T) tensor or a non-empty list of them, "
            f"got {type(layer_patterns).__name__}"
        )
    T = check_pattern("layer_patterns[0]", layer_patterns[0], T)
    for index, pattern in enumerate(layer_patterns):
        check_pattern(f"layer_patterns[{index}]", pattern, T)
    return list(layer_patterns)


def _check_layers(layer_patterns: object) -> list[torch.Tensor]:
    """:func:`check_layer_patterns`, each pattern also containing the diagonal."""
    layer_patterns = check_layer_patterns(layer_patterns)
    for index, pattern in enumerate(layer_patterns):
        if not pattern.diagonal().all():
            raise ValueError(
                f"layer_patterns[{index}] must contain the diagonal (every query sees "
                f"itself, as the residual connection guarantees)"
            )
    return layer_patterns


def receptive_field_sizes(
    layer_patterns: torch.Tensor | Sequence[torch.Tensor], num_layers: int
) -> torch.Tensor:
    """Size of every query's receptive field after ``1 .. num_layers`` layers.

    Layer ``l`` (from 0, applied first) uses ``layer_patterns[l % len(layer_patterns)]``:
    ``[window]`` is a stack without shift, ``[window, shifted]`` Swin's
    alternation. Row ``q`` of the boolean product ``P_{L-1} ... P_1 P_0`` is
    the receptive field of query ``q`` after ``L`` layers, as in
    :func:`receptive_field`.

    Args:
        layer_patterns: a bool ``(T, T)`` pattern or a sequence of them, cycled;
            each must contain the diagonal.
        num_layers: ``>= 1``.

    Returns:
        long ``(num_layers, T)``: entry ``[L - 1, q]`` counts the input tokens
        that can reach query ``q`` through ``L`` layers.
    """
    patterns = _check_layers(layer_patterns)
    num_layers = check_positive_int("num_layers", num_layers)
    fields = patterns[0]
    sizes = [fields.sum(dim=1)]
    for layer in range(1, num_layers):
        fields = (patterns[layer % len(patterns)].float() @ fields.float()) > 0
        sizes.append(fields.sum(dim=1))
    return torch.stack(sizes)


def layers_to_cover(
    layer_patterns: torch.Tensor | Sequence[torch.Tensor], max_layers: int | None = None
) -> int | None:
    """Fewest layers after which *every* query's receptive field is the whole map.

    Layers cycle through ``layer_patterns`` as in :func:`receptive_field_sizes`.
    Because every pattern contains the diagonal, receptive fields only grow;
    if a whole cycle of layers adds nothing, nothing ever will, and the answer
    is ``None`` (for example windows without a shift, or a dilated
    neighbourhood alone, which never leaves its dilation group).

    Args:
        layer_patterns: a bool ``(T, T)`` pattern or a sequence of them, cycled;
            each must contain the diagonal.
        max_layers: stop searching after this many layers and return ``None``
            (default: search until the answer is known).

    Returns:
        the number of layers, or ``None`` when they never cover the map.
    """
    patterns = _check_layers(layer_patterns)
    if max_layers is not None:
        check_positive_int("max_layers", max_layers)
    period = len(patterns)
    fields, layers, unchanged = patterns[0], 1, 0
    while not fields.all():
        if max_layers is not None and layers >= max_layers:
            return None
        grown = (patterns[layers % period].float() @ fields.float()) > 0
        unchanged = unchanged + 1 if torch.equal(grown, fields) else 0
        if unchanged >= period:
            return None
        fields, layers = grown, layers + 1
    return layers


def separable_factors(pattern: torch.Tensor, H: int, W: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Split a separable 2-D pattern into its row and column patterns.

    A pattern is separable when query ``(i, j)`` sees key ``(a, b)`` exactly when
    ``rows[i, a]`` and ``cols[j, b]``, i.e. ``pattern == kron(rows, cols)``.
    Every pattern of this module is. Receptive fields of separable patterns
    are separable too, so a question about an ``H x W`` map (how many layers
    until every query sees everything?) splits into two questions about
    ``H`` and ``W`` positions, far cheaper than one about ``H * W``.

    Args:
        pattern: bool ``(H*W, H*W)`` with at least one ``True``.
        H, W: size of the map.

    Returns:
        ``(rows, cols)``: bool ``(H, H)`` and ``(W, W)``.

    Raises:
        ValueError: if the pattern is not a product of a row and a column pattern.
    """
    H, W = check_positive_int("H", H), check_positive_int("W", W)
    check_pattern("pattern", pattern, H * W)
    grid = pattern.reshape(H, W, H, W)
    first = int(pattern.flatten().to(torch.uint8).argmax())  # the first True entry, if any
    query, key = divmod(first, H * W)
    if not pattern[query, key]:
        raise ValueError("pattern has no True entry: it has no row and column factors")
    (i, j), (a, b) = divmod(query, W), divmod(key, W)
    rows, cols = grid[:, j, :, b], grid[i, :, a, :]
    if not torch.equal(_axis_product(rows, cols), pattern):
        raise ValueError(
            f"pattern is not separable on the {H}x{W} map: it is not the product of a "
            f"row pattern and a column pattern"
        )
    return rows, cols
