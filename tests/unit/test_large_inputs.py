"""No quadratic surprise: with ``backend="auto"`` large inputs run in bounded memory on the CPU.

Each case runs in a fresh interpreter whose address space is capped at 4 GiB
(``RLIMIT_AS``). Importing this CUDA build of torch and the package takes about
3.1 GiB of address space (``VmPeak``) under that cap, which leaves about 0.9 GiB:
a dense score matrix of either case (80 GB for the sequence, 2 GiB for the map)
would not fit, a linear path does.
"""

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

LIMIT = 4 * 2**30
ROOT = Path(__file__).resolve().parents[2]

PRELUDE = f"""
import resource
resource.setrlimit(resource.RLIMIT_AS, ({LIMIT}, {LIMIT}))
import torch
import swin_tutorial as st
torch.manual_seed(0)
"""

CASES = {
    "sliding, 100,000 tokens": """
        q, k, v = (torch.randn(1, 2, 100_000, 16) for _ in range(3))
        with torch.no_grad():
            out = st.sliding_window_attention_1d(q, k, v, 128)
        assert out.shape == (1, 2, 100_000, 16) and torch.isfinite(out).all()
    """,
    "neighbourhood module, 128x128": """
        layer = st.NeighborhoodAttention2D(32, 2, kernel_size=7)
        with torch.no_grad():
            out = layer(torch.randn(1, 128, 128, 32))
        assert out.shape == (1, 128, 128, 32) and torch.isfinite(out).all()
    """,
}

# Each test starts subprocesses (kernels, capped interpreters): `make test` runs them,
# `make check` leaves them out.
pytestmark = pytest.mark.slow


def _run(body: str) -> subprocess.CompletedProcess:
    code = PRELUDE + textwrap.dedent(body)
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("case", CASES)
def test_auto_finishes_under_4_gib_of_address_space(case):
    result = _run(CASES[case])
    assert result.returncode == 0, result.stderr[-2000:]


def test_the_cap_does_stop_a_dense_score_matrix():
    # the same cap refuses the dense path at a size where auto is linear: the test can fail
    result = _run("""
        q, k, v = (torch.randn(1, 2, 20_000, 16) for _ in range(3))
        st.sliding_window_attention_1d(q, k, v, 128, backend="dense")
    """)
    assert result.returncode != 0 and "alloc" in result.stderr.lower()
