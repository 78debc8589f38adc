"""PostgreSQL stopped while the worker's activities record events (once a clean fast shutdown, once a
crash with kill -9), restarted a few seconds later: the program completes, and every pairing's stream
in the event store is exactly the workflow's own event list.

The database is a PostgreSQL of its own (not the session's shared one), so that stopping it disturbs
no other test."""

from __future__ import annotations

import asyncio
import shutil
import signal
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from temporalio.client import Client

from eventstore import EventStore
from localstack.postgres import EmbeddedPostgres
from localstack.processes import free_port
from tandem.settings import Settings
from tests.conftest import create_database
from tests.faults.harness import (
    WorkerProcess,
    compare_streams,
    record_and_check,
    recorded_events,
    start_program,
)

PAIRS = 3
OUTAGE_SECONDS = 4.0


@pytest.fixture
def own_postgres() -> Iterator[EmbeddedPostgres]:
    directory = Path(tempfile.mkdtemp(prefix="tandem-chaos-pg-"))
    directory.chmod(0o755)
    server = EmbeddedPostgres(
        data_dir=directory / "pgdata", host="127.0.0.1", port=free_port(), log_path=directory / "postgres.log"
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)


async def _progress(dsn: str, program_id: str, more_than: int, within: float = 60) -> int:
    """Wait until the program's pairings have recorded more than ``more_than`` events."""
    store = await EventStore.open(dsn, migrate=False, max_size=1)
    try:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            count = await recorded_events(store, program_id)
            if count > more_than:
                return count
            await asyncio.sleep(0.2)
        return more_than
    finally:
        await store.close()


async def test_postgres_down_while_recording_loses_and_duplicates_nothing(
    client: Client, settings: Settings, own_postgres: EmbeddedPostgres, tmp_path: Path
) -> None:
    started = time.monotonic()
    dsn = await create_database(own_postgres.dsn("postgres"), "chaos")
    mine = settings.model_copy(update={"task_queue": f"chaos-pg-{uuid.uuid4().hex[:6]}", "database_url": dsn})
    worker = WorkerProcess(mine, tmp_path / "worker.log")
    worker.start()
    outages = 0
    try:
        store = await EventStore.open(dsn, migrate=False, max_size=1)
        try:
            program_id, handle = await start_program(client, store, mine.task_queue, PAIRS, seed=9)
        finally:
            await store.close()
        seen = 0
        for how in (signal.SIGINT, signal.SIGKILL):  # a fast shutdown, then a crash
            seen = await _progress(dsn, program_id, seen + 5)
            own_postgres.child.stop(sig=how)
            outages += 1
            await asyncio.sleep(OUTAGE_SECONDS)  # the worker's activities fail and retry meanwhile
            assert worker.child.alive(), "the worker must survive a database outage"
            own_postgres.start()
        summary = await asyncio.wait_for(handle.result(), timeout=240)
        assert summary.closed == summary.pairings >= PAIRS
        store = await EventStore.open(dsn, migrate=False, max_size=2)
        try:
            comparison = await compare_streams(client, store, program_id)
        finally:
            await store.close()
    finally:
        worker.stop()
    record_and_check("PostgreSQL down", outages, summary.pairings, comparison, started)
    assert "connection" in (tmp_path / "worker.log").read_text().lower()  # the outage was felt
