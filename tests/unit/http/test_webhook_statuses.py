"""What a platform hears for each outcome: only a signature refusal is not a 2xx."""

from __future__ import annotations

import pytest

from service.http.webhooks import STATUSES, http_status
from service.intake.ingest import OUTCOMES, PING, SPOOLED, Answer


def test_every_outcome_has_its_status_and_only_those():
    assert STATUSES.keys() == OUTCOMES


@pytest.mark.parametrize(
    ("outcome", "status"),
    [
        ("recorded", 200),
        ("updated", 200),
        ("duplicate", 200),
        ("stale", 200),
        ("received", 200),
        ("deleted", 200),
        ("restored", 200),
        ("product_updated", 200),
        ("ping", 200),  # WooCommerce counts only an exact 200 as a successful ping
        ("quarantined", 202),
        ("not_kept", 202),
        ("spooled", 202),
        ("invalid_signature", 401),
    ],
)
def test_each_outcome_is_answered_as_the_platforms_expect(outcome: str, status: int):
    assert http_status(Answer(outcome, {})) == status


def test_the_fixed_answers_are_what_they_say():
    assert (http_status(PING), http_status(SPOOLED)) == (200, 202)


def test_an_outcome_without_a_status_is_a_bug_not_a_200():
    with pytest.raises(KeyError):
        http_status(Answer("accepted_somehow", {}))
