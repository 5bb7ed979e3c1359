"""Checkers of the relative-position exercises: Swin's index (V1) and the log-spaced table (V2).

No window of 1 (every bug agrees with the reference there) and, for the
log-spaced table, no side of 2 (dividing by ``M - 1 = 1`` changes nothing).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch

from ..position import log_spaced_coordinates, relative_position_index
from .harness import Case, CheckResult, Hint, checker_rng, first_matching_advice, run_cases

WindowSize = int | tuple[int, int]

#: Window sizes of the fixed cases.
INDEX_SIZES: tuple[WindowSize, ...] = (2, 3, 7, (2, 3), (3, 2), (4, 6))
LOG_SIZES: tuple[WindowSize, ...] = (3, 7, (3, 5), (6, 4))


def _window_args(window_size: WindowSize) -> tuple:
    return (window_size,)


def _pair(window_size: WindowSize) -> tuple[int, int]:
    return (window_size, window_size) if isinstance(window_size, int) else window_size


def _check_window_function(
    fn: Callable,
    reference: Callable[[WindowSize], torch.Tensor],
    fixed: tuple[WindowSize, ...],
    drawn: tuple[int, int],
    hint: Hint,
    trials: int,
    seed: int | None,
    verbose: bool,
) -> CheckResult:
    """``check_<reference>``: ``fn(window_size)`` against ``reference`` on the ``fixed``
    sizes, then on ``trials`` random ``(M_h, M_w)`` with both sides in ``drawn`` (low, high);
    ``fn`` may not call ``reference`` itself."""
    rng = checker_rng(fn, trials, seed, verbose)
    low, high = drawn
    sizes = [*fixed, *((rng.randint(low, high), rng.randint(low, high)) for _ in range(trials))]
    cases = [
        Case(f"window_size={size!r}", partial(_window_args, size), reference) for size in sizes
    ]
    name = reference.__name__
    return run_cases(f"check_{name}", fn, cases, hint, frozenset({name}), verbose)


# --------------------------------------------------------------------------- V1: the index


def index_from_offsets(
    Mh: int, Mw: int, multiplier: int, sign: int = 1, shift: bool = True
) -> torch.Tensor:
    """``(dh + Mh - 1) * multiplier + (dw + Mw - 1)`` over a window's pairs: long ``(N, N)``.

    ``(dh, dw)`` is query minus key (``sign=-1``: key minus query); ``shift=False``
    leaves the offsets negative.
    """
    rows, cols = torch.meshgrid(torch.arange(Mh), torch.arange(Mw), indexing="ij")
    coords = torch.stack((rows.flatten(), cols.flatten()))
    delta = sign * (coords[:, :, None] - coords[:, None, :])
    if shift:
        return (delta[0] + Mh - 1) * multiplier + (delta[1] + Mw - 1)
    return delta[0] * multiplier + delta[1]


def _index_hint(args: tuple, expected: torch.Tensor, received: object) -> str:
    Mh, Mw = _pair(args[0])
    candidates = {
        "you used key minus query; the offset is query coordinate minus key coordinate": (
            lambda: index_from_offsets(Mh, Mw, 2 * Mw - 1, sign=-1)
        ),
        "shift each offset to be non-negative first: dh + M_h - 1 and dw + M_w - 1": lambda: (
            index_from_offsets(Mh, Mw, 2 * Mw - 1, shift=False)
        ),
        "the multiplier is the number of distinct column offsets, 2 M_w - 1, not M_w": lambda: (
            index_from_offsets(Mh, Mw, Mw)
        ),
        "the multiplier is the number of distinct column offsets, 2 M_w - 1, not 2 M_w": (
            lambda: index_from_offsets(Mh, Mw, 2 * Mw)
        ),
        "the multiplier counts the column offsets, 2 M_w - 1, not the row offsets 2 M_h - 1": (
            lambda: index_from_offsets(Mh, Mw, 2 * Mh - 1)
        ),
    }
    return first_matching_advice(
        received,
        candidates,
        "index = (dh + M_h - 1) * (2 M_w - 1) + (dw + M_w - 1), with (dh, dw) the query's "
        "coordinates minus the key's; an integer tensor (N, N) with N = M_h * M_w",
    )


def check_relative_position_index(
    fn: Callable, trials: int = 4, seed: int | None = None, verbose: bool = True
) -> CheckResult:
    """Check ``fn(window_size) -> integer (N, N)`` for int and ``(M_h, M_w)`` windows.

    Any integer dtype is accepted. Used in chapter 3.
    """
    return _check_window_function(
        fn, relative_position_index, INDEX_SIZES, (2, 7), _index_hint, trials, seed, verbose
    )


# --------------------------------------------------------------------------- V2: log-spaced


def log_table(
    Mh: int, Mw: int, divide: bool = True, times: float = 8.0, natural: bool = False
) -> torch.Tensor:
    """Swin V2's table from its formula, with switches for the usual slips: ``(T, 2)``."""
    dh = torch.arange(-(Mh - 1), Mh, dtype=torch.float64)
    dw = torch.arange(-(Mw - 1), Mw, dtype=torch.float64)
    if divide:
        dh, dw = dh / (Mh - 1), dw / (Mw - 1)
    x = torch.stack(torch.meshgrid(dh, dw, indexing="ij"), dim=-1).reshape(-1, 2) * times
    if natural:
        return torch.sign(x) * torch.log(1 + x.abs())
    return torch.sign(x) * torch.log2(1 + x.abs()) / 3.0


def _log_hint(args: tuple, expected: torch.Tensor, received: object) -> str:
    Mh, Mw = _pair(args[0])
    candidates = {
        "divide each offset by the window minus one (M - 1) before scaling it to [-8, 8]": (
            lambda: log_table(Mh, Mw, divide=False)
        ),
        "after normalising to [-1, 1], multiply by 8 before the log": lambda: log_table(
            Mh, Mw, times=1.0
        ),
        "use log2 and divide by log2(8) = 3: sign(x) * log2(1 + |x|) / log2(8)": lambda: log_table(
            Mh, Mw, natural=True
        ),
        "rows are (dh, dw), row-major over dh then dw, like relative_position_index": lambda: (
            log_table(Mh, Mw).flip(-1)
        ),
    }
    return first_matching_advice(
        received,
        candidates,
        "offsets (dh, dw) in [-(M-1), M-1], divided by M - 1, times 8, then "
        "sign(x) * log2(1 + |x|) / log2(8); a float tensor (T, 2)",
    )


def check_log_spaced_coordinates(
    fn: Callable, trials: int = 4, seed: int | None = None, verbose: bool = True
) -> CheckResult:
    """Check ``fn(window_size) -> float (T, 2)``, Swin V2's log-spaced relative offsets.

    ``window_size`` is ``M`` or ``(M_h, M_w)``; the reference is
    :func:`~swin_tutorial.position.log_spaced_coordinates`; float16, bfloat16,
    float32 and float64 are accepted within a tolerance that fits the dtype.
    Used in chapter 9.
    """
    return _check_window_function(
        fn, log_spaced_coordinates, LOG_SIZES, (3, 12), _log_hint, trials, seed, verbose
    )
