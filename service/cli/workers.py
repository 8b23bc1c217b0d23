"""``ledger serve --workers N``: N serving processes on one port, kept running.

Each worker is ``ledger serve --worker I`` (same host, port and environment) listening with
SO_REUSEPORT, so the kernel spreads connections among them and one event loop's CPU is no
longer the ceiling. A worker that dies (a crash, the OOM killer, a SIGKILL) is started again
after a short pause; what it had answered 2xx is already committed or in its own fsynced
spool, which the new worker replays. A worker that cannot start at all (exit 2: a port or
spool held elsewhere) stops the others. SIGTERM or SIGINT stops every worker (killed after
20 s) and then the supervisor, which exits with 0 when all stopped cleanly. A supervisor
that is SIGKILLed leaves its workers running: signal the process group to stop them all.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time
from types import FrameType

from service.cli.common import say

# A worker that dies sooner than this after its start is restarted after RESTART_PAUSE, so a
# worker that cannot start (a port in use, a locked spool) does not spin.
RESTART_PAUSE = 1.0
# Seconds a worker has to finish its answers after SIGTERM before it is killed.
STOP_WAIT = 20.0


def _start(args: argparse.Namespace, index: int) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "service.cli", "serve", "--host", args.host]
    command += ["--port", str(args.port), "--worker", str(index)]
    return subprocess.Popen(command)  # noqa: S603 (our own interpreter and module)


def supervise(args: argparse.Namespace) -> int:
    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    say(f"serving on http://{args.host}:{args.port} with {args.workers} workers")
    workers = {i: _start(args, i) for i in range(args.workers)}
    started = dict.fromkeys(workers, time.monotonic())
    failed = False
    while not stopping and not failed:
        time.sleep(0.2)
        for index, proc in list(workers.items()):
            if stopping or proc.poll() is None:
                continue
            if proc.returncode == 2:
                # A worker that cannot start (a port or a spool held by another program)
                # would fail the same way again: stop all, and say so (it said why).
                say(f"worker {index} could not start (exit 2): stopping")
                failed = True
                break
            say(f"worker {index} (pid {proc.pid}) exited with {proc.returncode}: restarting")
            if time.monotonic() - started[index] < RESTART_PAUSE:
                time.sleep(RESTART_PAUSE)
            if stopping:
                break
            workers[index] = _start(args, index)
            started[index] = time.monotonic()
    for proc in workers.values():
        if proc.poll() is None:
            proc.terminate()
    codes = [_wait(proc) for proc in workers.values()]
    if failed:
        return 2
    return 0 if all(code in (0, -signal.SIGTERM) for code in codes) else 1


def _wait(proc: subprocess.Popen[bytes]) -> int:
    """The worker's exit code, killing it when it does not stop within STOP_WAIT."""
    try:
        return proc.wait(STOP_WAIT)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()
