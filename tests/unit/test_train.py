"""The training loop: it learns, is deterministic on CPU, measures what it says; the CLI runs."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import TensorDataset

import swin_tutorial.train as train_module
from swin_tutorial.data import make_loader
from swin_tutorial.model import swin_single_resolution
from swin_tutorial.train import History, Metrics, build_loaders, build_model, evaluate, fit

ROOT = Path(__file__).resolve().parents[2]


def _blobs(n: int = 96, seed: int = 0) -> TensorDataset:
    """A tiny easy problem: noisy 8x8 images, dark (class 0) or bright (class 1)."""
    generator = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 2, (n,), generator=generator)
    images = 0.5 * torch.randn(n, 1, 8, 8, generator=generator) + labels[:, None, None, None]
    return TensorDataset(images, labels)


def _tiny_model(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return swin_single_resolution("shifted", img_size=8, depths=(2,), embed_dim=8, window_size=2)


def _loaders(seed: int = 0):
    return make_loader(_blobs(96, seed), 16, True, seed), make_loader(
        _blobs(48, seed + 100), 16, False
    )


@pytest.mark.slow
def test_fit_lowers_the_loss_and_learns_a_tiny_problem():
    model = _tiny_model()
    train, val = _loaders()
    before = evaluate(model, train)
    history = fit(model, train, val, epochs=6, lr=5e-3, progress=False)
    after = evaluate(model, train)
    assert after.loss < 0.5 * before.loss
    assert history.train_loss[-1] < history.train_loss[0]
    assert history.val_accuracy[-1] >= 0.9


def test_history_has_one_entry_per_epoch_and_increasing_times():
    model = _tiny_model()
    train, val = _loaders()
    history = fit(model, train, val, epochs=3, lr=1e-3, progress=False)
    assert isinstance(history, History)
    record = history.as_dict()
    assert set(record) == {
        "epoch",
        "train_loss",
        "train_accuracy",
        "val_loss",
        "val_accuracy",
        "seconds",
    }
    assert all(len(values) == 3 for values in record.values())
    assert history.epoch == [1, 2, 3]
    assert all(b > a for a, b in zip(history.seconds, history.seconds[1:], strict=False))
    assert all(0 <= a <= 1 for a in history.train_accuracy + history.val_accuracy)
    json.dumps(record)  # plain numbers


def test_validation_metrics_are_evaluate_after_the_epoch():
    model = _tiny_model()
    train, val = _loaders()
    history = fit(model, train, val, epochs=2, lr=1e-3, device="cpu", progress=False)
    final = evaluate(model, val)
    assert history.val_loss[-1] == pytest.approx(final.loss, rel=1e-6)
    assert history.val_accuracy[-1] == final.accuracy


def test_fit_is_deterministic_on_cpu():
    runs = []
    for _ in range(2):
        model = _tiny_model(seed=3)
        train, val = _loaders(seed=3)
        history = fit(model, train, val, epochs=2, lr=3e-3, progress=False, seed=3)
        runs.append((history.train_loss, history.val_loss, [p.clone() for p in model.parameters()]))
    assert runs[0][0] == runs[1][0] and runs[0][1] == runs[1][1]
    assert all(torch.equal(a, b) for a, b in zip(runs[0][2], runs[1][2], strict=True))


def test_evaluate_equals_a_sample_by_sample_computation():
    model = _tiny_model()
    data = _blobs(37, seed=5)
    model.train()
    metrics = evaluate(model, make_loader(data, 8, shuffle=False))
    assert isinstance(metrics, Metrics)
    assert model.training  # mode restored
    model.eval()
    losses, correct = [], 0
    with torch.no_grad():
        for image, label in zip(*data.tensors, strict=True):
            logits = model(image[None])
            losses.append(F.cross_entropy(logits, label[None]).item())
            correct += int(logits.argmax() == label)
    assert metrics.loss == pytest.approx(sum(losses) / 37, rel=1e-5)
    assert metrics.accuracy == correct / 37


def test_learning_rate_follows_half_a_cosine(monkeypatch):
    seen = []
    original_step = torch.optim.AdamW.step

    def recording_step(self, *args, **kwargs):
        seen.append(self.param_groups[0]["lr"])
        return original_step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.AdamW, "step", recording_step)
    model = _tiny_model()
    train, val = _loaders()  # 6 batches per epoch
    fit(model, train, val, epochs=2, lr=0.01, progress=False)
    steps = 12
    expected = [0.005 * (1 + math.cos(math.pi * k / steps)) for k in range(steps)]
    assert seen == pytest.approx(expected, rel=1e-9)


def test_weight_decay_spares_biases_and_norms(monkeypatch):
    groups = []
    original_init = torch.optim.AdamW.__init__

    def recording_init(self, params, *args, **kwargs):
        original_init(self, params, *args, **kwargs)
        groups.extend(self.param_groups)

    monkeypatch.setattr(torch.optim.AdamW, "__init__", recording_init)
    model = _tiny_model()
    fit(model, *_loaders(), epochs=1, lr=1e-3, progress=False, weight_decay=0.1)
    decayed = {id(p) for g in groups if g["weight_decay"] == 0.1 for p in g["params"]}
    for name, parameter in model.named_parameters():
        assert (id(parameter) in decayed) == (parameter.dim() > 1), name


def test_progress_bar_goes_to_stderr_and_can_be_switched_off(capsys):
    train, val = _loaders()
    fit(_tiny_model(), train, val, epochs=1, lr=1e-3, progress=False)
    quiet = capsys.readouterr()
    assert quiet.out == "" and quiet.err == ""
    fit(_tiny_model(), train, val, epochs=1, lr=1e-3, progress=True)
    loud = capsys.readouterr()
    assert loud.out == "" and "6/6" in loud.err


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(epochs=0), ValueError, "epochs"),
        (dict(epochs=1.5), TypeError, "epochs"),
        (dict(lr=0.0), ValueError, "lr"),
        (dict(lr=float("nan")), ValueError, "lr"),
        (dict(model="swin"), TypeError, "model"),
        (dict(train_loader=[1, 2]), TypeError, "train_loader"),
        (dict(val_loader=None), TypeError, "val_loader"),
    ],
)
def test_fit_bad_arguments(kwargs, error, match):
    train, val = _loaders()
    arguments = (
        dict(model=_tiny_model(), train_loader=train, val_loader=val, epochs=1, lr=1e-3) | kwargs
    )
    with pytest.raises(error, match=match):
        fit(**arguments, progress=False)


def test_evaluate_bad_arguments():
    with pytest.raises(TypeError, match="loader"):
        evaluate(_tiny_model(), [(torch.zeros(1, 1, 8, 8), torch.zeros(1, dtype=torch.long))])
    with pytest.raises(TypeError, match="model"):
        evaluate(lambda x: x, make_loader(_blobs(4), 2, False))


def test_build_model_and_loaders_fit_each_other():
    for data, size, classes in (("digits", 16, 10), ("cross-window", 16, 2)):
        train, _ = build_loaders(data, batch_size=4, seed=0, limit=8)
        images, labels = next(iter(train))
        assert images.shape == (4, 1, size, size)
        for name in ("tiny", "window", "shifted", "global", "neighborhood"):
            with torch.no_grad():
                assert build_model(name, data)(images).shape == (4, classes), (data, name)
    with pytest.raises(ValueError, match="model"):
        build_model("huge", "digits")
    with pytest.raises(ValueError, match="data"):
        build_model("tiny", "cifar")


def _run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "swin_tutorial.train", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    "data, model",
    [("digits", "tiny"), ("cross-window", "window"), ("cross-window", "neighborhood")],
)
def test_cli_runs_a_one_epoch_job(data, model, tmp_path):
    weights = tmp_path / "weights.pt"
    result = _run_cli(
        "--data",
        data,
        "--model",
        model,
        "--epochs",
        "1",
        "--limit",
        "16",
        "--batch",
        "8",
        "--device",
        "cpu",
        "--no-progress",
        "--save",
        str(weights),
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("epoch   1")
    summary = json.loads(lines[-1])
    assert summary["data"] == data and summary["model"] == model and summary["epoch"] == [1]
    assert 0 <= summary["val_accuracy"][0] <= 1
    state = torch.load(weights)
    assert set(state) == set(build_model(model, data).state_dict())


def test_cli_rejects_unknown_choices():
    result = _run_cli("--data", "imagenet", "--epochs", "1")
    assert result.returncode != 0 and "--data" in result.stderr


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(lr=float("inf")), ValueError, "lr=inf"),
        (dict(lr=-1e-3), ValueError, "lr=-0.001"),
        (dict(lr=True), TypeError, "lr"),
        (dict(weight_decay=-0.1), ValueError, "weight_decay=-0.1"),
        (dict(progress="no"), TypeError, "progress"),
        (dict(seed=-1), ValueError, "seed=-1"),
        (dict(seed=1.0), TypeError, "seed"),
        (dict(device="tpu"), ValueError, "device='tpu'"),
    ],
)
def test_fit_checks_every_argument_before_training(kwargs, error, match, monkeypatch):
    def no_training(*args, **kwargs):
        raise AssertionError("fit started training")

    monkeypatch.setattr(torch.optim.AdamW, "step", no_training)
    train, val = _loaders()
    arguments = dict(epochs=1, lr=1e-3, progress=False) | kwargs
    with pytest.raises(error, match=match):
        fit(_tiny_model(), train, val, **arguments)


def test_evaluate_and_build_loaders_check_their_arguments():
    with pytest.raises(ValueError, match="device='nonsense'"):
        evaluate(_tiny_model(), make_loader(_blobs(4), 2, False), device="nonsense")
    with pytest.raises(ValueError, match="data"):
        build_loaders("cifar", batch_size=4, seed=0)
    for data in ("digits", "cross-window"):
        with pytest.raises(ValueError, match="limit=0"):
            build_loaders(data, batch_size=4, seed=0, limit=0)
        with pytest.raises(TypeError, match="limit"):
            build_loaders(data, batch_size=4, seed=0, limit=2.5)


# --------------------------------------------------------------------------- CLI refusals


@pytest.fixture
def cli_without_work(monkeypatch):
    """``main(argv)`` that fails the test if it builds data or trains: refusals must come first."""

    def no_work(*args, **kwargs):
        raise AssertionError("the command line went to work before refusing its arguments")

    for name in ("build_model", "build_loaders", "fit"):
        monkeypatch.setattr(train_module, name, no_work)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    return train_module.main


def _refusal(main, capsys, *argv: str) -> str:
    """Run ``main(argv)``; check it exits with status 2; return its one-line error."""
    with pytest.raises(SystemExit) as exit_info:
        main(list(argv))
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    errors = [line for line in captured.err.splitlines() if "error:" in line]
    assert len(errors) == 1 and "Traceback" not in captured.err
    return errors[0]


@pytest.mark.parametrize(
    "option, value, expected",
    [
        ("--epochs", "0", "epochs=0"),
        ("--epochs", "-2", "epochs=-2"),
        ("--epochs", "1.5", "epochs='1.5'"),
        ("--epochs", "ten", "epochs='ten'"),
        ("--batch", "0", "batch=0"),
        ("--batch", "-8", "batch=-8"),
        ("--limit", "0", "limit=0"),
        ("--limit", "-1", "limit=-1"),
        ("--lr", "0", "lr=0.0"),
        ("--lr", "-0.01", "lr=-0.01"),
        ("--lr", "nan", "lr=nan"),
        ("--lr", "inf", "lr=inf"),
        ("--lr", "fast", "lr='fast'"),
        ("--seed", "-1", "seed=-1"),
        ("--seed", "0.5", "seed='0.5'"),
        ("--device", "cuda", "device='cuda'"),
        ("--device", "cuda:0", "device='cuda:0'"),
        ("--device", "gpu", "device='gpu'"),
        ("--device", "mps", "device='mps'"),
        ("--device", "toaster", "device='toaster'"),
    ],
)
def test_cli_refuses_bad_values_in_one_line(cli_without_work, capsys, option, value, expected):
    error = _refusal(cli_without_work, capsys, option, value)
    assert f"argument {option}:" in error and expected in error


def test_cli_device_refusal_says_what_is_available(cli_without_work, capsys):
    error = _refusal(cli_without_work, capsys, "--device", "cuda")
    assert "('auto', 'cpu')" in error and "torch.cuda.is_available() is False" in error


def test_cli_refuses_a_save_path_it_could_not_write(cli_without_work, capsys, tmp_path):
    missing = tmp_path / "no" / "such" / "folder" / "w.pt"
    error = _refusal(cli_without_work, capsys, "--save", str(missing))
    assert "argument --save:" in error and "no such folder" in error and str(missing) in error
    error = _refusal(cli_without_work, capsys, "--save", str(tmp_path))
    assert "argument --save:" in error and "a folder" in error
    assert list(tmp_path.iterdir()) == []


def test_cli_refuses_an_unwritable_folder(cli_without_work, capsys, tmp_path, monkeypatch):
    real_access = os.access
    monkeypatch.setattr(
        os, "access", lambda path, mode: path != tmp_path and real_access(path, mode)
    )
    error = _refusal(cli_without_work, capsys, "--save", str(tmp_path / "w.pt"))
    assert "argument --save:" in error and "permission denied" in error
    assert not (tmp_path / "w.pt").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into a read-only folder")
def test_cli_refuses_a_read_only_folder(cli_without_work, capsys, tmp_path):
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        error = _refusal(cli_without_work, capsys, "--save", str(folder / "w.pt"))
    finally:
        folder.chmod(0o700)
    assert "permission denied" in error


def test_cli_passes_checked_values_to_the_work(monkeypatch, tmp_path):
    seen = {}

    def fake_fit(model, train_loader, val_loader, epochs, lr, device, progress, seed):
        seen.update(epochs=epochs, lr=lr, device=device, progress=progress, seed=seed)
        return History()

    monkeypatch.setattr(train_module, "fit", fake_fit)
    monkeypatch.setattr(train_module, "build_loaders", lambda *args: (None, None))
    argv = ["--epochs", "3", "--lr", "0.01", "--seed", "7", "--device", "cpu", "--no-progress"]
    train_module.main([*argv, "--save", str(tmp_path / "w.pt")])
    assert seen == dict(epochs=3, lr=0.01, device=torch.device("cpu"), progress=False, seed=7)
    assert (tmp_path / "w.pt").exists()


@pytest.mark.slow
def test_cli_refusal_from_a_shell_is_quick_and_writes_nothing(tmp_path):
    weights = tmp_path / "missing" / "w.pt"
    result = _run_cli("--epochs", "1", "--limit", "16", "--save", str(weights))
    assert result.returncode == 2 and result.stdout == ""
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("python -m swin_tutorial.train: error: argument --save: ")
    assert "save must be in an existing folder" in last
    assert not weights.parent.exists()
