"""kill -9 of the worker process, several times while a program runs: it completes, and every pairing's
stream in the event store is exactly the workflow's own event list."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

from temporalio.client import Client

from eventstore import EventStore
from tandem.settings import Settings
from tests.faults.harness import (
    WorkerProcess,
    compare_streams,
    record_and_check,
    start_program,
    wait_for_progress,
)

KILLS = 3  # each costs a workflow-task timeout (10 s) of the task the dead worker held
PAIRS = 3


async def test_worker_killed_repeatedly_loses_and_duplicates_nothing(
    client: Client, store: EventStore, settings: Settings, tmp_path: Path
) -> None:
    started = time.monotonic()
    mine = settings.model_copy(update={"task_queue": f"chaos-kill-{uuid.uuid4().hex[:6]}"})
    worker = WorkerProcess(mine, tmp_path / "worker.log")
    worker.start()
    try:
        program_id, handle = await start_program(client, store, mine.task_queue, PAIRS, seed=5)
        seen = 0
        for _ in range(KILLS):
            # let the program make some progress, then kill the worker in the middle of it
            seen = await wait_for_progress(store, program_id, seen + 3, within=60)
            worker.kill()
            await asyncio.sleep(1.0)
            worker.start()
        summary = await asyncio.wait_for(handle.result(), timeout=240)
        assert summary.closed == summary.pairings >= PAIRS
        comparison = await compare_streams(client, store, program_id)
    finally:
        worker.stop()
    record_and_check("worker kill -9", KILLS, summary.pairings, comparison, started)
    assert worker.starts == KILLS + 1
