"""Precision, the fp64 gate, and measurement rows: made, fitted, written and read back.

A row is a dict, column name -> value; a variant is timed only if its result
passed the comparison with a float64 reference. Used in chapter 11.
"""

from __future__ import annotations

import csv
import datetime
import importlib.metadata
import math
import os
import pathlib
import platform
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from .._checks import check_choice
from .memory import peak_memory_bytes
from .timing import time_callable

Row = dict[str, Any]
"""One measurement: column name -> value (``None`` where nothing was measured)."""

STATUS_OK = "ok"

DTYPES: dict[str, torch.dtype] = {"fp32": torch.float32, "bf16": torch.bfloat16}
"""Precisions the benchmarks run in, by command-line name."""

TOLERANCES: dict[torch.dtype, float] = {torch.float32: 1e-5, torch.bfloat16: 1e-2}
"""Largest relative error against the fp64 reference a result in each dtype may have."""


def dtype_from_name(name: str) -> torch.dtype:
    """``"fp32"`` -> ``torch.float32``, ``"bf16"`` -> ``torch.bfloat16``."""
    return DTYPES[check_choice("dtype", name, DTYPES)]


def dtype_name(dtype: torch.dtype) -> str:
    """The command-line name of ``dtype`` (inverse of :func:`dtype_from_name`)."""
    names = {known: name for name, known in DTYPES.items()}
    return names[check_choice("dtype", dtype, names)]


def tolerance(dtype: torch.dtype) -> float:
    """1e-5 for float32 (a few hundred roundings), 1e-2 for bfloat16 (8 significant bits)."""
    return TOLERANCES[check_choice("dtype", dtype, TOLERANCES)]


class Precision:
    """Context manager: run the enclosed code in ``dtype`` on ``device``.

    ``float32``: autocast off (also inside an autocast region) and, on CUDA,
    TF32 off. ``bfloat16``: :func:`torch.autocast` to bfloat16.
    """

    def __init__(self, device: torch.device | str, dtype: torch.dtype) -> None:
        tolerance(dtype)  # validates the dtype
        self.device = torch.device(device)
        self.dtype = dtype
        self._saved: tuple[bool, bool] | None = None
        self._autocast: torch.autocast | None = None

    def __enter__(self) -> Precision:
        if self.dtype == torch.bfloat16:
            self._autocast = torch.autocast(self.device.type, dtype=torch.bfloat16)
        else:
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
    """``||actual - expected|| / ||expected||`` (Frobenius), in float64; ``inf`` if not finite.

    Same shape; ``actual`` may be on another device or in another dtype.
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
    """A result compared with its fp64 reference: ``passed`` iff ``error < tolerance``."""

    error: float
    tolerance: float

    @property
    def passed(self) -> bool:
        return math.isfinite(self.error) and self.error < self.tolerance


def check_close(actual: torch.Tensor, expected: torch.Tensor, dtype: torch.dtype) -> Check:
    """Compare ``actual`` (computed in ``dtype``) with the float64 ``expected``. Chapter 11."""
    return Check(relative_error(actual, expected), tolerance(dtype))


def _as_checks(check: Check | Sequence[Check]) -> list[Check]:
    checks = [check] if isinstance(check, Check) else check
    if (
        isinstance(checks, str)
        or not isinstance(checks, Sequence)
        or not checks
        or not all(isinstance(c, Check) for c in checks)
    ):
        raise TypeError(f"check must be a Check or a non-empty sequence of Checks, got {check!r}")
    return list(checks)


def measured_row(
    case: Row,
    check: Check | Sequence[Check],
    fn: Callable[..., object],
    *args: object,
    min_run_time: float = 0.2,
    num_threads: int | None = None,
    memory: bool = True,
) -> Row:
    """``case`` plus the check and, only if every check passed, the time and peak memory.

    Adds ``check_error`` and ``tolerance`` (of the worst check), ``check_passed``,
    ``seconds`` (:func:`time_callable` of ``fn(*args)``), ``peak_mb`` (10^6 bytes,
    if ``memory``) and ``status``: ``"ok"``, or ``"refused: ..."`` with no time
    and no memory. Used in chapter 11.
    """
    checks = _as_checks(check)
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
    """``case`` for a variant that was not run: ``status`` ``"skipped: <reason>"``, no numbers."""
    if not isinstance(reason, str) or not reason:
        raise ValueError(f"reason must be a non-empty string, got reason={reason!r}")
    return {
        **case,
        "check_error": None,
        "tolerance": None,
        "check_passed": None,
        "seconds": None,
        "peak_mb": None,
        "status": f"skipped: {reason}",
    }


def find_row(rows: Sequence[Row], **where: object) -> Row | None:
    """The first row whose columns equal every ``where`` item, or ``None``. Chapter 11."""
    for row in rows:
        if all(row.get(key) == value for key, value in where.items()):
            return row
    return None


def fit_exponent(sizes: Sequence[float], values: Sequence[float]) -> float:
    """Slope ``p`` of the least-squares line through ``(log size, log value)``."""
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
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    return slope / sum((x - mx) ** 2 for x in xs)


DEFAULT_EXPONENTS = {
    "time_exponent": "seconds",
    "memory_exponent": "peak_mb",
    "macs_exponent": "macs",
}


def growth_exponents(
    rows: Sequence[Row],
    size: str = "tokens",
    values: Mapping[str, str] | None = None,
    group: str = "variant",
) -> list[Row]:
    """Fitted growth exponent of each group's ``"ok"`` rows against the ``size`` column.

    ``values`` maps an output name to a column (default :data:`DEFAULT_EXPONENTS`;
    columns absent from ``rows`` are left out). One row per group: ``group``,
    ``points`` and each exponent (``None`` with fewer than two sizes). Chapter 11.
    """
    values = DEFAULT_EXPONENTS if values is None else values
    names = list(dict.fromkeys(row.get(group) for row in rows))
    present = [label for label, column in values.items() if any(column in r for r in rows)]
    out = []
    for name in names:
        ok = [r for r in rows if r.get(group) == name and r.get("status") == STATUS_OK]
        fitted: Row = {group: name, "points": len(ok)}
        for label in present:
            column = values[label]
            points = [(r[size], r[column]) for r in ok if (r.get(column) or 0) > 0]
            sizes = [s for s, _ in points]
            fitted[label] = (
                fit_exponent(sizes, [v for _, v in points]) if len(set(sizes)) >= 2 else None
            )
        out.append(fitted)
    return out


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for text in info:
                if text.startswith("model name"):
                    return text.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "cpu"


def run_info(device: torch.device | str) -> Row:
    """Where and when a benchmark ran: the columns added to every row of a results file.

    ``device``, ``device_name``, ``torch``, ``timm``, ``torchvision`` (``"-"`` when
    not installed), ``threads`` and ``date`` (UTC, ISO 8601). Chapter 11.
    """
    device = torch.device(device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else _cpu_name()
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


def write_csv(rows: Sequence[Row], path: str | os.PathLike) -> None:
    """Write ``rows`` to ``path`` (parent folders created); columns in first-seen order."""
    if not rows:
        raise ValueError("rows must not be empty: there is nothing to write")
    columns = list(dict.fromkeys(key for row in rows for key in row))
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
    """Rows written by :func:`write_csv`, numbers, booleans and ``None`` restored. Chapter 11."""
    with pathlib.Path(path).open(newline="", encoding="utf-8") as handle:
        return [
            {key: _parse_cell(value) for key, value in row.items()}
            for row in csv.DictReader(handle)
        ]
