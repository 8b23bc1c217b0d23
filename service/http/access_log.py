"""The access log, which never writes the raw path, query string or credentials."""

from __future__ import annotations

import logging

from aiohttp.abc import AbstractAccessLogger
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse

from service.logs import UNSAFE_CHARS, redact_path, redact_text


def _clean(value: str, limit: int) -> str:
    """One printable line of bounded length, so a request cannot forge log lines."""
    value = UNSAFE_CHARS.sub("?", value)
    return value if len(value) <= limit else value[:limit] + "..."


class RedactingAccessLogger(AbstractAccessLogger):
    """aiohttp access logger that never writes the raw path, query string or credentials.

    Pass it as `access_log_class` to `web.run_app`, `web.AppRunner` or `TestServer`.
    """

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        # The same fields twice: in the readable line, and as the record's extra fields
        # (what LEDGER_LOG_FORMAT=json writes as keys of its own).
        fields = {
            "remote": _clean(request.remote or "-", 64),
            "method": _clean(request.method, 16),
            "path": _clean(redact_path(request.raw_path), 512),
            "status": response.status,
            "bytes": response.body_length,
            "latency_ms": round(time * 1000, 1),
            "user_agent": _clean(redact_text(request.headers.get("User-Agent", "-")), 256),
        }
        self.logger.info(
            '%s "%s %s" %s %s %.1fms "%s"',
            *(fields[k] for k in ("remote", "method", "path", "status", "bytes")),
            time * 1000,
            fields["user_agent"],
            extra=fields,
        )

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.INFO)
