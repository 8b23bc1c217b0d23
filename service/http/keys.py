"""Typed keys for everything the app shares; no module-level state anywhere else."""

from __future__ import annotations

import asyncpg
from aiohttp import web

from service.accounts.keyring import Keyring
from service.accounts.sealing import TokenSealer
from service.http.backfill_schedule import BackfillSchedule
from service.http.console.ratelimit import AttemptLimiter
from service.intake.delivery_log import DeliveryLog
from service.intake.intake import Intake
from service.intake.observed import Observer
from service.metrics.series import Metrics
from service.projecting.runner import ProjectionRunner
from service.settings import Settings
from service.store.db import PoolInit
from service.store.eventstore import EventStore

SETTINGS = web.AppKey("settings", Settings)
POOL = web.AppKey("pool", asyncpg.Pool)
# The one EventStore (its mapper and transcoder) every handler and task reads and writes with.
STORE = web.AppKey("store", EventStore)
INTAKE = web.AppKey("intake", Intake)
# The delivery log's buffered writer: every webhook answer queues its row there.
DELIVERY_LOG = web.AppKey("delivery_log", DeliveryLog)
RUNNER: web.AppKey[ProjectionRunner | None] = web.AppKey("runner")
# Run on each new database connection of the request path (None in service; the benchmark
# and tests count statements with it).
POOL_INIT: web.AppKey[PoolInit | None] = web.AppKey("pool_init")
# Told of every answered webhook delivery (service/intake/observed.py), in order.
DELIVERY_OBSERVERS: web.AppKey[list[Observer]] = web.AppKey("delivery_observers")
# This app's metrics registry and series (GET /metrics).
METRICS = web.AppKey("metrics", Metrics)
# The OpenAPI document, as the compact JSON bytes GET /api/openapi.json serves.
OPENAPI = web.AppKey("openapi", bytes)
# The console's failed sign-in attempts, per client address and per key prefix.
SIGN_IN_LIMITER = web.AppKey("sign_in_limiter", AttemptLimiter)
# Opens the sealed webhook tokens the Integrations tab reveals (service/accounts/sealing.py).
TOKEN_SEALER = web.AppKey("token_sealer", TokenSealer)
# The Fernet key of the console's session cookies (service/accounts/sealing.py), loaded at
# the start (service/http/console/app.py).
SESSION_KEY = web.AppKey("session_key", bytes)
# The server key every kept credential is sealed with (service/accounts/keyring.py).
KEYRING = web.AppKey("keyring", Keyring)
# The scheduled backfill, and "Backfill now" (service/http/backfill_schedule.py).
BACKFILL_SCHEDULE = web.AppKey("backfill_schedule", BackfillSchedule)
