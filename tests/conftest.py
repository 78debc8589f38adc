"""Session-wide real servers: embedded PostgreSQL and the Temporal dev server (time skipping on).

Both start lazily, once per test session, on free loopback ports, and stop at the end; nothing is
mocked. ``TANDEM_TEST_DATABASE_URL`` points the tests at an existing PostgreSQL instead (its user must
be allowed to CREATE DATABASE).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from temporalio.client import Client
from temporalio.worker import Worker

from eventstore import EventStore, migrate
from localstack.postgres import EmbeddedPostgres
from localstack.processes import free_port
from localstack.temporal import TemporalDevServer
from tandem.codec import generate_key_file
from tandem.settings import Settings
from tandem.temporal import connect
from workflows.search import DEV_SERVER_TYPES


@pytest.fixture(scope="session")
def state_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="tandem-test-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_dsn(state_dir: Path) -> Iterator[str]:
    """DSN (database ``postgres``) of a PostgreSQL server whose user may CREATE DATABASE."""
    external = os.environ.get("TANDEM_TEST_DATABASE_URL")
    if external:
        yield external
        return
    server = EmbeddedPostgres(
        data_dir=state_dir / "pgdata", host="127.0.0.1", port=free_port(), log_path=state_dir / "postgres.log"
    )
    server.start()
    try:
        yield server.dsn("postgres")
    finally:
        server.stop()


async def create_database(pg_dsn: str, name: str) -> str:
    admin = await asyncpg.connect(pg_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    dsn = pg_dsn.rsplit("/", 1)[0] + "/" + name
    conn = await asyncpg.connect(dsn)
    try:
        await migrate(conn)
    finally:
        await conn.close()
    return dsn


@pytest.fixture(scope="session")
async def tandem_dsn(pg_dsn: str) -> str:
    """A migrated database shared by the workflow tests (stream ids are unique per test)."""
    return await create_database(pg_dsn, f"tandem_{uuid.uuid4().hex[:8]}")


def dev_server(log_path: Path) -> TemporalDevServer:
    """An in-memory dev server on a free port with our search attributes (not yet started)."""
    return TemporalDevServer(
        host="127.0.0.1",
        port=free_port(),
        ui_port=None,
        db_file=None,
        log_path=log_path,
        search_attributes=DEV_SERVER_TYPES,
    )


@pytest.fixture(scope="session")
def temporal_address(state_dir: Path) -> Iterator[str]:
    server = dev_server(state_dir / "temporal.log")
    server.start()
    try:
        yield server.address
    finally:
        server.stop()


@pytest.fixture(scope="session")
def settings(temporal_address: str, tandem_dsn: str, state_dir: Path) -> Settings:
    """Test settings; payloads are encrypted with a key made for this session only."""
    key_file = generate_key_file(state_dir / "codec-keys.json")
    return Settings(
        temporal_address=temporal_address,
        database_url=tandem_dsn,
        task_queue="tandem-test",
        codec_key_file=key_file,
    )


@pytest.fixture(scope="session")
async def client(settings: Settings) -> Client:
    return await connect(settings)


@pytest.fixture(scope="session")
async def store(tandem_dsn: str) -> AsyncIterator[EventStore]:
    store = await EventStore.open(tandem_dsn, migrate=False)
    yield store
    await store.close()


@pytest.fixture(scope="session")
async def worker(client: Client, store: EventStore, settings: Settings) -> AsyncIterator[Worker]:
    from worker import build_worker

    w = build_worker(client, store, settings.task_queue)
    async with w:
        yield w


# -- leaving the test process --------------------------------------------------------------------
# The Temporal client's native threads can abort interpreter finalisation (PyGILState_Release),
# which would turn a green run into exit code -6. After pytest has reported everything, leave with
# its exit status directly (see starter.py for the same guard in the CLI).
_exit_status: list[int] = []


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _exit_status.append(int(exitstatus))


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    if _exit_status and not hasattr(config, "workerinput"):
        import sys

        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_exit_status[-1])
