"""The timing and memory harness: counts what it should, rejects bad input."""

import csv
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st_

from swin_tutorial import perf
from swin_tutorial.perf import StorageCounter, peak_memory_bytes, time_callable

MB4 = 1000 * 1000 * 4  # bytes of a (1000, 1000) float32 tensor


def test_storage_python_object_is_preserved():
    # StorageCounter relies on this: one Python object per live storage.
    x = torch.zeros(10)
    assert x.untyped_storage() is x[2:].untyped_storage()


def test_intermediate_is_counted():
    def fn(x):
        big = torch.ones(1000, 1000)  # float32 intermediate, 4e6 bytes
        return (big * 2).sum() + x.sum()

    assert peak_memory_bytes(fn, torch.zeros(3)) >= 4e6


def test_freeing_lowers_the_peak():
    def keep(x):
        a = x * 2
        b = a * 2
        c = b * 2
        return c.sum()

    def free(x):
        x = x * 2
        x = x * 2
        x = x * 2
        return x.sum()

    x = torch.randn(1000, 1000)
    assert peak_memory_bytes(free, x) < peak_memory_bytes(keep, x)
    assert peak_memory_bytes(keep, x) == 3 * MB4 + 4  # a, b, c and the scalar sum
    assert peak_memory_bytes(free, x) == 2 * MB4  # each old x dies once the new one exists


def test_views_share_one_count_and_keep_their_storage_alive():
    def chunks(x):
        q, k, v = (x @ torch.ones(8, 24)).chunk(3, dim=-1)  # three views of one (100, 24)
        return q.sum()

    # the (8, 24) weights and the (100, 24) product, counted once for its three views
    assert peak_memory_bytes(chunks, torch.randn(100, 8)) == 8 * 24 * 4 + 100 * 24 * 4

    def view_outlives_base(x):
        base = torch.ones(1000, 1000)
        row = base[0]  # a view: the whole storage stays alive
        del base
        other = torch.ones(1000, 1000)
        return row.sum() + other.sum()

    assert peak_memory_bytes(view_outlives_base, torch.zeros(1)) >= 2 * MB4


def test_existing_tensors_are_not_counted():
    x = torch.randn(1000, 1000)
    assert peak_memory_bytes(lambda t: t.view(-1)[:10], x) == 0
    assert peak_memory_bytes(lambda t: t.mul_(1.0), x) == 0


def test_result_is_counted():
    assert peak_memory_bytes(lambda x: x.repeat(2, 1), torch.zeros(500, 1000)) == MB4


def test_peak_is_deterministic():
    def fn(x):
        return (x @ x.T).softmax(-1) @ x

    x = torch.randn(300, 16)
    assert len({peak_memory_bytes(fn, x) for _ in range(3)}) == 1


def test_global_attention_peak_grows_quadratically():
    def attend(x):  # explicit global attention, one head: the (N, N) matrix exists
        with torch.no_grad():
            scores = x @ x.transpose(-2, -1) * x.shape[-1] ** -0.5
            return scores.softmax(dim=-1) @ x

    tokens = [256, 512, 1024]
    peaks = [peak_memory_bytes(attend, torch.randn(1, n, 8)) for n in tokens]
    slope = math.log(peaks[-1] / peaks[0]) / math.log(tokens[-1] / tokens[0])
    assert 1.8 <= slope <= 2.2
    assert peaks[-1] >= 2 * 1024 * 1024 * 4  # scores and weights alive at once


def test_counter_survives_an_exception_and_detaches():
    def broken(x):
        torch.ones(100)
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        peak_memory_bytes(broken, torch.zeros(1))
    with StorageCounter() as counter:
        kept = torch.ones(250)
    assert counter.peak == 1000 and counter.current == 1000
    del kept  # freed after the mode ended: no longer reported
    assert counter.current == 1000


def test_time_callable_returns_seconds_per_call():
    x = torch.randn(64, 64)
    seconds = time_callable(torch.mm, x, x, min_run_time=0.02)
    assert isinstance(seconds, float)
    assert 0 < seconds < 0.1
    assert time_callable(lambda: None, min_run_time=0.01, num_threads=1) > 0


@pytest.mark.parametrize("measure", [time_callable, peak_memory_bytes])
def test_fn_must_be_callable(measure):
    with pytest.raises(TypeError, match="fn must be callable"):
        measure(3, torch.zeros(1))


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), float("inf")])
def test_min_run_time_must_be_positive(bad):
    with pytest.raises(ValueError, match="min_run_time"):
        time_callable(torch.zeros, 1, min_run_time=bad)


@pytest.mark.parametrize("bad", ["0.1", None, True])
def test_min_run_time_must_be_a_number(bad):
    with pytest.raises(TypeError, match="min_run_time"):
        time_callable(torch.zeros, 1, min_run_time=bad)


def test_num_threads_is_checked():
    with pytest.raises(ValueError, match="num_threads"):
        time_callable(torch.zeros, 1, num_threads=0)
    with pytest.raises(TypeError, match="num_threads"):
        time_callable(torch.zeros, 1, num_threads=1.5)


@pytest.mark.gpu
def test_cuda_timing_and_memory():
    x = torch.randn(512, 512, device="cuda")
    assert 0 < time_callable(torch.mm, x, x, min_run_time=0.05) < 0.1

    def fn(t):
        big = torch.ones(1000, 1000, device=t.device)
        return (big * 2).sum()

    peak = peak_memory_bytes(fn, x)
    assert 2 * MB4 <= peak < 3 * MB4


# ---------------------------------------------------------------------------
# Precision, checks, rows, tables and files
# ---------------------------------------------------------------------------


def test_dtype_names_and_tolerances():
    assert perf.dtype_from_name("fp32") is torch.float32
    assert perf.dtype_from_name("bf16") is torch.bfloat16
    assert perf.dtype_name(torch.bfloat16) == "bf16"
    assert perf.tolerance(torch.float32) == 1e-5
    assert perf.tolerance(torch.bfloat16) == 1e-2
    with pytest.raises(ValueError, match=r"dtype must be one of .*'fp16'"):
        perf.dtype_from_name("fp16")
    with pytest.raises(ValueError, match="dtype must be one of"):
        perf.tolerance(torch.float16)
    with pytest.raises(ValueError, match="dtype must be one of"):
        perf.dtype_name(torch.float64)


def test_precision_switches_autocast_on_and_off():
    x = torch.randn(8, 8)
    with perf.Precision("cpu", torch.bfloat16):
        assert torch.is_autocast_enabled("cpu")
        assert (x @ x).dtype == torch.bfloat16
        with perf.Precision("cpu", torch.float32):  # float32 even inside autocast
            assert (x @ x).dtype == torch.float32
    assert not torch.is_autocast_enabled("cpu")
    with pytest.raises(ValueError, match="dtype"):
        perf.Precision("cpu", torch.float16)


def test_relative_error_values():
    expected = torch.randn(50, dtype=torch.float64)
    assert perf.relative_error(expected * 1.01, expected) == pytest.approx(0.01)
    assert perf.relative_error(expected.float(), expected) < 1e-7
    assert perf.relative_error(torch.full((50,), float("nan")), expected) == math.inf
    assert perf.relative_error(torch.zeros(3), torch.zeros(3)) == 0.0
    assert perf.relative_error(torch.ones(3), torch.zeros(3)) == math.inf


def test_relative_error_rejects_bad_input():
    with pytest.raises(ValueError, match=r"same shape, got \(3,\) and \(4,\)"):
        perf.relative_error(torch.zeros(3), torch.zeros(4))
    with pytest.raises(TypeError, match="actual must be a torch.Tensor"):
        perf.relative_error([1.0], torch.zeros(1))


def test_check_passes_below_tolerance_only():
    expected = torch.randn(100, dtype=torch.float64)
    assert perf.check_close(expected.float(), expected, torch.float32).passed
    assert not perf.check_close(expected * (1 + 2e-5), expected, torch.float32).passed
    assert perf.check_close(expected * (1 + 2e-5), expected, torch.bfloat16).passed
    assert not perf.check_close(expected.bfloat16() * 1.02, expected, torch.bfloat16).passed
    assert not perf.Check(math.inf, 1.0).passed


def test_measured_row_times_a_checked_variant():
    x = torch.randn(64, 64)
    row = perf.measured_row(
        {"variant": "mm"}, perf.Check(1e-7, 1e-5), torch.mm, x, x, min_run_time=0.01
    )
    assert row["status"] == "ok" and row["check_passed"] is True
    assert row["seconds"] > 0
    assert row["peak_mb"] == pytest.approx(64 * 64 * 4 / 1e6)  # the product it returns
    assert row["variant"] == "mm"


def test_measured_row_refuses_a_variant_that_failed_its_check():
    calls = []

    def fn():
        calls.append(1)

    good, bad = perf.Check(1e-7, 1e-5), perf.Check(3e-2, 1e-2)
    row = perf.measured_row({"variant": "wrong"}, [good, bad], fn, min_run_time=0.01)
    assert calls == []  # never timed
    assert row["seconds"] is None and row["peak_mb"] is None
    assert row["check_passed"] is False
    assert row["check_error"] == 3e-2 and row["tolerance"] == 1e-2  # the worst check is reported
    assert row["status"].startswith("refused: failed the fp64 check")
    with pytest.raises(TypeError, match="check must be a Check"):
        perf.measured_row({}, 0.5, fn)
    with pytest.raises(TypeError, match="check must be a Check"):
        perf.measured_row({}, [], fn)


def test_skipped_row():
    row = perf.skipped_row({"variant": "flex"}, "no GPU")
    assert (
        row["status"] == "skipped: no GPU"
        and row["seconds"] is None
        and row["check_passed"] is None
    )
    with pytest.raises(ValueError, match="reason must be a non-empty string"):
        perf.skipped_row({}, "")


@settings(max_examples=25, deadline=None)
@given(
    exponent=st_.floats(min_value=-3, max_value=3),
    scale=st_.floats(min_value=1e-6, max_value=1e6),
    sizes=st_.lists(st_.integers(1, 100_000), min_size=2, max_size=8, unique=True),
)
def test_fit_exponent_recovers_a_power_law(exponent, scale, sizes):
    values = [scale * s**exponent for s in sizes]
    assert perf.fit_exponent(sizes, values) == pytest.approx(exponent, abs=1e-6)


def test_fit_exponent_rejects_bad_input():
    with pytest.raises(ValueError, match="same length"):
        perf.fit_exponent([1, 2], [1.0])
    with pytest.raises(ValueError, match="two different sizes"):
        perf.fit_exponent([4, 4], [1.0, 2.0])
    with pytest.raises(ValueError, match="values must be positive"):
        perf.fit_exponent([1, 2], [1.0, 0.0])


def test_growth_exponents_fit_each_variant():
    rows = [
        {"variant": v, "tokens": n, "seconds": c * n**p, "peak_mb": n, "status": "ok"}
        for v, c, p in (("quadratic", 1e-9, 2), ("linear", 1e-6, 1))
        for n in (100, 400, 1600)
    ]
    rows.append(
        {
            "variant": "linear",
            "tokens": 6400,
            "seconds": 1.0,
            "peak_mb": 1.0,
            "status": "refused: x",
        }
    )
    rows.append(
        {
            "variant": "skipped",
            "tokens": 100,
            "seconds": None,
            "peak_mb": None,
            "status": "skipped: y",
        }
    )
    fits = {row["variant"]: row for row in perf.growth_exponents(rows)}
    assert fits["quadratic"]["time_exponent"] == pytest.approx(2)
    assert fits["linear"]["time_exponent"] == pytest.approx(1)  # the refused row is left out
    assert fits["linear"]["memory_exponent"] == pytest.approx(1)
    assert fits["linear"]["points"] == 3
    assert fits["skipped"]["time_exponent"] is None
    assert "macs_exponent" not in fits["linear"]  # no such column in the rows


def test_format_table_shows_every_row_and_column():
    rows = [
        {"variant": "a", "seconds": 0.00123456, "ok": True},
        {"variant": "bbbb", "seconds": None},
    ]
    text = perf.format_table(rows, ["variant", "seconds", "ok"], {"seconds": ".2e"}, title="T")
    lines = text.splitlines()
    assert lines[0] == "T"
    assert lines[1].split() == ["variant", "seconds", "ok"]
    assert lines[3].split() == ["a", "1.23e-03", "True"]
    assert lines[4].split() == ["bbbb", "-", "-"]
    assert lines[1].index("seconds") == lines[3].index("1.23e-03") == lines[4].index("-")  # aligned
    with pytest.raises(ValueError, match="columns must be a non-empty sequence"):
        perf.format_table(rows, "variant")


def test_csv_round_trip(tmp_path):
    rows = [
        {"variant": "a", "side": 14, "seconds": 1.5e-3, "check_passed": True, "peak_mb": None},
        {"variant": "b", "side": 28, "seconds": None, "check_passed": None, "extra": "x"},
    ]
    path = tmp_path / "sub" / "out.csv"
    perf.write_csv(rows, path)
    back = perf.read_csv(path)
    assert back[0] == {**rows[0], "extra": None}
    assert back[1] == {**rows[1], "peak_mb": None}
    with path.open() as handle:
        assert next(csv.reader(handle)) == [
            "variant",
            "side",
            "seconds",
            "check_passed",
            "peak_mb",
            "extra",
        ]
    with pytest.raises(ValueError, match="rows must not be empty"):
        perf.write_csv([], path)


def test_run_info_says_where_and_when():
    info = perf.run_info("cpu")
    assert info["device"] == "cpu" and info["torch"] == torch.__version__
    assert {"device_name", "timm", "torchvision", "threads", "date"} <= set(info)
    assert info["date"].endswith("Z")


def test_operator_counts():
    def fn(x):
        y = (x + 1).t().contiguous()  # add, t (a view), clone (contiguous copies)
        return y.roll(1, 0)

    counts = perf.operator_counts(fn, torch.zeros(3, 4))
    assert counts == {"add": 1, "t": 1, "clone": 1, "roll": 1}
    assert {"clone", "roll"} <= perf.COPY_OPERATORS and "add" not in perf.COPY_OPERATORS
    with pytest.raises(TypeError, match="fn must be callable"):
        perf.operator_counts(None)
