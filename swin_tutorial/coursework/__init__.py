"""Coursework: the exercise checkers, the release and the grading command.

A chapter's graded test cell calls ``fresh_checkers().check_window_partition(fn)
.require()`` (a copy of the checkers loaded anew, see :mod:`.fresh`); a reader
may also call ``from swin_tutorial.coursework import check_shift_mask`` directly.
``python -m swin_tutorial.coursework release|grade|feedback`` is for instructors.
"""

from .checkers import (
    check_attention_flops,
    check_effective_receptive_field,
    check_log_spaced_coordinates,
    check_merge_order,
    check_neighborhood_attention,
    check_relative_position_index,
    check_shift_mask,
    check_sliding_window_1d,
    check_window_attention,
    check_window_partition,
    check_window_reverse,
)
from .fresh import fresh_checkers
from .harness import CheckResult, ExerciseFailed, check_value

__all__ = [
    "CheckResult",
    "ExerciseFailed",
    "check_value",
    "fresh_checkers",
    "check_attention_flops",
    "check_effective_receptive_field",
    "check_log_spaced_coordinates",
    "check_merge_order",
    "check_neighborhood_attention",
    "check_relative_position_index",
    "check_shift_mask",
    "check_sliding_window_1d",
    "check_window_attention",
    "check_window_partition",
    "check_window_reverse",
]
