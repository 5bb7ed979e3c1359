"""Checkers of the windowing exercises: partition, reverse, the shift mask, patch merging.

Every checker runs fixed cases chosen so that each classic bug shows (at least
two windows per row and per column, windows of 2 and more, several channels,
a batch of 2 or more), then ``trials`` random cases on top.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from functools import partial

import torch

from ..windows import shifted_window_mask, window_partition, window_reverse
from .harness import (
    Case,
    CheckResult,
    checker_rng,
    first_matching_advice,
    generator,
    run_cases,
    torch_seed,
)

# --------------------------------------------------------------------------- partition and reverse

#: ``(B, rows of windows, columns of windows, M, C)`` of the fixed cases.
PARTITION_SIZES = ((2, 2, 3, 2, 3), (3, 3, 2, 3, 2), (2, 2, 2, 4, 5), (2, 4, 2, 2, 4))
PARTITION_FORBIDDEN = frozenset({"window_partition", "_partition", "map_to_windows"})
REVERSE_FORBIDDEN = frozenset({"window_reverse", "_reverse", "windows_to_map"})


def _partition_sizes(rng: random.Random, trials: int) -> list[tuple[int, ...]]:
    drawn = [tuple(rng.randint(2, high) for high in (3, 4, 4, 5, 6)) for _ in range(trials)]
    return list(PARTITION_SIZES) + drawn


def _feature_map(seed: int, B: int, H: int, W: int, C: int) -> torch.Tensor:
    """A random float32 map ``(B, H, W, C)``."""
    return torch.randn(B, H, W, C, generator=generator(seed))


def _partition_args(seed: int, B: int, H: int, W: int, C: int, M: int) -> tuple:
    return (_feature_map(seed, B, H, W, C), M)


def _reverse_args(seed: int, B: int, H: int, W: int, C: int, M: int) -> tuple:
    windows = window_partition(_feature_map(seed, B, H, W, C), M).clone()
    return (windows, M, H, W)


def _partition_hint(args: tuple, expected: torch.Tensor, received: object) -> str:
    x, M = args
    B, H, W, C = x.shape
    candidates = {
        "you reshaped without permuting: after reshape(B, H/M, M, W/M, M, C) the two "
        "window axes must be brought together with permute(0, 1, 3, 2, 4, 5)": lambda: x.reshape(
            -1, M, M, C
        ),
        "unfold puts the window axes last, (B, H/M, W/M, C, M, M): a reshape then mixes "
        "channels into space; permute the channel axis back to the end first": lambda: (
            x.unfold(1, M, M).unfold(2, M, M).reshape(-1, M, M, C)
        ),
        "windows must be row-major over the map (window row first), not column-major": lambda: (
            x.reshape(B, H // M, M, W // M, M, C).permute(0, 3, 1, 2, 4, 5).reshape(-1, M, M, C)
        ),
    }
    return first_matching_advice(
        received,
        candidates,
        "the output is (B * nW, M, M, C) with nW = (H / M) * (W / M): windows row-major over "
        "the map, tokens row-major inside a window, the channel axis last",
    )


def check_window_partition(
    fn: Callable, trials: int = 8, seed: int | None = None, verbose: bool = True
) -> CheckResult:
    """Check ``fn(x, window_size) -> (B*nW, M, M, C)`` for ``x`` ``(B, H, W, C)``, int ``M``.

    Used in chapter 4.
    """
    rng = checker_rng(fn, trials, seed, verbose)
    cases = [
        Case(
            f"x of shape {(B, rows * M, cols * M, C)} with window_size={M}",
            partial(_partition_args, torch_seed(rng), B, rows * M, cols * M, C, M),
            window_partition,
        )
        for B, rows, cols, M, C in _partition_sizes(rng, trials)
    ]
    return run_cases(
        "check_window_partition", fn, cases, _partition_hint, PARTITION_FORBIDDEN, verbose
    )


def _reverse_hint(args: tuple, expected: torch.Tensor, received: object) -> str:
    windows, M, H, W = args
    C = windows.shape[-1]
    candidates = {
        "you reshaped without permuting: view the windows as (B, H/M, W/M, M, M, C), undo "
        "window_partition's permute with permute(0, 1, 3, 2, 4, 5), then reshape": lambda: (
            windows.reshape(-1, H, W, C)
        ),
        "the values are where window_partition's reshape put them, but not back in the map: "
        "the permutation to undo is (0, 1, 3, 2, 4, 5)": lambda: (
            windows.reshape(-1, H // M, M, W // M, M, C)
            .permute(0, 1, 3, 2, 4, 5)
            .reshape(-1, H, W, C)
        ),
    }
    return first_matching_advice(
        received,
        candidates,
        "the output is (B, H, W, C), B = windows.shape[0] / nW: window_reverse must undo "
        "window_partition exactly",
    )


def check_window_reverse(
    fn: Callable, trials: int = 8, seed: int | None = None, verbose: bool = True
) -> CheckResult:
    """Check ``fn(windows, window_size, H, W) -> (B, H, W, C)``, the inverse of partition.

    ``windows`` is ``(B*nW, M, M, C)``. Used in chapter 4.
    """
    rng = checker_rng(fn, trials, seed, verbose)
    cases = [
        Case(
            f"the windows of a map of shape {(B, rows * M, cols * M, C)} with window_size={M}",
            partial(_reverse_args, torch_seed(rng), B, rows * M, cols * M, C, M),
            window_reverse,
        )
        for B, rows, cols, M, C in _partition_sizes(rng, trials)
    ]
    return run_cases("check_window_reverse", fn, cases, _reverse_hint, REVERSE_FORBIDDEN, verbose)


# --------------------------------------------------------------------------- the shift mask

#: ``(rows of windows, columns of windows, M, s)`` of the fixed cases.
MASK_SIZES = ((2, 3, 4, 2), (3, 2, 3, 1), (2, 2, 7, 3), (2, 3, 5, 4), (3, 3, 2, 1))
MASK_FORBIDDEN = frozenset(
    {"shifted_window_mask", "region_ids", "_axis_regions", "window_pairs", "_same_window"}
)


def _mask_args(H: int, W: int, M: int, s: int) -> tuple:
    return (H, W, M, s)


def _labels_mask(H: int, W: int, M: int, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """The mask that allows pairs of a window with equal ``3 * rows[i] + cols[j]`` labels."""
    labels = (3 * rows[:, None] + cols[None, :]).reshape(H // M, M, W // M, M)
    labels = labels.permute(0, 2, 1, 3).reshape(-1, M * M)
    return labels[:, :, None] == labels[:, None, :]


def _mask_hint(args: tuple, expected: torch.Tensor, received: object) -> str:
    H, W, M, s = args
    i, j = torch.arange(H), torch.arange(W)
    at_start_rows = (i >= s).long() + (i >= M).long()
    at_start_cols = (j >= s).long() + (j >= M).long()
    candidates = {
        "your mask is inverted: True must mean 'may attend'": lambda: ~expected,
        "your mask allows every pair of a window: it is the mask of the unshifted grid; "
        "after the roll the last window of each row and column holds pieces that were "
        "not neighbours": lambda: torch.ones_like(expected),
        "you labelled the pieces at the start of the map; after rolling by -s the pieces "
        "to separate are at the end: [H-M, H-s) and [H-s, H)": lambda: _labels_mask(
            H, W, M, at_start_rows, at_start_cols
        ),
    }
    if isinstance(received, torch.Tensor) and received.dtype != torch.bool:
        return (
            f"your mask has dtype {received.dtype}: return booleans, True where a query may "
            "attend a key (not 0 / -100 scores)"
        )
    return first_matching_advice(
        received,
        candidates,
        "label the regions of the *rolled* map (slices [0, H-M), [H-M, H-s), [H-s, H) on each "
        "axis), partition the labels into windows, and allow pairs with equal labels",
    )


def check_shift_mask(
    fn: Callable, trials: int = 8, seed: int | None = None, verbose: bool = True
) -> CheckResult:
    """Check ``fn(H, W, window_size, shift_size) -> bool (nW, N, N)`` against Swin's mask.

    Used in chapters 4 and 7.
    """
    rng = checker_rng(fn, trials, seed, verbose)
    sizes = list(MASK_SIZES)
    for _ in range(trials):
        M = rng.randint(2, 7)
        sizes.append((rng.randint(2, 4), rng.randint(2, 4), M, rng.randint(1, M - 1)))
    cases = [
        Case(
            f"H={rows * M}, W={cols * M}, window_size={M}, shift_size={s}",
            partial(_mask_args, rows * M, cols * M, M, s),
            shifted_window_mask,
        )
        for rows, cols, M, s in sizes
    ]
    return run_cases("check_shift_mask", fn, cases, _mask_hint, MASK_FORBIDDEN, verbose)


# --------------------------------------------------------------------------- patch merging

#: ``(B, H, W, C)`` of the fixed cases.
MERGE_SIZES = ((2, 4, 6, 3), (3, 6, 4, 2), (2, 8, 8, 5))
MERGE_FORBIDDEN = frozenset({"PatchMerging.forward"})


def merged_neighborhoods(x: torch.Tensor) -> torch.Tensor:
    """``(B, H, W, C) -> (B, H/2, W/2, 4C)``: the 2x2 neighbourhoods of ``x`` concatenated.

    In the order of the Swin paper and of :class:`~swin_tutorial.model.PatchMerging`:
    offsets (row, column) = (0, 0), (1, 0), (0, 1), (1, 1).
    """
    parts = [x[:, i::2, j::2, :] for i, j in ((0, 0), (1, 0), (0, 1), (1, 1))]
    return torch.cat(parts, dim=-1)


def _merge_args(seed: int, B: int, H: int, W: int, C: int) -> tuple:
    return (_feature_map(seed, B, H, W, C),)


def _merge_hint(args: tuple, expected: torch.Tensor, received: object) -> str:
    (x,) = args
    B, H, W, C = x.shape
    grid = x.reshape(B, H // 2, 2, W // 2, 2, C)  # (B, H/2, dh, W/2, dw, C)
    parts = [x[:, i::2, j::2, :] for i, j in ((0, 0), (1, 0), (0, 1), (1, 1))]
    candidates = {
        "wrong order: Swin concatenates (0, 0), (1, 0), (0, 1), (1, 1) (row offset first "
        "varies fastest: x[0::2, 0::2], x[1::2, 0::2], x[0::2, 1::2], x[1::2, 1::2]), "
        "not (0, 0), (0, 1), (1, 0), (1, 1)": lambda: grid.permute(0, 1, 3, 2, 4, 5).reshape(
            B, H // 2, W // 2, 4 * C
        ),
        "you reshaped without permuting: reshape(B, H/2, W/2, 4C) mixes pixels of different "
        "neighbourhoods; bring the two 2-pixel axes next to the channels first": lambda: x.reshape(
            B, H // 2, W // 2, 4 * C
        ),
        "you interleaved the channels (stack then flatten): concatenate the four "
        "neighbours along the channel axis, torch.cat(..., dim=-1)": lambda: torch.stack(
            parts, dim=-1
        ).reshape(B, H // 2, W // 2, 4 * C),
    }
    return first_matching_advice(
        received,
        candidates,
        "the output is (B, H/2, W/2, 4C): for each 2x2 neighbourhood the channels of "
        "(0, 0), (1, 0), (0, 1), (1, 1) one after the other",
    )


def check_merge_order(
    fn: Callable, trials: int = 6, seed: int | None = None, verbose: bool = True
) -> CheckResult:
    """Check ``fn(x) -> (B, H/2, W/2, 4C)`` for ``x`` ``(B, H, W, C)``, ``H`` and ``W`` even.

    The 2x2 neighbourhoods concatenated in Swin's order, that of
    :class:`~swin_tutorial.model.PatchMerging`. Used in chapter 6.
    """
    rng = checker_rng(fn, trials, seed, verbose)
    sizes = list(MERGE_SIZES) + [
        (rng.randint(2, 3), 2 * rng.randint(2, 5), 2 * rng.randint(2, 5), rng.randint(2, 6))
        for _ in range(trials)
    ]
    cases = [
        Case(
            f"x of shape {(B, H, W, C)}",
            partial(_merge_args, torch_seed(rng), B, H, W, C),
            merged_neighborhoods,
        )
        for B, H, W, C in sizes
    ]
    return run_cases("check_merge_order", fn, cases, _merge_hint, MERGE_FORBIDDEN, verbose)
