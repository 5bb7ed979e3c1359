"""The timing and memory harness: counts what it should, rejects bad input."""

import math

import pytest
import torch

from swin_tutorial.bench import StorageCounter, peak_memory_bytes, time_callable

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

import csv  # noqa: E402

import torch.nn.functional as F  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st_  # noqa: E402
from torch import nn  # noqa: E402

import swin_tutorial as st  # noqa: E402
from reference import masked_global_window_attention  # noqa: E402
from swin_tutorial import bench  # noqa: E402


def test_dtype_names_and_tolerances():
    assert bench.dtype_from_name("fp32") is torch.float32
    assert bench.dtype_from_name("bf16") is torch.bfloat16
    assert bench.dtype_name(torch.bfloat16) == "bf16"
    assert bench.tolerance(torch.float32) == 1e-5
    assert bench.tolerance(torch.bfloat16) == 1e-2
    with pytest.raises(ValueError, match=r"dtype must be one of .*'fp16'"):
        bench.dtype_from_name("fp16")
    with pytest.raises(ValueError, match="dtype must be one of"):
        bench.tolerance(torch.float16)
    with pytest.raises(ValueError, match="dtype must be one of"):
        bench.dtype_name(torch.float64)


def test_precision_switches_autocast_on_and_off():
    x = torch.randn(8, 8)
    with bench.precision("cpu", torch.bfloat16):
        assert torch.is_autocast_enabled("cpu")
        assert (x @ x).dtype == torch.bfloat16
        with bench.precision("cpu", torch.float32):  # float32 even inside autocast
            assert (x @ x).dtype == torch.float32
    assert not torch.is_autocast_enabled("cpu")
    with pytest.raises(ValueError, match="dtype"):
        bench.precision("cpu", torch.float16)


def test_relative_error_values():
    expected = torch.randn(50, dtype=torch.float64)
    assert bench.relative_error(expected * 1.01, expected) == pytest.approx(0.01)
    assert bench.relative_error(expected.float(), expected) < 1e-7
    assert bench.relative_error(torch.full((50,), float("nan")), expected) == math.inf
    assert bench.relative_error(torch.zeros(3), torch.zeros(3)) == 0.0
    assert bench.relative_error(torch.ones(3), torch.zeros(3)) == math.inf


def test_relative_error_rejects_bad_input():
    with pytest.raises(ValueError, match=r"same shape, got \(3,\) and \(4,\)"):
        bench.relative_error(torch.zeros(3), torch.zeros(4))
    with pytest.raises(TypeError, match="actual must be a torch.Tensor"):
        bench.relative_error([1.0], torch.zeros(1))


def test_check_passes_below_tolerance_only():
    expected = torch.randn(100, dtype=torch.float64)
    assert bench.check_close(expected.float(), expected, torch.float32).passed
    assert not bench.check_close(expected * (1 + 2e-5), expected, torch.float32).passed
    assert bench.check_close(expected * (1 + 2e-5), expected, torch.bfloat16).passed
    assert not bench.check_close(expected.bfloat16() * 1.02, expected, torch.bfloat16).passed
    assert not bench.Check(math.inf, 1.0).passed


def test_measured_row_times_a_checked_variant():
    x = torch.randn(64, 64)
    row = bench.measured_row({"variant": "mm"}, bench.Check(1e-7, 1e-5), torch.mm, x, x, min_run_time=0.01)
    assert row["status"] == "ok" and row["check_passed"] is True
    assert row["seconds"] > 0
    assert row["peak_mb"] == pytest.approx(64 * 64 * 4 / 1e6)  # the product it returns
    assert row["variant"] == "mm"


def test_measured_row_refuses_a_variant_that_failed_its_check():
    calls = []

    def fn():
        calls.append(1)

    good, bad = bench.Check(1e-7, 1e-5), bench.Check(3e-2, 1e-2)
    row = bench.measured_row({"variant": "wrong"}, [good, bad], fn, min_run_time=0.01)
    assert calls == []  # never timed
    assert row["seconds"] is None and row["peak_mb"] is None
    assert row["check_passed"] is False
    assert row["check_error"] == 3e-2 and row["tolerance"] == 1e-2  # the worst check is reported
    assert row["status"].startswith("refused: failed the fp64 check")
    with pytest.raises(TypeError, match="check must be a Check"):
        bench.measured_row({}, 0.5, fn)
    with pytest.raises(TypeError, match="check must be a Check"):
        bench.measured_row({}, [], fn)


def test_skipped_row():
    row = bench.skipped_row({"variant": "flex"}, "no GPU")
    assert row["status"] == "skipped: no GPU" and row["seconds"] is None and row["check_passed"] is None
    with pytest.raises(ValueError, match="reason must be a non-empty string"):
        bench.skipped_row({}, "")


@settings(max_examples=25, deadline=None)
@given(
    exponent=st_.floats(min_value=-3, max_value=3),
    scale=st_.floats(min_value=1e-6, max_value=1e6),
    sizes=st_.lists(st_.integers(1, 100_000), min_size=2, max_size=8, unique=True),
)
def test_fit_exponent_recovers_a_power_law(exponent, scale, sizes):
    values = [scale * s**exponent for s in sizes]
    assert bench.fit_exponent(sizes, values) == pytest.approx(exponent, abs=1e-6)


def test_fit_exponent_rejects_bad_input():
    with pytest.raises(ValueError, match="same length"):
        bench.fit_exponent([1, 2], [1.0])
    with pytest.raises(ValueError, match="two different sizes"):
        bench.fit_exponent([4, 4], [1.0, 2.0])
    with pytest.raises(ValueError, match="values must be positive"):
        bench.fit_exponent([1, 2], [1.0, 0.0])


def test_growth_exponents_fit_each_variant():
    rows = [
        {"variant": v, "tokens": n, "seconds": c * n**p, "peak_mb": n, "status": "ok"}
        for v, c, p in (("quadratic", 1e-9, 2), ("linear", 1e-6, 1))
        for n in (100, 400, 1600)
    ]
    rows.append({"variant": "linear", "tokens": 6400, "seconds": 1.0, "peak_mb": 1.0, "status": "refused: x"})
    rows.append({"variant": "skipped", "tokens": 100, "seconds": None, "peak_mb": None, "status": "skipped: y"})
    fits = {row["variant"]: row for row in bench.growth_exponents(rows)}
    assert fits["quadratic"]["time_exponent"] == pytest.approx(2)
    assert fits["linear"]["time_exponent"] == pytest.approx(1)  # the refused row is left out
    assert fits["linear"]["memory_exponent"] == pytest.approx(1)
    assert fits["linear"]["points"] == 3
    assert fits["skipped"]["time_exponent"] is None
    assert "macs_exponent" not in fits["linear"]  # no such column in the rows


def test_format_table_shows_every_row_and_column():
    rows = [{"variant": "a", "seconds": 0.00123456, "ok": True}, {"variant": "bbbb", "seconds": None}]
    text = bench.format_table(rows, ["variant", "seconds", "ok"], {"seconds": ".2e"}, title="T")
    lines = text.splitlines()
    assert lines[0] == "T"
    assert lines[1].split() == ["variant", "seconds", "ok"]
    assert lines[3].split() == ["a", "1.23e-03", "True"]
    assert lines[4].split() == ["bbbb", "-", "-"]
    assert lines[1].index("seconds") == lines[3].index("1.23e-03") == lines[4].index("-")  # aligned
    with pytest.raises(ValueError, match="columns must be a non-empty sequence"):
        bench.format_table(rows, "variant")


def test_csv_round_trip(tmp_path):
    rows = [
        {"variant": "a", "side": 14, "seconds": 1.5e-3, "check_passed": True, "peak_mb": None},
        {"variant": "b", "side": 28, "seconds": None, "check_passed": None, "extra": "x"},
    ]
    path = tmp_path / "sub" / "out.csv"
    bench.write_csv(rows, path)
    back = bench.read_csv(path)
    assert back[0] == {**rows[0], "extra": None}
    assert back[1] == {**rows[1], "peak_mb": None}
    with path.open() as handle:
        assert next(csv.reader(handle)) == ["variant", "side", "seconds", "check_passed", "peak_mb", "extra"]
    with pytest.raises(ValueError, match="rows must not be empty"):
        bench.write_csv([], path)


def test_run_info_says_where_and_when():
    info = bench.run_info("cpu")
    assert info["device"] == "cpu" and info["torch"] == torch.__version__
    assert {"device_name", "timm", "torchvision", "threads", "date"} <= set(info)
    assert info["date"].endswith("Z")


# ---------------------------------------------------------------------------
# The fp64 references, against independent ones
# ---------------------------------------------------------------------------


def _projections(C, seed=0):
    torch.manual_seed(seed)
    return nn.Linear(C, 3 * C), nn.Linear(C, C)


@pytest.mark.parametrize("chunk", [7, 512])
def test_global_reference_equals_sdpa_in_float64(chunk):
    qkv, proj = _projections(16)
    x = torch.randn(2, 30, 16)
    out = bench.attention_reference(x, qkv, proj, 4, bench.global_pairs(), chunk=chunk)
    with torch.no_grad():
        projected = F.linear(x.double(), qkv.weight.double(), qkv.bias.double())
        q, k, v = projected.reshape(2, 30, 3, 4, 4).permute(2, 0, 3, 1, 4)
        expected = F.linear(
            F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(2, 30, 16),
            proj.weight.double(), proj.bias.double(),
        )
    assert out.dtype == torch.float64
    assert bench.relative_error(out, expected) < 1e-12


@pytest.mark.parametrize("H, W, shift", [(14, 14, 3), (7, 21, 0), (14, 7, 2)])
def test_window_reference_equals_the_test_suites_reference(H, W, shift):
    qkv, proj = _projections(12, seed=H + W + shift)
    table = torch.randn(13 * 13, 3, dtype=torch.float64)
    x = torch.randn(2, H, W, 12, dtype=torch.float64)
    rule = bench.window_pairs(H, W, 7, shift, table)
    ours = bench.attention_reference(x.reshape(2, H * W, 12), qkv, proj, 3, rule, chunk=50)
    with torch.no_grad():
        theirs = masked_global_window_attention(
            x, qkv.weight.double(), qkv.bias.double(), proj.weight.double(), proj.bias.double(),
            table, 3, (7, 7), (shift, shift), shrink_small_axes=False,
        )
    assert bench.relative_error(ours.reshape(2, H, W, 12), theirs) < 1e-12


def test_neighbourhood_pairs_match_a_loop_over_coordinates():
    H, W, k = 9, 11, 5
    allowed, _ = bench.neighbourhood_pairs(H, W, k)(torch.arange(H * W), torch.arange(H * W))
    expected = torch.zeros(H * W, H * W, dtype=torch.bool)
    for i in range(H):
        for j in range(W):
            top, left = min(max(i - k // 2, 0), H - k), min(max(j - k // 2, 0), W - k)
            for a in range(top, top + k):
                for b in range(left, left + k):
                    expected[i * W + j, a * W + b] = True
    assert torch.equal(allowed, expected)
    assert torch.equal(allowed, st.neighborhood_mask(H, W, k))


def test_reference_and_pair_rules_reject_bad_input():
    qkv, proj = _projections(16)
    with pytest.raises(ValueError, match="num_heads=3 must divide the 16 channels"):
        bench.attention_reference(torch.zeros(1, 4, 16), qkv, proj, 3, bench.global_pairs())
    with pytest.raises(ValueError, match="x must have rank 3"):
        bench.attention_reference(torch.zeros(4, 16), qkv, proj, 4, bench.global_pairs())
    with pytest.raises(ValueError, match="multiples of window_size"):
        bench.window_pairs(10, 14, 7)
    with pytest.raises(ValueError, match="shift_size must satisfy"):
        bench.window_pairs(14, 14, 7, 7)
    with pytest.raises(ValueError, match="kernel_size=9 must be at most"):
        bench.neighbourhood_pairs(8, 12, 9)


# ---------------------------------------------------------------------------
# The suites: every variant checked; a wrong one refused
# ---------------------------------------------------------------------------


def test_scaling_rows_are_checked_and_a_corrupted_variant_is_refused():
    rows = bench.run_scaling(
        [14], variants=["global/sdpa", "window/explicit", "neighbourhood/dense", "neighbourhood/flex"],
        min_run_time=0.01, progress=False, corrupt=["window/explicit"],
    )
    by_variant = {row["variant"]: row for row in rows}
    assert by_variant["global/sdpa"]["status"] == "ok" and by_variant["global/sdpa"]["check_error"] < 1e-5
    assert by_variant["neighbourhood/dense"]["check_passed"] is True
    refused = by_variant["window/explicit"]
    assert refused["status"].startswith("refused") and refused["seconds"] is None
    assert refused["check_error"] == pytest.approx(0.05, rel=1e-3)  # the 5 % it was corrupted by
    assert by_variant["neighbourhood/flex"]["status"].startswith("skipped: FlexAttention is fused only on CUDA")
    assert by_variant["global/sdpa"]["macs"] == st.complexity.attention_flops(14, 14, 96)


def test_scaling_arguments_are_checked():
    with pytest.raises(ValueError, match="multiple of window_size=7 .* got 15"):
        bench.run_scaling([15], progress=False)
    with pytest.raises(ValueError, match="variants must be a non-empty subset"):
        bench.run_scaling([14], variants=["window/fast"], progress=False)
    with pytest.raises(ValueError, match="batch must be a positive int"):
        bench.run_scaling([14], batch=0, progress=False)
    with pytest.raises(ValueError, match="sides must be a non-empty sequence"):
        bench.run_scaling(14, progress=False)
    with pytest.raises(ValueError, match="dtype must be one of"):
        bench.run_scaling([14], dtype=torch.float16, progress=False)


def test_scaling_layers_equal_the_package_modules():
    layers = bench.ScalingLayers(dim=24, num_heads=2)
    x = torch.randn(1, 14, 14, 24)
    with torch.no_grad():
        window = layers.layer("window/sdpa")(x)
        dense = layers.layer("neighbourhood/dense")(x)
    expected = layers.window(st.window_partition(x, 7).reshape(-1, 49, 24))
    assert torch.allclose(window, st.window_reverse(expected, 7, 14, 14), atol=1e-6)
    assert torch.equal(layers.neighbourhood["dense"].qkv.weight, layers.window.qkv.weight)
    assert bench.relative_error(dense, layers.reference("neighbourhood", x)) < 1e-5


def test_flex_window_attention_equals_sdpa_on_cpu():
    torch.manual_seed(0)
    mask = st.shifted_window_mask(8, 8, 4, 2)  # (4, 16, 16)
    q, k, v = (torch.randn(8, 2, 16, 8) for _ in range(3))
    bias = torch.randn(2, 16, 16)
    flex = bench.FlexWindowAttention(mask)
    out = flex(q, k, v, bias)
    expected, _ = st.window_attention(q, k, v, bias=bias, mask=mask)
    assert bench.relative_error(out, expected) < 1e-5
    assert flex.block_mask(8, 16, q.device) is flex.block_mask(8, 16, q.device)  # built once
    with pytest.raises(ValueError, match="mask must be a bool"):
        bench.FlexWindowAttention(mask.float())


def test_kernel_modules_share_weights_with_timm():
    pytest.importorskip("timm")
    modules = bench.KernelModules(dim=24, num_heads=2, side=14)
    x = torch.randn(2, 14, 14, 24)
    windows = modules.windows_of(x)
    assert torch.equal(modules.map_of(windows), x)
    with torch.no_grad():
        names = ("package/explicit", "package/sdpa", "timm/explicit", "timm/sdpa")
        outs = {name: modules.layer(name)(windows) for name in names}
    reference = modules.reference(x)
    for name, out in outs.items():
        assert bench.relative_error(modules.map_of(out), reference) < 1e-5, name
    assert modules.timm_module(True).fused_attn and not modules.timm_module(False).fused_attn


def test_timm_switch_is_restored():
    timm = pytest.importorskip("timm")
    before = (timm.layers.use_fused_attn(), timm.layers.use_fused_attn(experimental=True))
    for fused in (True, False):
        with bench._timm_fused_attention(fused):
            assert timm.layers.use_fused_attn(experimental=True) is fused
    assert (timm.layers.use_fused_attn(), timm.layers.use_fused_attn(experimental=True)) == before


def test_swin_models_compute_the_same_function():
    pytest.importorskip("timm")
    pytest.importorskip("torchvision")
    models = bench.swin_models("nano")
    assert set(models) == set(bench.MODEL_VARIANTS)
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        logits = {name: model(images) for name, model in models.items()}
    for name, out in logits.items():
        assert bench.relative_error(out, logits["timm/explicit"]) < 1e-5, name
    fused = [m.fused_attn for m in models["timm/sdpa"].modules() if hasattr(m, "fused_attn")]
    explicit = [m.fused_attn for m in models["timm/explicit"].modules() if hasattr(m, "fused_attn")]
    assert fused and all(fused) and not any(explicit)
    with pytest.raises(ValueError, match="config must be one of"):
        bench.swin_models("swin_huge")


def test_torchvision_key_renaming():
    renamed = bench.timm_to_torchvision_swin({
        "patch_embed.proj.weight": 1, "patch_embed.norm.bias": 2,
        "layers.0.blocks.1.mlp.fc2.weight": 3, "layers.2.downsample.reduction.weight": 4,
        "layers.2.blocks.0.attn.relative_position_index": 5, "head.fc.bias": 6, "norm.weight": 7,
    })
    assert renamed == {
        "features.0.0.weight": 1, "features.0.2.bias": 2, "features.1.1.mlp.3.weight": 3,
        "features.4.reduction.weight": 4, "head.bias": 6, "norm.weight": 7,
    }
    with pytest.raises(ValueError, match="not a Swin parameter: 'pos_embed'"):
        bench.timm_to_torchvision_swin({"pos_embed": 0})


def test_matmul_rate_is_positive():
    assert bench.matmul_flops_per_second("cpu", torch.float32, size=128, min_run_time=0.01) > 1e6
    with pytest.raises(ValueError, match="size must be a positive int"):
        bench.matmul_flops_per_second("cpu", torch.float32, size=0)


def test_operator_counts():
    def fn(x):
        y = (x + 1).t().contiguous()  # add, t (a view), clone (contiguous copies)
        return y.roll(1, 0)

    counts = bench.operator_counts(fn, torch.zeros(3, 4))
    assert counts == {"add": 1, "t": 1, "clone": 1, "roll": 1}
    assert {"clone", "roll"} <= bench.COPY_OPERATORS and "add" not in bench.COPY_OPERATORS
    with pytest.raises(TypeError, match="fn must be callable"):
        bench.operator_counts(None)


@pytest.mark.gpu
def test_suites_on_cuda_with_flex_attention():
    rows = bench.run_scaling([14, 28], "cuda", torch.bfloat16, batch=2, min_run_time=0.05, progress=False)
    assert all(row["status"] == "ok" and row["check_passed"] for row in rows)
    flex = [row for row in rows if row["backend"] == "flex"]
    assert len(flex) == 2 and all(row["peak_mb"] > 0 for row in flex)
    kernel = bench.run_kernel(28, "cuda", torch.bfloat16, batch=4, min_run_time=0.05, progress=False)
    assert all(row["status"] == "ok" for row in kernel)
    model = bench.run_model("nano", "cuda", torch.bfloat16, batch=4, min_run_time=0.05, progress=False)
    assert all(row["status"] == "ok" and 0 < row["mfu"] < 1 for row in model)
