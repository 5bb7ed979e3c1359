"""Device names: what this machine offers, and a one-line refusal for what it does not."""

import pytest
import torch

from swin_tutorial.devices import available_devices, default_device, parse_device


def _machine(monkeypatch, cuda: int = 0, mps: bool = False) -> None:
    """Pretend the machine has ``cuda`` CUDA devices and (or not) Apple's MPS."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda > 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)


def test_available_devices_follow_what_torch_reports():
    cuda = torch.cuda.is_available()
    mps = torch.backends.mps.is_available()
    expected = {"auto", "cpu"}
    if cuda or mps:
        expected.add("gpu")
    if cuda:
        expected |= {"cuda"} | {f"cuda:{i}" for i in range(torch.cuda.device_count())}
    if mps:
        expected.add("mps")
    assert set(available_devices()) == expected
    for name in available_devices():
        assert isinstance(parse_device(name), torch.device)


@pytest.mark.parametrize(
    "cuda, mps, expected",
    [
        (0, False, ("auto", "cpu")),
        (2, False, ("auto", "cpu", "gpu", "cuda", "cuda:0", "cuda:1")),
        (0, True, ("auto", "cpu", "gpu", "mps")),
    ],
)
def test_available_devices_on_pretended_machines(monkeypatch, cuda, mps, expected):
    _machine(monkeypatch, cuda, mps)
    assert available_devices() == expected


def test_parse_device_on_a_cpu_only_machine(monkeypatch):
    _machine(monkeypatch)
    assert parse_device("cpu") == torch.device("cpu")
    assert parse_device("auto") == default_device() == torch.device("cpu")


@pytest.mark.parametrize(
    "name, reason",
    [
        ("cuda", "torch.cuda.is_available() is False"),
        ("cuda:0", "torch.cuda.is_available() is False"),
        ("gpu", "no CUDA or MPS device"),
        ("mps", "torch.backends.mps.is_available() is False"),
        ("tpu", "got device='tpu'"),
        ("CPU", "got device='CPU'"),
        ("", "got device=''"),
    ],
)
def test_parse_device_refuses_what_a_cpu_machine_lacks(monkeypatch, name, reason):
    _machine(monkeypatch)
    with pytest.raises(ValueError) as error:
        parse_device(name)
    message = str(error.value)
    assert "\n" not in message
    assert f"device={name!r}" in message and reason in message
    assert "('auto', 'cpu')" in message  # what the machine does offer


def test_parse_device_with_two_cuda_devices(monkeypatch):
    _machine(monkeypatch, cuda=2)
    assert parse_device("cuda:1") == torch.device("cuda", 1)
    assert parse_device("gpu") == parse_device("auto") == torch.device("cuda")
    with pytest.raises(ValueError, match=r"device='cuda:2'.*2 CUDA device"):
        parse_device("cuda:2")
    with pytest.raises(ValueError, match="device='mps'"):
        parse_device("mps")


def test_parse_device_with_mps(monkeypatch):
    _machine(monkeypatch, mps=True)
    assert parse_device("gpu") == parse_device("mps") == torch.device("mps")
    with pytest.raises(ValueError, match="torch.cuda.is_available"):
        parse_device("cuda")


def test_parse_device_wants_a_name():
    with pytest.raises(TypeError, match="device must be a str"):
        parse_device(torch.device("cpu"))
