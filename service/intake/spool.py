"""Durable local spool for webhook deliveries accepted while the database is unreachable.

WooCommerce never retries a delivery we answered 202, so once `Spool.append` returns the
delivery is on disk (file and directory entry both fsynced) and survives a crash or restart.
One file per delivery; names sort in arrival order. The spool is synchronous on purpose:
async callers run it through `asyncio.to_thread`.

Each entry names the database it was accepted for, and only a spool of that database
replays it: two services of one checkout with different databases must never mix their
deliveries. A service holds an exclusive lock on its spool directory (``lock``), so a second
one on the same directory refuses to start; each service needs a directory of its own.
"""

from __future__ import annotations

import base64
import fcntl
import logging
import os
import re
import secrets
import threading
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from service.intake.delivery import SpooledDelivery

logger = logging.getLogger(__name__)

# 2: entries name their database (1, before that, are replayed by whichever spool reads them).
_FORMAT_VERSION = 2
_FORMATS = (1, 2)
_LOCK_FILE = ".lock"
_SEQ_DIGITS = 20
_SUFFIX = ".json"
_ENTRY_ID = re.compile(rf"\d{{{_SEQ_DIGITS}}}")
_FINAL_NAME = re.compile(rf"(\d{{{_SEQ_DIGITS}}}){re.escape(_SUFFIX)}")
# Any name that carries a sequence number: final files, moved-aside files and temp files.
_ANY_SEQ = re.compile(rf"\.?(\d{{{_SEQ_DIGITS}}})\.")
_CORRUPT_DIR = "corrupt"


class SpoolError(Exception):
    """Spool error."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.__doc__)


class SpoolFull(SpoolError):
    """The delivery spool is full; refusing to accept more deliveries."""


class CorruptEntry(SpoolError):
    """A spooled delivery could not be read; it was moved to the corrupt/ folder."""


class SpoolLocked(SpoolError):
    """Another ledger process uses this spool directory: give each service its own
    LEDGER_SPOOL_DIR."""


def _encode(d: SpooledDelivery, database: str) -> bytes:
    return orjson.dumps(
        {
            "v": _FORMAT_VERSION,
            "database": database,
            "user_id": str(d.user_id),
            "platform": d.platform,
            "kind": d.kind,
            "headers": d.headers,
            "body_b64": base64.b64encode(d.body).decode("ascii"),
            "received_at": d.received_at.isoformat(),
        }
    )


def _decode(raw: bytes, entry_id: str) -> SpooledDelivery:
    data: Any = orjson.loads(raw)
    if not isinstance(data, dict) or data.get("v") not in _FORMATS:
        raise ValueError("unknown spool entry format")
    headers = data["headers"]
    if not isinstance(headers, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
    ):
        raise ValueError("headers must map str to str")
    if not isinstance(data["platform"], str) or not isinstance(data["kind"], str):
        raise ValueError("platform and kind must be strings")
    return SpooledDelivery(
        user_id=uuid.UUID(data["user_id"]),
        platform=data["platform"],
        kind=data["kind"],
        headers=headers,
        body=base64.b64decode(data["body_b64"], validate=True),
        received_at=datetime.fromisoformat(data["received_at"]),
        entry_id=entry_id,
    )


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_durably(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with open(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


class Spool:
    """A directory of pending deliveries, bounded in entries and bytes.

    One process owns a spool directory at a time (``lock``); within it, a lock serialises
    appends and removals so the bounds and the sequence stay exact across threads. Entries
    another database's service left (``database`` names this one's) stay where they are,
    count toward the bounds (they take the disk) but are never listed, read or replayed.
    """

    def __init__(
        self, directory: Path, max_entries: int, max_bytes: int, database: str = ""
    ) -> None:
        self.directory = Path(directory)
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.database = database
        self._lock = threading.Lock()
        self._lock_file: int | None = None
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)  # mkdir's mode is masked by umask
        self._next_seq = self._scan_max_seq() + 1
        self._foreign = self._scan_foreign()
        sizes = [self._path(e).stat().st_size for e in self._entries()]
        self._count = sum(1 for e in self._entries() if e not in self._foreign)
        self._bytes = sum(sizes)
        self._warn_leftover_temp_files()

    def lock(self) -> None:
        """Hold this directory for this process, until ``unlock`` or the process ends;
        raise SpoolLocked when another process holds it."""
        fd = os.open(self.directory / _LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise SpoolLocked() from None
        self._lock_file = fd

    def unlock(self) -> None:
        if self._lock_file is not None:
            os.close(self._lock_file)  # closing the descriptor releases the lock
            self._lock_file = None

    def __len__(self) -> int:
        return self._count

    def is_empty(self) -> bool:
        return self._count == 0

    def append(self, delivery: SpooledDelivery) -> str:
        """Store `delivery` durably and return its entry id; raise SpoolFull if over bounds."""
        data = _encode(delivery, self.database)
        # The lock covers the bounds and the sequence only: the entry's room is reserved
        # under it, and the writes and fsyncs run outside it, so that appends from several
        # threads reach the disk together (each pays its own fsyncs, which the file system
        # commits together) instead of one after the other. Ids still follow arrival order.
        with self._lock:
            count = self._count + len(self._foreign)
            if count + 1 > self.max_entries or self._bytes + len(data) > self.max_bytes:
                raise SpoolFull()
            entry_id = f"{self._next_seq:0{_SEQ_DIGITS}d}"
            self._next_seq += 1
            self._count += 1
            self._bytes += len(data)
        tmp = self.directory / f".{entry_id}.{secrets.token_hex(4)}.tmp"
        try:
            _write_durably(tmp, data)
            os.rename(tmp, self._path(entry_id))
            _fsync_dir(self.directory)
        except BaseException:
            tmp.unlink(missing_ok=True)  # never accepted, so nothing is lost
            self._path(entry_id).unlink(missing_ok=True)
            with self._lock:
                self._count -= 1
                self._bytes -= len(data)
            raise
        return entry_id

    def pending(self) -> list[str]:
        """This database's entry ids in arrival order; temp files, moved-aside entries and
        other databases' entries are not listed."""
        return [e for e in self._entries() if e not in self._foreign]

    def _entries(self) -> list[str]:
        ids = (m.group(1) for m in map(_FINAL_NAME.fullmatch, os.listdir(self.directory)) if m)
        return sorted(ids)

    def _scan_foreign(self) -> set[str]:
        """Entries of another database, left by a service of it (logged, never replayed)."""
        foreign: dict[str, set[str]] = {}
        for entry_id in self._entries():
            try:
                named = orjson.loads(self._path(entry_id).read_bytes()).get("database")
            except (OSError, ValueError, AttributeError):
                continue  # unreadable: read() moves it aside in its turn
            if isinstance(named, str) and named != self.database:
                foreign.setdefault(named, set()).add(entry_id)
        for database, ids in foreign.items():
            logger.warning(
                "spool %s holds %d deliveries for database %s, not this service's (%s):"
                " left for a service of that database",
                self.directory,
                len(ids),
                database,
                self.database,
            )
        return set().union(*foreign.values()) if foreign else set()

    def read(self, entry_id: str) -> SpooledDelivery:
        """Return the stored delivery; an unreadable one is moved aside and CorruptEntry raised."""
        path = self._path(entry_id)
        raw = path.read_bytes()  # a missing entry raises FileNotFoundError
        try:
            return _decode(raw, entry_id)
        except (ValueError, KeyError, TypeError, AttributeError):
            # The exception text may quote the content, which may carry secrets.
            self._quarantine(entry_id, len(raw))
            raise CorruptEntry() from None

    def remove(self, entry_id: str) -> None:
        """Forget a delivery the database has committed. Removing twice is harmless."""
        path = self._path(entry_id)
        with self._lock:
            try:
                size = path.stat().st_size
                path.unlink()
            except FileNotFoundError:
                return
            _fsync_dir(self.directory)
            self._count -= 1
            self._bytes -= size

    def _path(self, entry_id: str) -> Path:
        if not _ENTRY_ID.fullmatch(entry_id):
            raise ValueError("malformed spool entry id")
        return self.directory / f"{entry_id}{_SUFFIX}"

    def _quarantine(self, entry_id: str, size: int) -> None:
        corrupt = self.directory / _CORRUPT_DIR
        with self._lock:
            corrupt.mkdir(mode=0o700, exist_ok=True)
            target = corrupt / f"{entry_id}{_SUFFIX}"
            if target.exists():
                target = corrupt / f"{entry_id}.{secrets.token_hex(4)}{_SUFFIX}"
            os.rename(self._path(entry_id), target)
            _fsync_dir(corrupt)
            _fsync_dir(self.directory)
            self._count -= 1
            self._bytes -= size
        logger.error("spool entry %s is unreadable; moved to %s/", entry_id, _CORRUPT_DIR)

    def _scan_max_seq(self) -> int:
        names = os.listdir(self.directory)
        corrupt = self.directory / _CORRUPT_DIR
        if corrupt.is_dir():
            names += os.listdir(corrupt)
        seqs = [int(m.group(1)) for m in map(_ANY_SEQ.match, names) if m]
        return max(seqs, default=0)

    def _warn_leftover_temp_files(self) -> None:
        leftovers = [n for n in os.listdir(self.directory) if n.endswith(".tmp")]
        if leftovers:
            logger.warning(
                "spool %s holds %d unfinished temp file(s), left in place for inspection",
                self.directory,
                len(leftovers),
            )
