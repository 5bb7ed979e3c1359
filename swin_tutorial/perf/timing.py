"""What one call of a function costs in time: the median over many calls.

On the CPU :class:`torch.utils.benchmark.Timer`; on CUDA blocks of calls timed
between two CUDA events, with the device synchronised so that asynchronous
kernels are counted. Used in chapters 1, 8, 10 and 11.
"""

from __future__ import annotations

import logging
import statistics
from collections.abc import Callable
from typing import Any

import torch
from torch.utils._pytree import tree_flatten

from .._checks import check_positive_int, check_real

CUDA_WARMUP_CALLS = 3
CUDA_MIN_BLOCK_S = 1e-3  # a block of calls timed by one pair of events lasts at least this
CUDA_MIN_BLOCKS = 3


def check_callable(fn: object) -> None:
    """Raise ``TypeError`` unless ``fn`` can be called."""
    if not callable(fn):
        raise TypeError(f"fn must be callable, got fn={fn!r} ({type(fn).__name__})")


def device_of(args: tuple[Any, ...], kwargs: dict[str, Any] | None = None) -> torch.device:
    """The device of the tensors in ``args``/``kwargs``: CUDA first, then non-CPU, else CPU."""
    leaves, _ = tree_flatten((args, kwargs or {}))
    devices = [leaf.device for leaf in leaves if isinstance(leaf, torch.Tensor)]
    rank = {"cuda": 0, "cpu": 2}  # any other device (mps, ...) ranks 1
    return min(devices, key=lambda device: rank.get(device.type, 1), default=torch.device("cpu"))


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work (a no-op on the CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def _timer_class() -> type:
    """:class:`torch.utils.benchmark.Timer`, imported without the CUDA-toolkit warning it logs."""
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

    ``min_run_time`` is the seconds of measurement to collect; ``num_threads``
    the CPU threads PyTorch may use (default: the current number; one gives
    the most repeatable CPU numbers). Tensors in ``args`` decide the device.
    Used in chapters 1, 8, 10 and 11.
    """
    check_callable(fn)
    min_run_time = check_real("min_run_time", min_run_time, 0.0, low_open=True)
    if num_threads is None:
        num_threads = torch.get_num_threads()
    check_positive_int("num_threads", num_threads)
    device = device_of(args)
    if device.type == "cuda":
        return _time_cuda(fn, args, min_run_time, device)
    stmt_fn = fn
    if device.type != "cpu":

        def stmt_fn(*inner: object) -> None:
            fn(*inner)
            synchronize(device)

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
    """Warm up, grow the block until it lasts a millisecond, return the median per-call time."""
    for _ in range(CUDA_WARMUP_CALLS):
        fn(*args)
    synchronize(device)
    calls = 1
    while (block := _cuda_block_seconds(fn, args, calls, device)) < CUDA_MIN_BLOCK_S:
        calls *= 10
    per_call = [block / calls]
    total = block
    while total < min_run_time or len(per_call) < CUDA_MIN_BLOCKS:
        block = _cuda_block_seconds(fn, args, calls, device)
        per_call.append(block / calls)
        total += block
    return statistics.median(per_call)
