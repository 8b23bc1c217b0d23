"""What the intake refuses; the HTTP edge (service/http/errors.py) answers for each."""

from __future__ import annotations


class UnknownTokenError(Exception):
    """The webhook token is unknown or has been rotated."""


class IntakeFullError(Exception):
    """The database is unreachable and the delivery spool is full; retry later."""
