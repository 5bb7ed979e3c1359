"""The book's one plain-text table: benchmark rows, grades, any list of dicts.

Used in chapter 11 and by the benchmark scripts and the grader.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence


def _format_value(value: object, spec: str | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if spec is not None and isinstance(value, int | float) and not isinstance(value, bool):
        return format(value, spec)
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def format_table(
    rows: Sequence[Mapping[str, object]],
    columns: Sequence[str],
    formats: Mapping[str, str] | None = None,
    title: str | None = None,
) -> str:
    """A fixed-width text table of ``rows``, one line per row, for a terminal or a notebook.

    Args:
        rows: the rows; a missing or ``None`` value prints as ``-``.
        columns: the keys to show, in order (also the header).
        formats: format specs by column, e.g. ``{"seconds": ".2e"}``; floats
            without one print with 3 significant digits.
        title: a line printed above the table.
    """
    if isinstance(columns, str) or not columns:
        raise ValueError(f"columns must be a non-empty sequence of column names, got {columns!r}")
    formats = dict(formats or {})
    cells = [[_format_value(row.get(col), formats.get(col)) for col in columns] for row in rows]
    widths = [max([len(col)] + [len(line[i]) for line in cells]) for i, col in enumerate(columns)]

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)).rstrip()

    out = [title] if title else []
    out += [line(columns), line(["-" * w for w in widths])]
    out += [line(values) for values in cells]
    return "\n".join(out)
