"""The claims of chapter 7 (pitfalls lab) that the chapter states once and checks here in full.

The chapter keeps one representative case per cell; the sweeps over shifts, sizes,
tokens and depths live here, with the chapter's lab layer and the circulated snippet of
its capstone written out again (the chapter cannot be imported).
"""

import inspect

import pytest
import torch
import torch.nn.functional as F
from reference import partition
from torch import nn
from torchvision.models.swin_transformer import shifted_window_attention as torchvision_swa

import swin_tutorial as st
from swin_tutorial.probes import locality_probe, receivers, round_trip_probe, shape_probe

C, N_H, M = 16, 2, 7


# --- the lab bench: the chapter's correct layer, in small parts ---------------------------


def reverse(windows, M, H, W):
    C = windows.shape[-1]
    x = windows.reshape(-1, H // M, W // M, M, M, C).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, H, W, C)


def attend(windows, attn, mask):
    Bw, N, C = windows.shape
    n_h = attn.num_heads
    q, k, v = attn.qkv(windows).reshape(Bw, N, 3, n_h, C // n_h).permute(2, 0, 3, 1, 4)
    scores = q @ k.transpose(-2, -1) * (C // n_h) ** -0.5 + attn.relative_position_bias()
    if mask is not None:
        nW = mask.shape[0]
        scores = (
            scores.reshape(-1, nW, n_h, N, N)
            .masked_fill(~mask[None, :, None], float("-inf"))
            .reshape(Bw, n_h, N, N)
        )
    out = scores.softmax(dim=-1) @ v
    return attn.proj(out.transpose(1, 2).reshape(Bw, N, C))


def layer(
    x,
    attn,
    M,
    s,
    *,
    attend=attend,
    make_mask=st.shifted_window_mask,
    pad=True,
    roll_back=True,
    crop=True,
):
    B, H, W, C = x.shape
    if pad:
        x = F.pad(x, (0, 0, 0, (-W) % M, 0, (-H) % M))
    Hp, Wp = x.shape[1], x.shape[2]
    x = torch.roll(x, shifts=(-s, -s), dims=(1, 2))
    mask = make_mask(Hp, Wp, M, s) if s else None
    out = attend(partition(x, M).reshape(-1, M * M, C), attn, mask)
    out = reverse(out.reshape(-1, M, M, C), M, Hp, Wp)
    if roll_back:
        out = torch.roll(out, shifts=(s, s), dims=(1, 2))
    return out[:, :H, :W] if crop else out


def masked_global_attention(x, attn, M, s):
    B, H, W, C = x.shape
    n_h, d = attn.num_heads, C // attn.num_heads
    i, j = torch.meshgrid(torch.arange(H), torch.arange(W), indexing="ij")
    i, j = i.flatten(), j.flatten()
    pi, pj = torch.div(i - s, M, rounding_mode="floor"), torch.div(j - s, M, rounding_mode="floor")
    allowed = (pi[:, None] == pi[None, :]) & (pj[:, None] == pj[None, :])
    di = (i[:, None] - i[None, :] + M - 1).clamp(0, 2 * M - 2)
    dj = (j[:, None] - j[None, :] + M - 1).clamp(0, 2 * M - 2)
    bias = attn.relative_position_bias_table[di * (2 * M - 1) + dj].permute(2, 0, 1)
    q, k, v = attn.qkv(x.reshape(B, H * W, C)).reshape(B, H * W, 3, n_h, d).permute(2, 0, 3, 1, 4)
    scores = (q @ k.transpose(-2, -1) * d**-0.5 + bias).masked_fill(~allowed, float("-inf"))
    return attn.proj((scores.softmax(dim=-1) @ v).transpose(1, 2).reshape(B, H, W, C))


@pytest.fixture(scope="module")
def blocks():
    torch.manual_seed(0)
    made = {s: st.SwinBlock(C, N_H, window_size=M, shift_size=s).eval() for s in (0, 3)}
    with torch.no_grad():
        for block in made.values():
            block.attn.relative_position_bias_table.normal_()
    return made


@pytest.fixture(scope="module")
def attn(blocks):
    return blocks[3].attn


def matches_oracle(fn, attn, s=3, size=(14, 21)):
    x = torch.randn(2, *size, C, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        return torch.allclose(fn(x), masked_global_attention(x, attn, M, s), atol=1e-5)


@pytest.fixture(scope="module")
def x14():
    return torch.randn(1, 14, 14, C, generator=torch.Generator().manual_seed(1))


# --- the lab bench ------------------------------------------------------------------------


@pytest.mark.parametrize("s", [0, 3])
@pytest.mark.parametrize("size", [(14, 14), (10, 13), (21, 14)])
def test_lab_layer_equals_the_package(blocks, s, size):
    x = torch.randn(2, *size, C)
    with torch.no_grad():
        assert torch.allclose(
            layer(x, blocks[s].attn, M, s), blocks[s].shifted_window_attention(x), atol=1e-5
        )


def test_oracle_agrees_with_lab_and_package_and_rejects_other_weights(blocks, attn):
    assert matches_oracle(lambda t: layer(t, attn, M, 3), attn)
    assert matches_oracle(blocks[3].shifted_window_attention, attn)
    assert not matches_oracle(lambda t: layer(t, blocks[0].attn, M, 0), attn, s=0)


def test_layer_norm_sees_a_random_perturbation_only():
    norm = torch.nn.LayerNorm(C)
    v = torch.randn(C)
    with torch.no_grad():
        assert torch.allclose(norm(v + 5.0), norm(v), atol=1e-5)
        assert not torch.allclose(norm(v + torch.randn(C)), norm(v), atol=1e-2)


@pytest.mark.parametrize("token", [(0, 0), (13, 13), (6, 6), (2, 12)])
def test_lab_layer_locality_equals_receivers(attn, x14, token):
    changed = locality_probe(lambda t: layer(t, attn, M, 3), x14, token)
    assert torch.equal(changed, receivers(14, 14, M, 3, token))


# --- pitfalls 1 to 3 ----------------------------------------------------------------------


def attend_over_heads(windows, attn, mask):
    Bw, N, C = windows.shape
    n_h = attn.num_heads
    q, k, v = attn.qkv(windows).reshape(Bw, N, 3, n_h, C // n_h).unbind(2)
    scores = q @ k.transpose(-2, -1) * (C // n_h) ** -0.5
    return attn.proj((scores.softmax(dim=-1) @ v).reshape(Bw, N, C))


def test_attention_over_heads(attn, x14):
    heads_layer = lambda t: layer(t, attn, M, 0, attend=attend_over_heads)  # noqa: E731
    assert shape_probe(heads_layer, C).passed
    assert locality_probe(heads_layer, x14, (3, 3)).nonzero().tolist() == [[3, 3]]
    assert int(receivers(14, 14, M, 0, (3, 3)).sum()) == 49
    assert not matches_oracle(heads_layer, attn, s=0)


def partition_unfold(x, M):
    B, H, W, C = x.shape
    return x.unfold(1, M, M).unfold(2, M, M).contiguous().view(-1, M, M, C)


def reverse_unfold(windows, M, H, W):
    C = windows.shape[-1]
    x = windows.view(-1, H // M, W // M, C, M, M).permute(0, 1, 4, 2, 5, 3)
    return x.reshape(-1, H, W, C)


def coded_map():
    rows, cols, chans = torch.meshgrid(
        torch.arange(4), torch.arange(4), torch.arange(3), indexing="ij"
    )
    return (100 * rows + 10 * cols + chans).unsqueeze(0)


def test_unfold_then_view_mixes_channels_into_space():
    coded = coded_map()
    assert partition_unfold(coded, 2)[0, 0, 0].tolist() == [0, 10, 100]
    assert partition(coded, 2)[0, 0, 0].tolist() == [0, 1, 2]
    alone = round_trip_probe(partition_unfold, st.window_reverse)
    pair = round_trip_probe(partition_unfold, reverse_unfold)
    assert not alone.passed and not pair.passed and "top-left" in pair.message
    x = torch.randn(2, 8, 12, 3)
    assert torch.equal(reverse_unfold(partition_unfold(x, 4), 4, 8, 12), x)
    fixed = lambda x, M: (  # noqa: E731
        x.unfold(1, M, M).unfold(2, M, M).permute(0, 1, 2, 4, 5, 3).reshape(-1, M, M, x.shape[-1])
    )
    assert torch.equal(fixed(x, 4), st.window_partition(x, 4))
    assert round_trip_probe(fixed, st.window_reverse).passed


def reverse_without_permute(windows, M, H, W):
    return windows.reshape(-1, H // M, W // M, M, M, windows.shape[-1]).reshape(
        -1, H, W, windows.shape[-1]
    )


def test_reverse_without_permute():
    assert not round_trip_probe(partition, reverse_without_permute).passed
    x = torch.randn(1, 8, 12, 3)
    back = reverse_without_permute(partition(x, 4), 4, 8, 12)
    assert int((back != x).any(dim=-1).sum()) == 80
    one_wide = round_trip_probe(partition, reverse_without_permute, sizes=((14, 7, 7), (7, 7, 7)))
    assert one_wide.passed
    assert round_trip_probe(partition, reverse).passed


# --- pitfalls 4 and 5 ---------------------------------------------------------------------


def test_padding_bugs(blocks, attn):
    never_cropped = shape_probe(lambda t: layer(t, attn, M, 3, crop=False), C)
    never_padded = shape_probe(lambda t: layer(t, attn, M, 3, pad=False), C)
    assert not never_cropped.passed and "(1, 14, 14, 16)" in never_cropped.message
    assert not never_padded.passed and never_padded.message.startswith("10x13 map: raised")
    assert shape_probe(lambda t: layer(t, attn, M, 3), C).passed
    assert shape_probe(blocks[3], C).passed
    assert inspect.signature(shape_probe).parameters["sizes"].default == (
        (7, 7),
        (10, 13),
        (5, 9),
        (1, 1),
    )
    # both buggy versions pass on 7x7, a window multiple
    for kwargs in ({"crop": False}, {"pad": False}):
        sizes = ((7, 7),)
        assert shape_probe(lambda t, kw=kwargs: layer(t, attn, M, 3, **kw), C, sizes=sizes).passed
    x = torch.randn(1, 10, 13, C)
    with pytest.raises(RuntimeError):
        x + layer(x, attn, M, 3, crop=False)


def test_unshifted_stacks_never_leave_the_window():
    torch.manual_seed(0)
    x = torch.randn(1, 16, 16, C)
    top_left = torch.zeros(16, 16, dtype=torch.bool)
    top_left[:4, :4] = True
    for depth in (1, 2, 4, 8):
        stack = nn.Sequential(*(st.SwinBlock(C, N_H, 4, 0) for _ in range(depth))).eval()
        assert torch.equal(locality_probe(stack, x, (1, 1)), top_left)


def test_alternating_stack_grows_by_squares():
    torch.manual_seed(0)
    x = torch.randn(1, 16, 16, C)
    stack = nn.Sequential(*(st.SwinBlock(C, N_H, 4, 2 * (i % 2)) for i in range(4))).eval()
    for depth, side in zip((1, 2, 3, 4), (4, 6, 8, 10), strict=True):
        square = torch.zeros(16, 16, dtype=torch.bool)
        square[:side, :side] = True
        assert torch.equal(locality_probe(stack[:depth], x, (1, 1)), square)


# --- pitfalls 6 to 8 ----------------------------------------------------------------------


def test_shift_without_the_mask(attn, x14):
    no_mask = lambda t: layer(t, attn, M, 3, make_mask=lambda *args: None)  # noqa: E731
    changed = locality_probe(no_mask, x14, (0, 0))
    allowed = receivers(14, 14, M, 3, (0, 0))
    assert allowed[:3, :3].all() and allowed.sum() == 9
    assert changed[10:, 10:].any() and changed[:3, 10:].any() and changed[10:, :3].any()
    assert changed.any(1).nonzero().flatten().tolist() == [0, 1, 2, 10, 11, 12, 13]
    assert not matches_oracle(no_mask, attn)
    assert st.shifted_window_mask(14, 14, M, 0).all()
    unshifted = lambda t: layer(  # noqa: E731
        t, attn, M, 3, make_mask=lambda H, W, M_, s: st.shifted_window_mask(H, W, M_, 0)
    )
    assert torch.equal(locality_probe(unshifted, x14, (0, 0)), changed)


def mask_for_unrolled_grid(H, W, M, s):
    pi = torch.div(torch.arange(H) - s, M, rounding_mode="floor")
    pj = torch.div(torch.arange(W) - s, M, rounding_mode="floor")
    labels = (pi[:, None] * W + pj[None, :]).float()
    windows = partition(labels[None, :, :, None], M).reshape(-1, M * M)
    return windows[:, :, None] == windows[:, None, :]


def test_mask_for_the_wrong_grid_and_no_roll_back(attn, x14):
    wrong = lambda t: layer(t, attn, M, 3, make_mask=mask_for_unrolled_grid)  # noqa: E731
    counts = []
    for token in [(0, 0), (6, 6), (13, 13)]:
        changed = locality_probe(wrong, x14, token)
        allowed = receivers(14, 14, M, 3, token)
        assert not torch.equal(changed, allowed)
        counts.append((int(changed.sum()), int(allowed.sum()), int((changed & ~allowed).sum())))
    assert counts == [(16, 9, 7), (16, 49, 0), (16, 16, 15)]
    assert not mask_for_unrolled_grid(14, 14, M, 3).all()
    assert not matches_oracle(wrong, attn)
    no_roll_back = lambda t: layer(t, attn, M, 3, roll_back=False)  # noqa: E731
    changed = locality_probe(no_roll_back, x14, (6, 6))
    allowed = receivers(14, 14, M, 3, (6, 6))
    assert torch.equal(changed, torch.roll(allowed, shifts=(-3, -3), dims=(0, 1)))
    assert not matches_oracle(no_roll_back, attn)


def roll_then_pad(x, attn, M, s):
    B, H, W, C = x.shape
    x = F.pad(torch.roll(x, shifts=(-s, -s), dims=(1, 2)), (0, 0, 0, (-W) % M, 0, (-H) % M))
    Hp, Wp = x.shape[1], x.shape[2]
    out = attend(partition(x, M).reshape(-1, M * M, C), attn, st.shifted_window_mask(Hp, Wp, M, s))
    out = reverse(out.reshape(-1, M, M, C), M, Hp, Wp)[:, :H, :W]
    return torch.roll(out, shifts=(s, s), dims=(1, 2))


def test_roll_before_pad_leaks_and_torchvision_pads_first(blocks, attn):
    def torchvision_layer(x):
        return torchvision_swa(
            x,
            attn.qkv.weight,
            attn.proj.weight,
            attn.relative_position_bias(),
            [M, M],
            attn.num_heads,
            [3, 3],
            qkv_bias=attn.qkv.bias,
            proj_bias=attn.proj.bias,
            training=False,
        )

    x12, x14 = torch.randn(1, 12, 12, C), torch.randn(1, 14, 14, C)
    with torch.no_grad():
        pad_first = layer(x12, attn, M, 3)
        assert torch.allclose(torchvision_layer(x12), pad_first, atol=1e-5)
        assert not torch.allclose(roll_then_pad(x12, attn, M, 3), pad_first, atol=1e-3)
        assert torch.allclose(roll_then_pad(x14, attn, M, 3), layer(x14, attn, M, 3), atol=1e-5)
    allowed = receivers(12, 12, 7, 3, (0, 0))
    rolled = locality_probe(lambda t: roll_then_pad(t, attn, M, 3), x12, (0, 0))
    assert rolled[10:12, :].any() and rolled[:, 10:12].any() and not rolled[2, 2]
    assert torch.equal(locality_probe(lambda t: layer(t, attn, M, 3), x12, (0, 0)), allowed)
    assert torch.equal(locality_probe(torchvision_layer, x12, (0, 0)), allowed)
    assert torch.equal(locality_probe(blocks[3], x12, (0, 0)), allowed)


def test_rows_after_roll_and_pad():
    rolled_first = torch.roll(torch.arange(12), -3)
    regions = st.region_ids(14, 14, 7, 3)[:, 0].unique_consecutive(return_counts=True)[1]
    assert regions.tolist() == [7, 4, 3]
    assert rolled_first[7:11].tolist() == [10, 11, 0, 1] and int(rolled_first[11]) == 2
    assert torch.roll(torch.arange(14), -3)[11:].tolist() == [0, 1, 2]


# --- the capstone: the snippet that circulates --------------------------------------------


class SnippetWindowAttention(nn.Module):
    def __init__(self, dim, window_size, num_heads):
        super().__init__()
        self.num_heads = num_heads
        self.scale = (dim // num_heads) ** -0.5
        self.qkv = nn.Linear(dim, 3 * dim, bias=False)
        self.attn_drop = nn.Dropout(0.1)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(0.1)
        self.softmax = nn.Softmax(dim=-1)

    def forward(self, x):
        B_, N, C = x.shape
        qkv = self.qkv(x).reshape(B_, N, 3, self.num_heads, C // self.num_heads)
        q, k, v = qkv[:, :, 0], qkv[:, :, 1], qkv[:, :, 2]
        attn = self.attn_drop(self.softmax((q @ k.transpose(-2, -1)) * self.scale))
        x = (attn @ v).transpose(1, 2).reshape(B_, N, C)
        return self.proj_drop(self.proj(x))


class SnippetSwinAttention(nn.Module):
    def __init__(self, dim, window_size=7, num_heads=8):
        super().__init__()
        self.window_size = window_size
        self.attn = SnippetWindowAttention(dim, window_size, num_heads)

    def forward(self, x, H, W):
        B, L, C = x.shape
        M = self.window_size
        x = x.view(B, H, W, C)
        x = F.pad(x, (0, 0, 0, (M - W % M) % M, 0, (M - H % M) % M))
        windows = x.unfold(1, M, M).unfold(2, M, M).contiguous().view(-1, M * M, C)
        windows = self.attn(windows).view(-1, M, M, C)
        return windows.permute(0, 3, 1, 2).contiguous().view(B, H, W, C)


@pytest.fixture(scope="module")
def snippet():
    torch.manual_seed(0)
    return SnippetSwinAttention(96, window_size=8, num_heads=4)


def as_map(layer):
    return lambda t: layer(t.flatten(1, 2), t.shape[1], t.shape[2])


def test_snippet_own_test_passes_and_layouts_differ(snippet):
    snippet.train()
    x = torch.randn(2, 32 * 32, 96)
    out = snippet(x, 32, 32)
    assert out.shape == (2, 32, 32, 96)
    with pytest.raises(RuntimeError):
        x + out


@pytest.mark.parametrize("token", [(5, 5), (0, 0), (7, 7), (3, 12), (10, 2), (12, 12)])
def test_snippet_change_lands_in_a_band_of_its_window(snippet, token):
    snippet.eval()
    x = torch.randn(1, 16, 16, 96, generator=torch.Generator().manual_seed(0))
    changed = locality_probe(as_map(snippet), x, token)
    window = (token[0] // 8) * 2 + token[1] // 8  # row-major window number
    band = torch.zeros(16, 16, dtype=torch.bool)
    band[4 * window : 4 * window + 4] = True
    assert torch.equal(changed, band)
    own = receivers(16, 16, 8, 0, token)
    assert int((changed & own).sum()) == 32


def test_snippet_fails_round_trip_padding_and_dropout(snippet):
    def snippet_partition(x, M):
        return x.unfold(1, M, M).unfold(2, M, M).contiguous().view(-1, M, M, x.shape[-1])

    def snippet_reverse(windows, M, H, W):
        C = windows.shape[-1]
        B = windows.numel() // (H * W * C)
        return windows.view(-1, M, M, C).permute(0, 3, 1, 2).contiguous().view(B, H, W, C)

    assert not round_trip_probe(snippet_partition, snippet_reverse).passed
    snippet.eval()
    with pytest.raises(RuntimeError, match="is invalid for input of size 6144"):
        snippet(torch.randn(1, 49, 96), 7, 7)
    result = shape_probe(as_map(snippet), 96)
    assert result.message.startswith("7x7 map: raised RuntimeError")
    x = torch.randn(2, 1024, 96)
    with torch.no_grad():
        assert torch.equal(snippet(x, 32, 32), snippet(x, 32, 32))
        snippet.train()
        assert not torch.equal(snippet(x, 32, 32), snippet(x, 32, 32))
    snippet.eval()


def test_snippet_attends_heads_and_has_no_bias(snippet):
    seen = {}
    hook = snippet.attn.softmax.register_forward_hook(
        lambda module, inputs, output: seen.update(shape=tuple(output.shape))
    )
    with torch.no_grad():
        snippet(torch.randn(2, 1024, 96), 32, 32)
    hook.remove()
    assert seen["shape"] == (32, 64, 4, 4)
    names = [name for name, _ in snippet.named_parameters()]
    assert names == ["attn.qkv.weight", "attn.proj.weight", "attn.proj.bias"]


def test_transpose_of_tokens_first_tensor_mixes_tokens():
    per_token = torch.arange(4.0).reshape(1, 4, 1, 1).expand(1, 4, 2, 1)
    out = per_token.transpose(1, 2).reshape(1, 4, 2)
    assert out[0].tolist() == [[0.0, 1.0], [2.0, 3.0], [0.0, 1.0], [2.0, 3.0]]
    heads_first = per_token.transpose(1, 2)  # (1, n_h, N, d), as after a correct permute
    assert heads_first.transpose(1, 2).reshape(1, 4, 2)[0].tolist() == [
        [float(n)] * 2 for n in range(4)
    ]


def test_package_block_passes_the_checks_the_snippet_fails():
    block = st.SwinBlock(96, 4, window_size=8, shift_size=4).eval()
    x = torch.randn(1, 16, 16, 96)
    assert shape_probe(block.shifted_window_attention, 96).passed
    for token in [(5, 5), (12, 12), (0, 15)]:
        assert torch.equal(
            locality_probe(block.shifted_window_attention, x, token),
            receivers(16, 16, 8, 4, token),
        )
    correct = st.SwinBlock(96, 4, window_size=8, shift_size=0).eval()
    assert torch.equal(locality_probe(correct, x, (5, 5)), receivers(16, 16, 8, 0, (5, 5)))
    with torch.no_grad():
        assert torch.equal(block(x), block(x))
