"""Checkers of the attention exercises: window, neighbourhood and 1-D sliding-window attention.

Fixed cases first, chosen so that each classic bug shows on every case (a batch
of 2 or more with several windows per row and column; kernels 5 and 7 with
dilations 2 and 3; causal and symmetric windows of 3 and more on sequences
longer than the window; two heads or more), then ``trials`` random cases.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
from torch import Tensor

from ..attention import window_attention
from ..neighborhood import neighborhood_attention_2d
from ..sliding import sliding_window_attention_1d
from ..windows import shifted_window_mask
from .harness import (
    Case,
    CheckResult,
    checker_rng,
    first_matching_advice,
    generator,
    masked_attention,
    run_cases,
    torch_seed,
)


def _random_qkv(seed: int, *shape: int) -> tuple[torch.Tensor, ...]:
    """Queries, keys and values: three float64 standard-normal tensors of ``shape``."""
    g = generator(seed)
    return tuple(torch.randn(*shape, generator=g, dtype=torch.float64) for _ in "qkv")


# --------------------------------------------------------------------------- window attention

#: ``(B, rows of windows, columns of windows, M, s, heads, d)`` of the fixed cases.
WINDOW_SIZES = ((2, 2, 2, 2, 1, 2, 4), (3, 2, 3, 3, 1, 3, 8), (2, 3, 2, 4, 2, 2, 4))
WINDOW_FORBIDDEN = frozenset({"window_attention", "_additive_scores", "attention_reference"})


def _window_args(seed: int, B: int, H: int, W: int, M: int, s: int, heads: int, d: int) -> tuple:
    nW, N = (H // M) * (W // M), M * M
    q, k, v = _random_qkv(seed, B * nW, heads, N, d)
    bias = torch.randn(heads, N, N, generator=generator(seed + 1), dtype=torch.float64)
    return (q, k, v, bias, shifted_window_mask(H, W, M, s))


def _window_reference(q: Tensor, k: Tensor, v: Tensor, bias: Tensor, mask: Tensor) -> Tensor:
    return window_attention(q, k, v, bias, mask, fused=False)[0]


def _window_hint(args: tuple, expected: torch.Tensor, received: object) -> str:
    q, k, v, bias, mask = args
    windows, nW = q.shape[0], mask.shape[0]
    scale = q.shape[-1] ** -0.5
    tiled = mask.repeat(windows // nW, 1, 1)[:, None]
    interleaved = mask.repeat_interleave(windows // nW, dim=0)[:, None]

    def attend(s: float, with_bias: bool, dim: int, allowed: torch.Tensor) -> torch.Tensor:
        scores = q @ k.transpose(-2, -1) * s + (bias if with_bias else 0)
        scores = scores.masked_fill(~allowed, float("-inf"))
        return scores.softmax(dim).nan_to_num() @ v

    candidates = {
        "scale the scores by d ** -0.5 (1 / sqrt(head_dim)) before the softmax": lambda: attend(
            1.0, True, -1, tiled
        ),
        "add the relative position bias to the scores before the softmax": lambda: attend(
            scale, False, -1, tiled
        ),
        "take the softmax over the keys (the last dimension), not over the queries": lambda: attend(
            scale, True, -2, tiled
        ),
        "window b * nW + w uses mask[w]: repeat the mask over the batch (mask.repeat), "
        "not each window's mask B times in a row (repeat_interleave)": lambda: attend(
            scale, True, -1, interleaved
        ),
        "the mask is True where a query MAY attend: you removed the allowed pairs": lambda: attend(
            scale, True, -1, ~tiled
        ),
    }
    return first_matching_advice(
        received,
        candidates,
        "softmax(Q K^T * d ** -0.5 + bias, masked pairs at -inf) @ V, per window and head",
    )


def check_window_attention(
    fn: Callable, trials: int = 5, seed: int | None = None, verbose: bool = True
) -> CheckResult:
    """Check ``fn(q, k, v, bias, mask) -> (B*nW, heads, N, d)`` against window attention.

    ``q, k, v``: ``(B*nW, heads, N, d)``; ``bias``: ``(heads, N, N)``; ``mask``:
    bool ``(nW, N, N)``, ``True`` where a query may attend a key. Used in chapter 5.
    """
    rng = checker_rng(fn, trials, seed, verbose)
    sizes = list(WINDOW_SIZES)
    for _ in range(trials):
        M = rng.randint(2, 4)
        sizes.append(
            (
                rng.randint(2, 3),
                rng.randint(2, 3),
                rng.randint(2, 3),
                M,
                rng.randint(1, M - 1),
                rng.randint(2, 3),
                rng.choice([4, 8]),
            )
        )
    cases = []
    for B, rows, cols, M, s, heads, d in sizes:
        nW, N = rows * cols, M * M
        cases.append(
            Case(
                f"q, k, v of shape {(B * nW, heads, N, d)} (B={B}, nW={nW}, heads={heads}, "
                f"N={N}, d={d}), bias {(heads, N, N)}, mask {(nW, N, N)} for a "
                f"{rows * M}x{cols * M} map with windows of {M} shifted by {s}",
                partial(_window_args, torch_seed(rng), B, rows * M, cols * M, M, s, heads, d),
                _window_reference,
            )
        )
    return run_cases("check_window_attention", fn, cases, _window_hint, WINDOW_FORBIDDEN, verbose)


# --------------------------------------------------------------------------- neighbourhood

#: ``(kernel_size, dilation, H, W)`` of the fixed cases.
NEIGHBORHOOD_SIZES = ((5, 2, 10, 12), (7, 3, 21, 23), (5, 3, 16, 15), (7, 2, 15, 14))
NEIGHBORHOOD_FORBIDDEN = frozenset(
    {
        "neighborhood_attention_2d",
        "neighborhood_mask",
        "_axis_window_start",
        "_axis_neighborhood",
        "_axis_neighbors",
        "_gathered_neighborhood_attention",
        "neighborhood_pairs",
    }
)


def _neighborhood_args(
    seed: int, B: int, heads: int, H: int, W: int, d: int, kernel: int, dilation: int
) -> tuple:
    return (*_random_qkv(seed, B, heads, H, W, d), kernel, dilation)


def _neighborhood_reference(
    q: Tensor, k: Tensor, v: Tensor, kernel_size: int, dilation: int
) -> Tensor:
    return neighborhood_attention_2d(q, k, v, kernel_size, dilation, backend="dense")


def _clipped_neighborhood(q: Tensor, k: Tensor, v: Tensor, kernel: int, dilation: int) -> Tensor:
    """A centred window cut off at the borders (fewer keys there)."""
    B, heads, H, W, d = q.shape
    i, j = torch.arange(H).repeat_interleave(W), torch.arange(W).repeat(H)
    di, dj = i[:, None] - i[None, :], j[:, None] - j[None, :]
    reach = kernel // 2 * dilation
    allowed = (di.abs() <= reach) & (dj.abs() <= reach) & (di % dilation == 0)
    allowed &= dj % dilation == 0
    flat = [t.reshape(B, heads, H * W, d) for t in (q, k, v)]
    return masked_attention(*flat, allowed, d**-0.5).reshape(q.shape)


def _neighborhood_hint(args: tuple, expected: torch.Tensor, received: object) -> str:
    q, k, v, kernel, dilation = args
    d = q.shape[-1]

    def package(kernel_size: int, step: int, scale: float = 1.0) -> torch.Tensor:
        return _neighborhood_reference(q * scale, k, v, kernel_size, step)

    candidates = {
        "at the borders the window must be shifted inward so every query keeps exactly "
        "kernel_size**2 keys; you cut it off instead (a centred window clipped at the "
        "edge)": lambda: _clipped_neighborhood(q, k, v, kernel, dilation),
        f"you ignored the dilation: with dilation={dilation} a query's neighbours are every "
        f"{dilation}-th position of its group (same index modulo the dilation)": lambda: package(
            kernel, 1
        ),
        f"your neighbourhood is 3x3 whatever kernel_size is: use kernel_size "
        f"(here {kernel}) for its side": lambda: package(3, dilation),
        "scale the scores by d ** -0.5 before the softmax": lambda: package(
            kernel, dilation, d**0.5
        ),
    }
    return first_matching_advice(
        received,
        candidates,
        "each query (i, j) attends the kernel_size x kernel_size keys of its group "
        "(positions with the same index modulo dilation), centred on it where possible and "
        "shifted inward at the borders; scores q.k * d ** -0.5, softmax over those keys",
    )


def check_neighborhood_attention(
    fn: Callable, trials: int = 3, seed: int | None = None, verbose: bool = True
) -> CheckResult:
    """Check ``fn(q, k, v, kernel_size, dilation) -> (B, heads, H, W, d)``.

    ``q, k, v``: ``(B, heads, H, W, d)``; the reference is
    :func:`~swin_tutorial.neighborhood.neighborhood_attention_2d` without bias.
    Every case has a kernel of 5 or 7 and a dilation of 2 or 3. Used in chapter 8.
    """
    rng = checker_rng(fn, trials, seed, verbose)
    sizes = list(NEIGHBORHOOD_SIZES)
    for _ in range(trials):
        kernel, dilation = rng.choice([5, 7]), rng.choice([2, 3])
        span = kernel * dilation
        sizes.append((kernel, dilation, span + rng.randint(0, 4), span + rng.randint(0, 4)))
    cases = []
    for kernel, dilation, H, W in sizes:
        B, heads, d = rng.randint(1, 2), 2, rng.choice([4, 8])
        cases.append(
            Case(
                f"q, k, v of shape {(B, heads, H, W, d)} (B, heads, H, W, d), "
                f"kernel_size={kernel}, dilation={dilation}",
                partial(_neighborhood_args, torch_seed(rng), B, heads, H, W, d, kernel, dilation),
                _neighborhood_reference,
            )
        )
    return run_cases(
        "check_neighborhood_attention",
        fn,
        cases,
        _neighborhood_hint,
        NEIGHBORHOOD_FORBIDDEN,
        verbose,
    )


# --------------------------------------------------------------------------- 1-D sliding window

#: ``(L, window)`` of the fixed cases; each runs causal and symmetric.
SLIDING_SIZES = ((12, 4), (16, 5), (20, 7))
SLIDING_FORBIDDEN = frozenset(
    {"sliding_window_attention_1d", "sliding_window_mask", "_in_band", "_blocked_sliding_attention"}
)


def _sliding_args(
    seed: int, B: int, heads: int, L: int, d: int, window: int, causal: bool
) -> tuple:
    return (*_random_qkv(seed, B, heads, L, d), window, causal)


def _sliding_reference(q: Tensor, k: Tensor, v: Tensor, window: int, causal: bool) -> Tensor:
    return sliding_window_attention_1d(q, k, v, window, causal, backend="dense")


def _sliding_hint(args: tuple, expected: torch.Tensor, received: object) -> str:
    q, k, v, window, causal = args
    t = torch.arange(q.shape[2])
    offset = t[:, None] - t[None, :]  # query minus key
    scale = q.shape[-1] ** -0.5

    def attend(allowed: torch.Tensor, s: float = scale) -> torch.Tensor:
        return masked_attention(q, k, v, allowed, s)

    causal_band = (offset >= 0) & (offset < window)
    symmetric_band = offset.abs() <= window // 2
    if causal:
        candidates = {
            "you let each query see window + 1 keys (t - window <= s <= t, the convention of "
            "Mistral's reference code); here query t sees t - window < s <= t": lambda: attend(
                (offset >= 0) & (offset <= window)
            ),
            "with causal=True the window must not reach the future: keep only keys "
            "t - window < s <= t (you used the symmetric band)": lambda: attend(symmetric_band),
            "the causal window must not reach the future: keep only keys s <= t": lambda: attend(
                offset.abs() < window
            ),
        }
    else:
        candidates = {
            "the symmetric band is |t - s| <= window // 2 (window // 2 on each side), "
            "not |t - s| <= window": lambda: attend(offset.abs() <= window),
            "with causal=False the band is symmetric, keys on both sides of the query "
            "(|t - s| <= window // 2): you used the causal window": lambda: attend(causal_band),
        }
    candidates["scale the scores by d ** -0.5 before the softmax"] = lambda: attend(
        causal_band if causal else symmetric_band, 1.0
    )
    return first_matching_advice(
        received,
        candidates,
        "causal: query t attends keys s with t - window < s <= t; otherwise |t - s| <= "
        "window // 2; scores q.k * d ** -0.5, softmax over the allowed keys",
    )


def check_sliding_window_1d(
    fn: Callable, trials: int = 4, seed: int | None = None, verbose: bool = True
) -> CheckResult:
    """Check ``fn(q, k, v, window, causal) -> (B, heads, L, d)``.

    ``q, k, v``: ``(B, heads, L, d)``; the reference is
    :func:`~swin_tutorial.sliding.sliding_window_attention_1d`. Each case runs
    the same input with ``causal=True`` and ``causal=False`` and passes when both
    are right. Used in chapter 10.
    """
    rng = checker_rng(fn, trials, seed, verbose)
    sizes = list(SLIDING_SIZES)
    for _ in range(trials):
        window = rng.randint(3, 8)
        sizes.append((window + rng.randint(3, 16), window))
    cases = []
    for L, window in sizes:
        B, heads, d = rng.randint(2, 3), rng.randint(2, 3), rng.choice([4, 8])
        tensors = torch_seed(rng)
        cases.append(
            [
                Case(
                    f"q, k, v of shape {(B, heads, L, d)} (B, heads, L, d), window={window}, "
                    f"causal={causal}",
                    partial(_sliding_args, tensors, B, heads, L, d, window, causal),
                    _sliding_reference,
                )
                for causal in (True, False)
            ]
        )
    return run_cases(
        "check_sliding_window_1d", fn, cases, _sliding_hint, SLIDING_FORBIDDEN, verbose
    )
