"""The benchmark scripts run end to end on the CPU in --quick mode.

Each script is run as a reader would run it (a subprocess, `python
benchmarks/x.py --quick --device cpu --out FILE`); the CSV it writes must hold
every expected row, each timed row must have passed its fp64 check, and a
deliberately wrong variant (the hidden `--corrupt` test hook) must come out
refused, with no time in the file or in the printed table.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from swin_tutorial import bench, bench_suites

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "benchmarks"

pytest.importorskip("timm")
pytest.importorskip("torchvision")


def _run(script: str, tmp_path: Path, *extra: str) -> tuple[list[dict], str]:
    out = tmp_path / f"{script}.csv"
    command = [
        sys.executable,
        str(SCRIPTS / f"{script}.py"),
        "--quick",
        "--device",
        "cpu",
        "--out",
        str(out),
        "--no-progress",
        *extra,
    ]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    return bench.read_csv(out), done.stdout


def _assert_checked(rows: list[dict]) -> None:
    for row in rows:
        if str(row["status"]).startswith("skipped"):
            assert row["seconds"] is None and row["check_passed"] is None
            continue
        assert row["status"] == "ok", row
        assert row["check_passed"] is True
        assert 0 <= row["check_error"] < row["tolerance"] == 1e-5
        assert row["seconds"] > 0 and row["peak_mb"] > 0
    for column in ("device_name", "torch", "timm", "torchvision", "date"):
        assert all(row[column] for row in rows), column


def test_scaling_quick(tmp_path):
    rows, stdout = _run("scaling", tmp_path)
    assert {(r["variant"], r["side"]) for r in rows} == {
        (v, s) for v in bench_suites.SCALING_VARIANTS for s in (14, 21, 28)
    }
    assert len(rows) == 3 * len(bench_suites.SCALING_VARIANTS)
    _assert_checked(rows)
    flex = [r for r in rows if r["backend"] == "flex"]
    assert all(r["status"].startswith("skipped: FlexAttention is fused only on CUDA") for r in flex)
    assert sum(r["status"] == "ok" for r in rows) == 15
    for heading in ("Growth exponents", "Targets", "time_exponent", "window/sdpa: memory linear"):
        assert heading in stdout
    # memory is exact on the CPU: window attention's grows linearly, written-out global's faster
    fits = {r["variant"]: r for r in bench.growth_exponents(rows)}
    assert 0.9 <= fits["window/explicit"]["memory_exponent"] <= 1.1
    assert fits["global/explicit"]["memory_exponent"] >= 1.7


def test_kernel_quick(tmp_path):
    rows, stdout = _run("kernel", tmp_path)
    assert [r["variant"] for r in rows] == list(bench_suites.KERNEL_VARIANTS)
    _assert_checked(rows)
    assert all(r["windows"] == 2 * 4 and r["side"] == 14 for r in rows)
    assert bench.find_row(rows, variant="timm/explicit")["speedup"] == pytest.approx(1.0)
    assert "package/sdpa" in stdout and "wrote 5 rows" in stdout


def test_model_quick(tmp_path):
    rows, stdout = _run("model", tmp_path)
    assert {(r["variant"], r["mode"]) for r in rows} == {
        (v, m) for v in bench_suites.MODEL_VARIANTS for m in bench_suites.MODEL_MODES
    }
    _assert_checked(rows)
    for row in rows:
        assert row["config"] == "nano" and row["batch"] == 2
        assert row["images_per_s"] == pytest.approx(2 / row["seconds"])
        assert row["mfu"] > 0 and row["matmul_tflops"] > 0
        assert row["rounds"] == 3  # the script's default: models timed in turns
    train = bench.find_row(rows, variant="package/sdpa", mode="train")
    inference = bench.find_row(rows, variant="package/sdpa", mode="inference")
    assert train["gflop_per_image"] == pytest.approx(3 * inference["gflop_per_image"])
    assert "Targets" in stdout and "inference: package/sdpa / timm/explicit" in stdout


def test_a_wrong_variant_gets_no_time(tmp_path, capsys):
    import torch

    out = tmp_path / "wrong.csv"
    argv = [
        "--quick",
        "--device",
        "cpu",
        "--out",
        str(out),
        "--no-progress",
        "--sides",
        "14",
        "--variants",
        "window/sdpa",
        "global/sdpa",
        "--corrupt",
        "window/sdpa",
        "--threads",
        str(torch.get_num_threads()),
    ]
    assert _load("scaling").main(argv) == 0  # in this process: the same code, no second start-up
    rows, stdout = bench.read_csv(out), capsys.readouterr().out
    wrong = bench.find_row(rows, variant="window/sdpa")
    assert wrong["status"].startswith("refused: failed the fp64 check")
    assert wrong["check_passed"] is False and wrong["seconds"] is None and wrong["peak_mb"] is None
    assert bench.find_row(rows, variant="global/sdpa")["status"] == "ok"
    header = next(text for text in stdout.splitlines() if text.startswith("variant "))
    line = next(text for text in stdout.splitlines() if text.startswith("window/sdpa "))
    assert "refused" in line
    assert line[header.index("seconds")] == "-" and line[header.index("peak_mb")] == "-"
    assert "No time printed for window/sdpa" in stdout


def _load(script: str):
    sys.path.insert(0, str(SCRIPTS))
    try:
        spec = importlib.util.spec_from_file_location(
            f"benchmark_{script}", SCRIPTS / f"{script}.py"
        )
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(SCRIPTS))
    return module


@pytest.mark.parametrize(
    "script, argv, message",
    [
        ("scaling", ["--dtype", "fp16"], "argument --dtype: invalid choice: 'fp16'"),
        ("scaling", ["--batch", "0"], "argument --batch: expected a positive integer, got 0"),
        (
            "scaling",
            ["--sides", "14", "15", "--device", "cpu"],
            "--sides must be multiples of the window size 7, got [15]",
        ),
        (
            "kernel",
            ["--side", "20", "--device", "cpu"],
            "--side must be a multiple of the window size 7, got 20",
        ),
        (
            "kernel",
            ["--min-run-time", "-1"],
            "argument --min-run-time: expected a positive number, got '-1'",
        ),
        ("model", ["--config", "swin_b"], "argument --config: invalid choice: 'swin_b'"),
        (
            "model",
            ["--variants", "timm/flash"],
            "argument --variants: invalid choice: 'timm/flash'",
        ),
    ],
)
def test_bad_arguments_are_refused_clearly(script, argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        _load(script).main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_cuda_without_a_gpu_is_refused(capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(SystemExit):
        _load("model").main(["--device", "cuda"])
    assert "--device cuda: no CUDA device is available" in capsys.readouterr().err


def test_default_output_path_names_benchmark_device_and_dtype():
    import torch

    scaling = _load("scaling")
    p = scaling.common.parser("scaling", "", bench_suites.SCALING_VARIANTS)
    args = p.parse_args(["--device", "cpu", "--threads", str(torch.get_num_threads())])
    scaling.common.resolve(args, p, {"cpu": 1, "cuda": 8, "quick": 1})
    assert args.out == SCRIPTS / "results" / "scaling_cpu_fp32.csv"
    assert (args.dtype, args.batch, args.min_run_time) == ("fp32", 1, 0.5)
