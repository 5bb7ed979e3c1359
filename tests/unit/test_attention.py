"""Window attention: fused equals explicit, and shifted windows equal masked global attention."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st_
from reference import masked_global_window_attention, tokens_reached_by, window_bias

import swin_tutorial as st


def _windows_and_mask(B=2, H=14, W=21, C=24, window=7, shift=3):
    x = torch.randn(B, H, W, C)
    windows = st.window_partition(st.cyclic_shift(x, shift), window).reshape(-1, window * window, C)
    return windows, st.shifted_window_mask(H, W, window, shift)


@pytest.mark.parametrize("use_mask", [False, True])
def test_fused_equals_explicit(use_mask):
    torch.manual_seed(0)
    fused = st.WindowAttention(24, 4, 7, fused=True).eval()
    explicit = st.WindowAttention(24, 4, 7, fused=False).eval()
    explicit.load_state_dict(fused.state_dict())
    windows, mask = _windows_and_mask()
    mask = mask if use_mask else None
    a, b = fused(windows, mask), explicit(windows, mask)
    assert torch.allclose(a, b, rtol=1e-5, atol=1e-5)
    assert ((a - b).norm() / b.norm()) < 1e-5


def test_attention_weights_sum_to_one_and_vanish_on_masked_keys():
    torch.manual_seed(1)
    attention = st.WindowAttention(24, 3, 7).eval()
    windows, mask = _windows_and_mask()
    out, attn = attention(windows, mask, return_attention=True)
    assert out.shape == windows.shape
    assert attn.shape == (windows.shape[0], 3, 49, 49)
    assert torch.allclose(attn.sum(-1), torch.ones(()), atol=1e-6)
    blocked = ~mask.repeat(2, 1, 1)[:, None].expand_as(attn)
    assert blocked.any() and (attn[blocked] == 0).all()
    assert torch.allclose(out, attention(windows, mask), atol=1e-5)


@st_.composite
def block_cases(draw):
    window = (draw(st_.integers(2, 5)), draw(st_.integers(2, 5)))
    shift = (draw(st_.integers(0, window[0] - 1)), draw(st_.integers(0, window[1] - 1)))
    H, W = draw(st_.integers(1, 13)), draw(st_.integers(1, 13))
    heads = draw(st_.sampled_from([1, 2, 4]))
    return H, W, window, shift, heads


@settings(max_examples=40, deadline=None)
@given(block_cases(), st_.booleans())
def test_shifted_window_attention_equals_masked_global_attention(case, fused):
    H, W, window, shift, heads = case
    torch.manual_seed(H * 100 + W)
    block = st.SwinBlock(8, heads, window, shift, fused=fused).double().eval()
    x = torch.randn(2, H, W, 8, dtype=torch.float64)
    attn = block.attn
    expected = masked_global_window_attention(
        x,
        attn.qkv.weight,
        attn.qkv.bias,
        attn.proj.weight,
        attn.proj.bias,
        attn.relative_position_bias_table,
        heads,
        window,
        shift,
    )
    assert torch.allclose(block.shifted_window_attention(x), expected, rtol=1e-10, atol=1e-10)


def _reference(x, attention, window, shift, shrink_small_axes=True):
    """fp64 masked global attention from coordinates, with ``attention``'s weights."""
    return masked_global_window_attention(
        x.double(),
        attention.qkv.weight.double(),
        attention.qkv.bias.double(),
        attention.proj.weight.double(),
        attention.proj.bias.double(),
        attention.relative_position_bias_table.double(),
        attention.num_heads,
        window,
        shift,
        shrink_small_axes=shrink_small_axes,
    )


@st_.composite
def pad_free_cases(draw):
    window = (draw(st_.integers(1, 5)), draw(st_.integers(1, 5)))
    shift = (draw(st_.integers(0, window[0] - 1)), draw(st_.integers(0, window[1] - 1)))
    H = window[0] * draw(st_.integers(1, 3))
    W = window[1] * draw(st_.integers(1, 3))
    return H, W, window, shift, draw(st_.sampled_from([1, 2, 4]))


@settings(max_examples=40, deadline=None)
@given(pad_free_cases(), st_.booleans(), st_.sampled_from([torch.float64, torch.float32]))
def test_public_pieces_compose_to_masked_global_attention(case, fused, dtype):
    """roll -> partition -> WindowAttention(mask) -> reverse -> roll back, on a pad-free map."""
    H, W, window, shift, heads = case
    torch.manual_seed(H * 31 + W)
    attention = st.WindowAttention(8, heads, window, fused=fused).to(dtype).eval()
    x = torch.randn(2, H, W, 8, dtype=dtype)
    windows = st.window_partition(st.cyclic_shift(x, shift), window).reshape(
        -1, window[0] * window[1], 8
    )
    mask = st.shifted_window_mask(H, W, window, shift)
    with torch.no_grad():
        out = attention(windows, mask)
    got = st.reverse_cyclic_shift(st.window_reverse(out, window, H, W), shift).double()
    expected = _reference(x, attention, window, shift, shrink_small_axes=False)
    if dtype == torch.float64:
        assert torch.allclose(got, expected, rtol=1e-10, atol=1e-10)
    else:
        assert ((got - expected).norm() / expected.norm()) < 1e-5


@pytest.mark.parametrize("fused", [True, False])
def test_shifted_window_attention_fp32_matches_fp64_reference(fused):
    torch.manual_seed(2)
    block = st.SwinBlock(32, 4, 7, 3, fused=fused).eval()
    x = torch.randn(2, 17, 23, 32)
    with torch.no_grad():
        got = block.shifted_window_attention(x).double()
    expected = _reference(x, block.attn, (7, 7), (3, 3))
    assert ((got - expected).norm() / expected.norm()) < 1e-5


@settings(max_examples=30, deadline=None)
@given(block_cases(), st_.data())
def test_perturbing_one_token_changes_exactly_the_tokens_that_attend_it(case, data):
    H, W, window, shift, heads = case
    token = (data.draw(st_.integers(0, H - 1)), data.draw(st_.integers(0, W - 1)))
    torch.manual_seed(7)
    block = st.SwinBlock(8, heads, window, shift).double().eval()
    x = torch.randn(1, H, W, 8, dtype=torch.float64)
    y = x.clone()
    y[0, token[0], token[1]] += torch.randn(8, dtype=torch.float64)
    changed = (block(y) - block(x)).abs().amax(-1)[0] > 1e-12
    expected = tokens_reached_by(H, W, window, shift, token)
    assert torch.equal(changed, expected)


@pytest.mark.parametrize("fused", [True, False])
def test_map_smaller_than_window_is_one_window_with_the_central_bias(fused):
    """5x5 map, window 7, shift 3: plain global attention over 25 tokens, bias read by offset."""
    torch.manual_seed(3)
    block = st.SwinBlock(16, 2, 7, 3, fused=fused).double().eval()
    x = torch.randn(1, 5, 5, 16, dtype=torch.float64)
    attn = block.attn
    d = 8
    q, k, v = attn.qkv(x.reshape(1, 25, 16)).reshape(1, 25, 3, 2, d).permute(2, 0, 3, 1, 4)
    bias = window_bias(attn.relative_position_bias_table, (5, 5), (7, 7))
    weights = ((q @ k.transpose(-2, -1)) * d**-0.5 + bias).softmax(-1)
    expected = attn.proj((weights @ v).transpose(1, 2).reshape(1, 25, 16)).reshape(1, 5, 5, 16)
    with torch.no_grad():
        assert torch.allclose(block.shifted_window_attention(x), expected, atol=1e-12)


def test_drop_path_and_dropout_are_identity_in_eval_and_random_in_training():
    torch.manual_seed(4)
    block = st.SwinBlock(16, 2, 4, 2, drop_path=0.5, attn_drop=0.2)
    x = torch.randn(8, 8, 8, 16)
    block.eval()
    assert torch.equal(block(x), block(x))
    block.train()
    assert not torch.equal(block(x), block(x))


def test_gather_relative_position_bias_checks_its_inputs():
    from swin_tutorial.position import gather_relative_position_bias

    table, index = torch.randn(9, 2), st.relative_position_index(2)
    assert gather_relative_position_bias(table, index).shape == (2, 4, 4)
    with pytest.raises(ValueError, match="table must have rank 2"):
        gather_relative_position_bias(table[:, 0], index)
    with pytest.raises(TypeError, match="index must be a long tensor"):
        gather_relative_position_bias(table, index.float())
    with pytest.raises(ValueError, match="index must be square"):
        gather_relative_position_bias(table, index[:3])
