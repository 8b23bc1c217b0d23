"""The series counted as deliveries are answered, the settings that open /metrics, and the
observer hook: pure, no database."""

from __future__ import annotations

import logging
import uuid

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from service.intake.ingest import Answer
from service.intake.observed import FinishedDelivery, finished, notify
from service.metrics.sample import Sample
from service.metrics.series import MAX_TOPICS, Metrics
from service.settings import Settings, SettingsError

USER = uuid.UUID(int=7)
ENV = {"DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/ledger"}


def _delivery(topic: str | None, endpoint: str = "order", latency: float = 0.02):
    return FinishedDelivery(USER, "shopify", endpoint, topic, "recorded", 200, latency, None, None)


def _samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(metrics.registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_topics_beyond_the_bound_are_counted_as_other() -> None:
    metrics = Metrics()
    for n in range(MAX_TOPICS + 5):
        metrics.observe(_delivery(f"topic/{n}"))
    metrics.observe(_delivery("topic/0"))  # one already seen keeps its series
    metrics.observe(_delivery(None))
    metrics.observe(_delivery(None, endpoint="ping"))
    counted = {
        dict(labels)["topic"]: value
        for (name, labels), value in _samples(metrics).items()
        if name == "ledger_deliveries_total"
    }
    assert counted["other"] == 5
    assert counted["topic/0"] == 2
    assert (counted["none"], counted["ping"]) == (1, 1)
    assert len(counted) == MAX_TOPICS + 3


def test_latency_falls_in_its_bucket() -> None:
    metrics = Metrics()
    metrics.observe(_delivery("orders/create", latency=0.007))
    metrics.observe(_delivery("orders/create", latency=12.0))
    samples = _samples(metrics)
    bucket = "ledger_webhook_latency_seconds_bucket"
    assert samples[(bucket, (("le", "0.005"), ("platform", "shopify")))] == 0
    assert samples[(bucket, (("le", "0.01"), ("platform", "shopify")))] == 1
    assert samples[(bucket, (("le", "10.0"), ("platform", "shopify")))] == 1
    assert samples[(bucket, (("le", "+Inf"), ("platform", "shopify")))] == 2


def test_without_the_database_its_series_are_left_out() -> None:
    metrics = Metrics()
    metrics.sampled.sample = Sample(spool_entries=3, pool_size=4, pool_in_use=1, events_appended=9)
    samples = _samples(metrics)
    assert samples[("ledger_database_up", ())] == 0
    assert samples[("ledger_spool_entries", ())] == 3
    assert samples[("ledger_events_appended_total", ())] == 9
    assert (
        samples[("ledger_db_pool_connections", ())],
        samples[("ledger_db_pool_in_use", ())],
    ) == (
        4,
        1,
    )
    assert not [
        name for name, _ in samples if name.startswith(("ledger_projection", "ledger_inbox"))
    ]


def test_each_app_has_a_registry_of_its_own() -> None:
    first, second = Metrics(), Metrics()
    first.observe(_delivery("orders/create"))
    assert not [n for n, _ in _samples(second) if n == "ledger_deliveries_total"]


def test_the_delivery_names_what_its_headers_say() -> None:
    answer = Answer("recorded", {"status": "recorded", "sale_id": "s-1"}, 5, USER)
    headers = {"x-wc-webhook-topic": "order.created", "x-wc-webhook-delivery-id": "d\x01-9"}
    done = finished(USER, "woocommerce", "order", headers, answer, 200, 0.5)
    assert (done.topic, done.delivery_id, done.sale_id) == ("order.created", "d?-9", "s-1")
    assert (done.outcome, done.status, done.latency, done.user_id) == ("recorded", 200, 0.5, USER)


def test_an_observer_that_fails_does_not_stop_the_others(caplog: pytest.LogCaptureFixture) -> None:
    seen: list[FinishedDelivery] = []

    def broken(d: FinishedDelivery) -> None:
        raise RuntimeError("observer bug")

    with caplog.at_level(logging.ERROR):
        notify([broken, seen.append], _delivery("orders/create"))
    assert len(seen) == 1
    assert "a delivery observer failed" in caplog.text


def test_the_metrics_token_and_log_format_settings() -> None:
    settings = Settings.from_env(
        {**ENV, "LEDGER_METRICS_TOKEN": "s3cret-scrape", "LEDGER_LOG_FORMAT": "JSON"}
    )
    assert (settings.metrics_token, settings.log_format) == ("s3cret-scrape", "json")
    assert "s3cret-scrape" not in repr(settings)
    defaults = Settings.from_env({**ENV, "LEDGER_METRICS_TOKEN": ""})
    assert (defaults.metrics_token, defaults.log_format) == (None, "text")
    with pytest.raises(SettingsError, match="LEDGER_LOG_FORMAT must be one of text, json"):
        Settings.from_env({**ENV, "LEDGER_LOG_FORMAT": "yaml"})
