"""Schema migrations for the event store.

Migrations are the numbered ``migrations/NNNN_name.sql`` files shipped as package data. Each pending
one is applied in its own transaction under a transaction-scoped advisory lock, so that several
processes starting at once (workers, CLI, tests) can all call :func:`migrate` safely: one applies,
the others wait and then find nothing left to do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

import asyncpg  # type: ignore[import-untyped]

__all__ = ["Migration", "load_migrations", "migrate"]

# Two-int4 advisory-lock keys live in a key space separate from the single-bigint keys used to
# serialise stream writers, so the migration lock can never collide with a stream's lock.
_LOCK_CLASS = 0x54414E44  # "TAND"
_LOCK_OBJECT = 0x45564D47  # "EVMG"

_FILE_NAME = re.compile(r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+)\.sql$")

_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer     PRIMARY KEY,
    name       text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


@dataclass(frozen=True)
class Migration:
    """One numbered SQL file; ``version`` orders them and is what ``schema_migrations`` records."""

    version: int
    name: str
    sql: str


def load_migrations() -> list[Migration]:
    """Read the shipped migrations in version order; fail loudly on a misnamed or duplicate file."""
    found: dict[int, Migration] = {}
    for entry in resources.files("eventstore").joinpath("migrations").iterdir():
        if not entry.name.endswith(".sql"):
            continue
        match = _FILE_NAME.match(entry.name)
        if match is None:
            raise RuntimeError(f"migration file {entry.name!r} is not named NNNN_lowercase_name.sql")
        version = int(match["version"])
        if version in found:
            raise RuntimeError(f"two migration files share version {version}")
        found[version] = Migration(version, match["name"], entry.read_text(encoding="utf-8"))
    return [found[v] for v in sorted(found)]


async def migrate(conn_or_dsn: str | Any) -> list[int]:
    """Apply pending migrations in order and return the versions applied now ([] when up to date).

    Accepts a DSN, an ``asyncpg.Connection`` or an ``asyncpg.Pool``.
    """
    if isinstance(conn_or_dsn, str):
        conn = await asyncpg.connect(conn_or_dsn)
        try:
            return await _migrate(conn)
        finally:
            await conn.close()
    if isinstance(conn_or_dsn, asyncpg.Pool):
        async with conn_or_dsn.acquire() as conn:
            return await _migrate(conn)
    return await _migrate(conn_or_dsn)


async def _migrate(conn: Any) -> list[int]:
    migrations = load_migrations()
    async with conn.transaction():
        await _lock(conn)
        await conn.execute(_CREATE_TABLE)
        applied = {row["version"] for row in await conn.fetch("SELECT version FROM schema_migrations")}

    done: list[int] = []
    for migration in migrations:
        if migration.version in applied:
            continue
        async with conn.transaction():
            await _lock(conn)
            # Re-check under the lock: another process may have applied it since we looked.
            if await conn.fetchval("SELECT 1 FROM schema_migrations WHERE version = $1", migration.version):
                continue
            await conn.execute(migration.sql)
            await conn.execute(
                "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                migration.version,
                migration.name,
            )
        done.append(migration.version)
    return done


async def _lock(conn: Any) -> None:
    await conn.execute("SELECT pg_advisory_xact_lock($1, $2)", _LOCK_CLASS, _LOCK_OBJECT)
