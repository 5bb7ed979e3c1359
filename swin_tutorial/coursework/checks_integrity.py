"""Is the ground the checkers stand on untouched? Python's builtins, the profiler hooks, torch.

A student's cell can reassign ``torch.Tensor.permute`` or ``builtins.abs`` in one
line, and the references and comparisons of a fresh checker run on that same
torch and those same builtins. Before any case runs, :func:`replaced_tools`
lists what a student's cell replaced: a builtin that is no longer Python's own,
a profiler hook that is no longer ``sys``'s or ``threading``'s, a function of
``torch``, ``torch.Tensor``, ``torch.nn.functional`` or of a ``torch.nn`` layer
class that is written outside torch. A checker fails every case when the list
is not empty.
"""

from __future__ import annotations

import builtins
import functools
import sys
import threading
import types
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

#: Builtins the harness and the references call.
BUILTINS = (
    "abs",
    "all",
    "any",
    "bool",
    "callable",
    "dict",
    "float",
    "frozenset",
    "getattr",
    "hasattr",
    "int",
    "isinstance",
    "issubclass",
    "iter",
    "len",
    "list",
    "max",
    "min",
    "next",
    "print",
    "range",
    "repr",
    "round",
    "sorted",
    "str",
    "sum",
    "super",
    "tuple",
    "type",
    "zip",
)
#: The profiler hooks of ``sys`` and ``threading`` the call trace uses.
HOOKS = ("setprofile", "getprofile")
#: Display-only methods that libraries are known to replace (e.g. ``lovely_tensors``).
DISPLAY = frozenset({"__repr__", "__str__", "__format__"})

_TORCH_DIR = Path(torch.__file__).resolve().parent
_STDLIB_DIR = Path(threading.__file__).resolve().parent
_BUILTIN_FUNCTION = type(len)


def _replaced_builtins() -> list[str]:
    found = []
    for name in BUILTINS:
        value = builtins.__dict__.get(name)
        if isinstance(value, type):
            ours = type.__getattribute__(value, "__module__") == "builtins"
        else:
            ours = _is_builtin_of(value, builtins)
        if not ours:
            found.append(f"builtins.{name}")
    return found


def _is_builtin_of(value: object, owner: object) -> bool:
    return type(value) is _BUILTIN_FUNCTION and value.__self__ is owner


def _replaced_hooks() -> list[str]:
    found = [f"sys.{name}" for name in HOOKS if not _is_builtin_of(getattr(sys, name), sys)]
    threading_file = Path(threading.__file__).resolve()
    for name in HOOKS:
        code = getattr(getattr(threading, name), "__code__", None)
        if code is None or Path(code.co_filename).resolve() != threading_file:
            found.append(f"threading.{name}")
    return found


def _foreign(value: object) -> bool:
    """Whether ``value`` is a Python function written outside torch and the standard library."""
    if isinstance(value, staticmethod | classmethod):
        value = value.__func__
    elif isinstance(value, property):
        value = value.fget
    if isinstance(value, types.MethodType):
        value = value.__func__
    if not isinstance(value, types.FunctionType):
        return False
    filename = value.__code__.co_filename
    if filename.startswith("<"):  # dataclasses' generated methods; exec'd code
        return not value.__name__.startswith("__")
    return not _trusted_file(filename)


@functools.lru_cache(maxsize=4096)
def _trusted_file(filename: str) -> bool:
    """Whether a code file is torch's, the standard library's or ``typing_extensions``."""
    path = Path(filename).resolve()
    return (
        path.is_relative_to(_TORCH_DIR)
        or path.is_relative_to(_STDLIB_DIR)
        or path.name == "typing_extensions.py"
    )


def _replaced_in(label: str, namespace: dict) -> list[str]:
    return [
        f"{label}.{name}"
        for name, value in list(namespace.items())
        if name not in DISPLAY and _foreign(value)
    ]


def replaced_tools() -> list[str]:
    """What a student's code replaced among the tools every checker relies on (empty: nothing)."""
    found = _replaced_builtins() + _replaced_hooks()
    found += _replaced_in("torch", vars(torch))
    found += _replaced_in("torch.Tensor", vars(torch.Tensor))
    found += _replaced_in("torch.nn.functional", vars(F))
    for name, layer in list(vars(nn).items()):
        if isinstance(layer, type) and issubclass(layer, nn.Module):
            found += _replaced_in(f"torch.nn.{name}", vars(layer))
    return found
