"""The submission's kernel: its kernelspec, the bwrap line, and the clean-up of its processes."""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from swin_tutorial.coursework import sandbox
from swin_tutorial.coursework.sandbox import (
    PRELOAD,
    bwrap_command,
    hideable,
    kernel_spec,
    kill_marked,
    marked_processes,
    resolve_sandbox,
    run_isolated,
)

needs_bwrap = pytest.mark.skipif(
    shutil.which("bwrap") is None or not sandbox.bwrap_works(shutil.which("bwrap")),
    reason="bubblewrap is missing or cannot start a sandbox here (apt-get install bubblewrap)",
)


def test_plain_kernel_preloads_the_package_and_lives_in_its_home(tmp_path):
    spec = kernel_spec("none", home=str(tmp_path))
    assert spec["argv"][:3] == [sys.executable, "-m", "ipykernel_launcher"]
    assert f"--IPKernelApp.exec_lines={[PRELOAD]!r}" in spec["argv"]
    assert spec["env"]["HOME"] == str(tmp_path)
    assert spec["env"]["IPYTHONDIR"].startswith(str(tmp_path))
    assert spec["env"]["MPLCONFIGDIR"].startswith(str(tmp_path))
    assert spec["interrupt_mode"] == "signal"


def test_bwrap_line_hides_then_binds_and_cuts_the_network():
    line = bwrap_command("bwrap", [("/w/run", "/w/run"), ("/w/cwd", "/w/nb")], ["/w"], "/w/nb")
    assert line[:5] == ["bwrap", "--ro-bind", "/", "/", "--dev"]
    assert line.index("--tmpfs") < line.index("--bind")  # hide first, then open the binds
    assert line[line.index("--tmpfs") + 1] == "/w"
    for option in ("--unshare-net", "--unshare-pid", "--die-with-parent", "--new-session"):
        assert option in line
    assert line[-2:] == ["--chdir", "/w/nb"]


@needs_bwrap
def test_bwrap_kernel_spec_runs_the_kernel_inside_bwrap(tmp_path):
    spec = kernel_spec("bwrap", str(tmp_path), [(str(tmp_path), str(tmp_path))], [], str(tmp_path))
    assert Path(spec["argv"][0]).name == "bwrap"
    assert spec["argv"].index(sys.executable) > spec["argv"].index("--unshare-net")
    assert "--IPKernelApp.parent_handle=0" in spec["argv"]
    assert spec["interrupt_mode"] == "message"


def test_bad_sandbox_names_are_refused():
    with pytest.raises(ValueError, match="sandbox must be one of"):
        resolve_sandbox("docker")
    with pytest.raises(ValueError, match="sandbox must be 'bwrap' or 'none'"):
        kernel_spec("auto", home="/tmp")
    assert resolve_sandbox("none") == "none"


def test_bwrap_requested_without_bwrap_is_the_instructors_mistake(monkeypatch):
    monkeypatch.setattr(sandbox.shutil, "which", lambda name: None)
    assert resolve_sandbox("auto") == "none"
    with pytest.raises(ValueError, match="apt-get install bubblewrap"):
        resolve_sandbox("bwrap")


def test_folders_holding_python_or_the_package_are_never_hidden(tmp_path):
    package_root = Path(sandbox.__file__).resolve().parents[2]
    assert hideable([tmp_path, package_root, Path(sys.prefix), "/", tmp_path / "missing"]) == [
        str(tmp_path.resolve())
    ]


def test_run_isolated_needs_its_marker(tmp_path):
    with pytest.raises(ValueError, match="env must carry the marker"):
        run_isolated(["true"], {}, tmp_path, 5, tmp_path / "log", ("MARK", "1"))


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


@pytest.mark.slow
def test_a_daemon_that_left_the_session_is_killed_afterwards(tmp_path):
    """The command starts a grandchild in a new session and exits: the marker finds it."""
    pidfile = tmp_path / "pid"
    script = (
        "import subprocess, sys\n"
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'],"
        " start_new_session=True)\n"
        f"open({str(pidfile)!r}, 'w').write(str(p.pid))\n"
    )
    env = dict(os.environ, MARK="daemon-test")
    outcome = run_isolated(
        [sys.executable, "-c", script], env, tmp_path, 60, tmp_path / "log", ("MARK", "daemon-test")
    )
    assert outcome.returncode == 0 and not outcome.timed_out
    assert not _alive(int(pidfile.read_text()))
    assert marked_processes("MARK", "daemon-test") == []


@pytest.mark.slow
def test_a_command_past_its_time_is_killed_with_its_group(tmp_path):
    env = dict(os.environ, MARK="timeout-test")
    start = time.monotonic()
    outcome = run_isolated(
        ["sh", "-c", "sleep 60 & sleep 60"],
        env,
        tmp_path,
        1,
        tmp_path / "log",
        ("MARK", "timeout-test"),
    )
    assert outcome.timed_out and outcome.returncode is None
    assert time.monotonic() - start < 30
    assert marked_processes("MARK", "timeout-test") == []
    assert kill_marked("MARK", "timeout-test") == 0


@pytest.mark.slow
@needs_bwrap
def test_inside_bwrap_only_the_binds_are_writable_and_there_is_no_network(tmp_path):
    work, hidden, outside = tmp_path / "work", tmp_path / "hidden", tmp_path / "outside.txt"
    work.mkdir()
    hidden.mkdir()
    (hidden / "secret").write_text("grades")
    line = bwrap_command(shutil.which("bwrap"), [(str(work), str(work))], [str(hidden)], str(work))
    probe = (
        "import os, socket\n"
        "open('inside.txt', 'w').write('ok')\n"
        "for action in (lambda: open({!r}, 'w'), lambda: open({!r}),"
        " lambda: socket.create_connection(('1.1.1.1', 53), timeout=2)):\n"
        "    try:\n        action(); print('allowed')\n"
        "    except OSError as e:\n        print(type(e).__name__)\n"
    ).format(str(outside), str(hidden / "secret"))
    done = subprocess.run(
        [*line, sys.executable, "-c", probe], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert (work / "inside.txt").read_text() == "ok"
    assert not outside.exists()
    assert "allowed" not in done.stdout  # read-only, hidden, no route
    assert os.listdir(hidden) == ["secret"]
