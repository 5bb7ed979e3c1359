"""Probes that catch the classic windowing bugs in anyone's code.

* :func:`round_trip_probe`: does ``reverse(partition(x))`` give ``x`` back?
* :func:`locality_probe`: change one input token; which outputs change? Compare
  with :func:`receivers`, the tokens that may attend it under shifted windows.
* :func:`shape_probe`: does a block keep ``(B, H, W, C)`` for sizes that are
  not window multiples?

Each returns plain tensors or a :class:`ProbeResult`, so a notebook or a test
can assert on them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from ._checks import check_int, check_positive_int
from .windows import (
    check_map,
    effective_window_and_shift,
    shifted_window_mask,
    window_layout,
    window_token_ids,
)


@dataclass(frozen=True)
class ProbeResult:
    """Outcome of a probe: ``passed`` and a sentence saying what was seen."""

    passed: bool
    message: str

    def __str__(self) -> str:
        return self.message


def round_trip_probe(
    partition: Callable[[torch.Tensor, int], torch.Tensor],
    reverse: Callable[[torch.Tensor, int, int, int], torch.Tensor],
    sizes: Sequence[tuple[int, int, int]] = ((8, 12, 4), (6, 6, 3), (14, 7, 7)),
    channels: int = 3,
    seed: int = 0,
) -> ProbeResult:
    """Check ``reverse(partition(x, M), M, H, W) == x`` on maps ``(2, H, W, channels)``.

    ``sizes`` lists ``(H, W, M)`` with ``H`` and ``W`` multiples of ``M``. Also
    checks that every window holds one contiguous ``M x M`` patch of the map,
    which a pair of bugs that cancel out would not. Used in chapters 4 and 7.
    """
    check_positive_int("channels", channels)
    generator = torch.Generator().manual_seed(seed)
    for H, W, M in sizes:
        x = torch.randn(2, H, W, channels, generator=generator)
        try:
            windows = partition(x, M)
            back = reverse(windows, M, H, W)
        except Exception as error:  # report the reader's bug, don't raise it
            return ProbeResult(
                False, f"{H}x{W} map, window {M}: raised {type(error).__name__}: {error}"
            )
        if not torch.equal(back, x):
            return ProbeResult(False, f"{H}x{W} map, window {M}: reverse(partition(x)) != x")
        first = windows.reshape(-1, M, M, channels)[0]
        if not torch.equal(first, x[0, :M, :M]):
            return ProbeResult(
                False, f"{H}x{W} map, window {M}: window 0 is not the top-left {M}x{M} patch"
            )
    return ProbeResult(True, f"round trip exact on {len(sizes)} map sizes")


def locality_probe(
    fn: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    token: tuple[int, int],
    seed: int = 0,
    tolerance: float = 1e-6,
) -> torch.Tensor:
    """Which outputs of ``fn`` change when one input token changes. Used in chapters 5 and 7.

    Args:
        fn: maps ``(B, H, W, C)`` to ``(B, H, W, C)`` (a block, or a stack of them).
        x: ``(B, H, W, C)`` input.
        token: ``(row, col)`` of the token to perturb (in every image of the batch).
        seed: seed of the random perturbation (a random vector, since a constant
            one vanishes in LayerNorm).

    Returns:
        bool ``(H, W)``: ``True`` where some output channel moved by more than
        ``tolerance`` in some image.
    """
    check_map("x", x)
    row, col = _check_token(token, x.shape[1], x.shape[2])
    generator = torch.Generator().manual_seed(seed)
    nudged = x.clone()
    nudged[:, row, col] += torch.randn(x.shape[-1], generator=generator).to(x)
    with torch.no_grad():
        change = (fn(nudged) - fn(x)).abs()
    return change.amax(dim=(0, 3)) > tolerance


def receivers(
    H: int,
    W: int,
    window_size: int | Sequence[int],
    shift_size: int | Sequence[int],
    token: tuple[int, int],
) -> torch.Tensor:
    """Tokens whose query may attend ``token`` in one (shifted) window attention layer.

    Follows the package's semantics: zero-pad to a window multiple, roll, mask;
    on an axis where the map is not larger than the window, one window and no
    shift. Returns bool ``(H, W)``; these are the outputs a correct block may
    change when ``token`` changes (:func:`locality_probe`). Used in chapters 5 and 7.
    """
    window, shift = effective_window_and_shift(H, W, window_size, shift_size)
    row, col = _check_token(token, H, W)
    layout = window_layout(H, W, window, shift)
    ids = window_token_ids(layout)  # (nW, N); padding has id H*W
    mask = shifted_window_mask(*layout.padded_size, window, shift)
    w, n = (ids == row * W + col).nonzero()[0].tolist()
    result = torch.zeros(H * W + 1, dtype=torch.bool)
    result[ids[w][mask[w, :, n]]] = True
    return result[: H * W].reshape(H, W)


def _check_token(token: object, H: int, W: int) -> tuple[int, int]:
    """``token`` as ``(row, col)`` inside an ``H x W`` map, else raise."""
    if not isinstance(token, tuple | list) or len(token) != 2:
        raise TypeError(f"token must be a pair (row, col), got token={token!r}")
    return check_int("token[0]", token[0], 0, H - 1), check_int("token[1]", token[1], 0, W - 1)


def shape_probe(
    block: Callable[[torch.Tensor], torch.Tensor],
    channels: int,
    sizes: Sequence[tuple[int, int]] = ((7, 7), (10, 13), (5, 9), (1, 1)),
) -> ProbeResult:
    """Check that ``block`` maps ``(1, H, W, channels)`` to the same shape for each size.

    Catches padding that is never cropped and blocks that only accept window
    multiples. Used in chapter 7.
    """
    check_positive_int("channels", channels)
    for H, W in sizes:
        x = torch.randn(1, H, W, channels)
        try:
            with torch.no_grad():
                out = block(x)
        except Exception as error:  # report the reader's bug, don't raise it
            return ProbeResult(False, f"{H}x{W} map: raised {type(error).__name__}: {error}")
        if tuple(out.shape) != tuple(x.shape):
            return ProbeResult(
                False, f"{H}x{W} map: output shape {tuple(out.shape)}, expected {tuple(x.shape)}"
            )
    return ProbeResult(True, f"shape kept on {len(sizes)} map sizes")
