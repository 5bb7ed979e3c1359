"""1-D sliding-window attention and the key/value caches that decode with it (chapter 10).

The sliding window of language models (Longformer, Mistral): query ``t`` sees a
band of keys around or before it. :func:`sliding_window_attention_1d` has three
implementations with the same numbers (see :mod:`swin_tutorial.backends`):
``"dense"`` (the full ``L x L`` mask, memory quadratic in ``L``), ``"flex"``
(FlexAttention) and ``"blocked"``, which cuts the sequence into blocks and lets
each block of queries attend to its own and the neighbouring blocks of keys, a
number of scores linear in ``L`` on any device. :func:`sliding_window_backend`
says which one ``"auto"`` runs.

For decoding, :class:`RollingKVCache` keeps the last ``window`` keys and values
in a ring buffer (constant memory) and :class:`FullKVCache` keeps them all
(memory growing with the sequence); both give the outputs of the full-sequence
computation token by token.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from ._checks import check_bool, check_int, check_positive_int, check_qkv
from .backends import BACKENDS, flex_masked_attention, resolve_backend

#: Backends of :func:`sliding_window_attention_1d`: those of :mod:`~swin_tutorial.backends` and
#: ``"blocked"``.
SLIDING_BACKENDS = (*BACKENDS, "blocked")
#: The ``"blocked"`` backend computes at most about this many scores at once.
BLOCKED_CHUNK_SCORES = 2**22


def _in_band(offset: torch.Tensor, window: int, causal: bool) -> torch.Tensor:
    """Whether a query sees a key ``offset = query - key`` positions back."""
    if causal:
        return (offset >= 0) & (offset < window)
    return offset.abs() <= window // 2


def sliding_window_mask(
    length: int, window: int, causal: bool = True, device: torch.device | str | None = None
) -> torch.Tensor:
    """Which key each query sees in 1-D sliding-window attention: bool ``(L, L)``.

    Causal: query ``t`` sees keys ``s`` with ``t - window < s <= t`` (``window``
    keys, itself included; fewer at the start). Non-causal: ``|t - s| <= window // 2``
    (``2 * (window // 2) + 1`` keys away from the ends: an even window counts one more).
    Used in chapter 10.
    """
    check_positive_int("length", length)
    check_positive_int("window", window)
    check_bool("causal", causal)
    t = torch.arange(length, device=device)
    return _in_band(t[:, None] - t[None, :], window, causal)


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
    attends to it. Used in chapter 10.

    Args:
        length: sequence length ``L``.
        window: Longformer's ``attention_window`` ``w``: ``w // 2`` keys on each side.
        global_tokens: positions in ``[0, L)`` with global attention (e.g. ``[CLS]`` at 0).
        device: where to build the mask.
    """
    band = sliding_window_mask(length, window, causal=False, device=device)
    if isinstance(global_tokens, torch.Tensor | str) or not isinstance(global_tokens, Sequence):
        raise TypeError(
            "global_tokens must be a sequence of ints (positions), "
            f"got {type(global_tokens).__name__}"
        )
    for i, position in enumerate(global_tokens):  # positions in [0, length)
        check_int(f"global_tokens[{i}]", position, minimum=0, maximum=length - 1)
    is_global = torch.zeros(length, dtype=torch.bool, device=band.device)
    is_global[list(global_tokens)] = True
    return band | is_global[:, None] | is_global[None, :]


def sliding_window_backend(
    backend: str, length: int, device: torch.device | str, batch_heads: int = 1
) -> str:
    """Which implementation :func:`sliding_window_attention_1d` runs: dense, flex or blocked.

    ``"auto"`` runs ``"dense"`` while ``batch_heads * length ** 2`` is at most
    :data:`~swin_tutorial.backends.DENSE_AUTO_MAX_SCORES`, then FlexAttention on
    CUDA and ``"blocked"`` elsewhere (see :func:`~swin_tutorial.backends.resolve_backend`).
    Used in chapter 10.
    """
    length = check_positive_int("length", length)
    dense_scores = check_positive_int("batch_heads", batch_heads) * length**2
    return resolve_backend(backend, device, dense_scores, "blocked")


def sliding_window_attention_1d(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    window: int,
    causal: bool = True,
    backend: str = "auto",
) -> torch.Tensor:
    """Sliding-window attention along a sequence (scores scaled by ``d ** -0.5``).

    Used in chapter 10 and by :class:`~swin_tutorial.decoder.SlidingWindowDecoder`.

    Args:
        q, k, v: ``(B, heads, L, d)``.
        window: keys per query in the causal case (see :func:`sliding_window_mask`).
        causal: only the past (language models) or a symmetric band.
        backend: one of :data:`SLIDING_BACKENDS` (see :func:`sliding_window_backend`);
            ``"blocked"`` computes a number of scores linear in ``L``
            (see :func:`blocked_score_count`).

    Returns:
        ``(B, heads, L, d)``.
    """
    check_qkv(q, k, v, 4, "(B, heads, L, d)")
    check_positive_int("window", window)
    check_bool("causal", causal)
    B, heads, L, _ = q.shape
    chosen = sliding_window_backend(backend, L, q.device, B * heads)
    if chosen == "blocked":
        return _blocked_sliding_attention(q, k, v, window, causal)
    if chosen == "dense":
        mask = sliding_window_mask(L, window, causal, device=q.device)
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)

    def mask_mod(b, h, q_idx, kv_idx):
        return _in_band(q_idx - kv_idx, window, causal)

    return flex_masked_attention(q, k, v, mask_mod, None)


def _block_layout(window: int, causal: bool) -> tuple[int, int, int]:
    """``(block, before, after)``: block size and the neighbouring key blocks a query block needs.

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
    Used in chapter 10.
    """
    check_positive_int("length", length)
    check_positive_int("window", window)
    block, before, after = _block_layout(window, check_bool("causal", causal))
    blocks = -(-length // block)
    return blocks * block * (1 + before + after) * block


def _blocked_sliding_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, window: int, causal: bool
) -> torch.Tensor:
    """Sliding-window attention block by block: ``(B, heads, L, d)`` -> ``(B, heads, L, d)``.

    Queries are cut into ``n`` blocks of ``c`` tokens. Query block ``b`` meets
    the key blocks ``b - before .. b + after`` (zero blocks pad both ends), laid
    side by side: ``(B, heads, n, c, span * c)`` scores, masked to the band,
    computed for a group of query blocks at a time so that a group holds about
    :data:`BLOCKED_CHUNK_SCORES` scores.
    """
    B, heads, L, d = q.shape
    block, before, after = _block_layout(window, causal)
    blocks = -(-L // block)
    pad = blocks * block - L
    span = 1 + before + after

    def cut(x: torch.Tensor, lead: int, trail: int) -> torch.Tensor:
        """``(B, heads, L, d)`` -> ``(B, heads, lead + blocks + trail, c, d)``, zeros around."""
        x = F.pad(x, (0, 0, lead * block, pad + trail * block))
        return x.reshape(B, heads, lead + blocks + trail, block, d)

    queries, key_blocks, value_blocks = cut(q, 0, 0), cut(k, before, after), cut(v, before, after)
    group = max(1, BLOCKED_CHUNK_SCORES // (B * heads * block * span * block))
    out = []
    for first in range(0, blocks, group):
        n = min(group, blocks - first)
        # slot j of query block b holds key block b - before + j, for j = 0 .. span - 1
        keys = torch.cat([key_blocks[:, :, first + j : first + j + n] for j in range(span)], 3)
        values = torch.cat([value_blocks[:, :, first + j : first + j + n] for j in range(span)], 3)
        b = torch.arange(first, first + n, device=q.device)[:, None, None]
        query_pos = b * block + torch.arange(block, device=q.device)[None, :, None]
        key_pos = (b - before) * block + torch.arange(span * block, device=q.device)[None, None]
        offset = query_pos - key_pos
        # keys outside [0, L) are padding; a padded query keeps itself so that no row is empty
        inside = (key_pos >= 0) & (key_pos < L)
        allowed = (_in_band(offset, window, causal) & inside) | (offset == 0)  # (n, c, span * c)
        queries_now = queries[:, :, first : first + n]
        out.append(F.scaled_dot_product_attention(queries_now, keys, values, attn_mask=allowed))
    return torch.cat(out, dim=2).reshape(B, heads, blocks * block, d)[:, :, :L]


class _KVCache:
    """What both caches share: the stored keys and values, and one decoding step."""

    def __init__(self, window: int | None) -> None:
        self.window = window
        self.keys: torch.Tensor | None = None  # (B, heads, stored, d)
        self.values: torch.Tensor | None = None
        self.length = 0  # tokens seen so far

    def step(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """Store one token's key/value and attend with its query.

        Every check runs before anything is stored: a step that raises leaves
        the cache as it was.

        Args:
            q, k, v: ``(B, heads, 1, d)``, with the batch, heads, ``d``, dtype and
                device of the tokens already stored.

        Returns:
            ``(B, heads, 1, d)``.
        """
        self._check_step(q, k, v)
        self._store(k, v)
        self.length += 1
        keys, values = self._visible()
        return F.scaled_dot_product_attention(q, keys, values)

    def _check_step(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> None:
        check_qkv(q, k, v, 4, "(B, heads, 1, d)")
        if q.shape[2] != 1:
            raise ValueError(f"step takes one token, shape (B, heads, 1, d); got {tuple(q.shape)}")
        if self.keys is None:
            return
        held = (self.keys.shape[0], self.keys.shape[1], self.keys.shape[3])
        got = (q.shape[0], q.shape[1], q.shape[3])
        if got != held:
            raise ValueError(
                f"q, k and v must match the cache's (B, heads, d) = {held}, got {got} "
                f"(shape {tuple(q.shape)})"
            )
        if q.dtype != self.keys.dtype or q.device != self.keys.device:
            raise TypeError(
                f"q, k and v must have the cache's dtype and device {self.keys.dtype}/"
                f"{self.keys.device}, got {q.dtype}/{q.device}"
            )

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
    stays ``window`` entries however long the sequence grows. Used in chapter 10.
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
    only the memory differs: ``length`` entries instead of ``window``. Used in chapter 10.
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
