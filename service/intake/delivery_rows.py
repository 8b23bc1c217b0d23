"""A delivery log row (in service/intake/delivery_log.py's COLUMNS order), from what the
intake knows once a delivery is answered: the delivery, the answer, the HTTP status.

Pure: no I/O. Text that comes from the platform (headers, ids in the body) is clipped and
stripped of NUL, which PostgreSQL text cannot hold, so that no header can make the log's
batch fail.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from service.adapters.headers import header
from service.adapters.registry import PLATFORMS
from service.intake.delivery import SpooledDelivery
from service.intake.delivery_log import Row
from service.intake.ingest import OUTCOMES, RECORDED, Answer

# The answer when the database was down and the spool full (503 unavailable).
UNAVAILABLE = "unavailable"
# Every outcome a log row can have.
LOG_OUTCOMES = OUTCOMES | {UNAVAILABLE}
WEBHOOK = "webhook"  # the answer given to the platform
SPOOL = "spool"  # a spooled or queued delivery, recorded later by the spool's replay
_TEXT_LIMIT = 300


def log_row(
    d: SpooledDelivery,
    answer: Answer | None,
    *,
    endpoint: str,
    status: int | None,
    duration_ms: float,
    via: str = WEBHOOK,
) -> Row:
    """The row for delivery ``d`` answered ``answer`` (None: refused as unavailable) at
    ``endpoint`` (``order`` or ``product``: where it came, a ping included)."""
    platform = PLATFORMS[d.platform]
    said = platform.delivery_from_headers(
        d.headers, received_at=d.received_at, verification="", body_sha256=d.body_sha256
    )
    triggered = platform.TRIGGERED_AT_HEADER
    outcome = answer.outcome if answer is not None else UNAVAILABLE
    body: dict[str, Any] = answer.body if answer is not None else {}
    product_ref = _text(body.get("product_ref"))
    external_id = _text(body.get("external_id"))
    if external_id is None and product_ref is not None:
        external_id = product_ref.partition(":")[2] or None
    if external_id is None and outcome not in RECORDED and d.kind != "ping":
        external_id = named_id(d)
    return (
        d.user_id,
        d.received_at,
        d.platform,
        endpoint,
        via,
        _text(said.topic),
        _text(said.delivery_id),
        _text(said.event_id),
        _text(said.webhook_id),
        _text(header(d.headers, triggered)) if triggered else None,
        _text(said.source),
        d.body_sha256,
        len(d.body),
        answer.verification if answer is not None else None,
        outcome,
        _text(body.get("reason")),
        status,
        max(duration_ms, 0.0),
        _uuid(body.get("sale_id")),
        product_ref,
        external_id,
        _int(body.get("inbox_id")),
        list(answer.positions) if answer is not None else [],
    )


def named_id(d: SpooledDelivery) -> str | None:
    """The order or product id a body not (yet) recorded names, if it is JSON that names
    one (a refund: its order), so that a filter on the id finds the deliveries that failed,
    or wait in the spool, too."""
    return _text(d.named_ref)


def _text(value: Any) -> str | None:
    if not isinstance(value, str) or not value:
        return None
    return value.replace("\x00", "\ufffd")[:_TEXT_LIMIT]


def _uuid(value: Any) -> UUID | None:
    try:
        return UUID(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _int(value: Any) -> int | None:
    return value if type(value) is int else None
