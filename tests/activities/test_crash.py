"""Killing the worker in the middle of a send produces neither a lost nor a second message.

A real worker process (worker.py: workflows, activities and the outbox dispatcher) runs a pairing
whose program sends email to a real SMTP server on loopback. The server holds its answer to DATA;
the worker is killed with SIGKILL right then; a second worker takes over once the lease expires.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path

import pytest
from temporalio.client import Client

from domain.pairing import PairingTerms
from eventstore import EventStore
from tandem.settings import Settings
from tests.activities.conftest import SmtpSink, seed_program
from workflows.pairing import REVISION, PairingInput, PairingWorkflow, workflow_id_for

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.stack


def start_worker(settings: Settings, dsn: str, queue: str, log: Path) -> subprocess.Popen[bytes]:
    env = dict(
        os.environ,
        TEMPORAL_ADDRESS=settings.temporal_address,
        DATABASE_URL=dsn,
        TANDEM_TASK_QUEUE=queue,
        TANDEM_CODEC_KEY_FILE=str(settings.codec_key_file),
        TANDEM_OUTBOX_LEASE_SECONDS="3",
        TANDEM_OUTBOX_POLL_SECONDS="0.2",
        TANDEM_LOG_FORMAT="console",
    )
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, str(ROOT / "worker.py")], cwd=ROOT, env=env, stdout=out, stderr=out
        )


async def until(condition, within: float, what: str) -> None:  # type: ignore[no-untyped-def]
    for _ in range(int(within / 0.1)):
        if condition():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


async def test_worker_killed_during_a_send_delivers_each_message_once(
    outbox_store: EventStore,
    outbox_dsn: str,
    smtp_sink: SmtpSink,
    client: Client,
    settings: Settings,
    tmp_path: Path,
) -> None:
    program = await seed_program(
        outbox_store,
        {
            "channel": "email",
            "email": {"host": "127.0.0.1", "port": smtp_sink.port, "sender": "t@example.org"},
        },
    )
    queue = f"crash-{uuid.uuid4().hex[:8]}"
    log = tmp_path / "worker.log"
    smtp_sink.hold.set()
    first = start_worker(settings, outbox_dsn, queue, log)
    second = None
    pairing_id = f"{program.config.id}.crash"
    handle = await client.start_workflow(
        PairingWorkflow.run,
        PairingInput(
            pairing_id=pairing_id,
            program_id=program.config.id,
            mentor_id=program.mentor.participant_id,
            mentee_id=program.mentee.participant_id,
            terms=PairingTerms.from_program(program.config),
            channel="email",
            revision=REVISION,
        ),
        id=workflow_id_for(pairing_id),
        task_queue=queue,
    )
    try:
        await until(smtp_sink.in_data.is_set, 60, "the worker to be in the middle of DATA")
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        await asyncio.sleep(0.3)
        smtp_sink.hold.clear()  # the server finishes DATA: its client is gone, so nothing is accepted
        await until(lambda: smtp_sink.dropped == 1, 10, "the interrupted message to be dropped")
        assert smtp_sink.messages == []

        second = start_worker(settings, outbox_dsn, queue, log)
        await until(lambda: len(smtp_sink.messages) >= 2, 60, "the welcome messages")
        await asyncio.sleep(4)  # longer than a lease: a duplicate would have arrived by now
        ids = Counter(m["Message-ID"] for m in smtp_sink.messages)
        assert len(ids) == 2 and set(ids.values()) == {1}, ids
        assert sorted(m["To"] for m in smtp_sink.messages) == [
            "Ana <ana@example.org>",
            "Bob <bob@example.org>",
        ]
        rows = await outbox_store.pool.fetch(
            "SELECT delivered_at FROM notifications WHERE pairing_id = $1", pairing_id
        )
        assert len(rows) == 2 and all(r["delivered_at"] for r in rows)
    finally:
        await handle.terminate("test over")
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()
