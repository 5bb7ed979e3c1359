"""What every checker shares: the result, the random cases, the verdict and the grader's log.

When the environment variable named by :data:`GRADE_LOG_VARIABLE` holds a file
path, every result is also appended to that file as one JSON line; this is how
``python -m swin_tutorial.coursework grade`` collects the scores of a notebook.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch

from .._checks import check_bool

GRADE_LOG_VARIABLE = "SWIN_TUTORIAL_GRADE_LOG"


class ExerciseFailed(AssertionError):
    """Raised by :meth:`CheckResult.require` when a check failed: the test cell fails."""


@dataclass(frozen=True)
class CheckResult:
    """Outcome of one checker: ``score`` is the fraction of random cases passed."""

    name: str
    passed: bool
    score: float
    message: str

    def __str__(self) -> str:
        return self.message

    def require(self) -> None:
        """Raise :class:`ExerciseFailed` with the checker's report unless every case passed."""
        if not self.passed:
            raise ExerciseFailed(self.message)


@dataclass(frozen=True)
class Case:
    """One random input: how to describe it, the arguments, and the reference output."""

    description: str
    args: tuple
    expected: object


def generator(rng: random.Random) -> torch.Generator:
    """A torch generator seeded from ``rng``, so that a checker's cases follow its seed."""
    return torch.Generator().manual_seed(rng.getrandbits(31))


def log_for_grader(result: CheckResult) -> None:
    """Append ``result`` as a JSON line to the grader's log, when a grader set one."""
    path = os.environ.get(GRADE_LOG_VARIABLE)
    if path:
        with open(path, "a", encoding="utf-8") as log:
            log.write(json.dumps(asdict(result)) + "\n")


def summary(value: object) -> str:
    """Shape, dtype and a small slice of a tensor (or the repr of anything else)."""
    if not isinstance(value, torch.Tensor):
        return repr(value)
    flat = value.detach().reshape(-1)[:6].tolist()
    return f"shape {tuple(value.shape)}, dtype {value.dtype}, first values {flat}"


def mismatch(expected: object, received: object) -> str | None:
    """``None`` when ``received`` equals ``expected`` (to 1e-6); otherwise what differs."""
    if not isinstance(expected, torch.Tensor):
        return None if received == expected else f"expected {expected!r}, received {received!r}"
    if not isinstance(received, torch.Tensor):
        return f"expected a tensor, received {type(received).__name__}"
    if tuple(received.shape) != tuple(expected.shape):
        return f"expected shape {tuple(expected.shape)}, received shape {tuple(received.shape)}"
    if expected.dtype == torch.bool or not expected.is_floating_point():
        if received.dtype != expected.dtype:
            return f"expected dtype {expected.dtype}, received dtype {received.dtype}"
        wrong = (received != expected).sum().item()
        return None if wrong == 0 else f"{wrong} of {expected.numel()} entries differ"
    errors = (received.double() - expected.double()).abs()
    worst = int(errors.argmax())
    if errors.reshape(-1)[worst] <= 1e-6:
        return None
    where = tuple(int(i) for i in torch.unravel_index(torch.tensor(worst), expected.shape))
    return (
        f"largest absolute error {errors.reshape(-1)[worst].item():.3g} at index {where}: "
        f"expected {expected.reshape(-1)[worst].item():.4g}, "
        f"received {received.reshape(-1)[worst].item():.4g}"
    )


def run_cases(
    name: str,
    student: Callable,
    cases: list[Case],
    hint: Callable[[Case, object], str],
    verbose: bool,
) -> CheckResult:
    """Run ``student`` on every case; report the first failure with the hint for it.

    ``student`` is the function a checker was given as ``fn``.
    """
    if not callable(student):
        raise TypeError(f"fn must be your function, got fn={student!r}")
    check_bool("verbose", verbose)
    passed, first_failure = 0, None
    for case in cases:
        try:
            received = student(*case.args)
        except Exception as error:  # the student's bug is reported, not raised
            problem = f"your function raised {type(error).__name__}: {error}"
            received = None
        else:
            problem = mismatch(case.expected, received)
        if problem is None:
            passed += 1
        elif first_failure is None:
            first_failure = f"\u274c {name}: failed on {case.description}.\n  {problem}\n"
            if isinstance(case.expected, torch.Tensor):
                first_failure += (
                    f"  expected: {summary(case.expected)}\n  received: {summary(received)}\n"
                )
            first_failure += f"  hint: {hint(case, received)}"
    score = passed / len(cases)
    message = first_failure or f"\u2705 {name}: passed {passed}/{len(cases)} random cases."
    if first_failure:
        message += f"\n  ({passed}/{len(cases)} cases passed)"
    if verbose:
        print(message)  # the checker's verdict is what the student asked for
    result = CheckResult(name, first_failure is None, score, message)
    log_for_grader(result)
    return result


def masked_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, allowed: torch.Tensor, scale: float
) -> torch.Tensor:
    """softmax(q k^T * scale, pairs not ``allowed`` removed) v, for ``(..., T, d)`` tensors."""
    scores = (q @ k.transpose(-2, -1) * scale).masked_fill(~allowed, float("-inf"))
    return scores.softmax(-1).nan_to_num() @ v


def first_matching_advice(
    received: object, candidates: dict[str, Callable[[], torch.Tensor]], fallback: str
) -> str:
    """The advice whose wrong implementation reproduces ``received`` (else ``fallback``)."""
    if not isinstance(received, torch.Tensor):
        return fallback
    for advice, wrong in candidates.items():
        expected = wrong()
        if received.shape == expected.shape and torch.allclose(
            received.double(), expected, atol=1e-6
        ):
            return advice
    return fallback


def check_value(
    name: str, received: object, expected: object, rel_tol: float = 0.0, verbose: bool = True
) -> CheckResult:
    """Check a written answer stored in a variable: a number, a bool or a string.

    ``received`` must have the type of ``expected`` (an ``int`` is accepted for a
    ``float``), so an object with a strange ``__eq__`` never passes; numbers agree
    within ``rel_tol`` (relative). Used in the hidden tests of the chapters.
    """
    check_bool("verbose", verbose)
    wanted = (int, float) if type(expected) is float else (type(expected),)
    if type(received) not in wanted:
        problem = f"expected a {type(expected).__name__}, received {type(received).__name__}"
    elif isinstance(expected, float):
        close = abs(received - expected) <= rel_tol * abs(expected)
        problem = None if close else f"{received!r} is not the expected value"
    else:
        problem = None if received == expected else f"{received!r} is not the expected value"
    message = f"\u2705 {name}: correct." if problem is None else f"\u274c {name}: {problem}."
    if verbose:
        print(message)
    return CheckResult(name, problem is None, float(problem is None), message)
