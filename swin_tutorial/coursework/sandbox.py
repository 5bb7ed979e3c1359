"""Where a submission's code runs: a kernel in bubblewrap, a process group, a clean-up.

- :func:`kernel_spec` writes the kernelspec the grader's nbgrader uses: the
  IPython kernel, ``swin_tutorial.coursework`` imported before any cell, and,
  with ``sandbox="bwrap"``, inside ``bwrap``: no network (so the kernel talks
  over IPC sockets), its own process namespace, a read-only file system with the
  grader's folders hidden, writable only in its working folder and its ``HOME``,
  and killed with its parent.
- :func:`run_isolated` runs a command in its own session with a time limit and
  afterwards kills every process it left: the process group, and every process
  whose environment carries the run's marker (a daemon that called ``setsid``
  keeps its environment).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

SANDBOXES = ("auto", "bwrap", "none")
#: The module every kernel imports before the first cell, so that a
#: ``swin_tutorial/`` folder a student creates cannot stand in for the package.
PRELOAD = "import swin_tutorial.coursework"
PACKAGE_DIR = Path(__file__).resolve().parents[1]


def bwrap_works(bwrap: str) -> bool:
    """Whether ``bwrap`` starts a process with the options the grader uses (user namespaces...)."""
    probe = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    probe += ["--unshare-net", "--unshare-pid", "--die-with-parent", "true"]
    try:
        return subprocess.run(probe, capture_output=True, timeout=30, check=False).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def resolve_sandbox(sandbox: str) -> str:
    """``"bwrap"`` or ``"none"`` for ``sandbox`` in ``auto | bwrap | none``.

    ``auto`` is ``bwrap`` when bubblewrap is installed and works here; ``bwrap``
    when it does not raises ``ValueError``.
    """
    if sandbox not in SANDBOXES:
        raise ValueError(f"sandbox must be one of {SANDBOXES}, got sandbox={sandbox!r}")
    if sandbox == "none":
        return "none"
    bwrap = shutil.which("bwrap")
    if bwrap and bwrap_works(bwrap):
        return "bwrap"
    if sandbox == "bwrap":
        raise ValueError(
            "sandbox='bwrap' but bubblewrap is not installed or cannot start a sandbox here "
            "(Debian: apt-get install bubblewrap)"
        )
    return "none"


def _contains(folder: Path, path: Path) -> bool:
    return path == folder or folder in path.parents


def hideable(folders: Sequence[str | os.PathLike]) -> list[str]:
    """The existing ``folders`` a sandbox may hide: none holding Python or this package."""
    needed = [Path(sys.prefix), Path(sys.base_prefix), PACKAGE_DIR]
    needed += [Path(sys.executable).resolve()]
    needed = [path.resolve() for path in needed]
    hidden = []
    for folder in folders:
        folder = Path(folder).resolve()
        if (
            folder.is_dir()
            and folder != Path("/")
            and not any(_contains(folder, p) for p in needed)
        ):
            hidden.append(str(folder))
    return hidden


def bwrap_command(
    bwrap: str,
    binds: Sequence[tuple[str, str]],
    hidden: Sequence[str],
    workdir: str,
) -> list[str]:
    """The ``bwrap`` prefix: ``/`` read-only, ``hidden`` folders empty, ``binds`` writable.

    ``binds`` are ``(outside, inside)`` pairs; the command starts in ``workdir``.
    """
    command = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    for folder in hidden:
        command += ["--tmpfs", folder]
    for outside, inside in binds:
        command += ["--bind", outside, inside]
    command += ["--unshare-net", "--unshare-pid", "--unshare-ipc"]
    command += ["--die-with-parent", "--new-session", "--chdir", workdir]
    return command


def kernel_spec(
    sandbox: str,
    home: str,
    binds: Sequence[tuple[str, str]] = (),
    hidden: Sequence[str] = (),
    workdir: str = "",
) -> dict:
    """A kernelspec (``kernel.json``) for a submission's kernel, ``HOME`` at ``home``.

    ``sandbox`` is ``"bwrap"`` or ``"none"``; for ``bwrap``, ``binds``,
    ``hidden`` and ``workdir`` are those of :func:`bwrap_command`.
    """
    if sandbox not in ("bwrap", "none"):
        raise ValueError(f"sandbox must be 'bwrap' or 'none', got sandbox={sandbox!r}")
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    argv += [f"--IPKernelApp.exec_lines={[PRELOAD]!r}", "--HistoryManager.hist_file=:memory:"]
    interrupt = "signal"
    if sandbox == "bwrap":
        bwrap = shutil.which("bwrap")
        if bwrap is None:
            raise ValueError("sandbox='bwrap' but bwrap is not on PATH")
        # In its own process namespace the kernel's parent is bwrap (pid 1): its
        # poller would take that for a dead parent; --die-with-parent does its job.
        argv = (
            bwrap_command(bwrap, binds, hidden, workdir) + argv + ["--IPKernelApp.parent_handle=0"]
        )
        interrupt = "message"  # a signal would reach bwrap, not the kernel inside it
    env = {
        "HOME": home,
        "IPYTHONDIR": str(Path(home) / ".ipython"),
        "MPLCONFIGDIR": str(Path(home) / ".config" / "matplotlib"),
        "TMPDIR": str(Path(home) / "tmp"),
        "PYTHONPATH": str(PACKAGE_DIR.parent),
    }
    return {
        "argv": argv,
        "display_name": f"swin_tutorial grader ({sandbox})",
        "language": "python",
        "interrupt_mode": interrupt,
        "env": env,
    }


# ----------------------------------------------------------------- processes


def marked_processes(name: str, value: str) -> list[int]:
    """Ids of the processes whose environment holds ``name=value`` (read from /proc)."""
    marker = f"{name}={value}".encode()
    found = []
    for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else ():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:  # gone, or not ours to read
            continue
        if marker in environ.split(b"\0"):
            found.append(int(entry.name))
    return found


def kill_marked(name: str, value: str, rounds: int = 20) -> int:
    """SIGKILL every process marked ``name=value`` until none is left; how many were killed."""
    killed = 0
    for _ in range(rounds):
        pids = marked_processes(name, value)
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except OSError:
                pass
        time.sleep(0.05)
    return killed


@dataclass(frozen=True)
class Outcome:
    """How an isolated command ended: exit status (``None`` when killed), time limit hit."""

    returncode: int | None
    timed_out: bool
    seconds: float


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except OSError:
        pass


def run_isolated(
    command: Sequence[str],
    env: dict[str, str],
    cwd: str | os.PathLike,
    timeout: float,
    log: str | os.PathLike,
    marker: tuple[str, str],
) -> Outcome:
    """Run ``command`` in a new session, output to ``log``, at most ``timeout`` seconds.

    ``env`` must hold ``marker`` (``(name, value)``); afterwards the process
    group and every process carrying the marker are killed.
    """
    name, value = marker
    if env.get(name) != value:
        raise ValueError(f"env must carry the marker {name}={value}, got {env.get(name)!r}")
    start = time.monotonic()
    with open(log, "wb") as out:
        process = subprocess.Popen(
            list(command),
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        timed_out = False
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            _kill_group(process.pid)
            kill_marked(name, value)
            process.wait()
    returncode = None if timed_out else process.returncode
    return Outcome(returncode, timed_out, time.monotonic() - start)
