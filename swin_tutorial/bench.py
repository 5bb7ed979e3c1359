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

import collections
import csv
import datetime
import importlib.metadata
import logging
import math
import os
import pathlib
import platform
import statistics
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from .tables import format_table  # noqa: F401  (re-exported: bench.format_table)

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
"""ATen operators that move or duplicate data without doing arithmetic on it
(what a reshape of a non-contiguous tensor, a roll, a pad or a mask expansion costs)."""


class _OperatorCounter(TorchDispatchMode):
    """Count the ATen operators called while the mode is active, by name."""

    @classmethod
    def _should_skip_dynamo(cls) -> bool:
        return False

    def __init__(self) -> None:
        super().__init__()
        self.counts: collections.Counter[str] = collections.Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.counts[func.overloadpacket.__name__] += 1
        return func(*args, **(kwargs or {}))


def operator_counts(fn: Callable[..., object], *args: object) -> collections.Counter[str]:
    """How many times each ATen operator runs during one call ``fn(*args)``.

    Operators are counted after autograd, as the device runs them: on a GPU
    each is at least one kernel launch (views such as ``view`` or ``permute``
    launch nothing). Deterministic for a given function and input shapes; see
    :data:`COPY_OPERATORS` for the ones that only move data.

    Returns:
        A :class:`collections.Counter` from operator name (``"addmm"``,
        ``"clone"``, ...) to calls.
    """
    _check_callable(fn)
    with _OperatorCounter() as counter:
        fn(*args)
    return counter.counts


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


# ---------------------------------------------------------------------------
# Precision and correctness checks
# ---------------------------------------------------------------------------

DTYPES: dict[str, torch.dtype] = {"fp32": torch.float32, "bf16": torch.bfloat16}
"""Precisions the benchmarks run in, by command-line name."""

_TOLERANCES: dict[torch.dtype, float] = {torch.float32: 1e-5, torch.bfloat16: 1e-2}


def dtype_from_name(name: str) -> torch.dtype:
    """``"fp32"`` -> ``torch.float32``, ``"bf16"`` -> ``torch.bfloat16``."""
    if name not in DTYPES:
        raise ValueError(f"dtype must be one of {tuple(DTYPES)}, got {name!r}")
    return DTYPES[name]


def dtype_name(dtype: torch.dtype) -> str:
    """The command-line name of ``dtype`` (inverse of :func:`dtype_from_name`)."""
    for name, known in DTYPES.items():
        if known == dtype:
            return name
    raise ValueError(f"dtype must be one of {tuple(DTYPES.values())}, got {dtype!r}")


def tolerance(dtype: torch.dtype) -> float:
    """Largest relative error against the fp64 reference that a result in ``dtype`` may have.

    1e-5 for float32 (a few hundred float32 roundings), 1e-2 for bfloat16
    (8 significant bits: one rounding is up to 0.4 %).
    """
    if dtype not in _TOLERANCES:
        raise ValueError(f"dtype must be one of {tuple(_TOLERANCES)}, got {dtype!r}")
    return _TOLERANCES[dtype]


class precision:  # noqa: N801 - used like torch.autocast, a context manager
    """Run the enclosed code in ``dtype`` on ``device``.

    * ``float32``: plain float32, autocast off (also inside an autocast
      region); on CUDA, TF32 matmuls and convolutions are switched off for the
      duration (they keep 10 mantissa bits, which would fail the float32 check
      by design).
    * ``bfloat16``: :func:`torch.autocast` with ``dtype=torch.bfloat16`` (matmuls,
      convolutions and attention in bf16, reductions such as softmax in fp32).
    """

    def __init__(self, device: torch.device | str, dtype: torch.dtype) -> None:
        tolerance(dtype)  # validates the dtype
        self.device = torch.device(device)
        self.dtype = dtype
        self._saved: tuple[bool, bool] | None = None
        self._autocast: torch.autocast | None = None

    def __enter__(self) -> precision:
        if self.dtype == torch.bfloat16:
            self._autocast = torch.autocast(self.device.type, dtype=torch.bfloat16)
        else:  # float32 also inside an enclosing autocast region
            self._autocast = torch.autocast(self.device.type, enabled=False)
        self._autocast.__enter__()
        if self.dtype == torch.float32 and self.device.type == "cuda":
            self._saved = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
            torch.backends.cuda.matmul.allow_tf32 = False
            torch.backends.cudnn.allow_tf32 = False
        return self

    def __exit__(self, *exc: object) -> None:
        if self._autocast is not None:
            self._autocast.__exit__(*exc)
            self._autocast = None
        if self._saved is not None:
            torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = self._saved
            self._saved = None


def relative_error(actual: torch.Tensor, expected: torch.Tensor) -> float:
    """``||actual - expected|| / ||expected||`` (Frobenius norms), computed in float64.

    Both tensors must have the same shape; ``actual`` may be on another device or
    in another dtype. A non-finite ``actual`` gives ``inf``.
    """
    for name, t in (("actual", actual), ("expected", expected)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if actual.shape != expected.shape:
        raise ValueError(
            f"actual and expected must have the same shape, got {tuple(actual.shape)} "
            f"and {tuple(expected.shape)}"
        )
    a = actual.detach().to(device=expected.device, dtype=torch.float64)
    e = expected.detach().to(torch.float64)
    if not torch.isfinite(a).all():
        return math.inf
    scale = e.norm().item()
    if scale == 0:
        return 0.0 if a.norm().item() == 0 else math.inf
    return (a - e).norm().item() / scale


@dataclass(frozen=True)
class Check:
    """Outcome of comparing a result with its fp64 reference: ``passed`` iff ``error < tolerance``."""

    error: float
    tolerance: float

    @property
    def passed(self) -> bool:
        return math.isfinite(self.error) and self.error < self.tolerance


def check_close(actual: torch.Tensor, expected: torch.Tensor, dtype: torch.dtype) -> Check:
    """Compare ``actual`` (computed in ``dtype``) with the float64 ``expected``."""
    return Check(relative_error(actual, expected), tolerance(dtype))


# ---------------------------------------------------------------------------
# Rows, tables and files
# ---------------------------------------------------------------------------

Row = dict[str, Any]
"""One measurement: column name -> value (``None`` where nothing was measured)."""

STATUS_OK = "ok"


def measured_row(
    case: Row,
    check: Check | Sequence[Check],
    fn: Callable[..., object],
    *args: object,
    min_run_time: float = 0.2,
    num_threads: int | None = None,
    memory: bool = True,
) -> Row:
    """Time (and measure the peak memory of) ``fn(*args)`` if, and only if, every check passed.

    Args:
        case: the columns that say what is measured (variant, size, ...).
        check: one :class:`Check`, or several (e.g. a training step's output
            and its gradient); the row reports the worst one (largest error
            relative to its tolerance).
        fn, args: what to time; min_run_time, num_threads: for :func:`time_callable`.
        memory: also measure the peak memory.

    Returns:
        ``case`` extended with ``status``, ``check_error``, ``tolerance``,
        ``check_passed``, ``seconds`` (median per call) and ``peak_mb`` (10^6
        bytes). A variant that failed a check gets no time and no memory, and a
        status that says why: a wrong result is not a fast result.
    """
    if isinstance(check, Check):
        checks = [check]
    elif isinstance(check, Sequence) and not isinstance(check, str):
        checks = list(check)
    else:
        checks = []
    if not checks or not all(isinstance(c, Check) for c in checks):
        raise TypeError(f"check must be a Check or a non-empty sequence of Checks, got {check!r}")
    worst = max(checks, key=lambda c: c.error / c.tolerance if math.isfinite(c.error) else math.inf)
    passed = all(c.passed for c in checks)
    row = {
        **case,
        "check_error": worst.error,
        "tolerance": worst.tolerance,
        "check_passed": passed,
        "seconds": None,
        "peak_mb": None,
    }
    if not passed:
        row["status"] = (
            f"refused: failed the fp64 check (error {worst.error:.1e} >= {worst.tolerance:.0e})"
        )
        return row
    row["seconds"] = time_callable(fn, *args, min_run_time=min_run_time, num_threads=num_threads)
    if memory:
        row["peak_mb"] = peak_memory_bytes(fn, *args) / 1e6
    row["status"] = STATUS_OK
    return row


def skipped_row(case: Row, reason: str) -> Row:
    """A row for a variant that was not run, with ``status`` ``"skipped: <reason>"``."""
    if not isinstance(reason, str) or not reason:
        raise ValueError(f"reason must be a non-empty string, got {reason!r}")
    return {
        **case,
        "check_error": None,
        "tolerance": None,
        "check_passed": None,
        "seconds": None,
        "peak_mb": None,
        "status": f"skipped: {reason}",
    }


def fit_exponent(sizes: Sequence[float], values: Sequence[float]) -> float:
    """Slope ``p`` of the least-squares line through ``(log size, log value)``.

    If ``value ~ c * size ** p``, this returns ``p``: about 2 for a cost that is
    quadratic in the number of tokens, about 1 for a linear one.
    """
    if len(sizes) != len(values):
        raise ValueError(
            f"sizes and values must have the same length, got {len(sizes)} and {len(values)}"
        )
    if len(sizes) < 2 or len(set(sizes)) < 2:
        raise ValueError(f"need at least two different sizes to fit a slope, got {list(sizes)}")
    for name, seq in (("sizes", sizes), ("values", values)):
        if any(not (isinstance(v, int | float) and v > 0 and math.isfinite(v)) for v in seq):
            raise ValueError(f"{name} must be positive finite numbers, got {list(seq)}")
    xs = [math.log(s) for s in sizes]
    ys = [math.log(v) for v in values]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)


def run_info(device: torch.device | str) -> Row:
    """Where and when a benchmark ran: columns added to every row of a results file.

    Keys: ``device`` (``cpu`` / ``cuda``), ``device_name`` (GPU or CPU model),
    ``torch``, ``timm``, ``torchvision`` (versions, ``"-"`` when not installed),
    ``threads`` (CPU threads of PyTorch) and ``date`` (UTC, ISO 8601).
    """
    device = torch.device(device)
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
    else:
        name = _cpu_name()
    versions = {}
    for package in ("timm", "torchvision"):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = "-"
    return {
        "device": device.type,
        "device_name": name,
        "torch": torch.__version__,
        **versions,
        "threads": torch.get_num_threads(),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%MZ"),
    }


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for text in info:
                if text.startswith("model name"):
                    return text.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "cpu"


def write_csv(rows: Sequence[Row], path: str | os.PathLike) -> None:
    """Write ``rows`` to ``path`` (parent folders created); columns in first-seen order."""
    if not rows:
        raise ValueError("rows must not be empty: there is nothing to write")
    columns: list[str] = []
    for row in rows:
        columns += [key for key in row if key not in columns]
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({key: "" if row.get(key) is None else row[key] for key in columns})


def _parse_cell(text: str) -> object:
    if text == "":
        return None
    if text in ("True", "False"):
        return text == "True"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def read_csv(path: str | os.PathLike) -> list[Row]:
    """Rows written by :func:`write_csv`, with numbers, booleans and ``None`` restored."""
    with pathlib.Path(path).open(newline="", encoding="utf-8") as handle:
        return [
            {key: _parse_cell(value) for key, value in row.items()}
            for row in csv.DictReader(handle)
        ]


def growth_exponents(
    rows: Sequence[Row],
    size: str = "tokens",
    values: Mapping[str, str] | None = None,
    group: str = "variant",
) -> list[Row]:
    """Fitted growth exponent of each group's measured values against ``size``.

    Only rows with status ``"ok"`` count; a group needs two different sizes.

    Args:
        rows: measurement rows.
        size: the column to fit against (the number of tokens).
        values: output name -> column, default
            ``{"time_exponent": "seconds", "memory_exponent": "peak_mb", "macs_exponent": "macs"}``
            (a column absent from the rows is left out).
        group: the column whose values name the lines (one fit each).

    Returns:
        One row per group: ``group``, ``points`` and each exponent (``None``
        where fewer than two points were measured).
    """
    if values is None:
        values = {"time_exponent": "seconds", "memory_exponent": "peak_mb", "macs_exponent": "macs"}
    names: list[object] = []
    for row in rows:
        if row.get(group) not in names:
            names.append(row.get(group))
    out = []
    for name in names:
        ok = [r for r in rows if r.get(group) == name and r.get("status") == STATUS_OK]
        fitted: Row = {group: name, "points": len(ok)}
        for label, column in values.items():
            points = [
                (r[size], r[column]) for r in ok if r.get(column) is not None and r[column] > 0
            ]
            if not any(column in r for r in rows):
                continue
            sizes = [p[0] for p in points]
            fitted[label] = (
                fit_exponent(sizes, [p[1] for p in points]) if len(set(sizes)) >= 2 else None
            )
        out.append(fitted)
    return out


def find_row(rows: Sequence[Row], **where: object) -> Row | None:
    """The first row whose columns equal every ``where`` item, or ``None``."""
    for row in rows:
        if all(row.get(key) == value for key, value in where.items()):
            return row
    return None
