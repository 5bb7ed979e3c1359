"""Argument validation shared by every public function.

Each helper raises a ``ValueError`` or ``TypeError`` whose message names the
argument, the value received and what was expected, so a reader who passes the
wrong thing learns what to fix without reading a traceback into PyTorch.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence

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
    if window is not None and any(s >= w for s, w in zip(pair, window, strict=True)):
        raise ValueError(f"{name} must satisfy 0 <= shift < window size {window}, got {value!r}")
    return pair


def check_int(
    name: str, value: object, minimum: int | None = None, maximum: int | None = None
) -> int:
    """Return ``value`` if it is an int (not a bool) in ``[minimum, maximum]``, else raise.

    The one integer test of the package: ``check_int("heads", 0, minimum=1)`` raises
    ``ValueError: heads must be >= 1, got heads=0``.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {name}={value!r} ({type(value).__name__})")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {name}={value!r}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {name}={value!r}")
    return value


def check_positive_int(name: str, value: object) -> int:
    """Return ``value`` if it is an int >= 1, else raise."""
    check_int(name, value)
    if value < 1:
        raise ValueError(f"{name} must be a positive int, got {name}={value!r}")
    return value


def check_real(
    name: str,
    value: object,
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """Return ``value`` as a float if it is a finite real number within the bounds, else raise.

    ``low``/``high`` are inclusive unless ``low_open``/``high_open``: dropout is
    ``check_real("drop", p, 0.0, 1.0, high_open=True)``, i.e. ``0 <= p < 1``.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number, got {name}={value!r} ({type(value).__name__})")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {name}={value!r}")
    lo = "(" if low_open else "["
    hi = ")" if high_open else "]"
    interval = f"{lo}{'-inf' if low is None else low}, {'inf' if high is None else high}{hi}"
    below = low is not None and (value <= low if low_open else value < low)
    above = high is not None and (value >= high if high_open else value > high)
    if below or above:
        raise ValueError(f"{name} must be in {interval}, got {name}={value!r}")
    return float(value)


def check_bool(name: str, value: object) -> bool:
    """Return ``value`` if it is a bool (not a truthy string or int), else raise."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {name}={value!r}")
    return value


def check_choice(name: str, value: object, choices: Collection[object]) -> object:
    """Return ``value`` if it is one of ``choices``, else raise ``ValueError``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {name}={value!r}")
    return value


def check_tensor(name: str, x: object, rank: int, layout: str) -> torch.Tensor:
    """Check that ``x`` is a floating-point tensor of the given rank.

    ``layout`` is the expected shape in words, e.g. ``"(B, H, W, C)"``; it goes
    into the error message.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor {layout}, got {type(x).__name__}")
    if x.dim() != rank:
        raise ValueError(f"{name} must have rank {rank} {layout}, got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    return x


def check_qkv(
    q: object, k: object, v: object, rank: int, layout: str, value_dim_free: bool = False
) -> None:
    """Check attention inputs: non-empty float tensors of rank ``rank`` (``layout``, e.g.
    ``"(B, heads, L, d)"``) on one dtype and device, ``k`` shaped as ``q`` and ``v`` too
    (but for its last axis when ``value_dim_free``)."""
    for name, t in (("q", q), ("k", k), ("v", v)):
        check_tensor(name, t, rank, layout)
    if value_dim_free and (k.shape != q.shape or v.shape[:-1] != q.shape[:-1]):
        raise ValueError(
            f"k must have the shape of q, and v the same but for its last axis {layout}, "
            f"got q={tuple(q.shape)}, k={tuple(k.shape)}, v={tuple(v.shape)}"
        )
    if not value_dim_free and not (q.shape == k.shape == v.shape):
        raise ValueError(
            f"q, k and v must have the same shape {layout}, got {tuple(q.shape)}, "
            f"{tuple(k.shape)}, {tuple(v.shape)}"
        )
    empty = next((t for t in (q, k, v) if t.numel() == 0), None)
    if empty is not None:
        raise ValueError(
            f"q, k and v must not be empty {layout}, got shape {tuple(empty.shape)} (an empty axis)"
        )
    if not (q.dtype == k.dtype == v.dtype) or not (q.device == k.device == v.device):
        raise ValueError(
            f"q, k and v must share one dtype and device, got {q.dtype}/{q.device}, "
            f"{k.dtype}/{k.device}, {v.dtype}/{v.device}"
        )


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
        raise ValueError(f"{divisor_name}={divisor} must divide {name}={value}")


def check_heads(dim: object, num_heads: object) -> int:
    """Check that ``dim`` and ``num_heads`` are positive ints and ``num_heads`` divides ``dim``.

    Returns the head dimension ``dim // num_heads``.
    """
    check_positive_int("dim", dim)
    check_positive_int("num_heads", num_heads)
    check_divides("dim", dim, "num_heads", num_heads)
    return dim // num_heads
