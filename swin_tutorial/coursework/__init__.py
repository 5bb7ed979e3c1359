"""Coursework: the exercise checkers and the grading command.

``from swin_tutorial.coursework import check_shift_mask`` in a chapter's check
cell; ``python -m swin_tutorial.coursework grade SUBMISSIONS_DIR`` for an
instructor (see :mod:`swin_tutorial.coursework.grading`).
"""

from .checkers import (
    check_attention_flops,
    check_effective_receptive_field,
    check_log_spaced_coordinates,
    check_neighborhood_attention,
    check_relative_position_index,
    check_shift_mask,
    check_sliding_window_1d,
    check_window_attention,
    check_window_partition,
    check_window_reverse,
)
from .fresh import fresh_checkers
from .harness import GRADE_LOG_VARIABLE, CheckResult, ExerciseFailed, check_value

__all__ = [
    "GRADE_LOG_VARIABLE",
    "CheckResult",
    "ExerciseFailed",
    "check_value",
    "fresh_checkers",
    "check_attention_flops",
    "check_effective_receptive_field",
    "check_log_spaced_coordinates",
    "check_neighborhood_attention",
    "check_relative_position_index",
    "check_shift_mask",
    "check_sliding_window_1d",
    "check_window_attention",
    "check_window_partition",
    "check_window_reverse",
]
