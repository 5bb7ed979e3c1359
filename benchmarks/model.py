"""Model: Swin-T inference and training-step throughput, this package against timm and torchvision.

The same architecture with the same weights, batch, dtype and device, in one
process: this package (fused SDPA and explicit), timm's
swin_tiny_patch4_window7_224 with its default explicit attention and with the
fused path that timm enables for Swin only at TIMM_FUSED_ATTN=2, and
torchvision's swin_t. Inference is a forward pass without gradients; a
training step is forward, cross-entropy and backward. Each model is checked
against timm's explicit model in fp64 (logits, and the gradient with respect to
the images) before it is timed. Model FLOP utilisation is measured against a
large matmul in the same dtype on the same device.

    python benchmarks/model.py --quick --device cpu --out /tmp/model.csv
    python benchmarks/model.py --device cuda --dtype bf16 --batch 128 --compile
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import common

from swin_tutorial import cli, perf


def best(rows: list[perf.Row], implementation: str, mode: str) -> perf.Row | None:
    """The fastest checked row of a library in a mode (any attention path, compiled or not)."""
    ok = [
        r
        for r in rows
        if r["implementation"] == implementation and r["mode"] == mode and r["status"] == "ok"
    ]
    return max(ok, key=lambda r: r["images_per_s"], default=None)


def targets(rows: list[perf.Row]) -> list[perf.Row]:
    """Package throughput over timm's, per mode: >= 1 required, >= 1.2 the goal."""
    out = []
    for mode in perf.MODEL_MODES:
        pairs = [
            (
                perf.find_row(rows, variant="package/sdpa", mode=mode, status="ok"),
                perf.find_row(rows, variant=name, mode=mode, status="ok"),
                name,
            )
            for name in ("timm/explicit", "timm/sdpa")
        ]
        pairs.append((best(rows, "package", mode), best(rows, "timm", mode), "best timm"))
        for ours, theirs, name in pairs:
            ratio = ours["images_per_s"] / theirs["images_per_s"] if ours and theirs else None
            label = "best package" if name == "best timm" else "package/sdpa"
            if ours and theirs and name == "best timm":
                label, name = (
                    f"best package ({ours['variant']})",
                    f"best timm ({theirs['variant']})",
                )
            out.append(
                {
                    "target": f"{mode}: {label} / {name}",
                    "measured": None if ratio is None else f"{ratio:.2f}x",
                    "goal": ">= 1 (goal 1.2)",
                    "verdict": common.verdict(None if ratio is None else ratio >= 1.0),
                }
            )
    return out


def main(argv: Sequence[str] | None = None) -> int:
    p = common.parser("model", __doc__.split("\n\n")[0], perf.MODEL_VARIANTS)
    p.add_argument(
        "--config",
        choices=tuple(perf.MODEL_CONFIGS),
        default=None,
        help="architecture: swin_t (224x224), or nano (32x32, 2 stages; the --quick default)",
    )
    p.add_argument(
        "--modes",
        nargs="+",
        choices=perf.MODEL_MODES,
        default=perf.MODEL_MODES,
        help="inference (forward, no gradients) and/or train (forward + backward)",
    )
    p.add_argument(
        "--rounds",
        type=cli.positive_int("rounds"),
        default=3,
        help="time the models in turns, this many each, and keep the median turn "
        "(so that a drift of the machine's speed does not favour one library; default 3)",
    )
    args = p.parse_args(argv)
    common.resolve(args, p, {"cpu": 8, "cuda": 128, "quick": 2})
    config = args.config or ("nano" if args.quick else "swin_t")
    rows = perf.run_model(
        config,
        args.device,
        perf.dtype_from_name(args.dtype),
        args.batch,
        modes=args.modes,
        rounds=args.rounds,
        **common.suite_options(args),
    )
    columns = ["variant", "mode", "status", "check_error", "images_per_s", "peak_mb", "mfu"]
    formats = {"images_per_s": ".1f", "peak_mb": ".0f", "check_error": ".1e", "mfu": ".1%"}
    size = perf.MODEL_CONFIGS[config].img_size
    title = f"Swin ({config}, {size}x{size}), batch {args.batch}, {args.dtype}"
    rate = rows[0]["matmul_tflops"]
    common.finish(
        args,
        rows,
        columns,
        formats,
        title,
        lambda rows: (
            f"mfu: model FLOP/s over a measured {args.dtype} matmul rate of {rate:.3g} TFLOP/s\n\n"
            + common.targets_table(targets(rows))
        ),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
