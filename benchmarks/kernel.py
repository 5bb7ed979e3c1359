"""Kernel: the window-attention module alone, the package's three paths against timm's two.

On the shifted windows of a 56 x 56 map (C = 96, 3 heads, window 7, shift 3):
the package's explicit softmax, its fused SDPA path, FlexAttention with the
relative position bias as a score modifier and the shift mask as a block mask,
and timm's WindowAttention with its explicit and its fused path. Every variant
is checked against the fp64 shifted-window reference before it is timed.

    python benchmarks/kernel.py --quick --device cpu --out /tmp/kernel.csv
    python benchmarks/kernel.py --device cuda --dtype bf16 --batch 128
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import common

from swin_tutorial import cli, perf

BASELINE = "timm/explicit"


def relative_to_baseline(rows: list[perf.Row]) -> None:
    """Add ``speedup``: the baseline's time over each row's (same compile state)."""
    for row in rows:
        base = perf.find_row(
            rows, variant=BASELINE + ("+compile" if row["compiled"] else ""), status="ok"
        )
        row["speedup"] = base["seconds"] / row["seconds"] if base and row["seconds"] else None


def main(argv: Sequence[str] | None = None) -> int:
    p = common.parser("kernel", __doc__.split("\n\n")[0], perf.KERNEL_VARIANTS)
    p.add_argument(
        "--side",
        type=cli.positive_int("side"),
        default=None,
        help="side of the map, a multiple of 7 (default 56; 14 with --quick)",
    )
    p.add_argument(
        "--flex-on-cpu",
        action="store_true",
        help="run FlexAttention on a CPU too (unfused there, slow to start)",
    )
    args = p.parse_args(argv)
    common.resolve(args, p, {"cpu": 8, "cuda": 128, "quick": 2})
    side = args.side or (14 if args.quick else 56)
    if side % 7:
        p.error(f"--side must be a multiple of the window size 7, got {side}")
    rows = perf.run_kernel(
        side,
        args.device,
        perf.dtype_from_name(args.dtype),
        args.batch,
        flex_on_cpu=args.flex_on_cpu,
        **common.suite_options(args),
    )
    relative_to_baseline(rows)
    columns = ["variant", "windows", "status", "check_error", "seconds", "peak_mb", "speedup"]
    formats = {"seconds": ".3e", "peak_mb": ".2f", "check_error": ".1e", "speedup": ".2f"}
    common.finish(
        args, rows, columns, formats, f"Window-attention kernel, {side}x{side} map, shift 3"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
