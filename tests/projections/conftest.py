"""A fresh, migrated database per test (the events table refuses DELETE and TRUNCATE by design, so a
new database is the only clean slate), and helpers to compare read-model tables."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest

from eventstore import EventStore
from tandem.report.read_models import TABLES


@asynccontextmanager
async def new_store(pg_dsn: str) -> AsyncIterator[EventStore]:
    """An event store on a new database of the session's PostgreSQL, dropped afterwards."""
    name = f"p_{uuid.uuid4().hex[:16]}"
    admin = await asyncpg.connect(pg_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    store = await EventStore.open(pg_dsn.rsplit("/", 1)[0] + "/" + name, min_size=1, max_size=6)
    try:
        yield store
    finally:
        await store.close()
        admin = await asyncpg.connect(pg_dsn)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@pytest.fixture
async def es(pg_dsn: str) -> AsyncIterator[EventStore]:
    async with new_store(pg_dsn) as store:
        yield store


async def read_model_tables(pool: Any, *, positions: bool = True) -> dict[str, list[str]]:
    """Every read-model table's rows as text, in a stable order. ``positions=False`` leaves out the
    ``last_position`` columns, for comparing databases whose logs hold the same events at other
    positions."""
    out = {}
    for table in TABLES:
        row = "t::text" if positions else "(to_jsonb(t) - 'last_position')::text"
        rows = await pool.fetch(f"SELECT {row} AS row FROM {table} AS t ORDER BY 1")
        out[table] = [r["row"] for r in rows]
    return out
