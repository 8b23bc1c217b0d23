"""A PostgreSQL server that a test may stop and start: a private cluster of its own, made
with the installed server binaries (as the ``postgres`` OS user when we are root).

Where no server binaries are installed (the suite then runs against ``DATABASE_URL`` only),
the same interface cuts and restores a TCP proxy in front of the shared server instead: to
the service that is the same fault, an unreachable database.
"""

from __future__ import annotations

import asyncio
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import asyncpg

from service.projecting.rebuild import prepare_database
from tests.proxy import PostgresProxy


def server_binaries() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(os.path.realpath(found)).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), reverse=True)
    return Path(candidates[0]).parent if candidates else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrivateCluster:
    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="ledger-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/ledger"

    def _run(self, *args: str) -> None:
        command = [str(self.bindir / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120, cwd=self.root)

    async def create(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
        await asyncio.to_thread(
            self._run,
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C",
        )
        await self.start()
        conn = await asyncpg.connect(self.url.replace("/ledger", "/postgres"))
        try:
            await conn.execute("CREATE DATABASE ledger")
        finally:
            await conn.close()
        conn = await asyncpg.connect(self.url)
        try:
            await prepare_database(conn)
        finally:
            await conn.close()

    async def start(self) -> None:
        options = f"-h 127.0.0.1 -p {self.port} -k {self.root}"
        await asyncio.to_thread(
            self._run,
            "pg_ctl",
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.root / "log"),
            "-w",
            "start",
        )

    async def stop(self) -> None:
        await asyncio.to_thread(
            self._run, "pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop"
        )

    async def destroy(self) -> None:
        try:
            await self.stop()
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.root, ignore_errors=True)


class ProxiedServer:
    """The fallback: the shared server behind a proxy that ``stop`` cuts."""

    def __init__(self, url: str) -> None:
        self.proxy = PostgresProxy(url)

    @property
    def url(self) -> str:
        return self.proxy.url

    async def create(self) -> None:
        await self.proxy.start()

    async def start(self) -> None:
        self.proxy.restore()

    async def stop(self) -> None:
        self.proxy.cut()

    async def destroy(self) -> None:
        await self.proxy.close()
