"""The claims of chapter 9 (Swin V2) that the chapter states once and checks here in full.

The chapter keeps one representative case per cell; the sweeps over windows, shifts, map
sizes and gains live here, with the chapter's written-out functions copied (a chapter
cannot be imported).
"""

import math

import pytest
import timm
import torch
import torch.nn.functional as F

import swin_tutorial as st
from swin_tutorial.anatomy import block_call_order
from swin_tutorial.position import log_spaced_coordinates


def randomise(module, seed=0):
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            if name.endswith(("norm1.weight", "norm2.weight")):
                p.copy_(1 + 0.2 * torch.randn(p.shape, generator=generator))
            elif "logit_scale" in name:
                p.copy_(math.log(10) + 0.2 * torch.randn(p.shape, generator=generator))
            elif "norm" in name or "bias" in name or "cpb_mlp" in name:
                p.copy_(0.2 * torch.randn(p.shape, generator=generator))


# --- section 1: the stream and the logits -------------------------------------------------


def deep_stack(version, gain, depth=24, dim=64, n_h=4, window=4, seed=1):
    torch.manual_seed(seed)
    Block = st.SwinV2Block if version == 2 else st.SwinBlock
    blocks = [
        Block(dim, n_h, window, 0 if i % 2 == 0 else window // 2).double().eval()
        for i in range(depth)
    ]
    with torch.no_grad():
        for block in blocks:
            for name, p in block.named_parameters():
                if name.endswith(("qkv.weight", "proj.weight", "fc1.weight", "fc2.weight")):
                    p.mul_(gain)
    return blocks


def stream_rms(blocks, x):
    out = []
    with torch.no_grad():
        for block in blocks:
            x = block(x)
            out.append(x.pow(2).mean().sqrt().item())
    return out


@pytest.fixture(scope="module")
def curves():
    torch.manual_seed(0)
    x0 = torch.randn(2, 8, 8, 64).double()
    return x0, {(v, g): stream_rms(deep_stack(v, g), x0) for v in (1, 2) for g in (1, 4, 16)}


def test_random_stacks_show_the_mechanism(curves):
    x0, c = curves
    assert c[1, 1][-1] / c[1, 1][0] < c[2, 1][-1] / c[2, 1][0]  # g = 1: V1 grows less
    assert all(abs(r / math.sqrt(1 + 2 * n) - 1) < 0.1 for n, r in enumerate(c[2, 1], 1))
    v1_end = {g: c[1, g][-1] for g in (1, 4, 16)}
    v2_end = {g: c[2, g][-1] for g in (1, 4, 16)}
    assert v1_end[4] > 4 * v1_end[1] and v1_end[16] > 4 * v1_end[4]
    assert max(v2_end.values()) < 1.1 * min(v2_end.values())
    assert all(6.5 < v < 7.5 for v in v2_end.values())
    blocks = deep_stack(2, 16)
    bound = x0.pow(2).mean().sqrt().item() + sum(
        norm.weight.abs().max().item() + norm.bias.abs().max().item()
        for block in blocks
        for norm in (block.norm1, block.norm2)
    )
    assert round(bound, 1) == 49.0
    assert max(max(c[2, g]) for g in (1, 4, 16)) <= bound


def dot_product_logits(attn, x):
    windows, N, C = x.shape
    q, k, _ = attn.qkv(x).reshape(windows, N, 3, attn.num_heads, -1).permute(2, 0, 3, 1, 4)
    return q @ k.transpose(-2, -1) / q.shape[-1] ** 0.5


def cosine_logits(attn, x):
    windows, N, C = x.shape
    q = F.linear(x, attn.qkv.weight[:C], attn.q_bias)
    k = F.linear(x, attn.qkv.weight[C : 2 * C])
    q, k = (t.reshape(windows, N, attn.num_heads, -1).transpose(1, 2) for t in (q, k))
    cos = F.normalize(q, dim=-1) @ F.normalize(k, dim=-1).transpose(-2, -1)
    return cos * attn.logit_scale.clamp(max=math.log(100)).exp()


def test_dot_products_grow_cosines_stay_within_one_over_tau():
    torch.manual_seed(0)
    v1 = st.WindowAttention(32, 4, 4).eval()
    v2 = st.CosineWindowAttention(32, 4, 4).eval()
    assert torch.equal(v2.logit_scale, torch.full((4, 1, 1), math.log(10)))  # tau = 0.1
    with torch.no_grad():
        v2.logit_scale.copy_(torch.log(torch.tensor([10.0, 50.0, 100.0, 1000.0])).reshape(4, 1, 1))
        v2.q_bias.normal_(std=0.5)
    inverse_tau = v2.logit_scale.clamp(max=math.log(100)).exp()
    assert torch.allclose(inverse_tau.flatten(), torch.tensor([10.0, 50.0, 100.0, 100.0]))
    windows = torch.randn(8, 16, 32)
    largest = {}
    with torch.no_grad():
        bias = v2.relative_position_bias()
        for scale in (1, 10, 100):
            x = scale * windows
            cos = cosine_logits(v2, x)
            largest[scale] = dot_product_logits(v1, x).abs().max().item(), cos.abs().max().item()
            assert (cos.abs() <= inverse_tau * (1 + 1e-6)).all()
            # the package's own logits, (q / tau) k^T, equal the written-out ones
            q, k, _, s = v2._queries_keys_values(x)
            assert torch.allclose((q * s) @ k.transpose(-2, -1), cos, atol=1e-4)
            assert ((cos + bias).abs() <= math.exp(v2.max_logit_scale) + 16).all()
    assert largest[100][0] > 1000 * largest[1][0]
    cosines = [c for _, c in largest.values()]
    assert max(cosines) < 1.1 * min(cosines)


# --- section 2: the three changes written out ---------------------------------------------


def my_cosine_window_attention(attn, x, bias, mask=None):
    windows, N, C = x.shape
    scores = cosine_logits(attn, x) + bias
    if mask is not None:
        blocked = ~mask.repeat(windows // mask.shape[0], 1, 1)
        scores = scores.masked_fill(blocked.unsqueeze(1), float("-inf"))
    weights = scores.softmax(dim=-1)
    v = F.linear(x, attn.qkv.weight[2 * C :], attn.v_bias)
    v = v.reshape(windows, N, attn.num_heads, -1).transpose(1, 2)
    return attn.proj((weights @ v).transpose(1, 2).reshape(windows, N, C)), weights


def test_cosine_attention_written_out_equals_both_paths():
    torch.manual_seed(1)
    attn = st.CosineWindowAttention(24, 3, 4).eval()
    randomise(attn)
    mask = st.shifted_window_mask(8, 8, 4, 2)
    x = st.window_partition(st.cyclic_shift(torch.randn(2, 8, 8, 24), 2), 4).reshape(-1, 16, 24)
    with torch.no_grad():
        mine, my_weights = my_cosine_window_attention(attn, x, attn.relative_position_bias(), mask)
        attn.fused = False
        package, weights = attn(x, mask, return_attention=True)
        attn.fused = True
        fused = attn(x, mask)
    assert torch.allclose(my_weights, weights, atol=1e-6)
    assert torch.allclose(mine, package, atol=1e-5) and torch.allclose(mine, fused, atol=1e-5)


def my_log_spaced_coordinates(window, pretrained):
    axes = []
    for M, M_pre in zip(window, pretrained, strict=True):
        x = torch.arange(-(M - 1), M, dtype=torch.float32) * 8 / max(M_pre - 1, 1)
        axes.append(torch.sign(x) * torch.log2(1 + x.abs()) / math.log2(8))
    return torch.cartesian_prod(*axes)


def my_cpb_table(attn, window, pretrained):
    M_h, M_w = window
    coords = my_log_spaced_coordinates(window, pretrained)
    return 16 * torch.sigmoid(attn.cpb_mlp(coords)).reshape(2 * M_h - 1, 2 * M_w - 1, -1)


def my_cpb_bias(attn, window):
    pretrained = attn.pretrained_window_size or window
    rows, cols = torch.meshgrid(torch.arange(window[0]), torch.arange(window[1]), indexing="ij")
    dh = rows.flatten()[:, None] - rows.flatten()[None, :]
    dw = cols.flatten()[:, None] - cols.flatten()[None, :]
    table = my_cpb_table(attn, window, pretrained)
    return table[dh + window[0] - 1, dw + window[1] - 1].permute(2, 0, 1)


@pytest.mark.parametrize(
    "window, pretrained",
    [((8, 8), (8, 8)), ((7, 7), (7, 7)), ((4, 6), (4, 6)), ((16, 16), (8, 8)),
     ((24, 24), (12, 12)), ((5, 8), (5, 8))],
)  # fmt: skip
def test_log_spaced_coordinates_written_out(window, pretrained):
    assert torch.allclose(
        my_log_spaced_coordinates(window, pretrained), log_spaced_coordinates(window, pretrained)
    )


def test_log_spacing_compresses_far_offsets():
    one_axis = my_log_spaced_coordinates((8, 1), (8, 1))[:, 0]
    assert abs(one_axis.max().item() - math.log2(9) / 3) < 1e-6
    assert round(math.log2(9) / 3, 3) == 1.057
    steps = one_axis[8:] - one_axis[7:-1]
    assert (steps[1:] < steps[:-1]).all()


@pytest.mark.parametrize("window, pretrained", [((8, 8), None), ((4, 6), None), ((12, 12), 8)])
def test_cpb_bias_written_out(window, pretrained):
    torch.manual_seed(2)
    attn = st.CosineWindowAttention(16, 2, window, pretrained_window_size=pretrained).eval()
    randomise(attn)
    with torch.no_grad():
        mine, package = my_cpb_bias(attn, window), attn.relative_position_bias()
    N = window[0] * window[1]
    assert mine.shape == package.shape == (2, N, N)
    assert torch.allclose(mine, package, atol=1e-5)
    assert (package > 0).all() and (package < 16).all()


def my_swinv2_block_forward(block, x):
    B, H, W, C = x.shape
    window, shift = st.effective_window_and_shift(H, W, block.window_size, block.shift_size)
    y, _ = st.pad_to_window_multiple(x, window)
    Hp, Wp = y.shape[1], y.shape[2]
    windows = st.window_partition(st.cyclic_shift(y, shift), window).reshape(
        -1, window[0] * window[1], C
    )
    mask = st.shifted_window_mask(Hp, Wp, window, shift) if any(shift) else None
    windows, _ = my_cosine_window_attention(
        block.attn, windows, my_cpb_bias(block.attn, window), mask
    )
    y = st.reverse_cyclic_shift(st.window_reverse(windows, window, Hp, Wp), shift)[:, :H, :W]
    x = x + block.drop_path1(block.norm1(y))
    return x + block.drop_path2(block.norm2(block.mlp(x)))


@pytest.mark.parametrize("shift_size", [0, 4])
@pytest.mark.parametrize("size", [(16, 16), (10, 13), (8, 8), (5, 9), (4, 4), (1, 1)])
def test_v2_block_written_out(shift_size, size):
    torch.manual_seed(3)
    block = st.SwinV2Block(dim=32, num_heads=4, window_size=8, shift_size=shift_size).eval()
    randomise(block, seed=shift_size)
    x = torch.randn(2, *size, 32)
    with torch.no_grad():
        assert torch.allclose(my_swinv2_block_forward(block, x), block(x), atol=1e-5)


def post_norms_zero(model):
    return all(
        (norm.weight == 0).all() and (norm.bias == 0).all()
        for stage in model.layers
        for block in stage.blocks
        for norm in (block.norm1, block.norm2)
    )


def test_fresh_v2_models_start_as_identity_blocks():
    torch.manual_seed(4)
    nano = st.swin_nano(version=2).eval()
    assert post_norms_zero(nano)
    x = 5 * torch.randn(2, 16, 16, 32) + 3
    with torch.no_grad():
        for block in nano.layers[0].blocks:
            assert torch.equal(block(x), x)
    reference = timm.create_model("swinv2_tiny_window8_256", pretrained=False)
    assert post_norms_zero(reference)


def test_block_call_orders():
    x = torch.randn(1, 8, 8, 32)
    assert block_call_order(st.SwinBlock(32, 4, window_size=4).eval(), x) == [
        "norm1", "attn", "norm2", "mlp",
    ]  # fmt: skip
    assert block_call_order(st.SwinV2Block(32, 4, window_size=4).eval(), x) == [
        "attn", "norm1", "mlp", "norm2",
    ]  # fmt: skip


# --- section 3: one bias network, two windows ---------------------------------------------


def local_bias_network(attn, a, c):
    fc1, fc2 = attn.cpb_mlp[0], attn.cpb_mlp[2]
    with torch.no_grad():
        for p in (fc1.weight, fc1.bias, fc2.weight):
            p.zero_()
        fc1.weight[:4] = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
        fc1.bias[4] = 1.0
        fc2.weight[:, :4] = -torch.tensor(c).reshape(-1, 1)
        fc2.weight[:, 4] = torch.tensor(a)


def test_v1_table_cannot_serve_a_larger_window():
    v1 = st.WindowAttention(16, 2, 8)
    assert v1.relative_position_bias_table.shape[0] == 15**2 and 31**2 - 15**2 == 736
    with pytest.raises(ValueError, match="must not exceed"):
        v1.relative_position_bias((16, 16))


def test_kept_and_stretched_biases_and_v1_interpolation():
    pretrained = st.CosineWindowAttention(16, 2, 8, pretrained_window_size=8).eval()
    local_bias_network(pretrained, a=[3.0, 2.0], c=[4.0, 2.0])
    stretched = st.CosineWindowAttention(16, 2, 8).eval()
    stretched.load_state_dict(pretrained.state_dict())
    with torch.no_grad():
        bias8 = pretrained.relative_position_bias((8, 8))
        kept16 = pretrained.relative_position_bias((16, 16))
        stretched16 = stretched.relative_position_bias((16, 16))
        assert torch.equal(bias8, stretched.relative_position_bias((8, 8)))
        corner = [i * 16 + j for i in range(8) for j in range(8)]
        assert torch.allclose(kept16[:, corner][:, :, corner], bias8, atol=1e-5)
        assert not torch.allclose(stretched16[:, corner][:, :, corner], bias8, atol=1e-2)
        tables = {M: my_cpb_table(pretrained, (M, M), (8, 8)) for M in (8, 16)}
        tables["stretched"] = my_cpb_table(stretched, (16, 16), (16, 16))
        ends16, ends8 = [0, 15, 30], [0, 7, 14]
        assert torch.allclose(
            tables["stretched"][ends16][:, ends16], tables[8][ends8][:, ends8], atol=1e-6
        )
        assert not torch.allclose(tables["stretched"][16, 15], tables[8][8, 7], atol=1e-2)
        v1_8, v1_16 = st.WindowAttention(16, 2, 8), st.WindowAttention(16, 2, 16)
        v1_8.relative_position_bias_table.copy_(tables[8].reshape(225, 2))
        image = v1_8.relative_position_bias_table.T.reshape(1, 2, 15, 15)
        resized = F.interpolate(image, size=(31, 31), mode="bicubic")
        v1_16.relative_position_bias_table.copy_(resized.reshape(2, 961).T)
        assert torch.allclose(v1_8.relative_position_bias(), bias8, atol=1e-5)
        interpolated = v1_16.relative_position_bias()
    to_stretched = (interpolated - stretched16).abs()
    to_kept = (interpolated - kept16).abs()
    assert 5 * to_stretched.mean() < to_kept.mean() and 4 * to_stretched.max() < to_kept.max()
    rounded = [round(float(t), 1) for t in (to_stretched.mean(), to_stretched.max())]
    rounded += [round(float(t), 1) for t in (to_kept.mean(), to_kept.max())]
    assert rounded == [0.3, 1.2, 2.7, 6.8]


def test_extrapolation_of_log_spaced_coordinates():
    assert round(math.log(1 + 7), 3) == 2.079 and round(math.log(1 + 15), 3) == 2.773
    assert round(15 / 7 - 1, 2) == 1.14 and round(math.log(16) / math.log(8) - 1, 2) == 0.33
    trained = log_spaced_coordinates(8, 8).abs().max().item()
    assert round(trained, 3) == 1.057
    assert round(log_spaced_coordinates(16, 8).abs().max().item(), 3) == 1.394
    growth = {}
    for M in (8, 12, 16, 24, 32):
        growth[M] = ((M - 1) / 7 - 1, log_spaced_coordinates(M, 8).abs().max().item() / trained - 1)
    assert round(growth[16][0], 2) == 1.14 and round(growth[16][1], 2) == 0.32
    assert all(log < linear / 2 for linear, log in list(growth.values())[1:])
    assert growth[32][1] < growth[16][0]


# --- section 4: timm's weights -------------------------------------------------------------


def test_timm_weights_load_and_parameter_counts():
    torch.manual_seed(0)
    reference = timm.create_model("swinv2_tiny_window8_256", pretrained=False).eval()
    randomise(reference)
    model = st.load_timm_state_dict(st.swinv2_t().eval(), reference.state_dict())
    image = torch.randn(1, 3, 256, 256)
    with torch.no_grad():
        ours, theirs = model(image), reference(image)
    assert ((ours - theirs).norm() / theirs.norm()).item() < 1e-5
    assert ours.argmax().item() == theirs.argmax().item()

    def count(m):
        return sum(p.numel() for p in m.parameters())

    v1 = st.swin_t(img_size=256, window_size=8)
    assert count(model) == count(reference) == 28_347_154
    per_block = sum(
        -b.dim
        - 225 * b.attn.num_heads
        + b.attn.num_heads
        + (2 * 512 + 512 + 512 * b.attn.num_heads)
        for stage in model.layers
        for b in stage.blocks
    )
    per_merging = sum(-4 * (stage.downsample.out_dim // 2) for stage in model.layers[1:])
    assert (per_block, per_merging) == (53_760, -2_688)
    assert count(model) - count(v1) == per_block + per_merging
    assert abs(count(model) - count(v1)) < 0.002 * count(v1)
