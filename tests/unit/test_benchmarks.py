"""The benchmark scripts: run end to end with --quick, bad arguments refused, results kept."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from swin_tutorial import perf

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "benchmarks"
RESULTS = SCRIPTS / "results"
DEFAULT_DIR = ROOT / "_build" / "benchmarks"

pytest.importorskip("timm")
pytest.importorskip("torchvision")


def _committed_results() -> tuple[dict[str, bytes], str | None]:
    """The files under benchmarks/results and their git status (``None`` outside a checkout)."""
    files = {path.name: path.read_bytes() for path in sorted(RESULTS.iterdir())}
    try:
        done = subprocess.run(
            ["git", "status", "--porcelain", "--", str(RESULTS)],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=60,
        )
    except FileNotFoundError:
        return files, None
    return files, done.stdout if done.returncode == 0 else None


def _run(script: str) -> tuple[list[dict], str]:
    """Run ``script`` with --quick and no --out: it writes under _build/benchmarks, not results/."""
    before, started = _committed_results(), time.time()
    command = [sys.executable, str(SCRIPTS / f"{script}.py"), "--quick", "--device", "cpu"]
    done = subprocess.run(
        [*command, "--no-progress"], capture_output=True, text=True, cwd=ROOT, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert _committed_results() == before  # the committed results are never overwritten
    wrote = re.search(r"^wrote (\d+) rows to (.+)$", done.stdout, re.MULTILINE)
    out = Path(wrote.group(2))
    assert out == DEFAULT_DIR / f"{script}_cpu_fp32.csv"
    assert out.stat().st_mtime >= started - 1  # written by this run
    rows = perf.read_csv(out)
    assert len(rows) == int(wrote.group(1))
    return rows, done.stdout


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


@pytest.mark.slow
def test_scaling_quick():
    rows, stdout = _run("scaling")
    assert {(r["variant"], r["side"]) for r in rows} == {
        (v, s) for v in perf.SCALING_VARIANTS for s in (14, 21, 28)
    }
    assert len(rows) == 3 * len(perf.SCALING_VARIANTS)
    _assert_checked(rows)
    flex = [r for r in rows if r["backend"] == "flex"]
    assert all(r["status"].startswith("skipped: FlexAttention is fused only on CUDA") for r in flex)
    assert sum(r["status"] == "ok" for r in rows) == 15
    for heading in ("Growth exponents", "Targets", "time_exponent", "window/sdpa: memory linear"):
        assert heading in stdout
    # memory is exact on the CPU: window attention's grows linearly, written-out global's faster
    fits = {r["variant"]: r for r in perf.growth_exponents(rows)}
    assert 0.9 <= fits["window/explicit"]["memory_exponent"] <= 1.1
    assert fits["global/explicit"]["memory_exponent"] >= 1.7


@pytest.mark.slow
def test_kernel_quick():
    rows, stdout = _run("kernel")
    assert [r["variant"] for r in rows] == list(perf.KERNEL_VARIANTS)
    _assert_checked(rows)
    assert all(r["windows"] == 2 * 4 and r["side"] == 14 for r in rows)
    assert perf.find_row(rows, variant="timm/explicit")["speedup"] == pytest.approx(1.0)
    assert "package/sdpa" in stdout and "wrote 5 rows" in stdout


@pytest.mark.slow
def test_model_quick():
    rows, stdout = _run("model")
    assert {(r["variant"], r["mode"]) for r in rows} == {
        (v, m) for v in perf.MODEL_VARIANTS for m in perf.MODEL_MODES
    }
    _assert_checked(rows)
    for row in rows:
        assert row["config"] == "nano" and row["batch"] == 2
        assert row["images_per_s"] == pytest.approx(2 / row["seconds"])
        assert row["mfu"] > 0 and row["matmul_tflops"] > 0
        assert row["rounds"] == 3  # the script's default: models timed in turns
    train = perf.find_row(rows, variant="package/sdpa", mode="train")
    inference = perf.find_row(rows, variant="package/sdpa", mode="inference")
    assert train["gflop_per_image"] == pytest.approx(3 * inference["gflop_per_image"])
    assert "Targets" in stdout and "inference: package/sdpa / timm/explicit" in stdout


def test_a_wrong_variant_gets_no_time(tmp_path, capsys, monkeypatch):
    import torch

    original = perf.ScalingLayers.layer

    def corrupted(self, variant):  # window/sdpa 5 % off: the fp64 check must refuse it
        fn = original(self, variant)
        return (lambda x: fn(x) * 1.05) if variant == "window/sdpa" else fn

    monkeypatch.setattr(perf.ScalingLayers, "layer", corrupted)
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
        "--threads",
        str(torch.get_num_threads()),
    ]
    assert _load("scaling").main(argv) == 0  # in this process: the same code, no second start-up
    rows, stdout = perf.read_csv(out), capsys.readouterr().out
    wrong = perf.find_row(rows, variant="window/sdpa")
    assert wrong["status"].startswith("refused: failed the fp64 check")
    assert wrong["check_passed"] is False and wrong["seconds"] is None and wrong["peak_mb"] is None
    assert perf.find_row(rows, variant="global/sdpa")["status"] == "ok"
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
        (
            "scaling",
            ["--batch", "0"],
            "argument --batch: batch must be a positive int, got batch=0",
        ),
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
            "argument --min-run-time: min_run_time must be in (0.0, inf], got min_run_time=-1.0",
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
    assert "argument --device: device must be one of" in capsys.readouterr().err


def test_default_output_path_names_benchmark_device_and_dtype():
    import torch

    scaling = _load("scaling")
    p = scaling.common.parser("scaling", "", perf.SCALING_VARIANTS)
    args = p.parse_args(["--device", "cpu", "--threads", str(torch.get_num_threads())])
    scaling.common.resolve(args, p, {"cpu": 1, "cuda": 8, "quick": 1})
    assert args.out == DEFAULT_DIR / "scaling_cpu_fp32.csv"
    assert (args.dtype, args.batch, args.min_run_time) == ("fp32", 1, 0.5)


@pytest.mark.parametrize("script", ["scaling", "kernel", "model"])
@pytest.mark.parametrize("where", ["folder", "folder/", "under a file"])
def test_out_must_be_a_file_to_write(script, where, tmp_path, capsys, monkeypatch):
    existing = tmp_path / "results.csv"
    existing.write_text("kept\n")
    out, why = {
        "folder": (
            str(tmp_path),
            f"out must be a file to write, got out={str(tmp_path)!r} (a folder)",
        ),
        "folder/": (
            f"{tmp_path / 'new'}/",
            f"out must be a file to write, got out={str(tmp_path / 'new') + '/'!r} (a folder)",
        ),
        "under a file": (
            str(existing / "x.csv"),
            f"out must be a file to write, got out={str(existing / 'x.csv')!r} "
            f"(under the existing file {str(existing)!r})",
        ),
    }[where]

    def never(*args, **kwargs):
        raise AssertionError("the benchmark ran before --out was refused")

    monkeypatch.setattr(perf, f"run_{script}", never)
    with pytest.raises(SystemExit) as exit_info:
        _load(script).main(["--quick", "--device", "cpu", "--out", out])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.endswith(f"error: argument --out: {why}")
    assert existing.read_text() == "kept\n" and not (tmp_path / "new").exists()
