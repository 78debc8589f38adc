"""Start and stop the whole local stack: PostgreSQL (schema migrated) and the Temporal dev server.

Two shapes: *persistent* (``make up``: fixed ports from the environment, state kept under the state
directory so programs survive a restart) and *ephemeral* (demo and tests: free ports, a temporary
directory, in-memory Temporal, everything removed afterwards).
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from urllib.parse import urlsplit

import asyncpg

from localstack.errors import StackError
from localstack.postgres import EmbeddedPostgres
from localstack.processes import free_port
from localstack.temporal import TemporalDevServer
from tandem.codec import generate_key_file
from tandem.settings import KEY_FILE_NAME, Settings
from workflows.search import DEV_SERVER_TYPES


@dataclass(frozen=True)
class StackAddresses:
    temporal_address: str
    database_url: str
    ui_url: str | None


class LocalStack:
    def __init__(
        self,
        *,
        state_dir: Path,
        temporal_host: str,
        temporal_port: int,
        ui_port: int | None,
        pg_port: int,
        database: str,
        persistent_temporal: bool,
        cleanup_dir: bool = False,
        ui_codec_endpoint: str | None = None,
    ) -> None:
        self.state_dir = state_dir
        self.database = database
        self.cleanup_dir = cleanup_dir
        logs = state_dir / "logs"
        self.postgres = EmbeddedPostgres(
            data_dir=state_dir / "pgdata", host="127.0.0.1", port=pg_port, log_path=logs / "postgres.log"
        )
        self.temporal = TemporalDevServer(
            host=temporal_host,
            port=temporal_port,
            ui_port=ui_port,
            db_file=(state_dir / "temporal.sqlite") if persistent_temporal else None,
            log_path=logs / "temporal.log",
            search_attributes=DEV_SERVER_TYPES,
            ui_codec_endpoint=ui_codec_endpoint,
        )
        self.ui_port = ui_port

    @classmethod
    def persistent(
        cls,
        state_dir: Path,
        temporal_address: str,
        database_url: str,
        ui_port: int,
        ui_codec_endpoint: str | None = None,
    ) -> LocalStack:
        host, _, port = temporal_address.rpartition(":")
        url = urlsplit(database_url)
        if url.hostname not in ("127.0.0.1", "localhost"):
            raise StackError(
                f"DATABASE_URL points at {url.hostname}; the local stack only runs PostgreSQL on "
                "127.0.0.1 (unset DATABASE_URL, or run the worker against your own server)"
            )
        return cls(
            state_dir=state_dir,
            temporal_host=host or "127.0.0.1",
            temporal_port=int(port),
            ui_port=ui_port,
            pg_port=url.port or 5432,
            database=(url.path or "/tandem").lstrip("/"),
            persistent_temporal=True,
            ui_codec_endpoint=ui_codec_endpoint,
        )

    @classmethod
    def ephemeral(cls, ui: bool = False) -> LocalStack:
        state_dir = Path(tempfile.mkdtemp(prefix="tandem-stack-"))
        state_dir.chmod(0o755)
        return cls(
            state_dir=state_dir,
            temporal_host="127.0.0.1",
            temporal_port=free_port(),
            ui_port=free_port() if ui else None,
            pg_port=free_port(),
            database="tandem",
            persistent_temporal=False,
            cleanup_dir=True,
        )

    @property
    def addresses(self) -> StackAddresses:
        ui = f"http://127.0.0.1:{self.ui_port}" if self.ui_port else None
        return StackAddresses(self.temporal.address, self.postgres.dsn(self.database), ui)

    @property
    def key_file(self) -> Path:
        return self.state_dir / KEY_FILE_NAME

    def settings(self, task_queue: str) -> Settings:
        """Settings that point a worker and a client at this stack."""
        addresses = self.addresses
        return Settings(
            temporal_address=addresses.temporal_address,
            database_url=addresses.database_url,
            task_queue=task_queue,
            codec_key_file=self.key_file,
        )

    def start(self) -> StackAddresses:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        if not self.key_file.exists():
            generate_key_file(self.key_file)  # the local stack's payload encryption key
        try:
            self.postgres.start()
            asyncio.run(self._prepare_database())
            self.temporal.start()
        except BaseException:
            self.stop()
            raise
        return self.addresses

    async def _prepare_database(self) -> None:
        from eventstore import migrate

        admin = await _connect_retry(self.postgres.dsn("postgres"))
        try:
            exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", self.database)
            if not exists:
                await admin.execute(f'CREATE DATABASE "{self.database}"')
        finally:
            await admin.close()
        conn = await _connect_retry(self.postgres.dsn(self.database))
        try:
            await migrate(conn)
        finally:
            await conn.close()

    def stop(self) -> None:
        self.temporal.stop()
        self.postgres.stop()
        if self.cleanup_dir:
            shutil.rmtree(self.state_dir, ignore_errors=True)

    def __enter__(self) -> StackAddresses:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


async def _connect_retry(dsn: str, attempts: int = 100) -> asyncpg.Connection:
    last: Exception | None = None
    for _ in range(attempts):
        try:
            return await asyncpg.connect(dsn, timeout=5)
        except (OSError, asyncpg.CannotConnectNowError, asyncpg.PostgresError) as exc:
            last = exc
            await asyncio.sleep(0.1)
    raise StackError(f"PostgreSQL did not accept connections: {last}")
