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
