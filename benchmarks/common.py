"""What the three benchmark scripts share: arguments, defaults per device, output.

The measuring is done by :mod:`swin_tutorial.bench` (so that the chapter on
performance can run the same code); a script reads its arguments, calls one
``run_*`` function, prints a table and writes a CSV file whose every row also
says where and when it was measured (:func:`swin_tutorial.bench.run_info`).
"""

from __future__ import annotations

import argparse
import math
import pathlib
from collections.abc import Callable, Sequence

import torch

from swin_tutorial import bench

RESULTS = pathlib.Path(__file__).resolve().parent / "results"


def positive_int(text: str) -> int:
    """argparse type: an int >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


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
        choices=tuple(bench.DTYPES),
        default=None,
        help="precision: fp32, or bf16 autocast (default: bf16 on cuda, fp32 on cpu)",
    )
    p.add_argument(
        "--batch",
        type=positive_int,
        default=None,
        help="images (maps) per timed call (default depends on the device and --quick)",
    )
    p.add_argument(
        "--out",
        type=pathlib.Path,
        default=None,
        help=f"CSV file to write (default: benchmarks/results/{name}_<device>_<dtype>.csv)",
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
        type=positive_int,
        default=1,
        help="CPU threads for PyTorch (one thread gives the most repeatable CPU numbers)",
    )
    p.add_argument(
        "--min-run-time",
        type=positive_float,
        default=None,
        help="seconds of measurement per variant (default 0.5, 0.02 with --quick)",
    )
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    # test hook: make a variant's result wrong on purpose; its row must come out refused
    p.add_argument("--corrupt", nargs="+", choices=variants, default=(), help=argparse.SUPPRESS)
    p.set_defaults(benchmark=name)
    return p


def resolve(args: argparse.Namespace, p: argparse.ArgumentParser, batch: dict[str, int]) -> None:
    """Fill in device-dependent defaults; reject what this machine cannot do.

    ``batch`` holds the default batch by ``"cpu"``, ``"cuda"`` and ``"quick"``.
    """
    if args.device == "auto":
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    if args.device == "cuda" and not torch.cuda.is_available():
        p.error("--device cuda: no CUDA device is available (torch.cuda.is_available() is False)")
    if args.dtype is None:
        args.dtype = "bf16" if args.device == "cuda" else "fp32"
    if args.batch is None:
        args.batch = batch["quick" if args.quick else args.device]
    if args.min_run_time is None:
        args.min_run_time = 0.02 if args.quick else 0.5
    if args.out is None:
        args.out = RESULTS / f"{args.benchmark}_{args.device}_{args.dtype}.csv"
    torch.set_num_threads(args.threads)


def finish(
    args: argparse.Namespace,
    rows: list[bench.Row],
    columns: Sequence[str],
    formats: dict[str, str],
    title: str,
    extra: Callable[[list[bench.Row]], str] | None = None,
) -> None:
    """Add where/when to every row, print the table (and ``extra``), write the CSV."""
    info = bench.run_info(args.device)
    rows[:] = [{**row, **info} for row in rows]
    print(
        f"{title} on {info['device_name']} ({args.device}), torch {info['torch']}, "
        f"timm {info['timm']}, torchvision {info['torchvision']}, {info['threads']} CPU threads, "
        f"{info['date']}"
    )
    print(bench.format_table(rows, columns, formats))
    refused = [row["variant"] for row in rows if str(row["status"]).startswith("refused")]
    if refused:
        print(
            f"\nNo time printed for {', '.join(sorted(set(refused)))}: "
            "their results differ from the fp64 reference."
        )
    if extra is not None:
        print()
        print(extra(rows))
    bench.write_csv(rows, args.out)
    print(f"\nwrote {len(rows)} rows to {args.out}")


def targets_table(targets: list[bench.Row]) -> str:
    """Print the issue's targets: what was measured, the goal, met or not."""
    return bench.format_table(targets, ["target", "measured", "goal", "verdict"], title="Targets")


def verdict(met: bool | None) -> str:
    return "not measured" if met is None else ("met" if met else "NOT met")
