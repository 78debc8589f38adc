"""Fault-test harness: a worker as a separate OS process, a small simulated program, and the check that
every pairing's event stream in PostgreSQL is exactly the workflow's own event list.

The figures of every fault test are collected in ``RESULTS``; ``make chaos`` prints them as a table.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from temporalio.client import Client, WorkflowHandle

from domain.program import ProgramConfig
from domain.roster import Role
from eventstore import EventStore
from localstack.processes import Child
from tandem import operations
from tandem.settings import Settings
from tests.workflows.helpers import person
from workflows.pairing import PairingWorkflow
from workflows.program import ProgramSummary

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class FaultResult:
    scenario: str
    faults: int
    programs: int
    completed: int
    expected: int
    found: int
    lost: int
    duplicated: int
    seconds: float


RESULTS: list[FaultResult] = []


class WorkerProcess:
    """``worker.py`` in its own process, configured only through the environment, as in production."""

    def __init__(self, settings: Settings, log_path: Path, **extra_env: str) -> None:
        env = dict(os.environ, **extra_env)
        env.update(
            TEMPORAL_ADDRESS=settings.temporal_address,
            TEMPORAL_NAMESPACE=settings.temporal_namespace,
            DATABASE_URL=settings.database_url,
            TANDEM_TASK_QUEUE=settings.task_queue,
            TANDEM_CODEC_KEY_FILE=str(settings.key_file),
            TANDEM_LOG_FORMAT="json",
        )
        env.pop("TANDEM_CODEC_KEYS", None)
        self.child = Child("worker", [sys.executable, str(ROOT / "worker.py")], log_path, env=env)
        self.starts = 0

    def start(self) -> None:
        self.child.start()
        self.starts += 1

    def kill(self) -> None:
        """``kill -9``: no graceful shutdown, in-flight tasks simply vanish."""
        self.child.stop(sig=signal.SIGKILL)

    def stop(self) -> None:
        self.child.stop(sig=signal.SIGTERM, timeout=30)


async def start_program(
    client: Client,
    store: EventStore,
    task_queue: str,
    pairs: int,
    seed: int,
    notifications: dict[str, object] | None = None,
) -> tuple[str, WorkflowHandle[object, ProgramSummary]]:
    """Enrol and start a simulated program of ``pairs`` pairings under time skipping (its notices
    sent through ``notifications`` settings when given, as a rehearsal sends them)."""
    program_id = f"chaos-{uuid.uuid4().hex[:8]}"
    people = [person(program_id, n, role) for n in range(pairs) for role in (Role.MENTOR, Role.MENTEE)]
    config = ProgramConfig.model_validate(
        {"id": program_id, "name": "chaos", **({"notifications": notifications} if notifications else {})}
    )
    inputs = operations.Inputs(config=config, participants=people)
    _, specs = operations.plan(inputs)
    version = await operations.enrol(store, inputs, specs)
    handle = await operations.start_program(
        client, task_queue, inputs, specs, version, simulation_seed=seed, time_skipping=True
    )
    return program_id, handle  # type: ignore[return-value]


async def recorded_events(store: EventStore, program_id: str) -> int:
    """Events recorded so far for the program's pairings (progress, for timing the faults)."""
    row = await store.pool.fetchval(
        "SELECT count(*) FROM events WHERE stream_id LIKE $1", f"pairing-{program_id}%"
    )
    return int(row or 0)


async def wait_for_progress(store: EventStore, program_id: str, more_than: int, within: float) -> int:
    deadline = asyncio.get_running_loop().time() + within
    while asyncio.get_running_loop().time() < deadline:
        try:
            count = await recorded_events(store, program_id)
        except (OSError, ConnectionError):
            count = more_than
        if count > more_than:
            return count
        await asyncio.sleep(0.2)
    return more_than


@dataclass(frozen=True)
class Comparison:
    pairings: int
    expected: int
    found: int
    lost: int
    duplicated: int
    mismatches: list[str]


async def compare_streams(client: Client, store: EventStore, program_id: str) -> Comparison:
    """For every pairing of the program (every run of it, across continue-as-new): the workflow's own
    event list (its ``events`` query) against the pairing's stream in the event store."""
    query = f'ProgramId = "{program_id}" AND WorkflowType = "PairingWorkflow"'
    runs: dict[str, list[str]] = {}
    async for execution in client.list_workflows(query):
        runs.setdefault(execution.id, []).append(execution.run_id)
    expected = found = lost = duplicated = 0
    mismatches: list[str] = []
    for workflow_id, run_ids in sorted(runs.items()):
        own: list[tuple[int, str, str]] = []
        for run_id in run_ids:
            handle = client.get_workflow_handle(workflow_id, run_id=run_id)
            refs = await handle.query(PairingWorkflow.query_events)
            own += [(r.version, str(r.event_id), r.type) for r in refs]
        own.sort()
        stream = "pairing-" + workflow_id.removeprefix("pairing-")
        stored = [(e.version, str(e.event_id), e.type) for e in await store.read_stream(stream)]
        expected += len(own)
        found += len(stored)
        own_ids = {e[1] for e in own}
        stored_ids = [e[1] for e in stored]
        lost += len(own_ids - set(stored_ids))
        duplicated += len(stored_ids) - len(set(stored_ids)) + len(set(stored_ids) - own_ids)
        if stored != own:
            mismatches.append(f"{workflow_id}: workflow {len(own)} events, store {len(stored)}")
        if [e[0] for e in stored] != list(range(1, len(stored) + 1)):
            mismatches.append(f"{workflow_id}: store versions have a gap")
    return Comparison(len(runs), expected, found, lost, duplicated, mismatches)


def record_and_check(
    scenario: str, faults: int, pairings: int, comparison: Comparison, started: float
) -> None:
    """Add the run to the chaos table, then hold it to the rule: every pairing's stream is exactly
    the workflow's own event list (nothing lost, nothing duplicated)."""
    RESULTS.append(
        FaultResult(
            scenario=scenario,
            faults=faults,
            programs=1,
            completed=1,
            expected=comparison.expected,
            found=comparison.found,
            lost=comparison.lost,
            duplicated=comparison.duplicated,
            seconds=time.monotonic() - started,
        )
    )
    assert comparison.pairings == pairings
    assert comparison.mismatches == []
    assert comparison.lost == comparison.duplicated == 0
    assert comparison.found == comparison.expected > 0
