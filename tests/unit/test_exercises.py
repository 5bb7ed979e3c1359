"""The exercise checkers pass right answers and give every classic bug 0, with a hint.

The answers here are written as a student would, without the package's own
functions (a checker fails a function that calls them).
"""

import math

import pytest
import torch
from reference import brute_sliding, partition

from swin_tutorial import coursework as ex

# Small tensors: one thread is several times faster than a pool on a busy machine.
pytestmark = pytest.mark.usefixtures("one_thread")


# --------------------------------------------------------------------------- right answers


def reverse(windows, M, H, W):
    C = windows.shape[-1]
    grid = windows.reshape(-1, H // M, W // M, M, M, C)
    return grid.permute(0, 1, 3, 2, 4, 5).reshape(-1, H, W, C)


def labels_mask(H, W, M, rows, cols):
    labels = (3 * rows[:, None] + cols[None, :]).reshape(H // M, M, W // M, M)
    labels = labels.permute(0, 2, 1, 3).reshape(-1, M * M)
    return labels[:, :, None] == labels[:, None, :]


def shift_mask(H, W, M, s):
    i, j = torch.arange(H), torch.arange(W)
    rows = (i >= H - M).long() + (i >= H - s).long()
    cols = (j >= W - M).long() + (j >= W - s).long()
    return labels_mask(H, W, M, rows, cols)


def index(window_size, multiplier=None, sign=1):
    Mh, Mw = (window_size, window_size) if isinstance(window_size, int) else window_size
    rows, cols = torch.meshgrid(torch.arange(Mh), torch.arange(Mw), indexing="ij")
    coords = torch.stack([rows.flatten(), cols.flatten()])
    delta = sign * (coords[:, :, None] - coords[:, None, :])
    return (delta[0] + Mh - 1) * (multiplier or 2 * Mw - 1) + (delta[1] + Mw - 1)


def flops(H, W, C, window_size=None):
    keys = H * W if window_size is None else window_size**2
    return 4 * H * W * C * C + 2 * H * W * keys * C


def window_attention(q, k, v, bias, mask, scale=None, dim=-1, tile=True):
    windows, heads, N, d = q.shape
    nW = mask.shape[0]
    scores = q @ k.transpose(-2, -1) * (d**-0.5 if scale is None else scale) + bias
    if tile:
        allowed = mask.repeat(windows // nW, 1, 1)[:, None]
    else:
        allowed = mask.repeat_interleave(windows // nW, dim=0)[:, None]
    return scores.masked_fill(~allowed, float("-inf")).softmax(dim) @ v


def axis_neighbours(n, kernel, dilation):
    t = torch.arange(n)
    group, member = t % dilation, t // dilation
    members = (n - group + dilation - 1) // dilation
    start = torch.minimum((member - kernel // 2).clamp(min=0), members - kernel)
    offset = member[None, :] - start[:, None]
    return (group[:, None] == group[None, :]) & (offset >= 0) & (offset < kernel)


def attend_pairs(q, k, v, allowed, scale=None):
    """q, k, v (B, heads, H, W, d) attending the token pairs ``allowed`` (HW, HW)."""
    B, heads, H, W, d = q.shape
    flat = [t.reshape(B, heads, H * W, d) for t in (q, k, v)]
    scores = flat[0] @ flat[1].transpose(-2, -1) * (d**-0.5 if scale is None else scale)
    out = scores.masked_fill(~allowed, float("-inf")).softmax(-1) @ flat[2]
    return out.reshape(q.shape)


def neighborhood(q, k, v, kernel, dilation, scale=None):
    H, W = q.shape[2], q.shape[3]
    rows, cols = axis_neighbours(H, kernel, dilation), axis_neighbours(W, kernel, dilation)
    allowed = (rows[:, None, :, None] & cols[None, :, None, :]).reshape(H * W, H * W)
    return attend_pairs(q, k, v, allowed, scale)


def band_attention(q, k, v, allowed_offsets, scale=None):
    t = torch.arange(q.shape[2])
    allowed = allowed_offsets(t[:, None] - t[None, :])
    scores = q @ k.transpose(-2, -1) * (q.shape[-1] ** -0.5 if scale is None else scale)
    return scores.masked_fill(~allowed, float("-inf")).softmax(-1) @ v


def sliding(q, k, v, window, causal):
    if causal:
        return band_attention(q, k, v, lambda o: (o >= 0) & (o < window))
    return band_attention(q, k, v, lambda o: o.abs() <= window // 2)


def log_coordinates(window_size, divide=True):
    wh, ww = (window_size, window_size) if isinstance(window_size, int) else window_size
    rows = [
        (dh / (wh - 1) if divide else dh, dw / (ww - 1) if divide else dw)
        for dh in range(-(wh - 1), wh)
        for dw in range(-(ww - 1), ww)
    ]
    x = torch.tensor(rows, dtype=torch.float64) * 8
    return torch.sign(x) * torch.log2(1 + x.abs()) / math.log2(8)


def receptive_field(model, images, query):
    """The field written plainly: one backward pass per output channel."""
    model.eval()
    x = images.detach().clone().requires_grad_(True)
    token = model.forward_features(x)[:, query[0], query[1], :]  # (B, C)
    squares = torch.zeros_like(x)
    for c in range(token.shape[1]):
        (grad,) = torch.autograd.grad(token[:, c].sum(), x, retain_graph=True)
        squares += grad.square()
    return squares.sum(dim=1).sqrt().mean(dim=0)


def merge(x, order=((0, 0), (1, 0), (0, 1), (1, 1))):
    return torch.cat([x[:, i::2, j::2] for i, j in order], dim=-1)


RIGHT = {
    "partition": (ex.check_window_partition, partition),
    "reverse": (ex.check_window_reverse, reverse),
    "shift_mask": (ex.check_shift_mask, shift_mask),
    "index": (ex.check_relative_position_index, index),
    "flops": (ex.check_attention_flops, flops),
    "window_attention": (ex.check_window_attention, window_attention),
    "neighborhood": (ex.check_neighborhood_attention, neighborhood),
    "sliding": (ex.check_sliding_window_1d, sliding),
    "log": (ex.check_log_spaced_coordinates, log_coordinates),
    "field": (ex.check_effective_receptive_field, receptive_field),
    "merge": (ex.check_merge_order, merge),
}


@pytest.mark.parametrize("seed", [0, 1, 7, None])
@pytest.mark.parametrize("exercise", sorted(RIGHT))
def test_right_answer_passes(exercise, seed, capsys):
    checker, answer = RIGHT[exercise]
    result = checker(answer, trials=1, seed=seed)
    assert result.passed and result.score == 1.0, result.message
    assert "passed" in capsys.readouterr().out


def test_an_answer_written_query_by_query_passes():
    assert ex.check_sliding_window_1d(brute_sliding, trials=1, seed=3, verbose=False).passed


def test_default_trials_pass():
    for checker, answer in RIGHT.values():
        assert checker(answer, verbose=False).passed


def test_merge_reference_is_the_order_of_patch_merging():
    from swin_tutorial.coursework.checks_windows import merged_neighborhoods
    from swin_tutorial.model import PatchMerging

    layer, seen = PatchMerging(3, norm_after=True), []
    layer.reduction.register_forward_hook(lambda module, args, out: seen.append(args[0]))
    x = torch.randn(2, 6, 4, 3)
    layer(x)
    assert torch.equal(seen[0], merged_neighborhoods(x))


# --------------------------------------------------------------------------- classic bugs


def partition_without_permute(x, M):
    return x.reshape(-1, M, M, x.shape[-1])


def partition_with_unfold(x, M):
    return x.unfold(1, M, M).unfold(2, M, M).reshape(-1, M, M, x.shape[-1])


def reverse_without_permute(windows, M, H, W):
    return windows.reshape(-1, H, W, windows.shape[-1])


def mask_unrolled_grid(H, W, M, s):
    """Chapter 7's pitfall: the shifted windows labelled in original coordinates."""
    piece_i = torch.div(torch.arange(H) - s, M, rounding_mode="floor")
    piece_j = torch.div(torch.arange(W) - s, M, rounding_mode="floor")
    labels = (piece_i[:, None] * W + piece_j[None, :]).float()
    windows = partition(labels[None, :, :, None], M).reshape(-1, M * M)
    return windows[:, :, None] == windows[:, None, :]


def neighborhood_clipped(q, k, v, kernel, dilation):
    H, W = q.shape[2], q.shape[3]
    i, j = torch.arange(H).repeat_interleave(W), torch.arange(W).repeat(H)
    di, dj = i[:, None] - i[None, :], j[:, None] - j[None, :]
    reach = kernel // 2 * dilation
    allowed = (di.abs() <= reach) & (dj.abs() <= reach) & (di % dilation == 0)
    return attend_pairs(q, k, v, allowed & (dj % dilation == 0))


def sliding_with(causal_band, symmetric_band):
    def attention(q, k, v, window, causal):
        band = causal_band if causal else symmetric_band
        return band_attention(q, k, v, lambda o: band(o, window))

    return attention


def right_causal(o, w):
    return (o >= 0) & (o < w)


def right_symmetric(o, w):
    return o.abs() <= w // 2


BUGS = {
    "partition without permute": (
        ex.check_window_partition,
        partition_without_permute,
        "without permuting",
    ),
    "partition via unfold": (ex.check_window_partition, partition_with_unfold, "unfold"),
    "reverse without permute": (ex.check_window_reverse, reverse_without_permute, "permut"),
    "mask inverted": (ex.check_shift_mask, lambda *a: ~shift_mask(*a), "inverted"),
    "mask all True": (
        ex.check_shift_mask,
        lambda H, W, M, s: torch.ones((H // M) * (W // M), M * M, M * M, dtype=torch.bool),
        "unshifted grid",
    ),
    "mask labelled at the start": (
        ex.check_shift_mask,
        lambda H, W, M, s: labels_mask(
            H,
            W,
            M,
            (torch.arange(H) >= s).long() + (torch.arange(H) >= M).long(),
            (torch.arange(W) >= s).long() + (torch.arange(W) >= M).long(),
        ),
        "start of the map",
    ),
    "mask for the unrolled grid": (ex.check_shift_mask, mask_unrolled_grid, "rolled"),
    "mask of 0 / -100 scores": (
        ex.check_shift_mask,
        lambda *a: (~shift_mask(*a)).float() * -100.0,
        "dtype torch.float32",
    ),
    "index key minus query": (
        ex.check_relative_position_index,
        lambda m: index(m, sign=-1),
        "key minus query",
    ),
    "index multiplier M_w": (
        ex.check_relative_position_index,
        lambda m: index(m, multiplier=m if isinstance(m, int) else m[1]),
        "not M_w",
    ),
    "index multiplier 2 M_w": (
        ex.check_relative_position_index,
        lambda m: index(m, multiplier=2 * (m if isinstance(m, int) else m[1])),
        "not 2 M_w",
    ),
    "index as floats": (
        ex.check_relative_position_index,
        lambda m: index(m).float(),
        "dtype torch.float32",
    ),
    "flops counted as FLOPs": (
        ex.check_attention_flops,
        lambda *a: 2 * flops(*a),
        "multiply-adds",
    ),
    "flops without projections": (
        ex.check_attention_flops,
        lambda H, W, C, w=None: flops(H, W, C, w) - 4 * H * W * C * C,
        "projections",
    ),
    "attention mask tiled with repeat_interleave": (
        ex.check_window_attention,
        lambda *a: window_attention(*a, tile=False),
        "repeat the mask over the batch",
    ),
    "attention without scale": (
        ex.check_window_attention,
        lambda *a: window_attention(*a, scale=1.0),
        "d ** -0.5",
    ),
    "attention softmax over queries": (
        ex.check_window_attention,
        lambda *a: window_attention(*a, dim=-2),
        "over the keys",
    ),
    "neighbourhood ignoring dilation": (
        ex.check_neighborhood_attention,
        lambda q, k, v, n, d: neighborhood(q, k, v, n, 1),
        "ignored the dilation",
    ),
    "neighbourhood clipped at borders": (
        ex.check_neighborhood_attention,
        neighborhood_clipped,
        "shifted inward",
    ),
    "neighbourhood kernel fixed at 3": (
        ex.check_neighborhood_attention,
        lambda q, k, v, n, d: neighborhood(q, k, v, 3, d),
        "3x3",
    ),
    "neighbourhood without scale": (
        ex.check_neighborhood_attention,
        lambda q, k, v, n, d: neighborhood(q, k, v, n, d, scale=1.0),
        "d ** -0.5",
    ),
    "sliding causal one too wide": (
        ex.check_sliding_window_1d,
        sliding_with(lambda o, w: (o >= 0) & (o <= w), right_symmetric),
        "window + 1 keys",
    ),
    "sliding symmetric too wide": (
        ex.check_sliding_window_1d,
        sliding_with(right_causal, lambda o, w: o.abs() <= w),
        "not |t - s| <= window",
    ),
    "sliding always causal": (
        ex.check_sliding_window_1d,
        sliding_with(right_causal, right_causal),
        "you used the causal window",
    ),
    "sliding never causal": (
        ex.check_sliding_window_1d,
        sliding_with(right_symmetric, right_symmetric),
        "you used the symmetric band",
    ),
    "sliding without scale": (
        ex.check_sliding_window_1d,
        lambda q, k, v, w, c: band_attention(
            q, k, v, (lambda o: right_causal(o, w)) if c else (lambda o: right_symmetric(o, w)), 1.0
        ),
        "d ** -0.5",
    ),
    "log coordinates without M - 1": (
        ex.check_log_spaced_coordinates,
        lambda m: log_coordinates(m, divide=False),
        "minus one (M - 1)",
    ),
    "log coordinates swapped": (
        ex.check_log_spaced_coordinates,
        lambda m: log_coordinates(m).flip(-1),
        "(dh, dw)",
    ),
    "merge in row-major order": (
        ex.check_merge_order,
        lambda x: merge(x, ((0, 0), (0, 1), (1, 0), (1, 1))),
        "wrong order",
    ),
    "merge by a reshape without permute": (
        ex.check_merge_order,
        lambda x: x.reshape(x.shape[0], x.shape[1] // 2, x.shape[2] // 2, -1),
        "without permuting",
    ),
    "merge with channels interleaved": (
        ex.check_merge_order,
        lambda x: torch.stack(
            [x[:, i::2, j::2] for i, j in ((0, 0), (1, 0), (0, 1), (1, 1))], dim=-1
        ).flatten(-2),
        "torch.cat",
    ),
}


@pytest.mark.parametrize("seed", [0, None])
@pytest.mark.parametrize("bug", sorted(BUGS))
def test_classic_bug_scores_zero_with_a_hint(bug, seed):
    checker, wrong, hint = BUGS[bug]
    result = checker(wrong, trials=1, seed=seed, verbose=False)
    assert not result.passed and result.score == 0.0, result.message
    assert "failed on" in result.message
    assert hint in result.message, result.message


def test_field_bugs_fail_with_hints():
    def of_channel_sum(model, images, query):
        model.eval()
        x = images.detach().clone().requires_grad_(True)
        out = model.forward_features(x)[:, query[0], query[1], :].sum()
        (grad,) = torch.autograd.grad(out, x)
        return grad.abs().sum(dim=1).mean(dim=0)

    def summed(model, images, query):
        return receptive_field(model, images, query) * images.shape[0]

    for wrong, hint in ((of_channel_sum, "gradient of their sum"), (summed, "average")):
        result = ex.check_effective_receptive_field(wrong, trials=1, seed=0, verbose=False)
        assert result.score == 0.0 and hint in result.message, result.message


# --------------------------------------------------------------------------- dtypes


@pytest.mark.parametrize(
    "checker, answer",
    [
        (ex.check_relative_position_index, lambda m: index(m).int()),
        (ex.check_relative_position_index, lambda m: index(m).to(torch.int16)),
        (ex.check_log_spaced_coordinates, lambda m: log_coordinates(m).half()),
        (ex.check_log_spaced_coordinates, lambda m: log_coordinates(m).bfloat16()),
        (ex.check_log_spaced_coordinates, lambda m: log_coordinates(m).float()),
        (ex.check_log_spaced_coordinates, log_coordinates),  # float64
        (ex.check_attention_flops, lambda *a: float(flops(*a))),
        (ex.check_window_attention, lambda *a: window_attention(*a).float()),
        (ex.check_window_partition, lambda x, m: partition(x, m).double()),
        (ex.check_window_partition, lambda x, m: partition(x, m).requires_grad_()),
        (
            ex.check_window_reverse,
            lambda *a: reverse(*a).transpose(1, 2).contiguous().transpose(1, 2),
        ),
        (ex.check_merge_order, lambda x: merge(x).transpose(0, 1).contiguous().transpose(0, 1)),
    ],
)
def test_same_maths_in_another_dtype_or_layout_passes(checker, answer):
    result = checker(answer, trials=2, seed=0, verbose=False)
    assert result.passed, result.message


@pytest.mark.parametrize(
    "checker, answer, words",
    [
        (ex.check_window_partition, lambda x, m: partition(x, m) > 0, "received dtype torch.bool"),
        (ex.check_shift_mask, lambda *a: shift_mask(*a).long(), "received dtype torch.int64"),
        (ex.check_relative_position_index, lambda m: index(m) > 3, "received dtype torch.bool"),
        (ex.check_relative_position_index, lambda m: index(m).double(), "torch.float64"),
        (ex.check_log_spaced_coordinates, lambda m: log_coordinates(m).long(), "torch.int64"),
        (ex.check_window_partition, lambda x, m: partition(x, m).to(torch.complex64), "complex"),
        (ex.check_attention_flops, lambda *a: flops(*a) + 0.5, "whole number"),
        (ex.check_attention_flops, lambda *a: True, "received bool"),
    ],
)
def test_other_maths_in_a_dtype_is_rejected_naming_it(checker, answer, words):
    result = checker(answer, trials=1, seed=0, verbose=False)
    assert result.score == 0.0 and words in result.message, result.message
