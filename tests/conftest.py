"""Shared pytest set-up: the `gpu` marker, skipped without CUDA; matplotlib without a
display, every figure closed after each test. The book builds are in book/conftest.py.
"""

import matplotlib

matplotlib.use("Agg")  # before pyplot is imported anywhere: tests draw, nobody looks

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    """Close the figures a test drew, so that they do not pile up in memory."""
    yield
    plt.close("all")


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "gpu: needs a CUDA device (skipped when torch.cuda.is_available() is False)"
    )


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device: torch.cuda.is_available() is False")
    for item in items:
        if item.get_closest_marker("gpu") is not None:
            item.add_marker(skip)
