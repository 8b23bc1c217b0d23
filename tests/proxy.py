"""A TCP proxy in front of PostgreSQL that a test can cut and restore.

To the service, a cut proxy is exactly a database that stopped: open connections drop
mid-query and new ones are refused. Stopping the shared server itself would break every other
test of the run, and the CI machine's server is not ours to stop.
"""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import urlsplit, urlunsplit


class PostgresProxy:
    def __init__(self, upstream_url: str) -> None:
        parts = urlsplit(upstream_url)
        self.upstream_url = upstream_url
        self.host = parts.hostname or "127.0.0.1"
        self.upstream_port = parts.port or 5432
        self.server: asyncio.Server | None = None
        self.port = 0
        self.connections: set[asyncio.StreamWriter] = set()
        self.up = True

    @property
    def url(self) -> str:
        parts = urlsplit(self.upstream_url)
        netloc = parts.netloc.rsplit("@", 1)
        userinfo = netloc[0] + "@" if len(netloc) == 2 else ""
        return urlunsplit(parts._replace(netloc=f"{userinfo}127.0.0.1:{self.port}"))

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.up:
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(self.host, self.upstream_port)
        except OSError:
            writer.close()
            return
        self.connections.update((writer, up_writer))
        await asyncio.gather(
            self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True
        )

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            self.connections.discard(writer)
            writer.close()

    def cut(self) -> None:
        """The database goes away: drop every connection and refuse new ones."""
        self.up = False
        for writer in list(self.connections):
            with contextlib.suppress(Exception):
                writer.transport.abort()
        self.connections.clear()

    def restore(self) -> None:
        self.up = True

    async def close(self) -> None:
        self.cut()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
