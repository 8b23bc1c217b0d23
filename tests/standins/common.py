"""What both stand-ins share: the recorded requests, the faults a test injects, the server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web
from aiohttp.test_utils import TestServer


@dataclass(frozen=True)
class Recorded:
    at: float  # time.monotonic() when the request arrived
    path_qs: str
    headers: dict[str, str]


@dataclass(frozen=True)
class Fault:
    """One answer instead of the real one: ``status`` with ``headers`` and ``body``, after
    ``delay`` seconds (a hang: longer than the client's timeout)."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b'{"error":"injected"}'
    delay: float = 0.0


def too_many_requests(retry_after: str) -> Fault:
    return Fault(429, {"Retry-After": retry_after}, b'{"errors":"Exceeded 2 calls per second"}')


def server_error(status: int = 503) -> Fault:
    return Fault(status, body=b"<html><body>Service Unavailable</body></html>")


def hang(seconds: float = 30.0) -> Fault:
    return Fault(200, body=b"[]", delay=seconds)


class StandIn:
    """A server whose ``answer`` a subclass writes; faults are served first, in order."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.faults: list[Fault] = []
        self.rules: list[tuple[Callable[[web.Request], bool], Fault]] = []
        self._server: TestServer | None = None

    def fail_next(self, *faults: Fault) -> None:
        """The next requests, whatever they ask, get these answers, one each, in order."""
        self.faults.extend(faults)

    def fail_matching(self, matches: Callable[[web.Request], bool], *faults: Fault) -> None:
        """The next requests that ``matches`` (say, page 3 of the orders) get these answers."""
        self.rules.extend((matches, fault) for fault in faults)

    @property
    def url(self) -> str:
        assert self._server is not None
        return str(self._server.make_url("")).rstrip("/")

    async def start(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._server = TestServer(app, host="127.0.0.1")
        await self._server.start_server()
        return self.url

    async def close(self) -> None:
        if self._server is not None:
            await self._server.close()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(Recorded(time.monotonic(), request.path_qs, dict(request.headers)))
        fault = self._fault(request)
        if fault is not None:
            if fault.delay:
                await asyncio.sleep(fault.delay)
            return web.Response(status=fault.status, headers=fault.headers, body=fault.body)
        return await self.answer(request)

    def _fault(self, request: web.Request) -> Fault | None:
        if self.faults:
            return self.faults.pop(0)
        for n, (matches, fault) in enumerate(self.rules):
            if matches(request):
                del self.rules[n]
                return fault
        return None

    async def answer(self, request: web.Request) -> web.StreamResponse:
        raise NotImplementedError
