"""What one call of a function costs in memory and in operators.

On CUDA the caching allocator's statistics; elsewhere an exact count of the
tensor storages every ATen operator creates and frees. Used in chapters 1, 10
and 11.
"""

from __future__ import annotations

import collections
import weakref
from collections.abc import Callable
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from .timing import check_callable, device_of, synchronize


def _storages(leaves: list[object]) -> list[torch.UntypedStorage]:
    """Untyped storages of the dense tensors among ``leaves``."""
    return [
        leaf.untyped_storage()
        for leaf in leaves
        if isinstance(leaf, torch.Tensor) and leaf.layout == torch.strided
    ]


class _OperatorObserver(TorchDispatchMode):
    """A dispatch mode that runs every ATen operator unchanged and shows it to :meth:`observe`."""

    @classmethod
    def _should_skip_dynamo(cls) -> bool:
        # Otherwise PyTorch imports torch._dynamo (seconds) on first use; nothing is compiled here.
        return False

    def __torch_dispatch__(
        self,
        func: torch._ops.OpOverload,
        types: tuple[type, ...],
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        kwargs = kwargs or {}
        state = self.before(func, args, kwargs)
        out = func(*args, **kwargs)
        self.observe(func, out, state)
        return out

    def before(self, func: torch._ops.OpOverload, args: tuple, kwargs: dict) -> Any:
        """Called before each operator runs; the result is handed to :meth:`observe`."""
        return None

    def observe(self, func: torch._ops.OpOverload, out: Any, state: Any) -> None:
        """Called after each operator with its output and what :meth:`before` returned."""


class StorageCounter(_OperatorObserver):
    """Bytes of tensor storages created while the mode is active: ``current`` and ``peak``.

    An operator's output storage that is none of its inputs' is new and counted
    once (views share it); it is uncounted when its Python storage object is
    finalized, i.e. when the last tensor using it dies. Storages made before the
    mode, and a kernel's internal workspace, are not seen. Used in chapter 11.
    """

    def __init__(self) -> None:
        super().__init__()
        self.current = 0
        self.peak = 0
        self._counted: dict[int, list[Any]] = {}  # id(storage) -> [nbytes, finalizer]

    def _freed(self, key: int) -> None:
        nbytes, _ = self._counted.pop(key)
        self.current -= nbytes

    def _count(self, storage: torch.UntypedStorage, inputs: set[int]) -> None:
        key, nbytes = id(storage), storage.nbytes()
        if key in self._counted:  # a counted storage that grew (resize_)
            grown = nbytes - self._counted[key][0]
            if grown <= 0:
                return
            self._counted[key][0] = nbytes
        elif key in inputs or nbytes == 0:
            return
        else:
            grown = nbytes
            self._counted[key] = [nbytes, weakref.finalize(storage, self._freed, key)]
        self.current += grown
        self.peak = max(self.peak, self.current)

    def before(self, func: torch._ops.OpOverload, args: tuple, kwargs: dict) -> set[int]:
        """The ids of the input storages (an output among them is not new)."""
        return {id(s) for s in _storages(tree_flatten((args, kwargs))[0])}

    def observe(self, func: torch._ops.OpOverload, out: Any, inputs: set[int]) -> None:
        for storage in _storages(tree_flatten(out)[0]):
            self._count(storage, inputs)

    def __exit__(self, *exc: object) -> None:
        # Storages that outlive the measurement (e.g. fn's result) stop reporting to us.
        for _, finalizer in self._counted.values():
            finalizer.detach()
        self._counted.clear()
        return super().__exit__(*exc)


COPY_OPERATORS = frozenset(
    {
        "clone",
        "copy_",
        "_to_copy",
        "cat",
        "stack",
        "roll",
        "constant_pad_nd",
        "index",
        "gather",
        "masked_fill",
        "repeat",
        "expand_copy",
    }
)
"""ATen operators that move or duplicate data without arithmetic (a roll, a pad, a copy)."""


class OperatorCounter(_OperatorObserver):
    """Count the ATen operators called while the mode is active, by name (``counts``)."""

    def __init__(self) -> None:
        super().__init__()
        self.counts: collections.Counter[str] = collections.Counter()

    def before(self, func: torch._ops.OpOverload, args: tuple, kwargs: dict) -> None:
        self.counts[func.overloadpacket.__name__] += 1


def operator_counts(fn: Callable[..., object], *args: object) -> collections.Counter[str]:
    """How many times each ATen operator (``"addmm"``, ``"clone"``, ...) runs in ``fn(*args)``.

    Counted after autograd, as the device runs them; see :data:`COPY_OPERATORS`.
    Used in chapter 11.
    """
    check_callable(fn)
    with OperatorCounter() as counter:
        fn(*args)
    return counter.counts


def peak_memory_bytes(fn: Callable[..., object], *args: object) -> int:
    """Peak bytes held at once by tensors created during one call ``fn(*args)``.

    Memory that exists before the call (arguments, parameters) is not counted;
    ``fn``'s result is. On CUDA: ``torch.cuda.max_memory_allocated`` above what
    was allocated before; elsewhere :class:`StorageCounter`, exact and
    repeatable. Used in chapters 1, 10 and 11.
    """
    check_callable(fn)
    device = device_of(args)
    if device.type == "cuda":
        synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        result = fn(*args)
        synchronize(device)
        peak = torch.cuda.max_memory_allocated(device) - before
        del result
        return int(peak)
    with StorageCounter() as counter:
        fn(*args)
    return int(counter.peak)
