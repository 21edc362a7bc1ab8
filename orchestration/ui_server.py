"""`warehouse ui`'s Dagster: `dagster dev` and every process it starts, stopped as one.

`dagster dev` starts the webserver, the daemon and the code servers (which start run
workers, and they dbt), and on Ctrl-C waits up to a minute for each: Ctrl-C or SIGTERM
left them running. So they run in a session of their own, whose process group holds
them all (none of them starts a session of its own). Ctrl-C, SIGTERM and SIGHUP reaching
`warehouse ui` are forwarded to the whole group; what is left after STOP_GRACE_SECONDS
is killed.

If `warehouse ui` itself dies where it cannot forward anything (SIGKILL, the OOM killer),
a watchdog in the group stops it the same way. The watchdog is forked before `dagster
dev` starts and waits on a pipe only `warehouse ui` holds open: the kernel closes it
when its holder dies, however it died, so no process of the group outlives it for long.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

# What the processes get to shut down cleanly (close the instance's storage, end a run
# worker) before SIGKILL. On a busy machine Dagster's take longer than this, and killing
# them and their going take a second or two more: `warehouse ui` is gone within 10 s.
STOP_GRACE_SECONDS = 7.0
# The signal each stopping signal is forwarded as: a closed terminal stops it like SIGTERM.
FORWARDED = {signal.SIGINT: signal.SIGINT, signal.SIGTERM: signal.SIGTERM, signal.SIGHUP: signal.SIGTERM}


def group_members(pgid: int) -> list[int]:
    """The live processes of process group `pgid` (zombies are dead), read from /proc."""
    members = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text(encoding="utf-8", errors="replace")
        except OSError:  # ended meanwhile
            continue
        # The command name may hold spaces and parentheses: the fields follow the last ')'.
        state, _ppid, pgrp = stat[stat.rindex(")") + 2:].split()[:3]
        if int(pgrp) == pgid and state not in ("Z", "X"):
            members.append(int(entry.name))
    return members


def stop_group(pgid: int, first: int, *, grace: float = STOP_GRACE_SECONDS,
               ignore: frozenset[int] = frozenset(), hurry: Callable[[], bool] = lambda: False) -> list[int]:
    """Send `first` to the group, wait up to `grace` seconds for it to empty, SIGKILL the rest.

    Returns the processes that had to be killed. `ignore`: members not waited for (the
    watchdog, which the SIGKILL ends too); `hurry()` true ends the wait at once.
    """
    try:
        os.killpg(pgid, first)
    except ProcessLookupError:
        return []
    deadline = time.monotonic() + grace
    while ((left := [pid for pid in group_members(pgid) if pid not in ignore])
           and time.monotonic() < deadline and not hurry()):
        time.sleep(0.1)
    if left:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            return []
    return left


def serve(command: Sequence[str], env: Mapping[str, str], *, interrupted_exit_code: int) -> int:
    """Run `command` (`dagster dev ...`) in a session of its own until it ends or is stopped.

    Returns the exit code: `interrupted_exit_code` when a signal stopped it, else
    `command`'s own. No process of the session is left either way.
    """
    received: list[int] = []

    def remember(signum: int, _frame: object) -> None:
        received.append(signum)

    for signum in FORWARDED:
        signal.signal(signum, remember)
    # This process alone holds the write end (os.pipe's ends are not inherited).
    watch_read, watch_write = os.pipe()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", __name__, str(watch_read), *command], env=dict(env),
            stdin=subprocess.DEVNULL, pass_fds=(watch_read,), start_new_session=True)
    finally:
        os.close(watch_read)
    pgid = process.pid  # a session's leader leads its process group
    while not received and process.poll() is None:
        time.sleep(0.2)

    if received:
        name = signal.Signals(received[0]).name
        print(f"warehouse ui: {name} received; stopping Dagster's processes "
              f"(at most {STOP_GRACE_SECONDS:.0f} s; again to kill them now)", file=sys.stderr, flush=True)
        killed = stop_group(pgid, FORWARDED[received[0]], hurry=lambda: len(received) > 1)
    else:  # `dagster dev` ended by itself: what it started must not outlive it
        killed = stop_group(pgid, signal.SIGTERM)
    process.wait()
    # SIGKILL is delivered at once, but the processes take a moment to be gone.
    deadline = time.monotonic() + 2
    while group_members(pgid) and time.monotonic() < deadline:
        time.sleep(0.05)
    os.close(watch_write)
    if killed:
        print(f"warehouse ui: killed {len(killed)} process(es) that had not stopped",
              file=sys.stderr, flush=True)
    if received:
        print("warehouse ui: stopped", file=sys.stderr, flush=True)
        return interrupted_exit_code
    return process.returncode


def _watch(watch_read: int) -> None:
    """The watchdog: block until `warehouse ui` is gone, then stop the group. Never returns."""
    # The group's SIGINT or SIGTERM from `warehouse ui` ends the watchdog quietly (the
    # Python default for SIGINT would print a KeyboardInterrupt).
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    try:
        while os.read(watch_read, 4096):
            pass
        # End of file: `warehouse ui` ended without stopping the group first.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if [pid for pid in group_members(os.getpgrp()) if pid != os.getpid()]:
            print("warehouse ui is gone: stopping its Dagster processes", file=sys.stderr, flush=True)
            stop_group(os.getpgrp(), signal.SIGTERM, ignore=frozenset({os.getpid()}))
    finally:
        os._exit(0)


def _launch(arguments: Sequence[str]) -> None:
    """In the new session: fork the watchdog, then become `dagster dev`."""
    watch_read, command = int(arguments[0]), list(arguments[1:])
    if os.fork() == 0:
        _watch(watch_read)
    os.close(watch_read)
    os.execv(command[0], command)


if __name__ == "__main__":
    _launch(sys.argv[1:])
