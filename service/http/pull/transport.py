"""One GET with the failure rules every API client shares.

A 429 waits what ``Retry-After`` says (capped); 5xx answers, timeouts and refused connections
back off exponentially with jitter; after ``RetryPolicy.retries`` retries the store is
``SourceUnavailable``. A 401/403 is ``CredentialsRejected`` at once, in the caller's words.
Nothing here sees a credential except as the opaque headers ``prepare`` returns.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

import aiohttp

from service.adapters.pulling import kept_headers, no_such_order, retry_after
from service.backfill.source import CredentialsRejected, Exchange, SourceError, SourceUnavailable

USER_AGENT = "pyme-ledger-backfill/0.1"
# The most an answer may have, read and parsed whole: a page of 100 orders is about 1 MB.
MAX_ANSWER_BYTES = 16 * 1024 * 1024
# Per attempt, the URL to request (with any signature) and its headers: re-made on every
# attempt, since an OAuth signature's nonce may be used once.
Prepare = Callable[[], tuple[str, dict[str, str]]]


@dataclass(frozen=True)
class RetryPolicy:
    """Constants, not settings: a backfill is re-run by the schedule anyway. Tests pass
    their own, with tiny waits."""

    retries: int = 5  # after the first attempt: six attempts in all
    backoff_base: float = 1.0  # seconds before the first retry, doubled on each one
    backoff_cap: float = 30.0
    retry_after_cap: float = 120.0  # the longest Retry-After honoured
    timeout: float = 30.0  # seconds for one whole request and its answer
    max_body: int = MAX_ANSWER_BYTES

    def backoff(self, attempt: int) -> float:
        """Exponential, with jitter (half to all of it) so that clients spread out."""
        ceiling = min(self.backoff_cap, self.backoff_base * 2.0**attempt)
        jitter: float = random.uniform(0.5, 1.0)  # noqa: S311 (not a secret)
        return ceiling * jitter


class Transport:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        policy: RetryPolicy,
        *,
        store: str,
        rejected: Callable[[int], str],
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._session = session
        self._policy = policy
        self._store = store  # how the store is named in a message ("WooCommerce at URL")
        self._rejected = rejected
        self._sleep = sleep

    async def get(self, prepare: Prepare, logical_url: str) -> Exchange:
        failure = ""
        for attempt in range(self._policy.retries + 1):
            wire_url, headers = prepare()
            try:
                exchange = await self._once(wire_url, headers, logical_url)
            except (aiohttp.InvalidURL, ValueError):  # UnicodeError too: a host IDNA refuses
                raise SourceError(f"{self._store}: not a URL that can be requested") from None
            except (aiohttp.ClientError, TimeoutError) as exc:
                failure, wait = _no_answer(exc), self._policy.backoff(attempt)
            else:
                retry = self._retry(exchange, attempt)
                if retry is None:
                    return exchange
                failure, wait = retry
            if attempt < self._policy.retries:
                await self._sleep(wait)
        raise SourceUnavailable(
            f"{self._store} did not answer GET {logical_url} after"
            f" {self._policy.retries + 1} attempts (last: {failure})"
        )

    def _retry(self, exchange: Exchange, attempt: int) -> tuple[str, float] | None:
        """Why to try again and how long to wait first; None: the answer is the answer."""
        if exchange.status in (401, 403):
            raise CredentialsRejected(self._rejected(exchange.status))
        if exchange.status == 429:
            header = _header(exchange.headers, "retry-after")
            told = retry_after(header, datetime.now(UTC), self._policy.retry_after_cap)
            wait = self._policy.backoff(attempt) if told is None else told
            return "HTTP 429 (too many requests)", wait
        if exchange.status >= 500:
            return f"HTTP {exchange.status}", self._policy.backoff(attempt)
        return None

    async def _once(self, wire_url: str, headers: dict[str, str], logical_url: str) -> Exchange:
        timeout = aiohttp.ClientTimeout(total=self._policy.timeout)
        sent = {"User-Agent": USER_AGENT, "Accept": "application/json", **headers}
        async with self._session.get(
            wire_url, headers=sent, timeout=timeout, allow_redirects=False
        ) as response:
            body = await _read_bounded(response, self._policy.max_body, self._store)
            return Exchange(
                method="GET",
                url=logical_url,
                status=response.status,
                headers=kept_headers(response.headers),
                body=body,
                received_at=datetime.now(UTC),
            )


async def _read_bounded(response: aiohttp.ClientResponse, limit: int, store: str) -> bytes:
    chunks, size = [], 0
    async for chunk in response.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise SourceError(f"{store} answered more than {limit} bytes at once")
        chunks.append(chunk)
    return b"".join(chunks)


def store_base(url: str, platform: str) -> str:
    """A store's base URL as requests are built on it: http(s), a host, and nothing that
    would end up in a message or an Exchange's url as a credential (user, password, query)."""
    parts = urlsplit(url.strip())
    if (
        parts.scheme.lower() not in ("http", "https")
        or not parts.hostname
        or parts.username is not None
        or parts.password is not None
        or parts.query
        or parts.fragment
    ):
        raise SourceError(
            f"the {platform} store URL must look like https://HOST[:PORT][/PATH], with no user,"
            " password or query"
        )
    return url.strip().rstrip("/")


def _no_answer(exc: BaseException) -> str:
    # The class, never str(exc): some quote the requested URL, its signature and all.
    return (
        "no answer in time" if isinstance(exc, TimeoutError) else f"no answer: {type(exc).__name__}"
    )


def _header(headers: dict[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def looked_up(exchange: Exchange, platform: str, label: str) -> Exchange:
    """One order's answer as the backfill may read it: a 200, or the platform's own 404 for
    an id it does not know (any other 404, a proxy's say, tells nothing of the order)."""
    if exchange.status == 404 and not no_such_order(platform, exchange.body):
        raise SourceError(
            f"{label} answered GET {exchange.url} with HTTP 404, but not its own answer"
            " for an order id it does not know"
        )
    if exchange.status not in (200, 404):
        raise unexpected(exchange, label)
    return exchange


def unexpected(exchange: Exchange, label: str) -> SourceError:
    return SourceError(f"{label} answered GET {exchange.url} with HTTP {exchange.status}")
