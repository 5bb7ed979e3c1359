"""Checkers of the measuring exercises: the cost of attention and the effective receptive field."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch

from ..analysis import effective_receptive_field
from ..complexity import attention_flops
from ..model import swin_single_resolution
from .harness import (
    Case,
    CheckResult,
    checker_rng,
    first_matching_advice,
    generator,
    run_cases,
    torch_seed,
)

# --------------------------------------------------------------------------- attention cost

#: ``(H, W, C, window_size)`` of the fixed cases: global and windowed.
FLOPS_SIZES = ((8, 8, 16, None), (14, 14, 32, 7), (12, 8, 24, 4), (56, 56, 96, None))


def _flops_args(H: int, W: int, C: int, window_size: int | None) -> tuple:
    return (H, W, C, window_size)


def _flops_hint(args: tuple, expected: int, received: object) -> str:
    H, W, C, window = args
    tokens, projections = H * W, 4 * H * W * C * C
    candidates = {
        "you counted FLOPs (2 per multiply-add); the formula counts multiply-adds": lambda: (
            2 * expected
        ),
        "you left out the four projections (Q, K, V and output): 4 hw C^2": lambda: (
            expected - projections
        ),
    }
    if window is not None:
        candidates["with windows each query sees M^2 keys, not M: 2 M^2 hw C"] = lambda: (
            projections + 2 * window * tokens * C
        )
        candidates["with windows each query sees only the M^2 keys of its window"] = lambda: (
            projections + 2 * tokens * tokens * C
        )
    if type(received) not in (int, float):
        return "return a Python int (use .item() on a one-element tensor, or int(...))"
    return first_matching_advice(
        received, candidates, "global: 4 hw C^2 + 2 (hw)^2 C; window: 4 hw C^2 + 2 M^2 hw C"
    )


def check_attention_flops(
    fn: Callable, trials: int = 8, seed: int | None = None, verbose: bool = True
) -> CheckResult:
    """Check ``fn(H, W, C, window_size=None) -> int`` multiply-adds of one attention layer.

    A Python int or an integral float is accepted. Used in chapter 1.
    """
    rng = checker_rng(fn, trials, seed, verbose)
    sizes = list(FLOPS_SIZES)
    for _ in range(trials):
        window = rng.choice([None, rng.randint(2, 8)])
        unit = window or 1
        H, W = unit * rng.randint(2, 8), unit * rng.randint(2, 8)
        sizes.append((H, W, rng.choice([16, 32, 96, 128]), window))
    cases = [
        Case(
            f"H={H}, W={W}, C={C}, window_size={window}",
            partial(_flops_args, H, W, C, window),
            attention_flops,
        )
        for H, W, C, window in sizes
    ]
    return run_cases(
        "check_attention_flops", fn, cases, _flops_hint, frozenset({"attention_flops"}), verbose
    )


# --------------------------------------------------------------------------- receptive field

#: ``(attention, query)`` of the fixed cases.
FIELD_CASES = (("shifted", (3, 5)), ("window", (6, 2)))


def _field_args(seed: int, attention: str, query: tuple[int, int]) -> tuple:
    """A random single-resolution Swin (float64), two 16x16 images and the query token."""
    with torch.random.fork_rng(devices=[]):  # the student's global seed stays untouched
        torch.manual_seed(seed)
        model = swin_single_resolution(attention, embed_dim=8).double()
    images = torch.rand(2, 1, 16, 16, generator=generator(seed), dtype=torch.float64)
    return (model, images, query)


def _field_hint(args: tuple, expected: torch.Tensor, received: object) -> str:
    model, images, (i, j) = args

    def gradient_of_channel_sum() -> torch.Tensor:
        model.eval()
        x = images.detach().clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(model.forward_features(x)[:, i, j, :].sum(), x)
        return grad.abs().sum(dim=1).mean(dim=0)

    candidates = {
        "you differentiated the sum of the token's channels: take the norm over channels of "
        "the Jacobian (one gradient per output channel), not the gradient of their sum": (
            gradient_of_channel_sum
        ),
        "average the per-image fields over the batch (mean), do not add them up": lambda: (
            expected * images.shape[0]
        ),
    }
    return first_matching_advice(
        received,
        candidates,
        "for each output channel c of token (i, j) of model.forward_features(images), take the "
        "gradient with respect to the images; the field is sqrt(sum over c and input channels "
        "of the squared gradients), averaged over the images; use eval() mode",
    )


def check_effective_receptive_field(
    fn: Callable, trials: int = 2, seed: int | None = None, verbose: bool = True
) -> CheckResult:
    """Check ``fn(model, images, query) -> (H, W)``, the effective receptive field.

    ``model`` has ``forward_features(images) -> (B, h, w, C)``, ``images`` is
    ``(B, C_in, H, W)``, ``query`` an ``(i, j)`` token of the output map; the
    reference is :func:`~swin_tutorial.analysis.effective_receptive_field`.
    Used in chapter 12.
    """
    rng = checker_rng(fn, trials, seed, verbose)
    specs = list(FIELD_CASES) + [
        (rng.choice(["shifted", "window"]), (rng.randrange(8), rng.randrange(8)))
        for _ in range(trials)
    ]
    cases = [
        Case(
            f"a random swin_single_resolution({attention!r}, embed_dim=8), images of shape "
            f"(2, 1, 16, 16), query token {query} of the 8x8 output map",
            partial(_field_args, torch_seed(rng), attention, query),
            effective_receptive_field,
        )
        for attention, query in specs
    ]
    return run_cases(
        "check_effective_receptive_field",
        fn,
        cases,
        _field_hint,
        frozenset({"effective_receptive_field"}),
        verbose,
    )
