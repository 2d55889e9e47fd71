"""Running a benchmark or a check with a timeout that really ends it, children included.

The command runs in a new process group with its output going straight to a log file. On
timeout (or Ctrl-C, SIGTERM, SIGHUP) the engine sends SIGTERM to the group and to every descendant
it can find, waits a short grace period, then sends SIGKILL, and sweeps again until no descendant is
left (a process may fork while it is being killed), for at most KILL_SECONDS. On Linux the engine
also makes itself a child subreaper, so a child that escapes the group with setsid() and is orphaned
still reports to the engine and is found and killed. Processes left behind by a command that exited
are ended too, so a stray server cannot skew the next run.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from typing import List, Optional, Sequence, Set

GRACE_SECONDS = 2.0
KILL_SECONDS = 10.0  # how long to keep sweeping with SIGKILL while new descendants appear
CHASE_SECONDS = 2.0  # the longest one sweep chases new descendants
CHASE_QUIET_SECONDS = 0.05  # a sweep ends once no new descendant has appeared for this long
_PR_SET_CHILD_SUBREAPER = 36
TERMINATION_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised as Ctrl-C is, so the benchmark's tree is ended and nothing is recorded."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _raise_terminated(signum, _frame):
    raise Terminated(signum)


@contextlib.contextmanager
def termination_interrupts():
    """While inside, SIGTERM and SIGHUP raise Terminated (a KeyboardInterrupt) instead of ending the process."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, _raise_terminated) for sig in TERMINATION_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextlib.contextmanager
def _interrupts_held():
    """Hold Ctrl-C, SIGTERM and SIGHUP until the tree is ended; they are delivered afterwards."""
    held = {signal.SIGINT, *TERMINATION_SIGNALS}
    if not hasattr(signal, "pthread_sigmask") or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


@dataclass
class Outcome:
    exit_code: Optional[int]  # None when killed for the timeout
    timed_out: bool
    duration_s: float
    killed: int = 0  # processes the engine had to kill

    @property
    def ok(self) -> bool:
        return not self.timed_out and self.exit_code == 0


def _become_subreaper() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _parent_map() -> dict:
    parents = {}
    if os.path.isdir("/proc"):
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            try:
                with open(f"/proc/{name}/stat", "rb") as handle:
                    stat = handle.read()
            except OSError:
                continue
            # the command name may hold spaces and parentheses: fields follow the last ')'
            rest = stat[stat.rfind(b")") + 2:].split()
            if len(rest) >= 2:
                parents[int(name)] = int(rest[1])
        return parents
    try:
        out = subprocess.run(["ps", "-A", "-o", "pid=,ppid="], capture_output=True, text=True).stdout
    except OSError:
        return parents
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0].isdigit() and parts[1].isdigit():
            parents[int(parts[0])] = int(parts[1])
    return parents


def descendants(root: int) -> Set[int]:
    children = {}
    for pid, ppid in _parent_map().items():
        children.setdefault(ppid, []).append(pid)
    found, stack = set(), [root]
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


def _signal_all(pgid: int, pids: Set[int], sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass
    for pid in pids:
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
        return stat[stat.rfind(b")") + 2:][:1] != b"Z"
    except OSError:
        return True


def _reap_orphans() -> None:
    """Collect exit statuses of orphans adopted as subreaper, so none stay zombies."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _live_descendants() -> Set[int]:
    return {pid for pid in descendants(os.getpid()) if _alive(pid)}


def _ppid_and_state(pid: int) -> Optional[tuple]:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
    except OSError:
        return None
    rest = stat[stat.rfind(b")") + 2:].split()
    return (int(rest[1]), rest[0]) if len(rest) >= 2 else None


def _pid_max() -> int:
    try:
        with open("/proc/sys/kernel/pid_max", "rb") as handle:
            return int(handle.read())
    except (OSError, ValueError):
        return 1 << 22


def _last_pid() -> Optional[int]:
    """The pid most recently handed out on this system (Linux), else None."""
    try:
        with open("/proc/loadavg", "rb") as handle:
            return int(handle.read().split()[-1])
    except (OSError, ValueError, IndexError):
        return None


def _kill_sweep(root: int) -> Set[int]:
    """SIGKILL every live descendant of root; returns them.

    A process that forks a successor and exits, in a loop, stays ahead of any listing of /proc. So after
    the listing, the pids handed out since are read as they appear, and one whose parent is ours is
    killed on sight; this goes on until nothing new of ours turns up and everything killed is dead.
    """
    seen = _last_pid()  # read before the listing: what is forked during it is read below
    ours = {root} | descendants(root)
    found = {pid for pid in ours - {root} if _alive(pid)}
    for pid in found:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    if seen is None:
        return found
    quiet_since = time.monotonic()
    deadline = quiet_since + CHASE_SECONDS
    while time.monotonic() < deadline:
        latest = _last_pid() or seen
        span = range(seen + 1, latest + 1) if latest >= seen else [*range(seen + 1, _pid_max() + 1),
                                                                   *range(1, latest + 1)]
        for pid in span:
            info = _ppid_and_state(pid)
            if info and info[0] in ours:
                ours.add(pid)
                if info[1] != b"Z":
                    quiet_since = time.monotonic()
                    found.add(pid)
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.kill(pid, signal.SIGKILL)
        seen = latest
        if time.monotonic() - quiet_since > CHASE_QUIET_SECONDS and not any(_alive(pid) for pid in found):
            break
    return found


def _end_tree(proc: subprocess.Popen) -> int:
    """TERM, then after a grace period KILL, the command's group and every live descendant, sweeping
    again while any is left. Returns how many processes it signalled."""
    with _interrupts_held():
        targets = _live_descendants()
        if not targets and not _group_alive(proc.pid):
            return 0
        _signal_all(proc.pid, targets, signal.SIGTERM)
        deadline = time.monotonic() + GRACE_SECONDS
        while time.monotonic() < deadline:
            proc.poll()
            _reap_orphans()
            if not any(_alive(pid) for pid in targets) and not _group_alive(proc.pid):
                break
            time.sleep(0.05)
        signalled = set(targets)
        _signal_all(proc.pid, targets, signal.SIGKILL)
        deadline = time.monotonic() + KILL_SECONDS
        while True:
            proc.poll()
            _reap_orphans()
            found = _kill_sweep(os.getpid())
            signalled |= found
            if not found and not _group_alive(proc.pid) or time.monotonic() > deadline:
                break
            if not found:
                time.sleep(0.01)  # only zombies left in the group: give them a moment to be reaped
        proc.wait()
        _reap_orphans()
        return len(signalled)


def run(
    command: Sequence[str],
    cwd: str,
    log_path: str,
    timeout: float,
    append: bool = False,
    header: Optional[str] = None,
    env: Optional[dict] = None,
) -> Outcome:
    _become_subreaper()
    mode = "ab" if append else "wb"
    with termination_interrupts(), open(log_path, mode) as log:
        if header:
            log.write(header.encode("utf-8", errors="surrogateescape"))
            log.flush()
        started = time.monotonic()
        try:
            proc = subprocess.Popen(
                list(command),
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=env,
            )
        except OSError as exc:
            log.write(f"autoresearch: could not start {command[0]!r}: {exc.strerror}\n".encode())
            return Outcome(exit_code=127, timed_out=False, duration_s=0.0)
        try:
            try:
                exit_code = proc.wait(timeout=timeout)
                duration = time.monotonic() - started
                killed = _end_tree(proc)
                return Outcome(exit_code=exit_code, timed_out=False, duration_s=duration, killed=killed)
            except subprocess.TimeoutExpired:
                killed = _end_tree(proc)
                duration = time.monotonic() - started
                log.write(f"\nautoresearch: killed after the {timeout:g} s timeout ({killed} processes)\n".encode())
                return Outcome(exit_code=None, timed_out=True, duration_s=duration, killed=killed)
        except KeyboardInterrupt:
            _end_tree(proc)
            raise


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def tail(path: str, lines: int = 15) -> List[str]:
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 8192))
            data = handle.read()
    except OSError:
        return []
    return data.decode("utf-8", errors="replace").splitlines()[-lines:]
