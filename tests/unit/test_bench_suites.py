"""The suites: fp64 references from coordinates, every variant checked, wrong ones refused."""

import pytest
import torch
import torch.nn.functional as F
from reference import masked_global_window_attention
from torch import nn

import swin_tutorial as st
from swin_tutorial import perf
from swin_tutorial.perf import models as perf_models
from swin_tutorial.perf.suite import Measurement, variant_names

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
    out = perf.attention_reference(x, qkv, proj, 4, perf.global_pairs(), chunk=chunk)
    with torch.no_grad():
        projected = F.linear(x.double(), qkv.weight.double(), qkv.bias.double())
        q, k, v = projected.reshape(2, 30, 3, 4, 4).permute(2, 0, 3, 1, 4)
        expected = F.linear(
            F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(2, 30, 16),
            proj.weight.double(),
            proj.bias.double(),
        )
    assert out.dtype == torch.float64
    assert perf.relative_error(out, expected) < 1e-12


@pytest.mark.parametrize("H, W, shift", [(14, 14, 3), (7, 21, 0), (14, 7, 2)])
def test_window_reference_equals_the_test_suites_reference(H, W, shift):
    qkv, proj = _projections(12, seed=H + W + shift)
    table = torch.randn(13 * 13, 3, dtype=torch.float64)
    x = torch.randn(2, H, W, 12, dtype=torch.float64)
    rule = perf.window_pairs(H, W, 7, shift, table)
    ours = perf.attention_reference(x.reshape(2, H * W, 12), qkv, proj, 3, rule, chunk=50)
    with torch.no_grad():
        theirs = masked_global_window_attention(
            x,
            qkv.weight.double(),
            qkv.bias.double(),
            proj.weight.double(),
            proj.bias.double(),
            table,
            3,
            (7, 7),
            (shift, shift),
            shrink_small_axes=False,
        )
    assert perf.relative_error(ours.reshape(2, H, W, 12), theirs) < 1e-12


def test_neighborhood_pairs_match_a_loop_over_coordinates():
    H, W, k = 9, 11, 5
    allowed, _ = perf.neighborhood_pairs(H, W, k)(torch.arange(H * W), torch.arange(H * W))
    expected = torch.zeros(H * W, H * W, dtype=torch.bool)
    for i in range(H):
        for j in range(W):
            top, left = min(max(i - k // 2, 0), H - k), min(max(j - k // 2, 0), W - k)
            for a in range(top, top + k):
                for b in range(left, left + k):
                    expected[i * W + j, a * W + b] = True
    assert torch.equal(allowed, expected)
    assert torch.equal(allowed, st.neighborhood_mask(H, W, k))


@pytest.mark.parametrize(
    "H, W, window, shift", [(8, 12, 4, 2), (6, 6, 3, 0), (9, 6, (3, 2), (1, 1))]
)
def test_window_pairs_match_a_loop_over_segments(H, W, window, shift):
    """A shifted window splits each axis into [0, s), [s, s + M), ..., [H - M + s, H)."""
    wh, ww = (window, window) if isinstance(window, int) else window
    sh, sw = (shift, shift) if isinstance(shift, int) else shift
    table = torch.randn((2 * wh - 1) * (2 * ww - 1), 2)
    allowed, bias = perf.window_pairs(H, W, window, shift, table)(
        torch.arange(H * W), torch.arange(H * W)
    )

    def segment(p, size, s):
        return 0 if p < s else 1 + (p - s) // size

    for a in range(H * W):
        for b in range(H * W):
            (ai, aj), (bi, bj) = divmod(a, W), divmod(b, W)
            same = segment(ai, wh, sh) == segment(bi, wh, sh)
            same = same and segment(aj, ww, sw) == segment(bj, ww, sw)
            assert bool(allowed[a, b]) == same, (a, b)
            if same:
                row = (ai - bi + wh - 1) * (2 * ww - 1) + (aj - bj + ww - 1)
                assert torch.equal(bias[:, a, b], table[row])


def test_reference_and_pair_rules_reject_bad_input():
    qkv, proj = _projections(16)
    with pytest.raises(ValueError, match="num_heads=3 must divide the 16 channels"):
        perf.attention_reference(torch.zeros(1, 4, 16), qkv, proj, 3, perf.global_pairs())
    with pytest.raises(ValueError, match="x must have rank 3"):
        perf.attention_reference(torch.zeros(4, 16), qkv, proj, 4, perf.global_pairs())
    with pytest.raises(ValueError, match="multiples of window_size"):
        perf.window_pairs(10, 14, 7)
    with pytest.raises(ValueError, match="shift_size must satisfy"):
        perf.window_pairs(14, 14, 7, 7)
    with pytest.raises(
        ValueError, match=r"kernel_size must be at most min\(H, W\) = 8, got kernel_size=9"
    ):
        perf.neighborhood_pairs(8, 12, 9)


# ---------------------------------------------------------------------------
# The suites: every variant checked; a wrong one refused
# ---------------------------------------------------------------------------


def _corrupt(monkeypatch, layers_class, variant):
    """Make ``layers_class.layer(variant)`` 5 % off: a wrong variant the fp64 check must refuse."""
    original = layers_class.layer

    def layer(self, name):
        fn = original(self, name)
        return (lambda *args: fn(*args) * 1.05) if name == variant else fn

    monkeypatch.setattr(layers_class, "layer", layer)


def test_scaling_rows_are_checked_and_a_corrupted_variant_is_refused(monkeypatch):
    _corrupt(monkeypatch, perf.ScalingLayers, "window/explicit")
    rows = perf.run_scaling(
        [14],
        variants=["global/sdpa", "window/explicit", "neighborhood/dense", "neighborhood/flex"],
        min_run_time=0.01,
        progress=False,
    )
    by_variant = {row["variant"]: row for row in rows}
    assert (
        by_variant["global/sdpa"]["status"] == "ok"
        and by_variant["global/sdpa"]["check_error"] < 1e-5
    )
    assert by_variant["neighborhood/dense"]["check_passed"] is True
    refused = by_variant["window/explicit"]
    assert refused["status"].startswith("refused") and refused["seconds"] is None
    assert refused["check_error"] == pytest.approx(0.05, rel=1e-3)  # the 5 % it was corrupted by
    assert by_variant["neighborhood/flex"]["status"].startswith(
        "skipped: FlexAttention is fused only on CUDA"
    )
    assert by_variant["global/sdpa"]["macs"] == st.complexity.attention_flops(14, 14, 96)


def test_kernel_refuses_a_corrupted_variant(monkeypatch):
    _corrupt(monkeypatch, perf.KernelModules, "package/sdpa")
    rows = perf.run_kernel(
        14,
        variants=["package/explicit", "package/sdpa"],
        dim=24,
        num_heads=2,
        min_run_time=0.01,
        progress=False,
    )
    ok, refused = rows
    assert ok["status"] == "ok" and ok["seconds"] > 0
    assert refused["status"].startswith("refused: failed the fp64 check")
    assert refused["seconds"] is None and refused["peak_mb"] is None
    assert refused["check_error"] == pytest.approx(0.05, rel=1e-3)


def test_scaling_arguments_are_checked():
    with pytest.raises(ValueError, match="multiple of window_size=7 .* got side=15"):
        perf.run_scaling([15], progress=False)
    with pytest.raises(ValueError, match="variants must be a non-empty subset"):
        perf.run_scaling([14], variants=["window/fast"], progress=False)
    with pytest.raises(ValueError, match="batch must be a positive int"):
        perf.run_scaling([14], batch=0, progress=False)
    with pytest.raises(ValueError, match="sides must be a non-empty sequence"):
        perf.run_scaling(14, progress=False)
    with pytest.raises(ValueError, match="dtype must be one of"):
        perf.run_scaling([14], dtype=torch.float16, progress=False)


def test_scaling_layers_equal_the_package_modules():
    layers = perf.ScalingLayers(dim=24, num_heads=2)
    x = torch.randn(1, 14, 14, 24)
    with torch.no_grad():
        window = layers.layer("window/sdpa")(x)
        dense = layers.layer("neighborhood/dense")(x)
    expected = layers.window(st.window_partition(x, 7).reshape(-1, 49, 24))
    assert torch.allclose(window, st.window_reverse(expected, 7, 14, 14), atol=1e-6)
    assert torch.equal(layers.neighborhood["dense"].qkv.weight, layers.window.qkv.weight)
    assert perf.relative_error(dense, layers.reference("neighborhood", x)) < 1e-5


def test_flex_window_attention_equals_sdpa_on_cpu():
    torch.manual_seed(0)
    mask = st.shifted_window_mask(8, 8, 4, 2)  # (4, 16, 16)
    q, k, v = (torch.randn(8, 2, 16, 8) for _ in range(3))
    bias = torch.randn(2, 16, 16)
    flex = perf.FlexWindowAttention(mask)
    out = flex(q, k, v, bias)
    expected, _ = st.window_attention(q, k, v, bias=bias, mask=mask)
    assert perf.relative_error(out, expected) < 1e-5
    assert flex.block_mask(8, 16, q.device) is flex.block_mask(8, 16, q.device)  # built once
    with pytest.raises(ValueError, match="mask must be a bool"):
        perf.FlexWindowAttention(mask.float())


def test_kernel_modules_share_weights_with_timm():
    pytest.importorskip("timm")
    modules = perf.KernelModules(dim=24, num_heads=2, side=14)
    x = torch.randn(2, 14, 14, 24)
    windows = modules.windows_of(x)
    assert torch.equal(modules.map_of(windows), x)
    with torch.no_grad():
        names = ("package/explicit", "package/sdpa", "timm/explicit", "timm/sdpa")
        outs = {name: modules.layer(name)(windows) for name in names}
    reference = modules.reference(x)
    for name, out in outs.items():
        assert perf.relative_error(modules.map_of(out), reference) < 1e-5, name
    assert modules.timm_module(True).fused_attn and not modules.timm_module(False).fused_attn


def test_timm_switch_is_restored():
    timm = pytest.importorskip("timm")
    before = (timm.layers.use_fused_attn(), timm.layers.use_fused_attn(experimental=True))
    for fused in (True, False):
        with perf.TimmFusedAttention(fused):
            assert timm.layers.use_fused_attn(experimental=True) is fused
    assert (timm.layers.use_fused_attn(), timm.layers.use_fused_attn(experimental=True)) == before


def test_swin_models_compute_the_same_function():
    pytest.importorskip("timm")
    pytest.importorskip("torchvision")
    models = perf.swin_models("nano")
    assert set(models) == set(perf.MODEL_VARIANTS)
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        logits = {name: model(images) for name, model in models.items()}
    for name, out in logits.items():
        assert perf.relative_error(out, logits["timm/explicit"]) < 1e-5, name
    fused = [m.fused_attn for m in models["timm/sdpa"].modules() if hasattr(m, "fused_attn")]
    explicit = [m.fused_attn for m in models["timm/explicit"].modules() if hasattr(m, "fused_attn")]
    assert fused and all(fused) and not any(explicit)
    with pytest.raises(ValueError, match="config must be one of"):
        perf.swin_models("swin_huge")


def test_rounds_report_the_median_turn(monkeypatch):
    """Each checked model is timed once more per extra round, in turns; the median turn is kept."""
    pytest.importorskip("timm")
    pytest.importorskip("torchvision")
    calls = []

    def fake_time(fn, *args, min_run_time, num_threads):
        calls.append((fn, min_run_time))
        return {1: 4.0, 2: 1.0, 3: 2.0, 4: 8.0}[len(calls)]  # the turns after the first

    rows = perf.run_model(
        "nano",
        batch=2,
        variants=["package/sdpa", "timm/sdpa"],
        modes=["inference"],
        min_run_time=0.03,
        progress=False,
        memory=False,
        matmul_rate=1e9,
        rounds=3,
    )
    first = {row["variant"]: row["seconds"] for row in rows}
    monkeypatch.setattr(perf_models, "time_callable", fake_time)
    timed = [(dict(row), lambda x: x, (None,)) for row in rows]
    perf_models.time_in_rounds(timed, 3, torch.device("cpu"), torch.float32, 0.01, 1)
    assert [fn for fn, _ in calls] == [
        timed[0][1],
        timed[1][1],
    ] * 2  # round-robin, not one after the other
    assert timed[0][0]["seconds"] == sorted([first["package/sdpa"], 4.0, 2.0])[1]
    assert timed[1][0]["seconds"] == sorted([first["timm/sdpa"], 1.0, 8.0])[1]
    assert all(row["rounds"] == 3 and row["images_per_s"] == 2 / row["seconds"] for row in rows)
    with pytest.raises(ValueError, match="rounds must be a positive int"):
        perf.run_model("nano", rounds=0, progress=False)


def test_variant_names_add_compiled_twins_except_flex():
    assert variant_names(["a/sdpa", "b/flex", "c/explicit"], True) == [
        "a/sdpa",
        "a/sdpa+compile",
        "b/flex",
        "c/explicit",
        "c/explicit+compile",
    ]
    assert variant_names(["a/sdpa", "b/flex"], False) == ["a/sdpa", "b/flex"]


def test_measurement_skips_a_variant_that_runs_out_of_memory():
    measure = Measurement(torch.device("cpu"), torch.float32, min_run_time=0.01, memory=False)

    def checks():
        return [perf.check_close(torch.zeros(2), torch.zeros(2), torch.float32)]

    def out_of_memory(x):
        raise torch.OutOfMemoryError("CUDA out of memory")

    row = measure({"variant": "v"}, checks, out_of_memory, (torch.zeros(2),), "sdpa")
    assert row["status"] == "skipped: out of memory" and row["seconds"] is None

    def broken(x):
        raise RuntimeError("shape mismatch")

    with pytest.raises(RuntimeError, match="shape mismatch"):
        measure({"variant": "v"}, checks, broken, (torch.zeros(2),), "sdpa")


def test_matmul_rate_is_positive():
    assert perf.matmul_flops_per_second("cpu", torch.float32, size=128, min_run_time=0.01) > 1e6
    with pytest.raises(ValueError, match="size must be a positive int"):
        perf.matmul_flops_per_second("cpu", torch.float32, size=0)


@pytest.mark.gpu
def test_suites_on_cuda_with_flex_attention():
    rows = perf.run_scaling(
        [14, 28], "cuda", torch.bfloat16, batch=2, min_run_time=0.05, progress=False
    )
    assert all(row["status"] == "ok" and row["check_passed"] for row in rows)
    flex = [row for row in rows if row["backend"] == "flex"]
    assert len(flex) == 2 and all(row["peak_mb"] > 0 for row in flex)
    kernel = perf.run_kernel(28, "cuda", torch.bfloat16, batch=4, min_run_time=0.05, progress=False)
    assert all(row["status"] == "ok" for row in kernel)
    model = perf.run_model(
        "nano", "cuda", torch.bfloat16, batch=4, min_run_time=0.05, progress=False
    )
    assert all(row["status"] == "ok" and 0 < row["mfu"] < 1 for row in model)
