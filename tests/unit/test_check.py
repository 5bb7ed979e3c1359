"""Named checks print their claim, and only their claim, and fail with the numbers."""

import pytest
import torch

import swin_tutorial as st


def test_passing_checks_print_one_line(capsys):
    x = torch.randn(3, 4)
    st.check.close(x + 1e-9, x, "nearly the same")
    st.check.equal(torch.arange(3), torch.tensor([0, 1, 2]), "ids")
    st.check.equal(64, 64, "windows")
    st.check.that(torch.tensor(True), "a tensor bool")
    st.check.between(0.7, 0.5, 1.0, "slope")
    assert capsys.readouterr().out.splitlines() == [
        "\u2713 nearly the same",
        "\u2713 ids",
        "\u2713 windows",
        "\u2713 a tensor bool",
        "\u2713 slope",
    ]


def test_failing_checks_raise_with_the_numbers(capsys):
    with pytest.raises(AssertionError, match=r"far: largest error 1 \(allowed: 1e-06"):
        st.check.close(torch.ones(2), torch.zeros(2), "far")
    with pytest.raises(AssertionError, match="shapes differ"):
        st.check.close(torch.ones(2), torch.zeros(3), "shapes")
    with pytest.raises(AssertionError, match="1 of 3 entries differ"):
        st.check.equal(torch.tensor([0, 1, 2]), torch.tensor([0, 1, 3]), "ids")
    with pytest.raises(AssertionError, match="63 != 64"):
        st.check.equal(63, 64, "windows")
    with pytest.raises(AssertionError, match="outside"):
        st.check.between(2.0, 0.5, 1.0, "slope")
    with pytest.raises(AssertionError, match="not true"):
        st.check.that(False, "false")
    assert capsys.readouterr().out == ""


def test_bad_arguments():
    with pytest.raises(TypeError, match="claim must be a non-empty str"):
        st.check.that(True, "")
    with pytest.raises(TypeError, match="condition must be a bool"):
        st.check.that(1, "one")
    with pytest.raises(ValueError, match="condition must be one bool"):
        st.check.that(torch.tensor([True, False]), "two")
    with pytest.raises(TypeError, match="actual must be a tensor"):
        st.check.close([1.0], torch.ones(1), "list")
    with pytest.raises(ValueError, match="atol"):
        st.check.close(torch.ones(1), torch.ones(1), "tol", atol=-1.0)
