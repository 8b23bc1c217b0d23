from __future__ import annotations

import dataclasses
import logging
import stat
import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from service.intake.delivery import SpooledDelivery
from service.intake.spool import CorruptEntry, Spool, SpoolFull, SpoolLocked
from service.store.db import database_identity

USER = uuid.UUID("00000000-0000-4000-8000-000000000001")
SECRET_HEADER = "sig-SECRET-do-not-log"


def delivery(body: bytes = b'{"id": 1}', kind: str = "order") -> SpooledDelivery:
    return SpooledDelivery(
        user_id=USER,
        platform="woocommerce",
        kind=kind,
        headers={"X-WC-Webhook-Signature": SECRET_HEADER, "Content-Type": "application/json"},
        body=body,
        received_at=datetime(2024, 5, 1, 12, 30, 15, 123456, tzinfo=UTC),
    )


def big_spool(directory: Path) -> Spool:
    return Spool(directory, max_entries=1000, max_bytes=10_000_000)


def test_directory_is_created_private(tmp_path: Path) -> None:
    directory = tmp_path / "a" / "spool"
    spool = big_spool(directory)
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert spool.is_empty()
    assert len(spool) == 0
    assert spool.pending() == []


def test_round_trip_keeps_every_field(tmp_path: Path) -> None:
    spool = big_spool(tmp_path)
    original = SpooledDelivery(
        user_id=USER,
        platform="shopify",
        kind="product",
        headers={"X-Shopify-Topic": "products/update"},
        body=b"{}",
        received_at=datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=-3))),
    )
    entry_id = spool.append(original)
    got = spool.read(entry_id)
    assert got.entry_id == entry_id
    assert got == dataclasses.replace(original, entry_id=entry_id)
    assert got.received_at.utcoffset() == timedelta(hours=-3)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"\x00\xff\xfe\x80 not utf-8 \xc3\x28",
        bytes(range(256)) * 4,
        '{"name": "Ñandú ☃"}'.encode(),
        b'{"total": 19.990000000000001}',
    ],
)
def test_body_bytes_round_trip_exactly(tmp_path: Path, body: bytes) -> None:
    spool = big_spool(tmp_path)
    entry_id = spool.append(delivery(body))
    assert spool.read(entry_id).body == body


def test_order_is_preserved_across_restart(tmp_path: Path) -> None:
    first = big_spool(tmp_path)
    ids = [first.append(delivery(f"{i}".encode())) for i in range(12)]
    first.remove(ids[3])

    second = big_spool(tmp_path)
    assert len(second) == 11
    assert second.pending() == [i for i in ids if i != ids[3]]
    later = second.append(delivery(b"after restart"))
    assert second.pending()[-1] == later
    assert later > ids[-1]
    assert [second.read(i).body for i in second.pending()] == [
        *(f"{i}".encode() for i in range(12) if i != 3),
        b"after restart",
    ]


def test_sequence_continues_after_restart_even_when_last_entry_removed(tmp_path: Path) -> None:
    first = big_spool(tmp_path)
    a = first.append(delivery())
    b = first.append(delivery())
    first.remove(b)
    c = big_spool(tmp_path).append(delivery())
    assert a < c


def test_entry_bound_raises_spool_full(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_entries=2, max_bytes=10_000_000)
    spool.append(delivery())
    spool.append(delivery())
    with pytest.raises(SpoolFull) as info:
        spool.append(delivery())
    assert str(info.value) == SpoolFull.__doc__
    assert len(spool) == 2
    # A restarted spool counts what is already on disk.
    with pytest.raises(SpoolFull):
        Spool(tmp_path, max_entries=2, max_bytes=10_000_000).append(delivery())


def test_byte_bound_raises_spool_full(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_entries=1000, max_bytes=3000)
    spool.append(delivery(b"x" * 1000))
    with pytest.raises(SpoolFull):
        spool.append(delivery(b"x" * 1000))
    assert len(spool) == 1
    assert sum(p.stat().st_size for p in tmp_path.iterdir()) <= 3000
    spool.append(delivery(b"small"))
    assert len(spool) == 2


def test_remove_frees_room(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_entries=1, max_bytes=10_000_000)
    entry_id = spool.append(delivery())
    spool.remove(entry_id)
    assert spool.is_empty()
    assert spool.pending() == []
    assert list(tmp_path.iterdir()) == []
    spool.remove(entry_id)  # idempotent
    spool.append(delivery())
    assert len(spool) == 1


def test_temp_files_are_ignored_and_kept(tmp_path: Path) -> None:
    spool = big_spool(tmp_path)
    kept = spool.append(delivery())
    leftover = tmp_path / f".{int(kept) + 1:020d}.deadbeef.tmp"
    leftover.write_bytes(b'{"v": 1, "user_id": "half a wri')

    restarted = big_spool(tmp_path)
    assert restarted.pending() == [kept]
    assert len(restarted) == 1
    assert leftover.exists()
    assert restarted.append(delivery()) > leftover.name[1:21]


def test_corrupt_entry_is_moved_aside_and_logged_without_content(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spool = big_spool(tmp_path)
    good = spool.append(delivery(b"good"))
    bad = spool.append(delivery(b"bad"))
    after = spool.append(delivery(b"after"))
    bad_path = tmp_path / f"{bad}.json"
    bad_path.write_bytes(bad_path.read_bytes()[:40])  # truncated, secret header included

    with caplog.at_level(logging.DEBUG):
        with pytest.raises(CorruptEntry):
            spool.read(bad)

    assert spool.pending() == [good, after]
    assert len(spool) == 2
    assert (tmp_path / "corrupt" / f"{bad}.json").exists()
    assert not bad_path.exists()
    assert bad in caplog.text
    assert SECRET_HEADER not in caplog.text
    assert "SECRET" not in caplog.text
    assert [spool.read(i).body for i in spool.pending()] == [b"good", b"after"]


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"not json",
        b"[]",
        b'{"v": 1}',
        b'{"v": 99, "user_id": "x"}',
        b'{"v": 1, "user_id": "nope", "platform": "w", "kind": "order", "headers": {},'
        b' "body_b64": "", "received_at": "2024-01-01T00:00:00+00:00"}',
        b'{"v": 1, "user_id": "00000000-0000-4000-8000-000000000001", "platform": "w",'
        b' "kind": "order", "headers": {}, "body_b64": "!!", "received_at": "2024-01-01"}',
    ],
)
def test_unreadable_shapes_are_moved_aside(tmp_path: Path, content: bytes) -> None:
    spool = big_spool(tmp_path)
    entry_id = spool.append(delivery())
    (tmp_path / f"{entry_id}.json").write_bytes(content)
    with pytest.raises(CorruptEntry):
        spool.read(entry_id)
    assert spool.is_empty()
    assert (tmp_path / "corrupt" / f"{entry_id}.json").read_bytes() == content


def test_moved_aside_entries_keep_their_sequence_number_reserved(tmp_path: Path) -> None:
    spool = big_spool(tmp_path)
    entry_id = spool.append(delivery())
    (tmp_path / f"{entry_id}.json").write_bytes(b"garbage")
    with pytest.raises(CorruptEntry):
        spool.read(entry_id)
    assert big_spool(tmp_path).append(delivery()) > entry_id


def test_malformed_entry_ids_are_rejected(tmp_path: Path) -> None:
    spool = big_spool(tmp_path)
    for bad in ("../x", "1", "corrupt/00000000000000000001", ""):
        with pytest.raises(ValueError):
            spool.read(bad)


def test_delivery_rejects_naive_time_and_unknown_kind() -> None:
    with pytest.raises(ValueError):
        SpooledDelivery(USER, "woocommerce", "order", {}, b"", datetime(2024, 1, 1))
    with pytest.raises(ValueError):
        delivery(kind="refund")


def test_entries_of_another_database_are_never_replayed_here(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Two services of one checkout with different databases: what one spooled is never
    replayed into the other's database, and stays for its own service."""
    x = Spool(tmp_path, max_entries=3, max_bytes=10_000_000, database="db:5432/x")
    mine = x.append(delivery(b'{"id": 1}'))
    y = Spool(tmp_path, max_entries=3, max_bytes=10_000_000, database="db:5432/y")
    assert y.pending() == [] and y.is_empty()
    assert "1 deliveries for database db:5432/x" in caplog.text
    theirs = y.append(delivery(b'{"id": 2}'))
    assert y.pending() == [theirs]
    y.append(delivery(b'{"id": 3}'))
    with pytest.raises(SpoolFull):  # x's entry still takes its room on the disk
        y.append(delivery(b'{"id": 4}'))
    again = Spool(tmp_path, max_entries=3, max_bytes=10_000_000, database="db:5432/x")
    assert again.pending() == [mine]


def test_one_service_holds_a_spool_directory(tmp_path: Path) -> None:
    first = big_spool(tmp_path)
    first.lock()
    second = big_spool(tmp_path)
    with pytest.raises(SpoolLocked):
        second.lock()
    first.unlock()
    second.lock()  # free again once the first lets go
    second.unlock()


def test_a_database_is_named_the_same_however_its_url_spells_it() -> None:
    same = [
        "postgresql://postgres@127.0.0.1:5432/ledger",
        "postgresql://other:pw@localhost/ledger",
        "postgres://u@[::1]:5432/ledger?sslmode=disable",
        "postgresql:///ledger?host=localhost&port=5432",
    ]
    assert {database_identity(url, {}) for url in same} == {"localhost:5432/ledger"}
    assert database_identity(
        "postgresql:///ledger", {"PGHOST": "db.internal", "PGPORT": "6432"}
    ) == ("db.internal:6432/ledger")
    assert database_identity("postgresql://h:5433/ledger", {}) != database_identity(
        "postgresql://h:5432/ledger", {}
    )
