"""What the three benchmark scripts share: arguments, defaults per device, output.

The measuring is done by :mod:`swin_tutorial.perf` (so that the chapter on
performance runs the same code); a script reads its arguments, calls one
``run_*`` function, prints a table and writes a CSV file whose every row also
says where and when it was measured (:func:`swin_tutorial.perf.run_info`).

Results go to ``_build/benchmarks/`` (git-ignored) unless ``--out`` names a
file: the committed files under ``benchmarks/results/`` change only when asked.
"""

from __future__ import annotations

import argparse
import pathlib
from collections.abc import Callable, Sequence

import torch

from swin_tutorial import cli, perf
from swin_tutorial.devices import parse_device

ROOT = pathlib.Path(__file__).resolve().parents[1]
DEFAULT_DIR = ROOT / "_build" / "benchmarks"
"""Where a run without ``--out`` writes its CSV (git-ignored)."""


def parser(name: str, description: str, variants: Sequence[str]) -> argparse.ArgumentParser:
    """The arguments every script takes; ``name`` goes into the default output file."""
    p = argparse.ArgumentParser(
        prog=f"python benchmarks/{name}.py",
        description=description,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument(
        "--device",
        choices=("auto", "cpu", "cuda"),
        default="auto",
        help="where to run; auto: cuda if available, else cpu",
    )
    p.add_argument(
        "--dtype",
        choices=tuple(perf.DTYPES),
        default=None,
        help="precision: fp32, or bf16 autocast (default: bf16 on cuda, fp32 on cpu)",
    )
    p.add_argument(
        "--batch",
        type=cli.positive_int("batch"),
        default=None,
        help="images (maps) per timed call (default depends on the device and --quick)",
    )
    p.add_argument(
        "--out",
        type=cli.file_to_write("out"),
        default=None,
        help=f"CSV file to write (default: _build/benchmarks/{name}_<device>_<dtype>.csv; "
        "the committed results/ files change only when named here)",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="tiny sizes and short timings: a smoke test that takes seconds on a CPU",
    )
    p.add_argument(
        "--compile",
        action="store_true",
        help="also time every variant wrapped in torch.compile (slow to start on a CPU)",
    )
    p.add_argument(
        "--variants",
        nargs="+",
        choices=variants,
        default=None,
        metavar="VARIANT",
        help=f"which variants to run (default: all of {', '.join(variants)})",
    )
    p.add_argument(
        "--threads",
        type=cli.positive_int("threads"),
        default=1,
        help="CPU threads for PyTorch (one thread gives the most repeatable CPU numbers)",
    )
    p.add_argument(
        "--min-run-time",
        type=cli.positive_number("min_run_time"),
        default=None,
        help="seconds of measurement per variant (default 0.5, 0.02 with --quick)",
    )
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(benchmark=name)
    return p


def resolve(args: argparse.Namespace, p: argparse.ArgumentParser, batch: dict[str, int]) -> None:
    """Fill in device-dependent defaults; reject what this machine cannot do.

    ``batch`` holds the default batch by ``"cpu"``, ``"cuda"`` and ``"quick"``.
    """
    try:
        args.device = parse_device(args.device).type
    except ValueError as error:
        p.error(f"argument --device: {error}")
    if args.dtype is None:
        args.dtype = "bf16" if args.device == "cuda" else "fp32"
    if args.batch is None:
        args.batch = batch["quick" if args.quick else args.device]
    if args.min_run_time is None:
        args.min_run_time = 0.02 if args.quick else 0.5
    if args.out is None:
        args.out = DEFAULT_DIR / f"{args.benchmark}_{args.device}_{args.dtype}.csv"
    torch.set_num_threads(args.threads)


def suite_options(args: argparse.Namespace) -> dict[str, object]:
    """The keyword arguments every ``perf.run_*`` suite takes, from the parsed arguments."""
    return {
        "variants": args.variants,
        "compile": args.compile,
        "min_run_time": args.min_run_time,
        "progress": not args.no_progress,
    }


def finish(
    args: argparse.Namespace,
    rows: list[perf.Row],
    columns: Sequence[str],
    formats: dict[str, str],
    title: str,
    extra: Callable[[list[perf.Row]], str] | None = None,
) -> None:
    """Add where/when to every row, print the table (and ``extra``), write the CSV."""
    info = perf.run_info(args.device)
    rows[:] = [{**row, **info} for row in rows]
    print(
        f"{title} on {info['device_name']} ({args.device}), torch {info['torch']}, "
        f"timm {info['timm']}, torchvision {info['torchvision']}, {info['threads']} CPU threads, "
        f"{info['date']}"
    )
    print(perf.format_table(rows, columns, formats))
    refused = [row["variant"] for row in rows if str(row["status"]).startswith("refused")]
    if refused:
        print(
            f"\nNo time printed for {', '.join(sorted(set(refused)))}: "
            "their results differ from the fp64 reference."
        )
    if extra is not None:
        print()
        print(extra(rows))
    perf.write_csv(rows, args.out)
    print(f"\nwrote {len(rows)} rows to {args.out}")


def targets_table(targets: list[perf.Row]) -> str:
    """Print the issue's targets: what was measured, the goal, met or not."""
    return perf.format_table(targets, ["target", "measured", "goal", "verdict"], title="Targets")


def verdict(met: bool | None) -> str:
    return "not measured" if met is None else ("met" if met else "NOT met")
