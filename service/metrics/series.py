"""The series of GET /metrics, in one registry per app (no process-wide registry).

Counted as deliveries are answered (``Metrics.observe``, a delivery observer): deliveries
by platform, topic and outcome, and the webhook latency. Read at scrape time (``Sampled``,
from the last ``sample.take``): the spool, the pool, the events appended, and from the
database projection lag, the inbox and rebuilds in progress.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from service.intake.observed import FinishedDelivery
from service.metrics.sample import Sample

# From 5 ms (a recorded delivery on an idle service) to 10 s (past any platform's patience).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Distinct topics counted per platform; beyond, a new one is counted as "other" (the topic
# header is the sender's to write, and each value would be a series for ever).
MAX_TOPICS = 32


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.deliveries = Counter(
            "ledger_deliveries",
            "Webhook deliveries answered (valid token), by platform, topic and outcome",
            ["platform", "topic", "outcome"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "ledger_webhook_latency_seconds",
            "Time from a webhook handler's start to its answer, by platform",
            ["platform"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.sampled = Sampled()
        self.registry.register(self.sampled)
        self._topics: dict[str, set[str]] = {}

    def observe(self, d: FinishedDelivery) -> None:
        self.deliveries.labels(d.platform, self._topic(d), d.outcome).inc()
        self.latency.labels(d.platform).observe(d.latency)

    def _topic(self, d: FinishedDelivery) -> str:
        if d.endpoint == "ping":
            return "ping"
        if not d.topic:
            return "none"
        seen = self._topics.setdefault(d.platform, set())
        if d.topic in seen or len(seen) < MAX_TOPICS:
            seen.add(d.topic)
            return d.topic
        return "other"


class Sampled(Collector):
    """The series read at scrape time, from the latest sample."""

    def __init__(self) -> None:
        self.sample = Sample()

    def collect(self) -> Iterator[Metric]:
        s = self.sample
        yield _gauge(
            "ledger_spool_entries", "Deliveries waiting in the local spool", s.spool_entries
        )
        yield _gauge("ledger_db_pool_connections", "Connections the pool holds", s.pool_size)
        yield _gauge("ledger_db_pool_in_use", "Pooled connections in use", s.pool_in_use)
        appended = CounterMetricFamily(
            "ledger_events_appended", "Events this process appended to the log"
        )
        appended.add_metric([], s.events_appended)
        yield appended
        up = "Whether the database answered this scrape (0: its series are left out)"
        yield _gauge("ledger_database_up", up, 1 if s.database is not None else 0)
        if s.database is not None:
            yield from _database_series(s)


def _database_series(s: Sample) -> Iterator[Metric]:
    assert s.database is not None
    events = GaugeMetricFamily(
        "ledger_projection_lag_events",
        "Events in the log a projection has not applied",
        labels=["projection"],
    )
    seconds = GaugeMetricFamily(
        "ledger_projection_lag_seconds",
        "How long the oldest event a projection has not applied has waited",
        labels=["projection"],
    )
    for found in s.database.lags:
        events.add_metric([found.name], found.events)
        seconds.add_metric([found.name], found.seconds)
    yield events
    yield seconds
    inbox = GaugeMetricFamily(
        "ledger_inbox_entries", "Entries in the inbox, by kind and state", labels=["kind", "state"]
    )
    for (kind, state), count in sorted(s.database.inbox.items()):
        inbox.add_metric([kind, state], count)
    yield inbox
    rebuild = GaugeMetricFamily(
        "ledger_projection_rebuild_progress",
        "Fraction of the log a running rebuild has applied, 0 to 1 (absent: none runs)",
        labels=["projection"],
    )
    for name, done in sorted(s.database.rebuilds.items()):
        rebuild.add_metric([name], done)
    yield rebuild


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)
