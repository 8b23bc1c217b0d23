"""Service settings, read once from the environment and passed down explicitly."""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/ledger"
LOG_FORMATS = ("text", "json")
PROJECT_ROOT = Path(__file__).resolve().parents[1]


def _state_dir() -> Path:
    """Where deliveries wait while the database is down: absolute, so a restart from another
    working directory still finds (and replays) what was answered "spooled"."""
    root = PROJECT_ROOT if (PROJECT_ROOT / "pyproject.toml").exists() else Path.cwd()
    return root / "var"


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _private_cluster_url() -> str | None:
    """The private cluster ``./scripts/serve`` starts in var/postgres, when it is running."""
    for root in (Path.cwd(), PROJECT_ROOT):
        pid_file = root / "var" / "postgres" / "data" / "postmaster.pid"
        try:
            port = int(pid_file.read_text().splitlines()[3])
        except (OSError, IndexError, ValueError):
            continue
        if _answers("127.0.0.1", port):
            return f"postgresql://postgres@127.0.0.1:{port}/ledger"
    return None


def default_database_url(env: Mapping[str, str]) -> str:
    """The scripts' rule: DATABASE_URL, else the local server, else the private cluster."""
    if env.get("DATABASE_URL"):
        return env["DATABASE_URL"]
    if _answers("127.0.0.1", 5432):
        return DEFAULT_DATABASE_URL
    return _private_cluster_url() or DEFAULT_DATABASE_URL


class SettingsError(ValueError):
    """A setting in the environment has a value that cannot be used."""


def check_database_url(url: str) -> str:
    """A ``postgresql://`` URL with a valid port; anything else is refused in one line that
    says what to write, before anything tries to connect with it (never quoting it: it may
    hold a password)."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = -1
    if parts.scheme not in ("postgresql", "postgres") or port == -1:
        raise SettingsError(
            "DATABASE_URL must look like postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE"
        )
    return url


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    max_body_bytes: int = 1024 * 1024
    spool_dir: Path = field(default_factory=lambda: _state_dir() / "spool")
    spool_max_entries: int = 100_000
    spool_max_bytes: int = 512 * 1024 * 1024
    # How long a query waits for the projections to show its caller's own latest writes.
    read_your_writes_timeout: float = 2.0
    # Seconds a webhook may take to be recorded; past it, it is queued in the spool and
    # answered 202 (overload), well within the platforms' own timeouts (Shopify: 5 s).
    answer_deadline: float = 3.0
    # Deliveries being recorded at once, per process; more are queued and answered at once
    # (at 2x capacity the event loop, not the deadline, is what would keep them waiting).
    max_in_flight: int = 128
    # Seconds the event loop may run late before new deliveries are queued at once.
    max_loop_lag: float = 0.25
    # Group commit: at most this many deliveries per append, waiting at most this long.
    group_commit_max: int = 64
    group_commit_wait: float = 0.002
    # How often the in-memory copy of token hashes (used while the database is down) reloads.
    token_cache_refresh: float = 5.0
    spool_retry_interval: float = 0.5
    projection_poll_interval: float = 1.0
    run_projections: bool = True
    pool_max_size: int = 20
    log_level: str = "INFO"
    # How long a replaced or cleared signing secret still verifies deliveries.
    secret_grace: timedelta = timedelta(hours=24)
    # Quarantined deliveries kept per user (the inbox is bounded).
    inbox_max_per_user: int = 1000
    # Deliveries refused for their signature, kept per user apart from those (oldest out).
    inbox_signature_failures: int = 200
    # Lines an order or refund may have; beyond, it is quarantined as too_many_lines.
    max_lines: int = 5000
    # Seconds a webhook body may take to arrive; past it the answer is 408.
    body_read_timeout: int = 30
    # The bearer token GET /metrics asks for; None: /metrics is disabled (404). Kept out of
    # the settings' repr, so printing the settings never shows it.
    metrics_token: str | None = field(default=None, repr=False)
    # "text" (one readable line per record) or "json" (one JSON object per line).
    log_format: str = "text"
    # The delivery log's retention: rows older than this go, and each user's beyond the
    # newest this many; pruned this often (seconds) by the service.
    deliveries_max_age: timedelta = timedelta(days=90)
    deliveries_max_per_user: int = 100_000
    deliveries_prune_interval: float = 3600.0
    # The console: the Fernet key of its session cookies (None: generated once into
    # session_key_file and reused), how long a sign-in lasts, and the public base URL
    # (None: the URL each request came to) the webhook URLs are shown with.
    session_key: str | None = field(default=None, repr=False)
    session_key_file: Path = field(default_factory=lambda: _state_dir() / "session.key")
    session_lifetime: timedelta = timedelta(hours=12)
    public_url: str | None = None
    # The console's deliveries page says a platform has gone silent when its newest delivery
    # is older than this (a store that stopped sending is otherwise noticed by nobody).
    silent_after: timedelta = timedelta(hours=24)
    # The Shopify Admin REST API version a backfill pulls from (Shopify supports each for a
    # year; a newer one changes no field the ledger reads).
    shopify_api_version: str = "2025-01"
    # The server key every stored credential is sealed with (store API secrets, webhook
    # signing secrets): a Fernet key, else one generated once into secret_key_file (0600).
    secret_key: str | None = field(default=None, repr=False)
    secret_key_file: Path = field(default_factory=lambda: _state_dir() / "secret.key")
    # Minutes between the service's scheduled backfills of every connection; 0: none.
    backfill_interval: int = 60

    @property
    def token_cache_file(self) -> Path:
        """Token hashes (never tokens) kept on disk, for a start while the database is down;
        in the spool directory, which one service holds (a second one needs its own)."""
        return self.spool_dir / "token-hashes.json"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        defaults = cls()
        return cls(
            database_url=check_database_url(default_database_url(env)),
            max_body_bytes=_int(env, "LEDGER_MAX_BODY_BYTES", defaults.max_body_bytes),
            spool_dir=Path(env.get("LEDGER_SPOOL_DIR", str(defaults.spool_dir))).resolve(),
            spool_max_entries=_int(env, "LEDGER_SPOOL_MAX_ENTRIES", defaults.spool_max_entries),
            spool_max_bytes=_int(env, "LEDGER_SPOOL_MAX_BYTES", defaults.spool_max_bytes),
            run_projections=env.get("LEDGER_RUN_PROJECTIONS", "1") not in ("0", "false", "no"),
            log_level=env.get("LEDGER_LOG_LEVEL", defaults.log_level),
            secret_grace=_hours(env, "LEDGER_SECRET_GRACE_HOURS", defaults.secret_grace),
            inbox_max_per_user=_int(env, "LEDGER_INBOX_MAX_PER_USER", defaults.inbox_max_per_user),
            inbox_signature_failures=_int(
                env, "LEDGER_INBOX_SIGNATURE_FAILURES", defaults.inbox_signature_failures
            ),
            max_lines=_int(env, "LEDGER_MAX_LINES", defaults.max_lines),
            body_read_timeout=_int(env, "LEDGER_BODY_READ_TIMEOUT", defaults.body_read_timeout),
            answer_deadline=_ms(env, "LEDGER_ANSWER_DEADLINE_MS", defaults.answer_deadline),
            group_commit_max=_int(env, "LEDGER_GROUP_COMMIT_MAX", defaults.group_commit_max),
            max_in_flight=_int(env, "LEDGER_MAX_IN_FLIGHT", defaults.max_in_flight),
            max_loop_lag=_ms(env, "LEDGER_MAX_LOOP_LAG_MS", defaults.max_loop_lag),
            group_commit_wait=_ms(env, "LEDGER_GROUP_COMMIT_WAIT_MS", defaults.group_commit_wait),
            pool_max_size=_int(env, "LEDGER_POOL_MAX_SIZE", defaults.pool_max_size),
            metrics_token=env.get("LEDGER_METRICS_TOKEN") or None,
            log_format=_choice(env, "LEDGER_LOG_FORMAT", LOG_FORMATS, defaults.log_format),
            deliveries_max_age=_days(
                env, "LEDGER_DELIVERIES_MAX_AGE_DAYS", defaults.deliveries_max_age
            ),
            deliveries_max_per_user=_int(
                env, "LEDGER_DELIVERIES_MAX_PER_USER", defaults.deliveries_max_per_user
            ),
            session_key=env.get("LEDGER_SESSION_KEY") or None,
            session_lifetime=timedelta(
                hours=_int(env, "LEDGER_SESSION_HOURS", 12),
            ),
            public_url=_public_url(env.get("LEDGER_PUBLIC_URL") or None),
            silent_after=_hours(env, "LEDGER_SILENT_HOURS", defaults.silent_after),
            shopify_api_version=_api_version(
                env.get("LEDGER_SHOPIFY_API_VERSION") or defaults.shopify_api_version
            ),
            secret_key=env.get("LEDGER_SECRET_KEY") or None,
            backfill_interval=_minutes(env, "LEDGER_BACKFILL_INTERVAL", defaults.backfill_interval),
        )


def _public_url(raw: str | None) -> str | None:
    """An http(s) base URL without a trailing slash (webhook URLs are built on it)."""
    if raw is None:
        return None
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
        raise SettingsError("LEDGER_PUBLIC_URL must look like https://HOST[:PORT][/PATH]")
    return raw.rstrip("/")


def _api_version(raw: str) -> str:
    """A Shopify API version: YYYY-MM, or "unstable"."""
    if raw != "unstable" and not re.fullmatch(r"20[0-9]{2}-(0[1-9]|1[0-2])", raw):
        raise SettingsError(f"LEDGER_SHOPIFY_API_VERSION must look like 2025-01, not {raw!r}")
    return raw


def _choice(env: Mapping[str, str], name: str, allowed: tuple[str, ...], default: str) -> str:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() not in allowed:
        raise SettingsError(f"{name} must be one of {', '.join(allowed)}, not {raw!r}")
    return raw.lower()


def _ms(env: Mapping[str, str], name: str, default: float) -> float:
    """Seconds, from a setting given in whole milliseconds (the default in seconds)."""
    return _int(env, name, round(default * 1000)) / 1000


def _whole(env: Mapping[str, str], name: str, default: int, what: str) -> int:
    """The setting as a whole number (the default when unset or empty)."""
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be {what}, not {raw!r}") from None


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    value = _whole(env, name, default, "a whole number")
    if value <= 0:
        raise SettingsError(f"{name} must be positive, not {value}")
    return value


_MAX_MINUTES = 7 * 24 * 60


def _minutes(env: Mapping[str, str], name: str, default: int) -> int:
    """Whole minutes, 0 meaning off, at most a week."""
    value = _whole(env, name, default, "a whole number of minutes")
    if not 0 <= value <= _MAX_MINUTES:
        raise SettingsError(f"{name} must be between 0 (off) and {_MAX_MINUTES}, not {value}")
    return value


_MAX_DAYS = 100 * 366


def _days(env: Mapping[str, str], name: str, default: timedelta) -> timedelta:
    days = _int(env, name, default.days)
    if days > _MAX_DAYS:
        raise SettingsError(f"{name} must be at most {_MAX_DAYS} (a century), not {days}")
    return timedelta(days=days)


_MAX_GRACE_HOURS = 366 * 24


def _hours(env: Mapping[str, str], name: str, default: timedelta) -> timedelta:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = Decimal(raw)
    except ArithmeticError:
        raise SettingsError(f"{name} must be a number of hours, not {raw!r}") from None
    if not value.is_finite() or value <= 0:
        raise SettingsError(f"{name} must be a positive number of hours, not {raw!r}")
    if value > _MAX_GRACE_HOURS:
        raise SettingsError(f"{name} must be at most {_MAX_GRACE_HOURS} (a year), not {raw!r}")
    return timedelta(seconds=int(value * 3600))
