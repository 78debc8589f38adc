"""The local stack: clear one-line errors, state that survives a restart, no orphaned processes."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import asyncpg
import pytest

from localstack.errors import StackError
from localstack.processes import Child, free_port, port_open
from localstack.stack import LocalStack
from localstack.temporal import TemporalDevServer, frontend_serving

ROOT = Path(__file__).resolve().parents[2]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers kill(0); treat it as gone
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def _processes_mentioning(text: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if text in (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"):
                    pids.append(int(entry.name))
            except OSError:
                continue
    return [p for p in pids if p != os.getpid() and _alive(p)]


def test_port_taken_is_one_clear_line(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        server = TemporalDevServer(
            host="127.0.0.1",
            port=port,
            ui_port=None,
            db_file=None,
            log_path=tmp_path / "t.log",
            search_attributes={},
        )
        with pytest.raises(StackError) as caught:
            server.start()
    message = str(caught.value)
    assert f"port {port} on 127.0.0.1 is already in use" in message and "\n" not in message


def test_an_open_port_is_not_yet_a_serving_frontend(temporal_address: str) -> None:
    """start() waits for a frontend that answers, not only for its port: a listener that is not
    a Temporal server (or not yet a healthy one) does not count."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        host, port = holder.getsockname()
        assert port_open(host, port)
        assert not frontend_serving(f"{host}:{port}")
    assert frontend_serving(temporal_address)


def test_missing_binary_is_one_clear_line(tmp_path: Path) -> None:
    child = Child("PostgreSQL", [str(tmp_path / "no-such-binary")], tmp_path / "log")
    with pytest.raises(StackError, match=r"cannot start PostgreSQL: .*no-such-binary not found"):
        child.start()


def test_persistent_stack_keeps_state_and_leaves_no_process(tmp_path: Path) -> None:
    state = tmp_path / "state"
    db_port = free_port()
    url = f"postgresql://postgres@127.0.0.1:{db_port}/tandem"
    temporal = f"127.0.0.1:{free_port()}"

    async def write_then_read(first: bool) -> int:
        conn = await asyncpg.connect(url)
        try:
            if first:
                await conn.execute("CREATE TABLE marker (n int)")
                await conn.execute("INSERT INTO marker VALUES (42)")
            return int(await conn.fetchval("SELECT n FROM marker"))
        finally:
            await conn.close()

    stack = LocalStack.persistent(state, temporal, url, ui_port=free_port())
    stack.start()
    pids = [c.process.pid for c in (stack.postgres.child, stack.temporal.child) if c.process]
    assert asyncio.run(write_then_read(True)) == 42
    stack.stop()
    assert not any(_alive(p) for p in pids)
    assert not port_open("127.0.0.1", db_port)
    assert (state / "temporal.sqlite").exists()

    again = LocalStack.persistent(state, temporal, url, ui_port=None)
    again.start()
    try:
        assert asyncio.run(write_then_read(False)) == 42  # the data survived the restart
    finally:
        again.stop()
    assert _processes_mentioning(str(state)) == []


def test_make_up_serves_the_ui_and_ctrl_c_stops_everything(tmp_path: Path) -> None:
    ui_port, temporal_port, db_port = free_port(), free_port(), free_port()
    codec_port, portal_port = free_port(), free_port()
    env = dict(
        os.environ,
        TANDEM_STATE_DIR=str(tmp_path / "state"),
        TANDEM_UI_PORT=str(ui_port),
        TANDEM_PORTAL_PORT=str(portal_port),
        TEMPORAL_ADDRESS=f"127.0.0.1:{temporal_port}",
        DATABASE_URL=f"postgresql://postgres@127.0.0.1:{db_port}/tandem",
        TANDEM_LOG_FORMAT="json",
        TANDEM_CODEC_ADDRESS=f"127.0.0.1:{codec_port}",
    )
    env.pop("TANDEM_CODEC_TOKEN", None)
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "starter.py"), "up"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 90
        status = None
        while time.monotonic() < deadline and status != 200:
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{ui_port}/", timeout=2) as response:
                    status = response.status
            except OSError:
                time.sleep(0.5)
        assert status == 200, "the Temporal UI did not answer"
        portal = None
        while time.monotonic() < deadline and portal is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{portal_port}/a/forged", timeout=2) as r:
                    portal = r.status
            except urllib.error.HTTPError as refused:  # the portal answers: a forged link is refused
                portal = refused.code
            except OSError:
                time.sleep(0.5)
        assert portal == 403, f"the participant portal did not refuse a forged link ({portal})"
        _ui_decodes_through_the_codec_server(ui_port, codec_port, tmp_path / "state" / "codec-token")
        # the worker is up once it logs; give it a moment, then Ctrl-C
        time.sleep(2)
        proc.send_signal(signal.SIGINT)
        output = proc.communicate(timeout=60)[0].decode()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, output
    assert "worker started" in output and "stopped" in output
    for port in (ui_port, temporal_port, db_port, codec_port, portal_port):
        assert not port_open("127.0.0.1", port)
    assert _processes_mentioning(str(tmp_path / "state")) == []


def _ui_decodes_through_the_codec_server(ui_port: int, codec_port: int, token_file: Path) -> None:
    """The UI is configured with our codec server, which answers the token made for this stack only."""
    codec_url = f"http://127.0.0.1:{codec_port}"
    with urllib.request.urlopen(f"http://127.0.0.1:{ui_port}/api/v1/settings", timeout=5) as response:
        settings = json.loads(response.read())
    assert settings["Codec"]["Endpoint"] == codec_url
    assert token_file.stat().st_mode & 0o077 == 0  # created on first start, owner only
    token = token_file.read_text().strip()
    deadline = time.monotonic() + 30  # the codec server starts with the worker, after the UI
    while not port_open("127.0.0.1", codec_port) and time.monotonic() < deadline:
        time.sleep(0.2)
    for headers, expected in (({}, 401), ({"Authorization": f"Bearer {token}"}, 200)):
        request = urllib.request.Request(
            f"{codec_url}/decode",
            data=b'{"payloads": []}',
            headers={"Content-Type": "application/json", "Origin": f"http://127.0.0.1:{ui_port}", **headers},
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                status = response.status
                allow = response.headers["Access-Control-Allow-Origin"]
        except urllib.error.HTTPError as exc:
            status, allow = exc.code, exc.headers["Access-Control-Allow-Origin"]
        assert (status, allow) == (expected, f"http://127.0.0.1:{ui_port}")
