"""Auto-checkers for the exercises: run a student's function against the reference.

Each ``check_*`` function takes the student's function ``fn`` and
``trials=..., seed=None, verbose=True``; it runs fixed cases chosen so that each
classic bug shows, then ``trials`` random ones, compares with the package's
reference, prints a verdict (unless ``verbose=False``) and returns a
:class:`~swin_tutorial.coursework.harness.CheckResult`. A student's exception,
or any strange return value, is reported, never raised; the first failing
input is shown with expected versus received and a hint at the likely bug. A
function that is, or calls, the package's own answer fails (see
:mod:`~swin_tutorial.coursework.harness`).

This is the module :func:`~swin_tutorial.coursework.fresh.fresh_checkers`
returns: the graded test cells call ``fresh_checkers().check_*(...)`` and
``fresh_checkers().check_value(...)``.
"""

from __future__ import annotations

from .checks_attention import (
    check_neighborhood_attention,
    check_sliding_window_1d,
    check_window_attention,
)
from .checks_measures import check_attention_flops, check_effective_receptive_field
from .checks_position import check_log_spaced_coordinates, check_relative_position_index
from .checks_windows import (
    check_merge_order,
    check_shift_mask,
    check_window_partition,
    check_window_reverse,
)
from .harness import CheckResult, ExerciseFailed, check_value

__all__ = [
    "CheckResult",
    "ExerciseFailed",
    "check_attention_flops",
    "check_effective_receptive_field",
    "check_log_spaced_coordinates",
    "check_merge_order",
    "check_neighborhood_attention",
    "check_relative_position_index",
    "check_shift_mask",
    "check_sliding_window_1d",
    "check_value",
    "check_window_attention",
    "check_window_partition",
    "check_window_reverse",
]
