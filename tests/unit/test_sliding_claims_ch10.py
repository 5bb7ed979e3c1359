"""Chapter 10's claims, every case: the chapter checks one representative case of each.

Section by section: the window conventions, the written-out attention, decoding
with caches, the reach after L layers, and what a sliding window costs (the
timing slopes behind the ``slow`` marker).
"""

import math

import pytest
import torch
import torch.nn.functional as F

import swin_tutorial as st
from swin_tutorial.complexity import count_macs
from swin_tutorial.decoder import SlidingWindowDecoder
from swin_tutorial.patterns import receptive_field
from swin_tutorial.perf import peak_memory_bytes, time_callable
from swin_tutorial.sliding import (
    RollingKVCache,
    blocked_score_count,
    longformer_mask,
    sliding_window_attention_1d,
    sliding_window_backend,
    sliding_window_mask,
)

# ------------------------------------------------------------ the chapter's own helpers


def mistral_mask(T, window):
    """Mistral's reference mask: t - window <= u <= t (lower triangle cut at -window)."""
    return torch.ones(T, T).tril(diagonal=0).triu(diagonal=-window).bool()


def longformer_band(T, one_sided):
    position = torch.arange(T)
    return (position[:, None] - position[None, :]).abs() <= one_sided


def my_sliding_attention(q, k, v, window, causal=True):
    T, d = q.shape[-2], q.shape[-1]
    position = torch.arange(T)
    offset = position[:, None] - position[None, :]
    allowed = (offset >= 0) & (offset < window) if causal else offset.abs() <= window // 2
    scores = (q @ k.transpose(-2, -1)) * d**-0.5
    return scores.masked_fill(~allowed, float("-inf")).softmax(dim=-1) @ v


def through_cache(cache, q, k, v):
    steps = [
        cache.step(q[:, :, i : i + 1], k[:, :, i : i + 1], v[:, :, i : i + 1])
        for i in range(q.shape[2])
    ]
    return torch.cat(steps, dim=2)


def blocked_pattern(T, window):
    block = torch.arange(T) // window
    apart = block[:, None] - block[None, :]
    return (apart >= 0) & (apart <= 1)


def loglog_slope(xs, ys):
    lx, ly = [math.log(x) for x in xs], [math.log(y) for y in ys]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    num = sum((a - mx) * (b - my) for a, b in zip(lx, ly, strict=True))
    return num / sum((a - mx) ** 2 for a in lx)


# ------------------------------------------------------------ section 1: the conventions


@pytest.mark.parametrize("window", range(1, 12))
def test_mistrals_window_is_ours_plus_one(window):
    ours = sliding_window_mask(40, window)
    assert ours.sum(-1).max() == window
    assert mistral_mask(40, window).sum(-1).max() == window + 1
    assert torch.equal(mistral_mask(40, window), sliding_window_mask(40, window + 1))
    assert not torch.equal(mistral_mask(40, window), ours)


@pytest.mark.parametrize("one_sided", range(1, 12))
def test_longformers_window_is_ours_symmetric(one_sided):
    band = longformer_band(40, one_sided)
    assert band.sum(-1).max() == 2 * one_sided + 1
    assert torch.equal(band, sliding_window_mask(40, 2 * one_sided, causal=False))
    assert torch.equal(band, sliding_window_mask(40, 2 * one_sided + 1, causal=False))


@pytest.mark.parametrize("window", [1, 2, 5, 9])
def test_mistral_and_ours_agree_up_to_the_window_and_first_differ_at_query_w(window):
    for T in range(1, window + 1):
        assert torch.equal(mistral_mask(T, window), sliding_window_mask(T, window))
    T = window + 3
    differ = (mistral_mask(T, window) != sliding_window_mask(T, window)).any(-1)
    assert differ.nonzero().flatten().tolist() == list(range(window, T))
    assert sliding_window_mask(T, window)[window].nonzero().flatten().tolist() == list(
        range(1, window + 1)
    )
    assert mistral_mask(T, window)[window].nonzero().flatten().tolist() == list(
        range(0, window + 1)
    )


def test_keys_per_query_of_the_three_masks():
    T, global_tokens = 16, [0, 9]
    t = torch.arange(T)
    causal = sliding_window_mask(T, 5)
    band = sliding_window_mask(T, 4, causal=False)
    with_global = longformer_mask(T, 4, global_tokens)
    assert torch.equal(causal.sum(-1), torch.clamp(t + 1, max=5))
    expected = torch.clamp(t, max=2) + torch.clamp(T - 1 - t, max=2) + 1
    assert torch.equal(band.sum(-1), expected)
    assert with_global[global_tokens].all() and with_global[:, global_tokens].all()
    others = [i for i in range(T) if i not in global_tokens]
    assert torch.equal(with_global[others][:, others], band[others][:, others])


@pytest.mark.parametrize("T", [16, 40, 257])
def test_global_tokens_add_at_most_their_number_of_keys(T):
    global_tokens = [0, 9]
    rest = [i for i in range(T) if i not in global_tokens]
    gained = longformer_mask(T, 4, global_tokens).sum(-1) - sliding_window_mask(
        T, 4, causal=False
    ).sum(-1)
    assert (gained[rest] <= len(global_tokens)).all()


def test_two_layers_with_global_tokens_connect_all_and_the_band_alone_needs_six():
    with_global = longformer_mask(16, 4, [0, 9])
    band = sliding_window_mask(16, 4, causal=False)
    assert all(receptive_field([with_global] * 2, t).all() for t in range(16))
    assert not receptive_field([band] * 2, 0).all()
    # token 3 reaches token 14 (11 apart, 2 a layer) after ceil(11 / 2) = 6 band layers
    assert not receptive_field([band] * 5, 14)[3]
    assert receptive_field([band] * 6, 14)[3]


# ------------------------------------------------------------ section 2: written out


@pytest.mark.parametrize(
    ("B", "n_h", "T", "d", "window", "causal"),
    [
        (2, 3, 20, 8, 5, True),
        (1, 2, 33, 4, 1, True),
        (2, 2, 17, 8, 30, True),
        (2, 3, 20, 8, 5, False),
        (1, 1, 9, 16, 4, False),
    ],
)
def test_written_out_equals_the_package(B, n_h, T, d, window, causal):
    torch.manual_seed(T + window)
    q, k, v = (torch.randn(B, n_h, T, d, dtype=torch.float64) for _ in range(3))
    mine = my_sliding_attention(q, k, v, window, causal)
    package = sliding_window_attention_1d(q, k, v, window, causal, backend="auto")
    assert (mine - package).abs().max() < 1e-12


def test_a_band_wider_than_the_sequence_is_global_attention():
    torch.manual_seed(0)
    q, k, v = (torch.randn(1, 1, 20, 8, dtype=torch.float64) for _ in range(3))
    wide = my_sliding_attention(q, k, v, 100, causal=False)
    assert torch.allclose(wide, F.scaled_dot_product_attention(q, k, v))


def test_auto_backend_choices():
    cpu = torch.device("cpu")
    assert sliding_window_backend("auto", 20, cpu) == "dense"
    assert sliding_window_backend("auto", 33, cpu) == "dense"
    assert sliding_window_backend("auto", 100_000, cpu) == "blocked"
    expected = "flex" if st.backends.flex_attention_available() else "blocked"
    assert sliding_window_backend("auto", 100_000, "cuda") == expected


# ------------------------------------------------------------ section 3: decoding


NEW = 40  # generated tokens: five times the window


@pytest.fixture(scope="module")
def decoded():
    torch.manual_seed(0)
    model = SlidingWindowDecoder(64, 32, 4, 4, 8).double().eval()
    prompt = torch.randint(0, 64, (5,)).tolist()
    runs = {}
    with torch.no_grad():
        for kind in ("rolling", "full"):
            caches = model.new_caches(kind)
            tokens, held = list(prompt), []
            for i in range(len(prompt) + NEW - 1):
                out = model.step(torch.tensor([tokens[i]]), caches)
                held.append(sum(cache.nbytes() for cache in caches))
                if i + 1 >= len(prompt):
                    tokens.append(int(out.argmax()))
            runs[kind] = (tokens, held)
    return model, prompt, runs


def test_both_caches_choose_the_same_tokens_as_generate(decoded):
    model, prompt, runs = decoded
    assert runs["rolling"][0] == runs["full"][0]
    assert len(runs["rolling"][0]) == len(prompt) + NEW
    generated = model.generate(torch.tensor([prompt]), NEW, cache="rolling")
    assert generated[0].tolist() == runs["rolling"][0]


def test_cache_memory_flat_and_linear(decoded):
    _, _, runs = decoded
    per_token = 4 * 2 * 32 * 8
    assert per_token == 2048
    assert all(b == 8 * per_token for b in runs["rolling"][1])
    assert all(b == n * per_token for n, b in enumerate(runs["full"][1], start=1))


def test_no_window_same_logits_first_m_positions_only(decoded):
    model, _, runs = decoded
    full = SlidingWindowDecoder(64, 32, 4, 4, window=None).double().eval()
    full.load_state_dict(model.state_dict())
    sequence = torch.tensor([runs["rolling"][0]])
    with torch.no_grad():
        gap = (full(sequence) - model(sequence)).abs().amax(dim=-1)[0]
    assert (gap[:8] < 1e-10).all() and (gap[8:] > 1e-4).all()


@pytest.mark.parametrize("window", [1, 4, 7])
def test_w_plus_one_slots_reproduce_mistral_w_slots_differ_from_w_on(window):
    torch.manual_seed(window)
    q, k, v = (torch.randn(1, 2, 20, 8, dtype=torch.float64) for _ in range(3))
    mistral = F.scaled_dot_product_attention(q, k, v, attn_mask=mistral_mask(20, window))
    plus_one = through_cache(RollingKVCache(window + 1), q, k, v)
    assert torch.allclose(plus_one, mistral, atol=1e-12)
    differs = (through_cache(RollingKVCache(window), q, k, v) - mistral).abs().amax(
        dim=(0, 1, 3)
    ) > 1e-6
    assert not differs[:window].any() and differs[window:].all()


def test_mistral_7b_cache_arithmetic():
    per_token = 2 * 32 * 8 * 128 * 2
    assert per_token == 128 * 1024
    assert 32 * 1024 * per_token == 4 * 2**30
    assert 4096 * per_token == 512 * 2**20


# ------------------------------------------------------------ section 4: the reach


def test_reach_from_matrix_powers_receptive_field_and_formula():
    T, M = 64, 5
    pattern = sliding_window_mask(T, M).long()
    paths = torch.eye(T, dtype=torch.long)
    for L in range(1, 18):
        paths = paths @ pattern
        depends = paths[-1] > 0
        assert int(depends.sum()) == min(L * (M - 1) + 1, T)
        assert torch.equal(depends, receptive_field([pattern.bool()] * L, T - 1))
    # the whole sequence after 16 layers, not 15
    assert 15 * (M - 1) + 1 == 61 and 16 * (M - 1) + 1 >= T


def test_reach_in_mistrals_convention():
    for L in range(1, 12):
        assert receptive_field([mistral_mask(64, 5)] * L, 63).sum() == L * 5 + 1


@pytest.mark.parametrize("L", [1, 2, 3, 4])
def test_paths_one_at_each_end_m_to_the_l_in_all_most_in_the_middle(L):
    T, M = 64, 5
    paths = torch.linalg.matrix_power(sliding_window_mask(T, M).long(), L)
    row = paths[-1].flip(0)[: L * (M - 1) + 1]  # by distance back
    assert row[0] == 1 and row[-1] == 1 and int(row.sum()) == M**L
    assert torch.equal(row, row.flip(0))
    assert row[len(row) // 2] == row.max()
    assert row[L : 3 * L + 1].sum() > row.sum() / 2


def test_mistral_7b_reach():
    span = 32 * (4096 + 1 - 1)
    assert span == 131_072
    assert span - 32 * (4096 - 1) == 32
    assert round(span / 8192) == 16


def test_gradient_support_is_the_reach():
    torch.manual_seed(0)
    model = SlidingWindowDecoder(64, 32, 4, 4, 8).double().eval()
    tokens = torch.randint(0, 64, (1, 48))
    x = model.embed(tokens).detach().requires_grad_(True)
    h = x
    for block in model.blocks:
        h = block(h)
    h[0, -1].sum().backward()
    influence = x.grad[0].abs().sum(dim=-1)
    reach = 4 * (8 - 1) + 1
    assert int((influence > 0).sum()) == reach
    assert (influence[-reach:] > 0).all() and (influence[:-reach] == 0).all()


# ------------------------------------------------------------ section 5: the cost


@pytest.mark.parametrize(("T", "window"), [(24, 4), (50, 7), (64, 16)])
def test_blocks_cover_the_band_and_are_counted_with_one_padding_block(T, window):
    needed = sliding_window_mask(T, window)
    computed = blocked_pattern(T, window)
    assert (computed | ~needed).all()
    if T % window == 0:
        assert blocked_score_count(T, window) == int(computed.sum()) + window * window


@pytest.mark.parametrize("causal", [True, False])
def test_blocked_equals_written_out(causal):
    torch.manual_seed(1)
    q, k, v = (torch.randn(2, 3, 50, 8, dtype=torch.float64) for _ in range(3))
    blocked = sliding_window_attention_1d(q, k, v, 7, causal, backend="blocked")
    assert (blocked - my_sliding_attention(q, k, v, 7, causal)).abs().max() < 1e-12


def _methods(window):
    return {
        "fused": lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
        "dense": lambda q, k, v: sliding_window_attention_1d(q, k, v, window, backend="dense"),
        "blocked": lambda q, k, v: sliding_window_attention_1d(q, k, v, window, backend="blocked"),
    }


LENGTHS = [256, 512, 1024, 2048]


def _qkv(T, n_h=4, d=32):
    return tuple(torch.randn(1, n_h, T, d) for _ in range(3))


def test_multiply_adds_are_exact():
    M, n_h, d = 64, 4, 32
    methods = _methods(M)
    for T in LENGTHS:
        macs = {name: count_macs(fn, *_qkv(T)) for name, fn in methods.items()}
        assert macs["dense"] == 2 * n_h * d * T * T
        assert macs["blocked"] == 2 * n_h * d * blocked_score_count(T, M) == 2 * n_h * d * 2 * M * T
        assert macs["dense"] * 2 * M == macs["blocked"] * T
        assert macs["fused"] == macs["dense"]


def test_memory_slopes_and_the_fused_kernel_holds_the_least():
    methods = _methods(64)
    memory = {
        name: [peak_memory_bytes(torch.no_grad()(fn), *_qkv(T)) for T in LENGTHS]
        for name, fn in methods.items()
    }
    assert 1.8 <= loglog_slope(LENGTHS, memory["dense"]) <= 2.2
    assert 0.8 <= loglog_slope(LENGTHS, memory["blocked"]) <= 1.2
    assert 0.8 <= loglog_slope(LENGTHS, memory["fused"]) <= 1.2
    for fused, dense, blocked in zip(
        memory["fused"], memory["dense"], memory["blocked"], strict=True
    ):
        assert fused < min(dense, blocked)


@pytest.mark.slow
def test_timing_slopes_on_a_quiet_machine():
    """Chapter 10's timing claims: the dense and fused times grow faster than the blocked.

    Measured, so it needs a machine doing little else (it is the test suite's, not the
    chapter's: the chapter asserts only a 2x speed-up at the longest length).
    """
    methods = _methods(64)
    inputs = {T: _qkv(T) for T in LENGTHS}
    seconds = {
        name: [
            sorted(
                time_callable(torch.no_grad()(fn), *inputs[T], min_run_time=0.05, num_threads=1)
                for _ in range(3)
            )[1]
            for T in LENGTHS
        ]
        for name, fn in methods.items()
    }
    slope = {name: loglog_slope(LENGTHS, s) for name, s in seconds.items()}
    assert slope["dense"] > slope["blocked"] + 0.4
    assert slope["fused"] > slope["blocked"] + 0.4
    assert seconds["blocked"][-1] < seconds["dense"][-1]
