"""What the command lines share: argparse types that check before any work starts.

Each turns a ``ValueError``/``TypeError`` of the package's checks into a one-line
usage error (exit status 2). Used by ``python -m swin_tutorial.train`` and the
benchmark scripts.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from ._checks import check_positive_int, check_real

T = TypeVar("T")


def argument_type(parse: Callable[[str], T]) -> Callable[[str], T]:
    """An argparse ``type=`` from ``parse``: its ``ValueError``/``TypeError`` becomes a
    one-line usage error instead of a traceback."""

    def checked(text: str) -> T:
        try:
            return parse(text)
        except (TypeError, ValueError) as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return checked


def number(
    name: str, kind: type[int] | type[float], check: Callable[..., T], **bounds: object
) -> Callable[[str], T]:
    """An argparse ``type=`` reading ``kind`` from the text, then ``check(name, value, **bounds)``
    with a helper of ``_checks`` (``check_positive_int``, ``check_real``, ...)."""

    def parse(text: str) -> T:
        try:
            value = kind(text)
        except ValueError:
            expected = "an int" if kind is int else "a number"
            raise ValueError(f"{name} must be {expected}, got {name}={text!r}") from None
        return check(name, value, **bounds)

    return argument_type(parse)


def positive_int(name: str) -> Callable[[str], int]:
    """An argparse ``type=`` for an int >= 1."""
    return number(name, int, check_positive_int)


def positive_number(name: str) -> Callable[[str], float]:
    """An argparse ``type=`` for a finite number > 0."""
    return number(name, float, check_real, low=0.0, low_open=True)


def check_file_to_write(name: str, text: str) -> Path:
    """``text`` as a path that can be written now: not a folder, not under an existing
    file, in an existing writable folder; raise ``ValueError`` otherwise."""
    path = Path(text).expanduser()
    if text.endswith(("/", os.sep)) or path.is_dir():
        raise ValueError(f"{name} must be a file to write, got {name}={text!r} (a folder)")
    blocking = next((parent for parent in path.parents if parent.is_file()), None)
    if blocking is not None:
        raise ValueError(
            f"{name} must be a file to write, got {name}={text!r} "
            f"(under the existing file {str(blocking)!r})"
        )
    if not path.parent.is_dir():
        raise ValueError(
            f"{name} must be in an existing folder, got {name}={text!r} (no such folder)"
        )
    writable = os.access(path.parent, os.W_OK | os.X_OK)
    if not writable or (path.exists() and not os.access(path, os.W_OK)):
        raise ValueError(f"{name} must be a writable file, got {name}={text!r} (permission denied)")
    return path


def file_to_write(name: str) -> Callable[[str], Path]:
    """An argparse ``type=`` for an output file, checked before any work starts."""
    return argument_type(lambda text: check_file_to_write(name, text))
