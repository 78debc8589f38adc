"""The email channel down for a while during a program: the program does not wait for it, nothing is
lost or duplicated in the event store, and once the mail server is back every notification arrives
exactly once."""

from __future__ import annotations

import asyncio
import email
import email.policy
import time
import uuid
from pathlib import Path

from temporalio.client import Client

from activities.channels.smtp import message_id
from eventstore import EventStore
from localstack.processes import free_port
from tandem.mailsink import MailSink
from tandem.settings import Settings
from tests.faults.harness import (
    WorkerProcess,
    compare_streams,
    record_and_check,
    start_program,
    wait_for_progress,
)

PAIRS = 3


async def _undelivered(store: EventStore, program_id: str) -> int:
    return int(
        await store.pool.fetchval(
            "SELECT count(*) FROM notifications WHERE program_id = $1 AND delivered_at IS NULL",
            program_id,
        )
    )


async def test_mail_server_down_delays_notifications_and_loses_none(
    client: Client, store: EventStore, settings: Settings, tmp_path: Path
) -> None:
    started = time.monotonic()
    smtp_port = free_port()  # nothing listens here until the outage ends
    mine = settings.model_copy(update={"task_queue": f"chaos-mail-{uuid.uuid4().hex[:6]}"})
    worker = WorkerProcess(mine, tmp_path / "worker.log", TANDEM_OUTBOX_POLL_SECONDS="0.2")
    worker.start()
    sink = MailSink(tmp_path / "mail", port=smtp_port)
    try:
        program_id, handle = await start_program(
            client,
            store,
            mine.task_queue,
            PAIRS,
            seed=7,
            notifications={
                "channel": "email",
                "email": {"host": "127.0.0.1", "port": smtp_port, "timeout_seconds": 2},
                "retry": {"initial_seconds": 0.5, "max_seconds": 2},
            },
        )
        await wait_for_progress(store, program_id, 30, within=60)
        assert not sink.received
        sink.start()  # the mail server is back
        summary = await asyncio.wait_for(handle.result(), timeout=240)
        assert summary.closed == summary.pairings >= PAIRS
        for _ in range(300):  # the outbox catches up with its backoff (at most 2 s apart)
            if not await _undelivered(store, program_id):
                break
            await asyncio.sleep(0.2)
        comparison = await compare_streams(client, store, program_id)
        rows = await store.pool.fetch(
            "SELECT key, attempts, sent_via FROM notifications WHERE program_id = $1", program_id
        )
    finally:
        worker.stop()
        sink.stop()
    record_and_check("email channel down", 1, summary.pairings, comparison, started)
    assert rows and await _undelivered(store, program_id) == 0
    assert max(r["attempts"] for r in rows) > 1  # the outage was felt: sends were retried
    ids = [
        email.message_from_bytes(m.path.read_bytes(), policy=email.policy.default)["Message-ID"]
        for m in sink.received
    ]
    mailed = [r for r in rows if r["sent_via"] == "email"]  # operator notices: console (no address)
    assert mailed and len(ids) == len(set(ids)) == len(mailed)  # every email exactly once
    assert set(ids) == {message_id(r["key"]) for r in mailed}
