"""A tiny decoder-only language model with sliding-window attention.

Small enough to read in one sitting: token embedding, ``num_layers`` pre-norm
blocks (causal sliding-window attention with rotary position embeddings, then
an MLP, each added to a residual stream), a final norm and a linear head to the
vocabulary. It exists to show two things on real computations:

- decoding one token at a time with a key/value cache gives the same logits as
  running the whole sequence at once (:meth:`SlidingWindowDecoder.step` against
  :meth:`SlidingWindowDecoder.forward`), whether the cache keeps every token
  (:class:`~swin_tutorial.sliding.FullKVCache`) or only the last
  ``window`` (:class:`~swin_tutorial.sliding.RollingKVCache`);
- what a token can depend on after several layers of sliding windows.

Rotary embeddings rotate each query and key by its absolute position before
attention, so a cached key needs no position of its own: the rolling buffer may
store keys in any slot order. ``window=None`` gives full causal attention.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ._checks import check_choice, check_heads, check_int, check_positive_int, check_tensor
from .sliding import SLIDING_BACKENDS, FullKVCache, RollingKVCache, sliding_window_attention_1d

CACHE_KINDS = ("rolling", "full")


def rotary_embedding(
    x: torch.Tensor, positions: torch.Tensor, base: float = 10000.0
) -> torch.Tensor:
    """Rotate queries or keys by their positions (rotary position embedding, RoPE).

    Channel ``i`` and channel ``i + d/2`` form a pair, rotated as a point of the
    plane by the angle ``position * base ** (-2 i / d)``. A query at ``m`` and a
    key at ``n`` then have a dot product that depends on ``m - n`` only.

    Args:
        x: ``(B, heads, L, d)`` with ``d`` even.
        positions: ``(L,)`` integer positions of the ``L`` tokens.
        base: sets the slowest frequency.

    Returns:
        ``(B, heads, L, d)``.
    """
    check_tensor("x", x, 4, "(B, heads, L, d)")
    L, d = x.shape[2], x.shape[3]
    if d % 2:
        raise ValueError(f"x must have an even last dimension d (channel pairs), got d={d}")
    if not isinstance(positions, torch.Tensor) or positions.shape != (L,):
        shape = (
            tuple(positions.shape)
            if isinstance(positions, torch.Tensor)
            else type(positions).__name__
        )
        raise ValueError(f"positions must be a tensor of shape (L,) = ({L},), got {shape}")
    half = d // 2
    frequency = base ** (-torch.arange(half, device=x.device, dtype=torch.float64) / half)
    angle = (positions.to(device=x.device, dtype=torch.float64)[:, None] * frequency).to(x.dtype)
    cos, sin = angle.cos(), angle.sin()  # (L, d/2)
    first, second = x[..., :half], x[..., half:]
    return torch.cat([first * cos - second * sin, first * sin + second * cos], dim=-1)


class SlidingWindowBlock(nn.Module):
    """Pre-norm decoder block: ``x + attn(norm(x))``, then ``x + mlp(norm(x))``.

    Args:
        dim: channels ``C``.
        num_heads: heads; must divide ``dim``, with an even ``dim // num_heads``.
        window: keys per query (``t - window < s <= t``), or ``None`` for full causal attention.
        mlp_ratio: hidden width of the MLP over ``dim``.
        backend: sliding-window backend
            (see :func:`~swin_tutorial.sliding.sliding_window_attention_1d`).
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        window: int | None,
        mlp_ratio: int = 4,
        backend: str = "auto",
    ) -> None:
        super().__init__()
        if check_heads(dim, num_heads) % 2:
            raise ValueError(
                f"head dimension dim // num_heads = {dim // num_heads} must be even for rotary "
                f"embeddings (dim={dim}, num_heads={num_heads})"
            )
        self.window = None if window is None else check_positive_int("window", window)
        self.num_heads = num_heads
        self.backend = check_choice("backend", backend, SLIDING_BACKENDS)
        self.norm1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim, bias=False)
        self.proj = nn.Linear(dim, dim, bias=False)
        self.norm2 = nn.LayerNorm(dim)
        hidden = check_positive_int("mlp_ratio", mlp_ratio) * dim
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def _heads(self, x: torch.Tensor, positions: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """``(B, L, C)`` -> q, k, v, each ``(B, heads, L, d)``; q and k rotated by ``positions``."""
        B, L, C = x.shape
        q, k, v = (
            self.qkv(self.norm1(x)).reshape(B, L, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)
        )
        return rotary_embedding(q, positions), rotary_embedding(k, positions), v

    def _finish(self, x: torch.Tensor, attended: torch.Tensor) -> torch.Tensor:
        """Merge heads ``(B, heads, L, d)``, project, add to ``x``, then the MLP branch."""
        B, L, C = x.shape
        x = x + self.proj(attended.transpose(1, 2).reshape(B, L, C))
        return x + self.mlp(self.norm2(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The whole sequence: ``(B, L, C)`` -> ``(B, L, C)``, token ``t`` at position ``t``."""
        positions = torch.arange(x.shape[1], device=x.device)
        q, k, v = self._heads(x, positions)
        if self.window is None:
            attended = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            attended = sliding_window_attention_1d(q, k, v, self.window, True, self.backend)
        return self._finish(x, attended)

    def step(self, x: torch.Tensor, cache: RollingKVCache | FullKVCache) -> torch.Tensor:
        """One new token: ``(B, 1, C)`` -> ``(B, 1, C)``, at position ``cache.length``."""
        positions = torch.tensor([cache.length], device=x.device)
        return self._finish(x, cache.step(*self._heads(x, positions)))


class SlidingWindowDecoder(nn.Module):
    """Decoder-only language model with causal sliding-window attention in every layer.

    Args:
        vocab_size: number of token ids.
        dim: channels ``C`` of the residual stream.
        num_heads: heads per layer (``dim // num_heads`` even).
        num_layers: blocks.
        window: keys per query in every layer, or ``None`` (full causal attention).
        mlp_ratio: MLP width over ``dim``.
        backend: sliding-window backend of :meth:`forward`.
    """

    def __init__(
        self,
        vocab_size: int,
        dim: int,
        num_heads: int,
        num_layers: int,
        window: int | None,
        mlp_ratio: int = 4,
        backend: str = "auto",
    ) -> None:
        super().__init__()
        self.vocab_size = check_positive_int("vocab_size", vocab_size)
        check_positive_int("num_layers", num_layers)
        self.window = window
        self.embed = nn.Embedding(vocab_size, dim)
        self.blocks = nn.ModuleList(
            SlidingWindowBlock(dim, num_heads, window, mlp_ratio, backend)
            for _ in range(num_layers)
        )
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, vocab_size, bias=False)

    def _check_tokens(self, name: str, tokens: object, rank: int, layout: str) -> None:
        """Check ids: a non-empty ``torch.long`` tensor of rank ``rank``, within the vocabulary."""
        if not isinstance(tokens, torch.Tensor) or tokens.dtype != torch.long:
            kind = tokens.dtype if isinstance(tokens, torch.Tensor) else type(tokens).__name__
            raise TypeError(f"{name} must be a torch.long tensor {layout}, got {kind}")
        if tokens.dim() != rank:
            raise ValueError(
                f"{name} must have rank {rank} {layout}, got shape {tuple(tokens.shape)}"
            )
        if tokens.numel() == 0:
            raise ValueError(
                f"{name} must hold at least one token in each of at least one sequence {layout}, "
                f"got shape {tuple(tokens.shape)}"
            )
        if tokens.min() < 0 or tokens.max() >= self.vocab_size:
            raise ValueError(
                f"{name} must be ids in [0, {self.vocab_size}) (vocab_size={self.vocab_size}), "
                f"got values from {int(tokens.min())} to {int(tokens.max())}"
            )

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Logits of the next token at every position: ``(B, L)`` ids -> ``(B, L, vocab_size)``."""
        self._check_tokens("tokens", tokens, 2, "(B, L)")
        x = self.embed(tokens)
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x))

    def new_caches(self, kind: str = "rolling") -> list[RollingKVCache | FullKVCache]:
        """One empty key/value cache per layer: ``"rolling"`` (last ``window``) or ``"full"``."""
        check_choice("kind", kind, CACHE_KINDS)
        if kind == "rolling":
            if self.window is None:
                raise ValueError(
                    "kind='rolling' needs a sliding window; this model has window=None"
                )
            return [RollingKVCache(self.window) for _ in self.blocks]
        return [FullKVCache(self.window) for _ in self.blocks]

    def step(
        self, tokens: torch.Tensor, caches: list[RollingKVCache | FullKVCache]
    ) -> torch.Tensor:
        """Feed one token per sequence and return the next-token logits.

        Args:
            tokens: ``(B,)`` ids, at position ``caches[0].length``.
            caches: from :meth:`new_caches`, one per layer; updated in place.

        Returns:
            ``(B, vocab_size)``.
        """
        self._check_tokens("tokens", tokens, 1, "(B,)")
        if not isinstance(caches, list) or len(caches) != len(self.blocks):
            raise ValueError(
                f"caches must be a list of {len(self.blocks)} caches (one per layer, from "
                f"new_caches), got {type(caches).__name__} of length "
                f"{len(caches) if isinstance(caches, list) else '-'}"
            )
        x = self.embed(tokens)[:, None]  # (B, 1, C)
        for block, cache in zip(self.blocks, caches, strict=True):
            x = block.step(x, cache)
        return self.head(self.norm(x))[:, 0]

    @torch.no_grad()
    def generate(
        self, prompt: torch.Tensor, new_tokens: int, cache: str = "rolling"
    ) -> torch.Tensor:
        """Greedy decoding, one token at a time with a key/value cache.

        Args:
            prompt: ``(B, P)`` ids, ``P >= 1``; fed token by token.
            new_tokens: how many tokens to append (0 allowed).
            cache: ``"rolling"`` or ``"full"``.

        Returns:
            ``(B, P + new_tokens)``: the prompt followed by the argmax choices.
        """
        self._check_tokens("prompt", prompt, 2, "(B, P)")
        check_int("new_tokens", new_tokens, minimum=0)
        caches = self.new_caches(cache)
        sequence = [prompt[:, i] for i in range(prompt.shape[1])]
        for i in range(prompt.shape[1] + new_tokens - 1):
            logits = self.step(sequence[i], caches)
            if i + 1 >= prompt.shape[1]:
                sequence.append(logits.argmax(dim=-1))
        return torch.stack(sequence, dim=1)
