"""Timing and peak-memory harness: what one call of a function costs.

Two measurements, both device-agnostic (the device is read from the tensor
arguments, CPU when there are none):

* :func:`time_callable`: median seconds per call. On the CPU (and other
  non-CUDA devices) it uses :class:`torch.utils.benchmark.Timer`; on CUDA it
  times blocks of calls with CUDA events, after a warm-up, with the device
  synchronised so that asynchronous kernels are counted.
* :func:`peak_memory_bytes`: the largest number of bytes held at once by
  tensors created while the function runs. On CUDA it reads the caching
  allocator's statistics; elsewhere it counts the storages every operator
  creates and frees (:class:`StorageCounter`), which is exact and deterministic
  on the CPU.
"""

from __future__ import annotations

import logging
import math
import statistics
import weakref
from collections.abc import Callable
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

_CUDA_WARMUP_CALLS = 3
_CUDA_MIN_BLOCK_S = 1e-3  # a block of calls timed by one pair of events lasts at least this
_CUDA_MIN_BLOCKS = 3


def _check_callable(fn: object) -> None:
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__} {fn!r}")


def _check_min_run_time(min_run_time: object) -> float:
    if isinstance(min_run_time, bool) or not isinstance(min_run_time, int | float):
        raise TypeError(
            f"min_run_time must be a number of seconds, got {type(min_run_time).__name__} "
            f"{min_run_time!r}"
        )
    if not math.isfinite(min_run_time) or min_run_time <= 0:
        raise ValueError(f"min_run_time must be a positive number of seconds, got {min_run_time!r}")
    return float(min_run_time)


def _device_of(args: tuple[Any, ...], kwargs: dict[str, Any] | None = None) -> torch.device:
    """The device of the tensors in ``args`` (searched through lists, tuples and dicts).

    CUDA wins if any tensor is on CUDA; with no tensors at all, the CPU.
    """
    leaves, _ = tree_flatten((args, kwargs or {}))
    devices = [leaf.device for leaf in leaves if isinstance(leaf, torch.Tensor)]
    for device in devices:
        if device.type == "cuda":
            return device
    for device in devices:
        if device.type != "cpu":
            return device
    return torch.device("cpu")


def _synchronize(device: torch.device) -> None:
    """Wait for the device's queued work (a no-op on the CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def _timer_class() -> type:
    """:class:`torch.utils.benchmark.Timer`, imported on first use.

    Importing it imports ``torch.utils.cpp_extension``, which logs a warning
    about the CUDA toolkit on machines that have one installed but no GPU;
    that warning says nothing about CPU timing, so it is silenced here.
    """
    logger = logging.getLogger("torch.utils.cpp_extension")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        from torch.utils.benchmark import Timer
    finally:
        logger.setLevel(level)
    return Timer


def time_callable(
    fn: Callable[..., object],
    *args: object,
    min_run_time: float = 0.2,
    num_threads: int | None = None,
) -> float:
    """Median wall-clock seconds of one call ``fn(*args)``.

    Args:
        fn: the function to time; called many times with the same ``args``.
        *args: its arguments; tensors among them decide the device.
        min_run_time: seconds of measurement to collect (warm-up not included).
        num_threads: CPU threads PyTorch may use while timing; ``None`` keeps
            the current ``torch.get_num_threads()``. One thread gives the most
            repeatable CPU numbers (no thread scheduling, no contention).

    Returns:
        Median seconds per call (a float, e.g. ``1.2e-3`` for 1.2 ms).

    On the CPU: :meth:`torch.utils.benchmark.Timer.blocked_autorange` with
    ``num_threads`` threads. On CUDA (``num_threads`` unused):
    ``_CUDA_WARMUP_CALLS`` untimed calls, then blocks of calls, each lasting at
    least a millisecond, timed between two CUDA events; the result is the
    median over blocks of block time divided by calls per block. Other devices
    (e.g. MPS) use the Timer with a synchronisation after each call.
    """
    _check_callable(fn)
    min_run_time = _check_min_run_time(min_run_time)
    if num_threads is None:
        num_threads = torch.get_num_threads()
    elif isinstance(num_threads, bool) or not isinstance(num_threads, int):
        raise TypeError(f"num_threads must be an int or None, got {num_threads!r}")
    elif num_threads <= 0:
        raise ValueError(f"num_threads must be a positive int, got {num_threads!r}")
    device = _device_of(args)
    if device.type == "cuda":
        return _time_cuda(fn, args, min_run_time, device)
    if device.type == "cpu":
        stmt_fn = fn
    else:

        def stmt_fn(*inner: object) -> None:
            fn(*inner)
            _synchronize(device)

    timer = _timer_class()(
        stmt="fn(*args)", globals={"fn": stmt_fn, "args": args}, num_threads=num_threads
    )
    return float(timer.blocked_autorange(min_run_time=min_run_time).median)


def _cuda_block_seconds(
    fn: Callable[..., object], args: tuple[object, ...], calls: int, device: torch.device
) -> float:
    """Seconds for ``calls`` back-to-back calls, measured by two CUDA events."""
    with torch.cuda.device(device):
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(calls):
            fn(*args)
        end.record()
        end.synchronize()
    return start.elapsed_time(end) / 1e3  # elapsed_time is in milliseconds


def _time_cuda(
    fn: Callable[..., object], args: tuple[object, ...], min_run_time: float, device: torch.device
) -> float:
    """CUDA branch of :func:`time_callable`: warm-up, calibrate the block, take the median."""
    for _ in range(_CUDA_WARMUP_CALLS):
        fn(*args)
    _synchronize(device)
    calls = 1
    while (block := _cuda_block_seconds(fn, args, calls, device)) < _CUDA_MIN_BLOCK_S:
        calls *= 10
    per_call = [block / calls]
    total = block
    while total < min_run_time or len(per_call) < _CUDA_MIN_BLOCKS:
        block = _cuda_block_seconds(fn, args, calls, device)
        per_call.append(block / calls)
        total += block
    return statistics.median(per_call)


def _storages(leaves: list[object]) -> list[torch.UntypedStorage]:
    """Untyped storages of the dense tensors among ``leaves``."""
    found = []
    for leaf in leaves:
        if isinstance(leaf, torch.Tensor) and leaf.layout == torch.strided:
            found.append(leaf.untyped_storage())
    return found


class StorageCounter(TorchDispatchMode):
    """Count the bytes of tensor storages created and freed while the mode is active.

    Attributes (bytes): ``current`` held now by storages created under the mode,
    ``peak`` the largest ``current`` seen. Both are frozen when the mode exits.

    How it counts. A dispatch mode sees every ATen operator after autograd, so
    it sees every tensor an operator returns, including the intermediates of
    composite ops such as ``matmul``. An output whose untyped storage is
    neither one of the operator's inputs' storages nor already counted was
    created by this operator: its ``nbytes`` are added. Views and in-place ops
    return an input's storage and add nothing; a counted storage that grows
    (``resize_``) adds the difference. Deduplication is by storage, not by
    tensor, so ``q``, ``k`` and ``v`` sliced out of one ``qkv`` tensor count once.

    When is a storage freed? :func:`weakref.finalize` on the Python
    ``UntypedStorage`` object. Since PyTorch 2.x a storage's Python object is
    *preserved*: ``t.untyped_storage()`` returns the same object for as long as
    the C++ storage lives, and that object dies exactly when the last tensor or
    view using the storage is released (checked on torch 2.14 in
    ``tests/test_bench.py``). CPython frees by reference counting, so the
    count is deterministic. The alternatives do not work: ``tracemalloc`` does
    not see PyTorch's allocator, and a weak reference to each *tensor* would
    drop the count while a view still holds the memory.

    Not counted: storages that existed before the mode (arguments, parameters),
    scratch space inside a kernel (e.g. a BLAS workspace) and tensors made
    without an ATen operator.
    """

    @classmethod
    def _should_skip_dynamo(cls) -> bool:
        # By default PyTorch wraps __torch_dispatch__ to disable torch.compile, which
        # imports torch._dynamo (seconds) on first use. Nothing is compiled in here.
        return False

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
        if key in self._counted:
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

    def __torch_dispatch__(
        self,
        func: torch._ops.OpOverload,
        types: tuple[type, ...],
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        kwargs = kwargs or {}
        inputs = {id(s) for s in _storages(tree_flatten((args, kwargs))[0])}
        out = func(*args, **kwargs)
        for storage in _storages(tree_flatten(out)[0]):
            self._count(storage, inputs)
        return out

    def __exit__(self, *exc: object) -> None:
        # Storages that outlive the measurement (e.g. fn's result) stop reporting to us.
        for _, finalizer in self._counted.values():
            finalizer.detach()
        self._counted.clear()
        return super().__exit__(*exc)


def peak_memory_bytes(fn: Callable[..., object], *args: object) -> int:
    """Peak bytes held at once by tensors created during one call ``fn(*args)``.

    Args:
        fn: the function to measure; called once, as given (wrap it in
            ``torch.no_grad()`` to leave out what autograd saves).
        *args: its arguments; tensors among them decide the device. Memory that
            exists before the call (arguments, parameters) is not counted;
            ``fn``'s result is, while it is alive during the call.

    Returns:
        Bytes (an int).

    On CUDA: ``torch.cuda.max_memory_allocated`` after
    ``torch.cuda.reset_peak_memory_stats``, minus the memory allocated before
    the call; this includes kernel workspaces and the allocator's rounding to
    512-byte blocks. Elsewhere: :class:`StorageCounter`, exact and repeatable
    (same function, same shapes, same bytes).
    """
    _check_callable(fn)
    device = _device_of(args)
    if device.type == "cuda":
        _synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        result = fn(*args)
        _synchronize(device)
        peak = torch.cuda.max_memory_allocated(device) - before
        del result
        return int(peak)
    with StorageCounter() as counter:
        fn(*args)
    return int(counter.peak)
