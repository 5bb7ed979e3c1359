"""Performance: the timing and memory harness, rows and CSV files, and the benchmark suites.

Every variant is compared with a float64 reference before it is timed; a
wrong result gets a ``refused`` row and no time. ``benchmarks/*.py`` and
chapter 11 call :func:`run_scaling`, :func:`run_kernel` and :func:`run_model`.
"""

from ..tables import format_table
from .kernel import KERNEL_VARIANTS, FlexWindowAttention, KernelModules, run_kernel
from .memory import COPY_OPERATORS, StorageCounter, operator_counts, peak_memory_bytes
from .models import (
    MODEL_CONFIGS,
    MODEL_MODES,
    MODEL_VARIANTS,
    matmul_flops_per_second,
    run_model,
    swin_models,
)
from .references import (
    PairRule,
    attention_reference,
    global_pairs,
    neighborhood_pairs,
    window_pairs,
)
from .rows import (
    DTYPES,
    STATUS_OK,
    Check,
    Precision,
    Row,
    check_close,
    dtype_from_name,
    dtype_name,
    find_row,
    fit_exponent,
    growth_exponents,
    measured_row,
    read_csv,
    relative_error,
    run_info,
    skipped_row,
    tolerance,
    write_csv,
)
from .scaling import SCALING_VARIANTS, ScalingLayers, run_scaling
from .suite import TimmFusedAttention
from .timing import time_callable

__all__ = [
    "COPY_OPERATORS",
    "DTYPES",
    "KERNEL_VARIANTS",
    "MODEL_CONFIGS",
    "MODEL_MODES",
    "MODEL_VARIANTS",
    "SCALING_VARIANTS",
    "STATUS_OK",
    "Check",
    "FlexWindowAttention",
    "KernelModules",
    "PairRule",
    "Precision",
    "Row",
    "ScalingLayers",
    "StorageCounter",
    "TimmFusedAttention",
    "attention_reference",
    "check_close",
    "dtype_from_name",
    "dtype_name",
    "find_row",
    "fit_exponent",
    "format_table",
    "global_pairs",
    "growth_exponents",
    "matmul_flops_per_second",
    "measured_row",
    "neighborhood_pairs",
    "operator_counts",
    "peak_memory_bytes",
    "read_csv",
    "relative_error",
    "run_info",
    "run_kernel",
    "run_model",
    "run_scaling",
    "skipped_row",
    "swin_models",
    "time_callable",
    "tolerance",
    "window_pairs",
    "write_csv",
]
