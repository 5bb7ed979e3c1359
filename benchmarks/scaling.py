"""Scaling: time and peak memory of attention layers against the size of the feature map.

Global attention (explicit, fused SDPA), window attention (explicit, SDPA) and
neighbourhood attention (dense masked, FlexAttention), C = 96, 3 heads, window
and kernel 7, on square maps from 14 x 14 up to the largest that fits. Every
variant is checked against an fp64 reference at every size before it is
timed. Prints the table, the fitted growth exponents in the number of tokens,
and the targets of the performance issue.

    python benchmarks/scaling.py --quick --device cpu --out /tmp/scaling.csv
    python benchmarks/scaling.py --device cuda --dtype bf16
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import common

from swin_tutorial import cli, perf

SIDES = {"quick": (14, 21, 28), "cpu": (14, 28, 42, 56), "cuda": (14, 28, 56, 84, 112, 168, 224)}
TARGET_SIDE = 56


def targets(rows: list[perf.Row]) -> list[perf.Row]:
    """The issue's scaling targets, judged on this run's rows."""
    exponents = {row["variant"]: row for row in perf.growth_exponents(rows)}
    out = []
    for variant in ("window/explicit", "window/sdpa", "neighborhood/flex"):
        fitted = exponents.get(variant, {})
        for kind in ("time", "memory"):
            value = fitted.get(f"{kind}_exponent")
            out.append(
                {
                    "target": f"{variant}: {kind} linear in tokens",
                    "measured": None if value is None else f"exponent {value:.2f}",
                    "goal": "exponent <= 1.2",
                    "verdict": common.verdict(None if value is None else value <= 1.2),
                }
            )
    for backend in ("explicit", "sdpa"):
        slow = perf.find_row(rows, variant=f"global/{backend}", side=TARGET_SIDE, status="ok")
        fast = perf.find_row(rows, variant=f"window/{backend}", side=TARGET_SIDE, status="ok")
        met, measured, goal = None, None, f"FLOP ratio within 2x (side {TARGET_SIDE} not run)"
        if slow and fast:
            predicted = slow["macs"] / fast["macs"]
            ratio = slow["seconds"] / fast["seconds"]
            met = predicted / 2 <= ratio <= 2 * predicted
            measured = f"{ratio:.1f}x faster"
            goal = f"{predicted:.1f}x (FLOP formula) within 2x"
        out.append(
            {
                "target": f"window/{backend} vs global/{backend} at {TARGET_SIDE}x{TARGET_SIDE}",
                "measured": measured,
                "goal": goal,
                "verdict": common.verdict(met),
            }
        )
    dense = perf.find_row(rows, variant="neighborhood/dense", side=TARGET_SIDE, status="ok")
    flex = perf.find_row(rows, variant="neighborhood/flex", side=TARGET_SIDE, status="ok")
    met = None if not (dense and flex) else dense["seconds"] / flex["seconds"] >= 5
    out.append(
        {
            "target": f"neighborhood flex vs dense at {TARGET_SIDE}x{TARGET_SIDE}, kernel 7",
            "measured": None
            if met is None
            else f"{dense['seconds'] / flex['seconds']:.1f}x faster",
            "goal": ">= 5x",
            "verdict": common.verdict(met),
        }
    )
    return out


def summary(rows: list[perf.Row]) -> str:
    fits = perf.growth_exponents(rows)
    formats = {f"{k}_exponent": ".2f" for k in ("time", "memory", "macs")}
    table = perf.format_table(
        fits,
        ["variant", "points", "time_exponent", "memory_exponent", "macs_exponent"],
        formats,
        title="Growth exponents p (cost ~ tokens^p; macs: the FLOP formula over the same sizes)",
    )
    return table + "\n\n" + common.targets_table(targets(rows))


def main(argv: Sequence[str] | None = None) -> int:
    p = common.parser("scaling", __doc__.split("\n\n")[0], perf.SCALING_VARIANTS)
    p.add_argument(
        "--sides",
        type=cli.positive_int("sides"),
        nargs="+",
        default=None,
        help="map sides, multiples of 7 (default: 14 28 42 56 on cpu, up to 224 on cuda)",
    )
    p.add_argument(
        "--flex-on-cpu",
        action="store_true",
        help="run FlexAttention on a CPU too (unfused there: slow, quadratic memory)",
    )
    args = p.parse_args(argv)
    common.resolve(args, p, {"cpu": 1, "cuda": 8, "quick": 1})
    sides = args.sides or SIDES["quick" if args.quick else args.device]
    bad = [s for s in sides if s % 7]
    if bad:
        p.error(f"--sides must be multiples of the window size 7, got {bad}")
    rows = perf.run_scaling(
        sides,
        args.device,
        perf.dtype_from_name(args.dtype),
        args.batch,
        flex_on_cpu=args.flex_on_cpu,
        **common.suite_options(args),
    )
    columns = ["variant", "side", "tokens", "status", "check_error", "seconds", "peak_mb", "macs"]
    formats = {"seconds": ".3e", "peak_mb": ".2f", "check_error": ".1e", "macs": ".3g"}
    common.finish(args, rows, columns, formats, "Scaling", summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
