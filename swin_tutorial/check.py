"""Named checks: how a chapter's cell states its claim and proves it, in one printed line.

``st.check.close(mine, reference, "written out == package")`` prints
``✓ written out == package`` when the claim holds and raises ``AssertionError``
with what differs when it does not. Only the claim is printed, never a residual,
so the output is the same on every machine; the numbers live in the error.
"""

from __future__ import annotations

import torch

from ._checks import check_real

MARK = "\u2713"


def _check_claim(claim: object) -> str:
    if not isinstance(claim, str) or not claim.strip():
        raise TypeError(f"claim must be a non-empty str naming what is checked, got {claim!r}")
    return claim


def _same_shape(actual: torch.Tensor, expected: torch.Tensor, claim: str) -> None:
    if actual.shape != expected.shape:
        raise AssertionError(
            f"{claim}: shapes differ, {tuple(actual.shape)} != {tuple(expected.shape)}"
        )


def _passed(claim: str) -> None:
    print(f"{MARK} {claim}")


def that(condition: object, claim: str, detail: str = "") -> None:
    """Check that ``condition`` is true (a Python or one-element tensor bool)."""
    claim = _check_claim(claim)
    if isinstance(condition, torch.Tensor):
        if condition.numel() != 1:
            raise ValueError(
                f"condition must be one bool, got a tensor of shape {tuple(condition.shape)}"
            )
        condition = bool(condition)
    if not isinstance(condition, bool):
        raise TypeError(f"condition must be a bool, got {type(condition).__name__}")
    if not condition:
        raise AssertionError(f"{claim}: not true" + (f" ({detail})" if detail else ""))
    _passed(claim)


def equal(actual: object, expected: object, claim: str) -> None:
    """Check exact equality: tensors (same shape and values), numbers, strings, lists."""
    claim = _check_claim(claim)
    if isinstance(actual, torch.Tensor) or isinstance(expected, torch.Tensor):
        if not (isinstance(actual, torch.Tensor) and isinstance(expected, torch.Tensor)):
            raise TypeError(f"{claim}: compare a tensor with a tensor, got {type(actual).__name__}")
        _same_shape(actual, expected, claim)
        wrong = int((actual != expected).sum())
        if wrong:
            raise AssertionError(f"{claim}: {wrong} of {actual.numel()} entries differ")
    elif actual != expected:
        raise AssertionError(f"{claim}: {actual!r} != {expected!r}")
    _passed(claim)


def close(
    actual: torch.Tensor, expected: torch.Tensor, claim: str, atol: float = 1e-6, rtol: float = 0.0
) -> None:
    """Check ``|actual - expected| <= atol + rtol |expected|`` everywhere, shapes equal."""
    claim = _check_claim(claim)
    check_real("atol", atol, 0.0)
    check_real("rtol", rtol, 0.0)
    for name, value in (("actual", actual), ("expected", expected)):
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"{name} must be a tensor, got {type(value).__name__}")
    _same_shape(actual, expected, claim)
    error = (actual.double() - expected.double()).abs()
    allowed = atol + rtol * expected.double().abs()
    if not bool((error <= allowed).all()):
        raise AssertionError(
            f"{claim}: largest error {float(error.max()):.3g} "
            f"(allowed: {atol:g} + {rtol:g} |expected|)"
        )
    _passed(claim)


def between(value: float, low: float, high: float, claim: str) -> None:
    """Check ``low <= value <= high`` for a measured number (a ratio, a slope, a time)."""
    claim = _check_claim(claim)
    value = float(value)
    if not low <= value <= high:
        raise AssertionError(f"{claim}: {value:.4g} is outside [{low:g}, {high:g}]")
    _passed(claim)
