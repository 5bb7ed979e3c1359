"""Truly sliding attention: every query has its own neighbourhood.

Neighbourhood attention (NAT, Hassani et al., 2023) gives each query the
``k x k`` keys around it. At the borders the neighbourhood is not cut short but
shifted inward, so every query sees exactly ``k * k`` keys. With dilation ``d``
each axis is split into ``d`` interleaved groups (positions with the same index
modulo ``d``) and the neighbourhood is taken inside the query's group, every
``d``-th position.

The same idea in one dimension is the sliding window of language models
(Longformer, Mistral): query ``t`` sees a band of keys around or before it.

Each attention here has two implementations with the same numbers: a dense
masked one that runs everywhere (it builds the full ``T x T`` mask, so memory is
quadratic: a reference, not a fast path) and one through FlexAttention
(``torch.nn.attention.flex_attention``), which skips blocks that the mask
empties. :func:`resolve_backend` says which one a call will use. The 1-D
sliding window has a third, ``"blocked"``: it cuts the sequence into blocks
and lets each block of queries attend to its own and the neighbouring blocks of
keys, so it computes a number of scores linear in ``L`` on any device.

For decoding, :class:`RollingKVCache` keeps the last ``window`` keys and values
in a ring buffer (constant memory) and :class:`FullKVCache` keeps them all
(memory growing with the sequence); both give the outputs of the full-sequence
computation token by token.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ._checks import check_channels, check_divides, check_positive_int, check_tensor

BACKENDS = ("auto", "dense", "flex")
#: Backends of :func:`sliding_window_attention_1d`: those of :func:`resolve_backend` and ``"blocked"``.
SLIDING_BACKENDS = (*BACKENDS, "blocked")


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


def flex_attention_available() -> bool:
    """Whether this torch has FlexAttention (``torch.nn.attention.flex_attention``, torch >= 2.5)."""
    try:
        from torch.nn.attention import flex_attention  # noqa: F401
    except ImportError:
        return False
    return True


def resolve_backend(backend: str, device: torch.device | str) -> str:
    """The implementation a call will use: ``"dense"`` or ``"flex"``.

    ``"auto"`` picks FlexAttention on CUDA when torch has it (compiled into one
    fused kernel) and the dense masked path elsewhere: on a CPU FlexAttention
    runs unfused, with no gain over the dense path. ``"flex"`` insists (on a CPU
    it runs in eager mode, same numbers); it raises if torch lacks FlexAttention.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if backend == "flex" and not flex_attention_available():
        raise ValueError(
            f"backend='flex' needs torch >= 2.5 with FlexAttention, have {torch.__version__}"
        )
    if backend == "auto":
        on_cuda = torch.device(device).type == "cuda"
        return "flex" if on_cuda and flex_attention_available() else "dense"
    return backend


@functools.cache
def _compiled_flex_attention() -> Callable:
    from torch.nn.attention.flex_attention import flex_attention

    return torch.compile(flex_attention, dynamic=False)


def _flex(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask_mod: Callable,
    score_mod: Callable | None,
) -> torch.Tensor:
    """FlexAttention over ``(B, heads, T, d)`` with a block mask built from ``mask_mod``."""
    from torch.nn.attention.flex_attention import create_block_mask, flex_attention

    B, heads, T, _ = q.shape
    block_mask = create_block_mask(mask_mod, None, None, T, T, device=q.device)
    if q.device.type == "cuda":
        return _compiled_flex_attention()(q, k, v, score_mod=score_mod, block_mask=block_mask)
    return flex_attention(q, k, v, score_mod=score_mod, block_mask=block_mask)


def _check_qkv(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, rank: int, layout: str) -> None:
    for name, t in (("q", q), ("k", k), ("v", v)):
        check_tensor(name, t, rank, layout)
    if not (q.shape == k.shape == v.shape):
        raise ValueError(
            f"q, k and v must have the same shape {layout}, got {tuple(q.shape)}, "
            f"{tuple(k.shape)}, {tuple(v.shape)}"
        )


def _axis_window_start(
    index: torch.Tensor, length: int, kernel_size: int, dilation: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Group and first group index of the neighbourhood of positions ``index`` on one axis."""
    group, position = index % dilation, index // dilation
    group_length = (length - group + dilation - 1) // dilation
    start = torch.minimum((position - kernel_size // 2).clamp(min=0), group_length - kernel_size)
    return group, start


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
    dilation by index groups).

    Args:
        q, k, v: ``(B, heads, H, W, d)``.
        kernel_size: odd ``k``, at most ``min(H, W) // dilation``.
        dilation: step between neighbours.
        bias: ``(heads, 2k - 1, 2k - 1)``; the pair (query, key) reads
            ``bias[:, dh + k - 1, dw + k - 1]`` with ``(dh, dw)`` = (key - query)
            / dilation, NATTEN's convention (note: Swin's index is query - key).
        backend: ``"auto"``, ``"dense"`` or ``"flex"`` (see :func:`resolve_backend`).

    Returns:
        ``(B, heads, H, W, d)``.
    """
    _check_qkv(q, k, v, 5, "(B, heads, H, W, d)")
    B, heads, H, W, d = q.shape
    mask = neighborhood_mask(H, W, kernel_size, dilation, device=q.device)  # validates sizes
    if bias is not None and bias.shape != (heads, 2 * kernel_size - 1, 2 * kernel_size - 1):
        raise ValueError(
            f"bias must have shape (heads, 2k-1, 2k-1) = {(heads, 2 * kernel_size - 1, 2 * kernel_size - 1)}, "
            f"got {tuple(bias.shape)}"
        )
    flat = [t.reshape(B, heads, H * W, d) for t in (q, k, v)]
    if resolve_backend(backend, q.device) == "dense":
        additive = torch.zeros(heads, H * W, H * W, dtype=q.dtype, device=q.device)
        if bias is not None:
            additive = additive + _pair_bias(bias, H, W, kernel_size, dilation).to(q.dtype)
        additive = additive.masked_fill(~mask, float("-inf"))
        out = F.scaled_dot_product_attention(*flat, attn_mask=additive)
    else:
        out = _flex(*flat, *_neighborhood_mods(H, W, kernel_size, dilation, bias))
    return out.reshape(B, heads, H, W, d)


def _pair_bias(bias: torch.Tensor, H: int, W: int, kernel_size: int, dilation: int) -> torch.Tensor:
    """Bias of every (query, key) pair, ``(heads, HW, HW)``; pairs outside a neighbourhood read a clamped entry."""
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

    Args:
        dim: channels ``C``.
        num_heads: heads; must divide ``dim``.
        kernel_size: odd side ``k`` of each query's neighbourhood.
        dilation: step between neighbours.
        qkv_bias: learn a bias in the Q/K/V projection.
        backend: ``"auto"``, ``"dense"`` or ``"flex"``.
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
        check_positive_int("dim", dim)
        check_positive_int("num_heads", num_heads)
        check_divides("dim", dim, "num_heads", num_heads)
        if check_positive_int("kernel_size", kernel_size) % 2 == 0:
            raise ValueError(
                f"kernel_size must be odd (a centred neighbourhood), got {kernel_size}"
            )
        resolve_backend(backend, "cpu")  # validate the name now
        self.dim, self.num_heads = dim, num_heads
        self.kernel_size, self.dilation = kernel_size, check_positive_int("dilation", dilation)
        self.backend = backend
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.rpb = nn.Parameter(torch.zeros(num_heads, 2 * kernel_size - 1, 2 * kernel_size - 1))
        nn.init.trunc_normal_(self.rpb, std=0.02)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: ``(B, H, W, C)`` with ``H, W >= kernel_size * dilation``; returns the same shape."""
        check_tensor("x", x, 4, "(B, H, W, C)")
        check_channels("x", x, self.dim)
        B, H, W, C = x.shape
        qkv = self.qkv(x).reshape(B, H, W, 3, self.num_heads, C // self.num_heads)
        q, k, v = qkv.permute(3, 0, 4, 1, 2, 5).unbind(0)  # each (B, heads, H, W, d)
        out = neighborhood_attention_2d(
            q, k, v, self.kernel_size, self.dilation, self.rpb, self.backend
        )
        return self.proj(out.permute(0, 2, 3, 1, 4).reshape(B, H, W, C))


def sliding_window_mask(
    length: int, window: int, causal: bool = True, device: torch.device | str | None = None
) -> torch.Tensor:
    """Which key each query sees in 1-D sliding-window attention: bool ``(L, L)``.

    Causal: query ``t`` sees keys ``s`` with ``t - window < s <= t`` (``window``
    keys, itself included; fewer at the start). Non-causal: ``|t - s| <= window // 2``
    (``2 * (window // 2) + 1`` keys away from the ends: an even window counts one more).
    """
    check_positive_int("length", length)
    check_positive_int("window", window)
    t = torch.arange(length, device=device)
    offset = t[:, None] - t[None, :]  # query minus key
    if causal:
        return (offset >= 0) & (offset < window)
    return offset.abs() <= window // 2


def longformer_mask(
    length: int,
    window: int,
    global_tokens: Sequence[int] = (),
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Longformer's pattern: a symmetric band plus a few global tokens. Bool ``(L, L)``.

    Query ``t`` may attend key ``s`` when ``|t - s| <= window // 2`` (the band
    of :func:`sliding_window_mask` with ``causal=False``), or when ``t`` or ``s``
    is a global token: a global token attends to every token, and every token
    attends to it.

    Args:
        length: sequence length ``L``.
        window: Longformer's ``attention_window`` ``w``: ``w // 2`` keys on each side.
        global_tokens: positions in ``[0, L)`` with global attention (e.g. ``[CLS]`` at 0).
        device: where to build the mask.
    """
    band = sliding_window_mask(length, window, causal=False, device=device)
    if isinstance(global_tokens, torch.Tensor | str) or not isinstance(global_tokens, Sequence):
        raise TypeError(
            f"global_tokens must be a sequence of ints (positions), got {type(global_tokens).__name__}"
        )
    for position in global_tokens:
        if isinstance(position, bool) or not isinstance(position, int):
            raise TypeError(
                f"global_tokens must hold ints, got {position!r} in {list(global_tokens)!r}"
            )
        if not 0 <= position < length:
            raise ValueError(
                f"global_tokens must be positions in [0, {length}) (length={length}), got {position}"
            )
    is_global = torch.zeros(length, dtype=torch.bool, device=band.device)
    is_global[list(global_tokens)] = True
    return band | is_global[:, None] | is_global[None, :]


def sliding_window_attention_1d(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    window: int,
    causal: bool = True,
    backend: str = "auto",
) -> torch.Tensor:
    """Sliding-window attention along a sequence (scores scaled by ``d ** -0.5``).

    Args:
        q, k, v: ``(B, heads, L, d)``.
        window: keys per query in the causal case (see :func:`sliding_window_mask`).
        causal: only the past (language models) or a symmetric band.
        backend: ``"auto"``, ``"dense"`` or ``"flex"`` (see :func:`resolve_backend`),
            or ``"blocked"``: blocks of queries against neighbouring blocks of keys,
            a number of scores linear in ``L`` (see :func:`blocked_score_count`).

    Returns:
        ``(B, heads, L, d)``.
    """
    _check_qkv(q, k, v, 4, "(B, heads, L, d)")
    check_positive_int("window", window)
    if backend not in SLIDING_BACKENDS:
        raise ValueError(f"backend must be one of {SLIDING_BACKENDS}, got {backend!r}")
    if backend == "blocked":
        return _blocked_sliding_attention(q, k, v, window, causal)
    L = q.shape[2]
    mask = sliding_window_mask(L, window, causal, device=q.device)
    if resolve_backend(backend, q.device) == "dense":
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)

    def mask_mod(b, h, q_idx, kv_idx):
        offset = q_idx - kv_idx
        if causal:
            return (offset >= 0) & (offset < window)
        return offset.abs() <= window // 2

    return _flex(q, k, v, mask_mod, None)


def _block_layout(window: int, causal: bool) -> tuple[int, int, int]:
    """``(block, before, after)``: block size and how many neighbouring key blocks a query block needs.

    Causal: keys reach ``window - 1`` back, blocks of ``window`` tokens, one block
    before (none for ``window = 1``). Symmetric: ``h = window // 2`` each way, blocks
    of ``max(h, 1)`` tokens, one block on each side (none for ``h = 0``).
    """
    if causal:
        return window, int(window > 1), 0
    half = window // 2
    return max(half, 1), int(half > 0), int(half > 0)


def blocked_score_count(length: int, window: int, causal: bool = True) -> int:
    """Scores (query-key pairs) that the ``"blocked"`` backend computes per head: an int.

    The sequence is padded to ``n`` blocks of ``c`` tokens; each query scores the
    keys of its own block and of the neighbouring blocks it can reach:
    ``n * c * (1 + before + after) * c``, about ``2 L window`` (causal) or
    ``1.5 L window`` (symmetric), against ``L ** 2`` for the dense path.
    """
    check_positive_int("length", length)
    check_positive_int("window", window)
    block, before, after = _block_layout(window, causal)
    blocks = -(-length // block)
    return blocks * block * (1 + before + after) * block


def _blocked_sliding_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, window: int, causal: bool
) -> torch.Tensor:
    """Sliding-window attention block by block: ``(B, heads, L, d)`` -> ``(B, heads, L, d)``.

    Queries are cut into ``n`` blocks of ``c`` tokens. Query block ``b`` meets
    the key blocks ``b - before .. b + after`` (zero blocks pad both ends), laid
    side by side: ``(B, heads, n, c, span * c)`` scores, masked to the band.
    """
    B, heads, L, d = q.shape
    block, before, after = _block_layout(window, causal)
    blocks = -(-L // block)
    pad = blocks * block - L
    span = 1 + before + after

    def cut(x: torch.Tensor, lead: int, trail: int) -> torch.Tensor:
        """``(B, heads, L, d)`` -> ``(B, heads, lead + blocks + trail, c, d)``, zero blocks around."""
        x = F.pad(x, (0, 0, lead * block, pad + trail * block))
        return x.reshape(B, heads, lead + blocks + trail, block, d)

    key_blocks, value_blocks = cut(k, before, after), cut(v, before, after)
    # slot j of query block b holds key block b - before + j, for j = 0 .. span - 1
    keys = torch.cat([key_blocks[:, :, j : j + blocks] for j in range(span)], dim=3)
    values = torch.cat([value_blocks[:, :, j : j + blocks] for j in range(span)], dim=3)
    b = torch.arange(blocks, device=q.device)[:, None, None]
    query_pos = b * block + torch.arange(block, device=q.device)[None, :, None]
    key_pos = (b - before) * block + torch.arange(span * block, device=q.device)[None, None, :]
    offset = query_pos - key_pos
    in_band = (offset >= 0) & (offset < window) if causal else offset.abs() <= window // 2
    # keys outside [0, L) are padding; a padded query keeps itself so that no row is empty
    allowed = (in_band & (key_pos >= 0) & (key_pos < L)) | (offset == 0)  # (n, c, span * c)
    out = F.scaled_dot_product_attention(cut(q, 0, 0), keys, values, attn_mask=allowed)
    return out.reshape(B, heads, blocks * block, d)[:, :, :L]


def _check_step(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> None:
    _check_qkv(q, k, v, 4, "(B, heads, 1, d)")
    if q.shape[2] != 1:
        raise ValueError(f"step takes one token, shape (B, heads, 1, d); got {tuple(q.shape)}")


class _KVCache:
    """What both caches share: the stored keys and values, and one decoding step."""

    def __init__(self, window: int | None) -> None:
        self.window = window
        self.keys: torch.Tensor | None = None  # (B, heads, stored, d)
        self.values: torch.Tensor | None = None
        self.length = 0  # tokens seen so far

    def step(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """Store one token's key/value and attend with its query.

        Args:
            q, k, v: ``(B, heads, 1, d)``.

        Returns:
            ``(B, heads, 1, d)``.
        """
        _check_step(q, k, v)
        self._store(k, v)
        self.length += 1
        keys, values = self._visible()
        return F.scaled_dot_product_attention(q, keys, values)

    def _store(self, k: torch.Tensor, v: torch.Tensor) -> None:
        raise NotImplementedError

    def _visible(self) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def nbytes(self) -> int:
        """Bytes held by the cached keys and values."""
        if self.keys is None:
            return 0
        return self.keys.nbytes + self.values.nbytes


class RollingKVCache(_KVCache):
    """Key/value cache of a causal sliding window: holds the last ``window`` tokens only.

    Decoding one token at a time, :meth:`step` writes the new key and value over
    the oldest slot (a ring buffer, Mistral's rolling buffer cache) and attends
    to what is stored. Its outputs equal :func:`sliding_window_attention_1d`
    with ``causal=True`` on the whole sequence, token by token, while memory
    stays ``window`` entries however long the sequence grows.
    """

    def __init__(self, window: int) -> None:
        super().__init__(check_positive_int("window", window))

    def _store(self, k: torch.Tensor, v: torch.Tensor) -> None:
        """Write over the oldest slot of the ring buffer."""
        if self.keys is None:
            self.keys = k.new_zeros(*k.shape[:2], self.window, k.shape[3])
            self.values = v.new_zeros(*v.shape[:2], self.window, v.shape[3])
        slot = self.length % self.window
        self.keys[:, :, slot] = k[:, :, 0]
        self.values[:, :, slot] = v[:, :, 0]

    def _visible(self) -> tuple[torch.Tensor, torch.Tensor]:
        # order inside the buffer does not matter: attention is a weighted sum over a set
        filled = min(self.length, self.window)
        return self.keys[:, :, :filled], self.values[:, :, :filled]


class FullKVCache(_KVCache):
    """Key/value cache that keeps every token: memory grows with the sequence.

    :meth:`step` appends the new key and value and attends to the last
    ``window`` stored tokens (all of them with ``window=None``: full causal
    attention). With a window, its outputs are those of :class:`RollingKVCache`;
    only the memory differs: ``length`` entries instead of ``window``.
    """

    def __init__(self, window: int | None = None) -> None:
        super().__init__(None if window is None else check_positive_int("window", window))

    def _store(self, k: torch.Tensor, v: torch.Tensor) -> None:
        """Append to the stored keys and values."""
        if self.keys is None:
            self.keys, self.values = k.clone(), v.clone()
        else:
            self.keys = torch.cat([self.keys, k], dim=2)
            self.values = torch.cat([self.values, v], dim=2)

    def _visible(self) -> tuple[torch.Tensor, torch.Tensor]:
        first = 0 if self.window is None else max(self.length - self.window, 0)
        return self.keys[:, :, first:], self.values[:, :, first:]
