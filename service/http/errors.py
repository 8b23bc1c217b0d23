"""Errors as the API shows them, and the one middleware that translates every failure.

Every error body is ``{"error": code, "detail": text}`` with a stable code. Messages never
carry a token, API key or signing secret, and logged paths are redacted.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from service.intake.errors import IntakeFullError, UnknownTokenError
from service.logs import redact_path
from service.store.db import DatabaseUnavailableError, PoolBusyError

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiError(Exception):
    """The request failed."""

    status = 400
    code = "bad_request"
    # Whether the connection closes after the answer (the client cannot be trusted with it).
    close = False

    def __init__(self, detail: str | None = None, headers: dict[str, str] | None = None) -> None:
        self.detail = detail or (self.__doc__ or "").strip()
        self.headers = headers or {}
        super().__init__(self.detail)


class UnauthorizedError(ApiError):
    """A valid API key is required: send Authorization: Bearer KEY."""

    status = 401
    code = "unauthorized"


class NotFoundError(ApiError):
    """Nothing is here."""

    status = 404
    code = "not_found"


class InvalidParameterError(ApiError):
    """A query parameter has a value that cannot be used."""

    status = 400
    code = "invalid_parameter"


class BodyTimeoutError(ApiError):
    """The request body did not arrive in time; send it whole, promptly."""

    status = 408
    code = "request_timeout"
    close = True


class IncompleteBodyError(ApiError):
    """The client went away before sending the whole body."""

    status = 400
    code = "incomplete_body"


# What the layers below raise, as the edge answers it: status, code, detail, headers.
_BELOW_THE_EDGE: dict[type[Exception], tuple[int, str, str, dict[str, str]]] = {
    UnknownTokenError: (
        401,
        "invalid_token",
        "The webhook token is unknown or has been rotated.",
        {},
    ),
    IntakeFullError: (
        503,
        "unavailable",
        "The database is unreachable and the delivery spool is full; retry later.",
        {"Retry-After": "30"},
    ),
    DatabaseUnavailableError: (
        503,
        "unavailable",
        "The ledger cannot be reached right now; try again shortly.",
        {"Retry-After": "5"},
    ),
    PoolBusyError: (
        503,
        "busy",
        "The ledger is busier than it can answer right now; try again shortly.",
        {"Retry-After": "1"},
    ),
}

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
}
_HTTP_DETAILS = {
    404: "No such endpoint.",
    405: "This endpoint does not accept that method.",
    413: "The request body is larger than this service accepts.",
}


# An error's detail is a sentence, never an echo of what was sent.
DETAIL_LIMIT = 200


def clip(detail: str) -> str:
    return detail if len(detail) <= DETAIL_LIMIT else detail[: DETAIL_LIMIT - 3] + "..."


def error_response(
    status: int, code: str, detail: str, headers: dict[str, str] | None = None
) -> web.Response:
    body = {"error": code, "detail": clip(detail)}
    return web.json_response(body, status=status, headers=headers)


def _from_http(exc: web.HTTPException) -> web.Response:
    headers = {k: v for k, v in exc.headers.items() if k in ("Allow", "Retry-After")}
    code = _HTTP_CODES.get(exc.status, "http_error")
    detail = _HTTP_DETAILS.get(exc.status, exc.reason)
    return error_response(exc.status, code, detail, headers)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        response = error_response(exc.status, exc.code, exc.detail, exc.headers)
        if isinstance(exc, IncompleteBodyError):
            response.force_close()  # nobody is left to read it
        elif exc.close:
            # Answer, then close at once: aiohttp would otherwise linger, reading a body
            # that does not come, before closing.
            response.force_close()
            await response.prepare(request)
            await response.write_eof()
            request.protocol.force_close()
        return response
    except (UnknownTokenError, IntakeFullError, DatabaseUnavailableError) as exc:
        status, code, detail, headers = next(
            answer for kind, answer in _BELOW_THE_EDGE.items() if isinstance(exc, kind)
        )
        return error_response(status, code, detail, headers)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return _from_http(exc)
    except Exception:
        # A bug, not bad input: keep the trace for us, give the caller a stable answer.
        log.exception("unhandled error on %s %s", request.method, redact_path(request.path))
        return error_response(500, "internal_error", "An internal error occurred.")
