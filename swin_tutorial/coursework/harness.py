"""What every checker shares: its arguments, its cases, the call trace, the verdict.

A checker runs a student's function on :class:`Case` s. A case does not hold
its expected value: ``make_args()`` builds the inputs anew each time, the
student's function gets one build, and the expected value is computed *after*
the call, by ``reference``, from a second build. So a function that mutates its
inputs cannot change its verdict, and no expected value is on the Python stack
while the student's code runs.

During the call a profiler (``sys.setprofile``) watches every function the call
enters: a function of the package whose name is in the checker's ``forbidden``
set (the package's own answer), or any function of this ``coursework`` folder
(the checker's own code), is stopped before its first line and fails the case.
A case also fails when the call removed the profiler, rebound a name of the
checker's modules, or replaced a builtin or a torch function
(:mod:`.checks_integrity`, also run before the first case).
"""

from __future__ import annotations

import contextlib
import io
import random
import sys
import threading
import warnings
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from .._checks import check_bool, check_int, check_positive_int
from .checks_compare import compare, safe_str, summary
from .checks_integrity import replaced_tools

_PACKAGE_DIR = Path(__file__).resolve().parents[1]
_PACKAGE = _PACKAGE_DIR.name


class ExerciseFailed(AssertionError):
    """Raised by :meth:`CheckResult.require` when a check failed: the test cell fails."""


@dataclass(frozen=True)
class CheckResult:
    """Outcome of one checker: ``score`` is the fraction of cases passed."""

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
    """One input: its description, how to build its arguments, how to compute the answer.

    ``make_args()`` returns a new, identical tuple of arguments at every call;
    ``reference(*make_args())`` is the expected value.
    """

    description: str
    make_args: Callable[[], tuple]
    reference: Callable[..., object]


#: A hint: ``hint(args, expected, received) -> str``, from a fresh build of the arguments.
Hint = Callable[[tuple, object, object], str]


def checker_rng(fn: object, trials: object, seed: object, verbose: object) -> random.Random:
    """Check a checker's arguments by name; return the random source of its cases.

    ``fn`` callable, ``trials`` a positive int, ``seed`` an int or ``None`` (fresh
    cases at every call), ``verbose`` a bool.
    """
    if not callable(fn):
        raise TypeError(f"fn must be your function (a callable), got fn={safe_str(fn)}")
    check_positive_int("trials", trials)
    if seed is not None:
        check_int("seed", seed)
    check_bool("verbose", verbose)
    return random.Random(seed)


def torch_seed(rng: random.Random) -> int:
    """A seed for a ``torch.Generator``, drawn from ``rng`` (so cases follow the checker's seed)."""
    return rng.getrandbits(31)


def generator(seed: int) -> torch.Generator:
    """A CPU ``torch.Generator`` seeded with ``seed``."""
    return torch.Generator().manual_seed(seed)


# --------------------------------------------------------------------------- the call trace


class ForbiddenCall(BaseException):
    """Raised by :class:`CallWatch` into a function of the package or checker that may not run.

    A ``BaseException``, so that ``except Exception`` in the student's code does not
    swallow it; catching it anyway leaves the profiler unset, which fails the case too.
    """


class CallWatch:
    """A profile function that stops the package's and the checker's own functions at the door.

    ``hits`` collects the names of the forbidden package functions and of the
    coursework's own functions whose frames were entered; each is stopped by
    :class:`ForbiddenCall` before its first line runs. ``active`` is set to
    ``False`` once the call is over, so a thread the student left running stops
    recording.
    """

    def __init__(self, forbidden: Collection[str]) -> None:
        self.forbidden = frozenset(forbidden)
        self.hits: list[tuple[str, str]] = []
        self.active = True
        self._kinds: dict[str, str] = {}

    def __call__(self, frame, event, arg) -> None:  # sys.setprofile's signature
        if event != "call" or not self.active:
            return
        code = frame.f_code
        kind = self._kinds.get(code.co_filename)
        if kind is None:
            kind = self._kinds[code.co_filename] = file_kind(code.co_filename)
        if kind == "coursework":
            self.hits.append(("coursework", code.co_name))
            raise ForbiddenCall(code.co_name)
        if kind == "package":
            qualname = getattr(code, "co_qualname", code.co_name)
            if code.co_name in self.forbidden or qualname in self.forbidden:
                self.hits.append(("package", qualname))
                raise ForbiddenCall(qualname)


def file_kind(filename: str) -> str:
    """``"coursework"``, ``"package"`` or ``"other"``: where a code object's file lies.

    A file counts as the package's when it is under this package's folder or
    under any folder named like it (another copy of the package).
    """
    if filename.startswith("<"):  # <stdin>, <string>, <frozen ...>: no file
        return "other"
    try:
        path = Path(filename).resolve()
    except (OSError, ValueError):
        return "other"
    if path.is_relative_to(_PACKAGE_DIR):
        parts = path.relative_to(_PACKAGE_DIR).parts
    elif _PACKAGE in path.parts[:-1]:
        parts = path.parts[len(path.parts) - path.parts[::-1].index(_PACKAGE) :]
    else:
        return "other"
    return "coursework" if parts[:1] == ("coursework",) else "package"


@dataclass
class Call:
    """What one watched call did: its return value or exception, and what it ran."""

    received: object = None
    error: BaseException | None = None
    hits: tuple[tuple[str, str], ...] = ()
    profiler_kept: bool = True


def watched_call(student: Callable, args: tuple, forbidden: Collection[str]) -> Call:
    """Call ``student(*args)`` under a :class:`CallWatch`; the previous profilers come back after.

    Nothing but ``student`` is called while the watch is on, so the trace holds
    only what the student's call ran.
    """
    watch = CallWatch(forbidden)
    call = Call()
    previous, previous_threads = sys.getprofile(), threading.getprofile()
    threading.setprofile(watch)
    sys.setprofile(watch)
    try:
        call.received = student(*args)
    except (Exception, SystemExit, ForbiddenCall) as error:  # reported, not raised
        call.error = error
    finally:
        kept = sys.getprofile() is watch
        sys.setprofile(None)  # the watch ends before any other Python function runs
        _restore_profiler(previous)
        threading.setprofile(previous_threads)
        watch.active = False
    call.profiler_kept = kept
    call.hits = tuple(watch.hits)
    return call


def _restore_profiler(previous: object) -> None:
    """Put back the profiler that ran before the watch (cProfile's is not a Python callable)."""
    if previous is None or callable(previous):
        sys.setprofile(previous)
        return
    sys.setprofile(None)
    enable = getattr(previous, "enable", None)
    if callable(enable):  # cProfile.Profile: enabling it again makes it the profiler again
        enable()


def forbidden_call_problem(call: Call) -> str | None:
    """Why a call may not count although its result may be right (``None``: it may)."""
    for kind, name in call.hits:
        if kind == "package":
            return f"your function calls the package's own `{name}`: write it yourself"
    for _, name in call.hits:
        return (
            f"your function calls the checker's own code (`{name}`): write the answer from "
            f"the inputs you are given"
        )
    if not call.profiler_kept:
        return "your function replaced the checker's call trace (sys.setprofile): not allowed"
    return None


def globals_of(*functions: object) -> list[dict]:
    """The module namespaces of ``functions`` (through ``functools.partial``) and of this module."""
    spaces = {id(globals()): globals()}
    for function in functions:
        function = getattr(function, "func", function)
        space = getattr(function, "__globals__", None)
        if isinstance(space, dict):
            spaces[id(space)] = space
    return list(spaces.values())


def changed_globals(before: list[dict], after: list[dict]) -> list[str]:
    """The names rebound, added or deleted in ``after`` since ``before`` (a copy of each)."""
    changed = []
    for old, new in zip(before, after, strict=True):
        for name in old.keys() | new.keys():
            if name != "__warningregistry__" and old.get(name, old) is not new.get(name, old):
                changed.append(f"{new.get('__name__', '?')}.{name}")
    return changed


# --------------------------------------------------------------------------- running cases


@dataclass(frozen=True)
class Guard:
    """The checker's module namespaces and a copy of each, taken before any student call."""

    spaces: list[dict]
    copies: list[dict]


def _judge(
    name: str,
    student: Callable,
    case: Case,
    hint: Hint,
    forbidden: Collection[str],
    guard: Guard,
    explain: bool,
) -> str | None:
    """``None`` when ``student`` passes ``case``; otherwise why not (with the hint if ``explain``).

    The expected value is computed only after the student's call returned.
    """
    call = watched_call(student, case.make_args(), forbidden)
    head = f"\u274c {name}: failed on {case.description}.\n  "
    cheat = forbidden_call_problem(call)
    rebound = changed_globals(guard.copies, guard.spaces)
    if cheat is None and rebound:
        cheat = f"your function changed the checker's code ({', '.join(sorted(rebound)[:3])})"
    replaced = replaced_tools()
    if cheat is None and replaced:
        cheat = f"your function replaced {', '.join(replaced[:3])}: the checker runs on it"
    if cheat is not None:
        return head + cheat
    args = case.make_args()
    expected = case.reference(*args)
    if call.error is not None:
        problem = f"your function raised {safe_str(call.error, type_too=True)}"
    else:
        problem = compare(expected, call.received)
    if problem is None or not explain:
        return problem
    report = head + problem + "\n"
    if isinstance(expected, torch.Tensor) and call.error is None:
        report += f"  expected: {summary(expected)}\n  received: {summary(call.received)}\n"
    received = None if call.error is not None else call.received
    try:
        advice = hint(args, expected, received)
    except Exception:  # a hint must never hide the verdict
        advice = "compare your function with the exercise's formula on a small input"
    return report + f"  hint: {advice}"


@contextlib.contextmanager
def _checking():
    """Quiet and quick: warnings ignored and stderr caught (nbgrader scores a test cell that
    writes to stderr 0); one CPU thread, faster than a pool on the checkers' small tensors."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        torch.set_num_threads(threads)


def run_cases(
    name: str,
    student: Callable,
    cases: Sequence[Case | Sequence[Case]],
    hint: Hint,
    forbidden: Collection[str],
    verbose: bool,
) -> CheckResult:
    """Run ``student`` on every case; report the first failure with the hint for it.

    An entry of ``cases`` may be a group of cases (a sequence) that passes only
    when all of its cases pass, e.g. the causal and the symmetric call on one
    input. ``score`` is the fraction of entries passed.
    """
    if not callable(student):
        raise TypeError(f"fn must be your function (a callable), got fn={safe_str(student)}")
    check_bool("verbose", verbose)
    groups = [tuple(entry) if isinstance(entry, Sequence) else (entry,) for entry in cases]
    parts = [f for group in groups for case in group for f in (case.make_args, case.reference)]
    spaces = globals_of(hint, *parts)
    guard = Guard(spaces, [dict(space) for space in spaces])
    passed, first_failure = 0, None
    replaced = replaced_tools()
    if replaced:
        first_failure = (
            f"\u274c {name}: not checked, because code in this session replaced "
            f"{', '.join(replaced[:5])}{' and more' if len(replaced) > 5 else ''}: the checker's "
            "references run on these. Restart the kernel and run your cells without replacing "
            "functions of Python or torch."
        )
        groups = []  # every case fails
    with _checking():
        for group in groups:
            failure = None
            for case in group:
                explain = first_failure is None
                failure = _judge(name, student, case, hint, forbidden, guard, explain)
                if failure is not None:
                    break
            if failure is None:
                passed += 1
            elif first_failure is None:
                first_failure = failure
    total = len(cases)
    if first_failure is None:
        message = f"\u2705 {name}: passed {passed}/{total} cases."
    else:
        message = f"{first_failure}\n  ({passed}/{total} cases passed)"
    if verbose:
        print(message)  # the checker's verdict is what the student asked for
    return CheckResult(name, first_failure is None, passed / total, message)


# --------------------------------------------------------------------------- hints


def masked_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, allowed: torch.Tensor, scale: float
) -> torch.Tensor:
    """softmax(q k^T * scale, pairs not ``allowed`` removed) v, for ``(..., T, d)`` tensors."""
    scores = (q @ k.transpose(-2, -1) * scale).masked_fill(~allowed, float("-inf"))
    return scores.softmax(-1).nan_to_num() @ v


def first_matching_advice(
    received: object, candidates: dict[str, Callable[[], object]], fallback: str
) -> str:
    """The advice whose wrong implementation reproduces ``received`` (else ``fallback``)."""
    if received is None:
        return fallback
    for advice, wrong in candidates.items():
        try:
            if compare(wrong(), received) is None:
                return advice
        except Exception:  # a candidate that does not apply to this input
            continue
    return fallback


# --------------------------------------------------------------------------- written answers

_ANSWER_TYPES = (int, float, bool, str)


def _check_answer_type(name: str, value: object) -> None:
    """Raise unless ``value`` is an int/float/bool/str or a tuple/list of them."""
    if type(value) in (tuple, list):
        for item in value:
            _check_answer_type(name, item)
    elif type(value) not in _ANSWER_TYPES:
        raise TypeError(
            f"{name} must be an int, float, bool, str or a tuple/list of them, "
            f"got {name}={safe_str(value)}"
        )


def _answer_problem(received: object, expected: object, rel_tol: float) -> str | None:
    """Why ``received`` is not ``expected`` (exact types, element-wise), or ``None``."""
    kind = type(expected)
    if kind in (tuple, list):
        if type(received) not in (tuple, list):
            return f"expected a tuple or list, received {type(received).__name__}"
        if len(received) != len(expected):
            return f"expected {len(expected)} items, received {len(received)}"
        for position, (got, want) in enumerate(zip(received, expected, strict=True)):
            problem = _answer_problem(got, want, rel_tol)
            if problem is not None:
                return f"item {position}: {problem}"
        return None
    accepted = (int, float) if kind is float else (kind,)
    if type(received) not in accepted:
        article = "an" if kind is int else "a"
        return f"expected {article} {kind.__name__}, received {type(received).__name__}"
    if kind is str:
        same = received.strip().casefold() == expected.strip().casefold()
    elif kind is bool:
        same = received is expected
    else:
        same = abs(received - expected) <= rel_tol * abs(expected)
    return None if same else f"{safe_str(received)} is not the expected value"


def check_value(
    name: str, received: object, expected: object, rel_tol: float = 0.0, verbose: bool = True
) -> CheckResult:
    """Check a written answer stored in a variable: a number, a bool, a string, or a tuple/list.

    ``received`` must have the type of ``expected`` (an ``int`` is accepted for a
    ``float``; a ``bool`` is not an ``int``; a tuple and a list are both
    accepted for either), element-wise, so an object with a strange ``__eq__``
    never passes; numbers agree within ``rel_tol`` (relative); strings are
    compared after ``.strip().casefold()``. Used in the hidden tests of the chapters.
    """
    if type(name) is not str or not name.strip():
        raise TypeError(f"name must be a non-empty str, got name={safe_str(name)}")
    if type(rel_tol) not in (int, float):
        raise TypeError(f"rel_tol must be a number, got rel_tol={safe_str(rel_tol)}")
    if not 0 <= rel_tol < float("inf"):
        raise ValueError(f"rel_tol must be a finite number >= 0, got rel_tol={safe_str(rel_tol)}")
    _check_answer_type("expected", expected)
    check_bool("verbose", verbose)
    try:
        problem = _answer_problem(received, expected, rel_tol)
    except Exception as error:  # nothing a student stores may crash the check
        problem = f"your answer could not be compared ({safe_str(error, type_too=True)})"
    message = f"\u2705 {name}: correct." if problem is None else f"\u274c {name}: {problem}."
    if verbose:
        print(message)
    return CheckResult(name, problem is None, float(problem is None), message)
