"""What scripts/bench_ingest.py runs and reads: the service as its own process on a scratch
database, the ceiling server, wrk, the open-loop sender, and the measurements taken around
them (CPU from /proc, RSS, projection lag, the sales a run left).

CPU: a process's utime + stime from /proc/PID/stat. PostgreSQL's share is the backends serving
the scratch database (found by their process title, which names the database), less the
benchmark's own monitoring connection; the server's auxiliary processes (WAL writer,
checkpointer, ...) are left out, since they serve every database of a server that other jobs
share. A backend that exits during a run is lost from the sum: the pool keeps its
connections, so none does in practice.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import asyncpg
import orjson
from bench_load import Webhook

SCRIPTS = Path(__file__).resolve().parent
ROOT = SCRIPTS.parent
WRK_SCRIPT = SCRIPTS / "bench_wrk.lua"
TICK = os.sysconf("SC_CLK_TCK")
_SPOOLED = re.compile(r"\d+\.json")


def scratch_url(server: str, label: str) -> str:
    """A fresh database name on the server ``server`` names."""
    name = f"ledger_bench_{label}_{secrets.token_hex(3)}"
    return urlunsplit(urlsplit(server)._replace(path=f"/{name}"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), in seconds; 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def backend_cpu(database: str, exclude: int) -> dict[int, float]:
    """CPU seconds of each PostgreSQL backend serving ``database`` (by process title)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == exclude:
            continue
        try:
            if (entry / "comm").read_text().strip() != "postgres":
                continue
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if database in title.split():
            found[int(entry.name)] = cpu_seconds(int(entry.name))
    return found


def load_average() -> list[float]:
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]


class CpuMeter:
    """CPU seconds the service process and the database's backends spend between two calls."""

    def __init__(self, pid: int, database: str, monitor_pid: int) -> None:
        self.pid, self.database, self.monitor_pid = pid, database, monitor_pid
        self.service = cpu_seconds(pid)
        self.backends = backend_cpu(database, monitor_pid)

    def spent(self) -> tuple[float, float]:
        now = backend_cpu(self.database, self.monitor_pid)
        postgres = sum(v - self.backends.get(pid, 0.0) for pid, v in now.items())
        return cpu_seconds(self.pid) - self.service, postgres


def write_stream(path: Path, stream: Sequence[Webhook]) -> None:
    with path.open("wb") as f:
        f.writelines(w.line() for w in stream)


def run_ledger(args: list[str], database_url: str) -> str:
    env = {**os.environ, "DATABASE_URL": database_url}
    command = [sys.executable, "-m", "service.cli", *args]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"ledger {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


@dataclass
class Server:
    """A process answering HTTP on a port of this machine: the service, or the ceiling."""

    proc: subprocess.Popen[bytes]
    base: str

    async def wait_ready(self, within: float = 60.0) -> None:
        deadline = time.monotonic() + within
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"{self.base}: the server exited ({self.proc.returncode})")
                try:
                    async with session.get(f"{self.base}/healthz") as resp:
                        if resp.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
        raise RuntimeError(f"{self.base}: not ready within {within:.0f}s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # aiohttp's graceful shutdown
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_service(database_url: str, workdir: Path, settings: dict[str, str]) -> Server:
    """``ledger serve`` on a free port, with its own spool and log in ``workdir``."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "LEDGER_SPOOL_DIR": str(workdir / "spool"),
        **settings,
    }
    command = [sys.executable, "-m", "service.cli", "serve", "--port", str(port)]
    profile = os.environ.get("BENCH_PROFILE_DIR")
    if profile:
        # Where the service's CPU goes: cProfile each service started, one file apiece.
        out = Path(profile) / f"service-{port}.prof"
        command[1:1] = ["-m", "cProfile", "-o", str(out)]
    log = (workdir / "service.log").open("ab")
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    return Server(proc, f"http://127.0.0.1:{port}")


def start_ceiling(workdir: Path) -> Server:
    port = free_port()
    log = (workdir / "ceiling.log").open("ab")
    command = [sys.executable, str(SCRIPTS / "bench_ceiling.py"), str(port)]
    proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    return Server(proc, f"http://127.0.0.1:{port}")


def spooled(workdir: Path) -> int:
    """Deliveries waiting in the service's spool."""
    spool = workdir / "spool"
    return sum(1 for name in os.listdir(spool) if _SPOOLED.fullmatch(name)) if spool.exists() else 0


class AccessLog:
    """The service's answers to webhooks, as its access log (in service.log) records them:
    also those to requests whose client had gone (wrk drops the requests in flight when its
    time is up; the service still records and answers them, and logs it)."""

    LINE = re.compile(rb'"POST /api/webhook/[^"]*" (\d{3}) ')

    def __init__(self, path: Path) -> None:
        self.path, self.offset, self.statuses = path, 0, Counter[int]()

    def answered(self) -> int:
        with self.path.open("rb") as f:
            f.seek(self.offset)
            chunk = f.read()
        complete = chunk[: chunk.rfind(b"\n") + 1]
        self.offset += len(complete)
        self.statuses.update(int(m.group(1)) for m in self.LINE.finditer(complete))
        return self.statuses.total()

    async def wait_for(self, total: int, within: float) -> float | None:
        """The monotonic time at which ``total`` answers had been logged (seen within 5 ms);
        None when they are not within ``within`` seconds."""
        deadline = time.monotonic() + within
        while self.answered() < total:
            if time.monotonic() > deadline:
                return None
            await asyncio.sleep(0.005)
        return time.monotonic()


async def caught_up_after(
    conn: asyncpg.Connection, since: float, workdir: Path, within: float = 60.0
) -> float | None:
    """Seconds from ``since`` (monotonic) until the spool is empty and every row of
    projection_positions has reached max(notification_id) of stored_events (0 when that
    already held at ``since``); None when it does not happen ``within`` seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        row = await conn.fetchrow(
            "SELECT (SELECT coalesce(max(notification_id), 0) FROM stored_events) AS head,"
            " (SELECT min(position) FROM projection_positions) AS low"
        )
        if row["low"] is not None and row["low"] >= row["head"] and not spooled(workdir):
            return max(0.0, time.monotonic() - since)
        await asyncio.sleep(0.005)
    return None


async def sales_between(conn: asyncpg.Connection, user_id: str, low: int, high: int) -> set[int]:
    """The external ids of the user's sales numbered from ``low`` to below ``high``."""
    rows = await conn.fetch(
        "SELECT external_id FROM sales WHERE user_id = $1 AND platform = 'woocommerce'", user_id
    )
    ids = (int(r["external_id"]) for r in rows if r["external_id"].isdigit())
    return {i for i in ids if low <= i < high}


def wrk_files(prefix: Path, stream: Sequence[Webhook], threads: int) -> list[list[Webhook]]:
    """The stream dealt round to wrk's threads, one file each (bench_wrk.lua reads them)."""
    slices = [list(stream[i::threads]) for i in range(threads)]
    for i, part in enumerate(slices):
        write_stream(Path(f"{prefix}-{i}.txt"), part)
    return slices


def run_wrk(
    url: str, prefix: Path, slices: list[list[Webhook]], connections: int, seconds: float
) -> dict[str, Any]:
    """wrk against ``url`` for ``seconds``; its JSON summary, and the deliveries it sent."""
    command = ["wrk", "-t", str(len(slices)), "-c", str(connections), "-d", f"{seconds:.0f}s"]
    command += ["--timeout", "10s", "-s", str(WRK_SCRIPT), url]
    env = {**os.environ, "BENCH_BODIES": str(prefix)}
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    result: dict[str, Any] = orjson.loads(lines[-1])
    sent: list[Webhook] = []
    for index, count in result["sent"]:
        part = slices[index]
        sent += [part[k % len(part)] for k in range(count)]
    result["sent_webhooks"] = sent
    return result


async def run_open_loop(url: str, path: Path, rate: float, give_up: float = 10.0) -> dict[str, Any]:
    """The open-loop sender (scripts/bench_openloop.py) in its own process."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(SCRIPTS / "bench_openloop.py"),
        *("--url", url, "--bodies", str(path), "--rate", str(rate), "--timeout", str(give_up)),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"open-loop sender failed: {err.decode()[-500:]}")
    result: dict[str, Any] = orjson.loads(out.splitlines()[-1])
    return result


async def run_library(database_url: str, path: Path, threads: int = 8) -> dict[str, Any]:
    """The library baseline (scripts/bench_library.py) in its own process."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(SCRIPTS / "bench_library.py"),
        *("--url", database_url, "--bodies", str(path), "--threads", str(threads)),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"library baseline failed: {err.decode()[-500:]}")
    result: dict[str, Any] = orjson.loads(out.splitlines()[-1])
    return result
