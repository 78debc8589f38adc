"""Fixtures for the event store tests: a real PostgreSQL and a fresh database per test.

The server is the session's PostgreSQL (``pg_dsn`` in tests/conftest.py). Tests get their own
database because the events table refuses TRUNCATE and DELETE by design, so there is no cheaper way
to reset it.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg  # type: ignore[import-untyped]
import pytest

from eventstore import EventStore


def with_database(dsn: str, database: str) -> str:
    """The same server DSN pointing at another database."""
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path="/" + database))


@pytest.fixture
async def fresh_dsn(pg_dsn: str) -> AsyncIterator[str]:
    """A new, empty database for one test, dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    admin = await asyncpg.connect(pg_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield with_database(pg_dsn, name)
    finally:
        admin = await asyncpg.connect(pg_dsn)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@pytest.fixture
async def store(fresh_dsn: str) -> AsyncIterator[EventStore]:
    """An event store on a freshly migrated database."""
    es = await EventStore.open(fresh_dsn, min_size=1, max_size=4)
    try:
        yield es
    finally:
        await es.close()
