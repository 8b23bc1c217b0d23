"""What both platforms share about topics: deletion notices and topics an endpoint refuses."""

from __future__ import annotations

from typing import Any

from service.adapters.common import PayloadError, required_ident, shown


def is_deletion_notice(doc: Any) -> bool:
    """Whether a body is only ``{"id": N}``, all either platform sends for a deleted object."""
    return isinstance(doc, dict) and list(doc) == ["id"]


def deleted_id(doc: Any) -> str:
    """The id of a deletion notice; any other body is refused, so a snapshot never deletes."""
    if not is_deletion_notice(doc):
        raise PayloadError("not_a_deletion", None, 'a deletion notice is only {"id": N}')
    return required_ident(doc["id"], "id")


def unsupported_topic(topic: str, where: str) -> PayloadError:
    """The error for a topic this endpoint does not take; the topic is shown, shortened."""
    return PayloadError(
        "unsupported_topic", None, f"topic {shown(topic, 60)} is not accepted {where}"
    )
