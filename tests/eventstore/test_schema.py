"""Migrations and the database-level append-only guarantees."""

from __future__ import annotations

import asyncio

import asyncpg  # type: ignore[import-untyped]
import pytest

from eventstore import EventStore, migrate
from eventstore.schema import load_migrations
from tests.eventstore.es_factories import new_events


def test_shipped_migrations_load_in_version_order() -> None:
    migrations = load_migrations()
    versions = [m.version for m in migrations]
    assert versions == sorted(set(versions))
    assert [(m.version, m.name) for m in migrations[:2]] == [(1, "events"), (2, "lock_streams")]
    assert all(m.sql.strip() for m in migrations)


async def test_migrate_applies_everything_once_then_nothing(fresh_dsn: str) -> None:
    expected = [m.version for m in load_migrations()]
    assert await migrate(fresh_dsn) == expected
    assert await migrate(fresh_dsn) == []

    conn = await asyncpg.connect(fresh_dsn)
    try:
        rows = await conn.fetch("SELECT version, name, applied_at FROM schema_migrations ORDER BY version")
        assert [r["version"] for r in rows] == expected
        assert rows[0]["name"] == "events"
        assert all(r["applied_at"] is not None for r in rows)
        # A connection and a pool are accepted as well as a DSN.
        assert await migrate(conn) == []
    finally:
        await conn.close()
    pool = await asyncpg.create_pool(fresh_dsn, min_size=1, max_size=1)
    try:
        assert await migrate(pool) == []
    finally:
        await pool.close()


async def test_concurrent_migrations_apply_each_version_exactly_once(fresh_dsn: str) -> None:
    conns = [await asyncpg.connect(fresh_dsn) for _ in range(4)]
    try:
        results = await asyncio.gather(*(migrate(c) for c in conns))
    finally:
        for c in conns:
            await c.close()
    applied = sorted(v for r in results for v in r)
    assert applied == [m.version for m in load_migrations()]

    conn = await asyncpg.connect(fresh_dsn)
    try:
        assert await conn.fetchval("SELECT count(*) FROM schema_migrations") == len(applied)
        assert await conn.fetchval("SELECT count(*) FROM pg_trigger WHERE tgrelid = 'events'::regclass") == 2
    finally:
        await conn.close()


async def _snapshot(conn: asyncpg.Connection) -> list[tuple[object, ...]]:
    rows = await conn.fetch("SELECT position, event_id, version, type, payload::text FROM events ORDER BY 1")
    return [tuple(r) for r in rows]


@pytest.mark.parametrize(
    ("sql", "operation"),
    [
        ("UPDATE events SET type = 'Tampered'", "UPDATE"),
        ("UPDATE events SET payload = '{}' WHERE version = 2", "UPDATE"),
        ("UPDATE events SET type = 'x' WHERE false", "UPDATE"),  # refused even when it matches no row
        ("DELETE FROM events", "DELETE"),
        ("DELETE FROM events WHERE version = 1", "DELETE"),
        ("TRUNCATE events", "TRUNCATE"),
        (
            "INSERT INTO events (event_id, stream_id, version, type, schema_version, payload, occurred_at)"
            " SELECT event_id, stream_id, version, 'Upsert', 1, '{}', now() FROM events"
            " ON CONFLICT (event_id) DO UPDATE SET type = 'Upsert'",
            "UPDATE",
        ),
    ],
)
async def test_database_refuses_changing_history(
    store: EventStore, fresh_dsn: str, sql: str, operation: str
) -> None:
    await store.append("s", 0, new_events("s", 1, 3))
    conn = await asyncpg.connect(fresh_dsn)
    try:
        before = await _snapshot(conn)
        assert len(before) == 3
        with pytest.raises(asyncpg.RaiseError, match=f"events are append-only: {operation} refused"):
            await conn.execute(sql)
        assert await _snapshot(conn) == before
    finally:
        await conn.close()


async def test_positions_cannot_be_chosen_by_the_writer(store: EventStore, fresh_dsn: str) -> None:
    conn = await asyncpg.connect(fresh_dsn)
    try:
        with pytest.raises(asyncpg.GeneratedAlwaysError):
            await conn.execute(
                "INSERT INTO events (position, event_id, stream_id, version, type, schema_version,"
                " payload, occurred_at) VALUES (42, gen_random_uuid(), 's', 1, 't', 1, '{}', now())"
            )
        with pytest.raises(asyncpg.CheckViolationError):
            await conn.execute(
                "INSERT INTO events (event_id, stream_id, version, type, schema_version, payload,"
                " occurred_at) VALUES (gen_random_uuid(), 's', 0, 't', 1, '{}', now())"
            )
    finally:
        await conn.close()
