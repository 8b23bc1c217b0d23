"""What the intake refuses; the HTTP edge (service/http/errors.py) answers for each."""

from __future__ import annotations

from service.intake.delivery import SpooledDelivery


class UnknownTokenError(Exception):
    """The webhook token is unknown or has been rotated."""


class IntakeFullError(Exception):
    """The database is unreachable and the delivery spool is full; retry later."""

    def __init__(self, delivery: SpooledDelivery | None = None) -> None:
        super().__init__()
        # The refused delivery (its token was valid), for the delivery log; never shown.
        self.delivery = delivery
