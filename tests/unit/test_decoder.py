"""The tiny sliding-window decoder against a reference written token by token, and its caches."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st_

from swin_tutorial.complexity import count_macs
from swin_tutorial.decoder import SlidingWindowBlock, SlidingWindowDecoder, rotary_embedding


def _rotate_complex(x, positions, base=10000.0):
    """RoPE via complex numbers: channel i (real) and i + d/2 (imaginary) times e^{i m theta_i}."""
    half = x.shape[-1] // 2
    z = torch.complex(x[..., :half], x[..., half:])
    theta = torch.tensor([base ** (-i / half) for i in range(half)], dtype=torch.float64)
    turn = torch.polar(
        torch.ones(len(positions), half, dtype=torch.float64), positions[:, None].double() * theta
    )
    rotated = z * turn
    return torch.cat([rotated.real, rotated.imag], dim=-1)


def _reference_logits(model, tokens):
    """The decoder's forward, with attention written as a loop over queries and their keys."""
    x = model.embed.weight[tokens]  # (B, L, C)
    B, L, C = x.shape
    for block in model.blocks:
        heads = block.num_heads
        d = C // heads
        h = torch.nn.functional.layer_norm(
            x, (C,), block.norm1.weight, block.norm1.bias, block.norm1.eps
        )
        q, k, v = (h @ block.qkv.weight.T).split(C, dim=-1)
        q, k, v = (t.reshape(B, L, heads, d).transpose(1, 2) for t in (q, k, v))  # (B, heads, L, d)
        positions = torch.arange(L)
        q, k = _rotate_complex(q, positions), _rotate_complex(k, positions)
        out = torch.zeros_like(q)
        for t in range(L):
            keys = [
                s for s in range(L) if s <= t and (block.window is None or t - s < block.window)
            ]
            scores = (q[:, :, t, None] * k[:, :, keys]).sum(-1) / math.sqrt(d)
            out[:, :, t] = (scores.softmax(-1)[..., None] * v[:, :, keys]).sum(-2)
        x = x + out.transpose(1, 2).reshape(B, L, C) @ block.proj.weight.T
        x = x + block.mlp(block.norm2(x))
    return model.head(model.norm(x))


def _model(window, layers=2, vocab=23, dim=12, heads=2, backend="auto", seed=0):
    torch.manual_seed(seed)
    return (
        SlidingWindowDecoder(vocab, dim, heads, layers, window, mlp_ratio=2, backend=backend)
        .double()
        .eval()
    )


@settings(max_examples=15, deadline=None)
@given(st_.integers(1, 14), st_.one_of(st_.none(), st_.integers(1, 6)), st_.integers(1, 3))
def test_forward_equals_token_by_token_reference(L, window, layers):
    model = _model(window, layers, seed=L)
    tokens = torch.randint(0, 23, (2, L), generator=torch.Generator().manual_seed(L))
    with torch.no_grad():
        assert torch.allclose(model(tokens), _reference_logits(model, tokens), atol=1e-10)


def test_rotary_embedding_matches_complex_rotation_and_depends_on_offsets_only():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 7, 8, dtype=torch.float64)
    positions = torch.tensor([0, 3, 1, 9, 4, 4, 100])
    assert torch.allclose(rotary_embedding(x, positions), _rotate_complex(x, positions), atol=1e-12)
    assert torch.allclose(rotary_embedding(x, positions).norm(dim=-1), x.norm(dim=-1))  # a rotation
    q, k = torch.randn(2, 1, 1, 8, dtype=torch.float64).unbind(0)
    dots = [
        (
            rotary_embedding(q[None], torch.tensor([m]))
            * rotary_embedding(k[None], torch.tensor([n]))
        ).sum()
        for m, n in [(5, 2), (8, 5), (103, 100)]
    ]
    assert torch.allclose(torch.stack(dots), dots[0].expand(3))  # same offset m - n = 3, same score


@settings(max_examples=15, deadline=None)
@given(st_.integers(1, 25), st_.integers(1, 6), st_.integers(1, 3))
def test_cached_steps_equal_forward_with_rolling_and_full_caches(L, window, layers):
    model = _model(window, layers, seed=window)
    tokens = torch.randint(0, 23, (3, L), generator=torch.Generator().manual_seed(L))
    with torch.no_grad():
        expected = model(tokens)
        for kind in ("rolling", "full"):
            caches = model.new_caches(kind)
            for t in range(L):
                assert torch.allclose(model.step(tokens[:, t], caches), expected[:, t], atol=1e-10)
            per_token = 2 * 3 * 12 * 8  # keys and values, batch 3, C = 12 channels, float64
            held = sum(cache.nbytes() for cache in caches)
            assert held == layers * per_token * (window if kind == "rolling" else L)


def test_full_attention_model_uses_a_growing_cache():
    model = _model(None, layers=2)
    tokens = torch.randint(0, 23, (1, 9), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = model(tokens)
        caches = model.new_caches("full")
        for t in range(9):
            assert torch.allclose(model.step(tokens[:, t], caches), expected[:, t], atol=1e-10)


@pytest.mark.parametrize("backend", ["dense", "blocked"])
def test_backends_give_the_same_logits(backend):
    reference = _model(4, layers=3, backend="dense")
    other = _model(4, layers=3, backend=backend)
    other.load_state_dict(reference.state_dict())
    tokens = torch.randint(0, 23, (2, 30), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        assert torch.allclose(other(tokens), reference(tokens), atol=1e-10)


@pytest.mark.parametrize("L, auto_runs", [(2896, "dense"), (2897, "blocked")])
def test_auto_backend_is_dense_only_below_the_threshold(L, auto_runs):
    # one sequence, 2 heads: 2 * L ** 2 <= 2 ** 24 up to L = 2896
    tokens = torch.randint(0, 23, (1, L), generator=torch.Generator().manual_seed(4))
    macs = {
        backend: count_macs(_model(8, layers=1, backend=backend).float(), tokens)
        for backend in ("auto", "dense", "blocked")
    }
    assert macs["auto"] == macs[auto_runs] and macs["dense"] > 2 * macs["blocked"]


@pytest.mark.parametrize("cache", ["rolling", "full"])
def test_generate_is_greedy_decoding_of_forward(cache):
    model = _model(3, layers=2)
    prompt = torch.randint(0, 23, (2, 4), generator=torch.Generator().manual_seed(3))
    out = model.generate(prompt, 8, cache=cache)
    assert out.shape == (2, 12) and torch.equal(out[:, :4], prompt)
    with torch.no_grad():
        logits = model(out)
    assert torch.equal(out[:, 4:], logits[:, 3:-1].argmax(dim=-1))  # each new token is the argmax
    assert torch.equal(model.generate(prompt, 0, cache=cache), prompt)


def test_token_depends_only_on_its_receptive_field():
    window, layers, L = 3, 2, 12
    model = _model(window, layers).float()
    x = model.embed(torch.randint(0, 23, (1, L))).detach().requires_grad_(True)
    h = x
    for block in model.blocks:
        h = block(h)
    h[0, -1].sum().backward()
    touched = x.grad[0].abs().sum(-1) > 0
    reach = layers * (window - 1) + 1
    assert touched[L - reach :].all() and not touched[: L - reach].any()


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: _model(3)(torch.zeros(1, 4)), TypeError, "tokens must be a torch.long tensor"),
        (
            lambda: _model(3)(torch.zeros(4, dtype=torch.long)),
            ValueError,
            r"tokens must have rank 2 \(B, L\)",
        ),
        (
            lambda: _model(3)(torch.full((1, 4), 23)),
            ValueError,
            r"ids in \[0, 23\).*got values from 23",
        ),
        (
            lambda: SlidingWindowDecoder(10, 12, 5, 1, 3),
            ValueError,
            "num_heads=5 must divide dim=12",
        ),
        (
            lambda: SlidingWindowDecoder(10, 6, 2, 1, 3),
            ValueError,
            "head dimension dim // num_heads = 3 must be even",
        ),
        (
            lambda: SlidingWindowDecoder(10, 8, 2, 0, 3),
            ValueError,
            "num_layers must be a positive int",
        ),
        (lambda: SlidingWindowDecoder(10, 8, 2, 1, 0), ValueError, "window must be a positive int"),
        (
            lambda: SlidingWindowDecoder(10, 8, 2, 1, 3, backend="fast"),
            ValueError,
            "backend must be one of",
        ),
        (
            lambda: _model(3).new_caches("ring"),
            ValueError,
            r"kind must be one of \('rolling', 'full'\)",
        ),
        (lambda: _model(None).new_caches("rolling"), ValueError, "needs a sliding window"),
        (
            lambda: _model(3).step(torch.zeros(2, dtype=torch.long), []),
            ValueError,
            "caches must be a list of 2",
        ),
        (
            lambda: _model(3).generate(torch.zeros(1, 2, dtype=torch.long), -1),
            ValueError,
            "new_tokens must be",
        ),
        (
            lambda: _model(3).generate(torch.zeros(1, 0, dtype=torch.long), 2),
            ValueError,
            r"prompt must hold at least one token .*got shape \(1, 0\)",
        ),
        (
            lambda: _model(3)(torch.zeros(2, 0, dtype=torch.long)),
            ValueError,
            r"tokens must hold at least one token .*\(B, L\), got shape \(2, 0\)",
        ),
        (
            lambda: _model(3)(torch.zeros(0, 5, dtype=torch.long)),
            ValueError,
            r"tokens must hold at least one token .*got shape \(0, 5\)",
        ),
        (
            lambda: _model(3).step(torch.zeros(0, dtype=torch.long), _model(3).new_caches()),
            ValueError,
            r"tokens must hold at least one token .*\(B,\), got shape \(0,\)",
        ),
        (
            lambda: _model(3).generate(torch.zeros(1, 2, dtype=torch.long), 1.5),
            TypeError,
            "new_tokens must be an int, got new_tokens=1.5",
        ),
        (
            lambda: rotary_embedding(torch.randn(1, 1, 4, 5), torch.arange(4)),
            ValueError,
            "even last dimension",
        ),
        (
            lambda: rotary_embedding(torch.randn(1, 1, 4, 6), torch.arange(3)),
            ValueError,
            r"shape \(L,\) = \(4,\)",
        ),
        (
            lambda: rotary_embedding(torch.randn(4, 6), torch.arange(4)),
            ValueError,
            "x must have rank 4",
        ),
        (
            lambda: SlidingWindowBlock(8, 2, 3, mlp_ratio=0),
            ValueError,
            "mlp_ratio must be a positive int",
        ),
    ],
)
def test_bad_input(call, error, message):
    with pytest.raises(error, match=message):
        call()
