"""Argument validation shared by every public function.

Each helper raises a ``ValueError`` or ``TypeError`` whose message names the
argument, the value received and what was expected, so a reader who passes the
wrong thing learns what to fix without reading a traceback into PyTorch.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

Pair = tuple[int, int]


def _parse_pair(name: str, value: int | Sequence[int]) -> Pair:
    """Read an int or a sequence of two ints as ``(h, w)``; no range check."""
    if isinstance(value, int) and not isinstance(value, bool):
        pair = (value, value)
    elif isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 2:
        pair = (value[0], value[1])
    else:
        raise TypeError(f"{name} must be an int or a pair of ints (h, w), got {value!r}")
    if any(isinstance(item, bool) or not isinstance(item, int) for item in pair):
        raise TypeError(f"{name} must be an int or a pair of ints (h, w), got {value!r}")
    return pair


def to_pair(name: str, value: int | Sequence[int]) -> Pair:
    """Return ``value`` as a pair of positive ints ``(h, w)``.

    Accepts an int (used for both axes) or a sequence of two ints.
    """
    pair = _parse_pair(name, value)
    if min(pair) <= 0:
        raise ValueError(f"{name} must be positive, got {value!r}")
    return pair


def to_shift_pair(name: str, value: int | Sequence[int], window: Pair | None = None) -> Pair:
    """Return a shift as a pair ``(sh, sw)`` of non-negative ints.

    With ``window``, also check ``0 <= shift < window`` on each axis.
    """
    pair = _parse_pair(name, value)
    if min(pair) < 0:
        raise ValueError(f"{name} must be non-negative, got {value!r}")
    if window is not None and any(s >= w for s, w in zip(pair, window)):
        raise ValueError(
            f"{name} must satisfy 0 <= shift < window size {window}, got {value!r}"
        )
    return pair


def check_positive_int(name: str, value: int) -> int:
    """Return ``value`` if it is an int >= 1, else raise."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if value <= 0:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def check_tensor(name: str, x: object, rank: int, layout: str) -> torch.Tensor:
    """Check that ``x`` is a floating-point tensor of the given rank.

    ``layout`` is the expected shape in words, e.g. ``"(B, H, W, C)"``; it goes
    into the error message.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor {layout}, got {type(x).__name__}")
    if x.dim() != rank:
        raise ValueError(
            f"{name} must have rank {rank} {layout}, got shape {tuple(x.shape)}"
        )
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    return x


def check_channels(name: str, x: torch.Tensor, expected: int) -> None:
    """Check that the last dimension of ``x`` equals ``expected``."""
    if x.shape[-1] != expected:
        raise ValueError(
            f"{name} must have {expected} channels in its last dimension, "
            f"got shape {tuple(x.shape)}"
        )


def check_divides(name: str, value: int, divisor_name: str, divisor: int) -> None:
    """Check that ``divisor`` divides ``value``."""
    if value % divisor != 0:
        raise ValueError(
            f"{divisor_name}={divisor} must divide {name}={value}"
        )
