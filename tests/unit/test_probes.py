"""The probes pass the package's code and catch each pitfall's buggy version."""

import pytest
import torch
import torch.nn.functional as F
from reference import tokens_reached_by

import swin_tutorial as st
from swin_tutorial.probes import locality_probe, receivers, round_trip_probe, shape_probe


def test_receivers_match_the_coordinate_reference():
    for H, W, M, s in [(12, 12, 7, 3), (14, 21, 7, 3), (5, 9, 7, 3), (8, 8, 4, 2), (9, 10, 4, 0)]:
        for token in [(0, 0), (H - 1, W - 1), (H // 2, W // 3)]:
            assert torch.equal(
                receivers(H, W, M, s, token), tokens_reached_by(H, W, (M, M), (s, s), token)
            )


def test_package_passes_every_probe():
    assert round_trip_probe(st.window_partition, st.window_reverse).passed
    block = st.SwinBlock(16, 2, 7, 3).eval()
    assert shape_probe(block, 16).passed
    x = torch.randn(2, 12, 15, 16)
    for token in [(0, 0), (11, 14), (6, 7)]:
        assert torch.equal(locality_probe(block, x, token), receivers(12, 15, 7, 3, token))


# --- the pitfalls, each written the wrong way ---------------------------------


def _partition_with_unfold(x, M):
    B, H, W, C = x.shape
    patches = x.unfold(1, M, M).unfold(2, M, M)  # (B, H/M, W/M, C, M, M)
    return patches.reshape(-1, M, M, C)  # channels end up mixed into space


def _reverse_that_does_not_invert(windows, M, H, W):
    return windows.reshape(-1, H, W, windows.shape[-1])


class _HeadsInsteadOfTokens(st.SwinBlock):
    """qkv reshaped to (B*nW, heads, N, d) without the permute: attention mixes heads."""

    def shifted_window_attention(self, x):
        B, H, W, C = x.shape
        attn = self.attn
        windows = st.window_partition(x, 7).reshape(-1, 49, C)
        qkv = attn.qkv(windows).reshape(windows.shape[0], 3, attn.num_heads, 49, attn.head_dim)
        q, k, v = qkv.permute(1, 0, 3, 2, 4).unbind(0)  # (B*nW, N, heads, d): wrong axis
        out = F.scaled_dot_product_attention(q, k, v).permute(0, 2, 1, 3)
        out = attn.proj(out.reshape(windows.shape[0], 49, C))
        return st.window_reverse(out, 7, H, W)


class _NeverCropped(st.SwinBlock):
    def forward(self, x):
        y, _ = st.pad_to_window_multiple(self.norm1(x), 7)
        return self.attn(st.window_partition(y, 7).reshape(-1, 49, self.dim)).reshape(
            1, y.shape[1], y.shape[2], -1
        )


class _ShiftWithoutMask(st.SwinBlock):
    def attention_mask(self, *args):
        return None


class _RollBeforePad(st.SwinBlock):
    """timm 1.0.31's order: roll, then pad, mask built on the padded map."""

    def shifted_window_attention(self, x):
        B, H, W, C = x.shape
        x = st.cyclic_shift(x, self.shift_size)
        x, _ = st.pad_to_window_multiple(x, self.window_size)
        Hp, Wp = x.shape[1:3]
        mask = st.shifted_window_mask(Hp, Wp, self.window_size, self.shift_size)
        out = self.attn(st.window_partition(x, self.window_size).reshape(-1, 49, C), mask)
        out = st.window_reverse(out, self.window_size, Hp, Wp)[:, :H, :W]
        return st.reverse_cyclic_shift(out, self.shift_size)


def test_round_trip_catches_unfold_and_a_reverse_that_does_not_invert():
    assert not round_trip_probe(_partition_with_unfold, st.window_reverse).passed
    assert not round_trip_probe(st.window_partition, _reverse_that_does_not_invert).passed


def test_shape_probe_catches_padding_never_cropped():
    result = shape_probe(_NeverCropped(16, 2, 7, 0).eval(), 16)
    assert not result.passed and "10x13" in result.message


@pytest.mark.parametrize(
    "buggy, size",
    [(_HeadsInsteadOfTokens, (14, 14)), (_ShiftWithoutMask, (14, 14)), (_RollBeforePad, (12, 12))],
)
def test_locality_probe_catches_attention_bugs(buggy, size):
    torch.manual_seed(0)
    block = buggy(16, 2, 7, 3).eval()
    x = torch.randn(1, *size, 16)
    changed = locality_probe(block, x, (0, 0))
    assert not torch.equal(changed, receivers(*size, 7, 3, (0, 0)))


def test_locality_probe_shows_that_without_shift_nothing_crosses_windows():
    torch.manual_seed(0)
    stack = torch.nn.Sequential(*(st.SwinBlock(16, 2, 4, 0) for _ in range(4))).eval()
    changed = locality_probe(stack, torch.randn(1, 8, 8, 16), (1, 1))
    assert changed[:4, :4].all() and not changed[4:].any() and not changed[:, 4:].any()
    shifted = torch.nn.Sequential(*(st.SwinBlock(16, 2, 4, 2 * (i % 2)) for i in range(4))).eval()
    assert locality_probe(shifted, torch.randn(1, 8, 8, 16), (1, 1))[4:, 4:].any()
