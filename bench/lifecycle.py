"""Lifecycle throughput: N simulated pairings through the whole lifecycle under time skipping,
side by side with bare baseline workflows of the same shapes (each pairing's timers, activities, updates).

    .venv/bin/python -m bench.lifecycle --pairings 100 --rounds 2

Reports pairings completed per second for both and their ratio (ours / baseline). Timings on these
machines are noisy: read the ratio, and run rounds alternately (baseline, ours, baseline, ours ...).

Two yardsticks: ``baseline`` starts every bare workflow at once; ``baseline_in_time`` starts them
as the program started its pairings: the planned ones at once, each rematch's successor when its
predecessor's bare workflow ends. The first prices the whole program, rematch chains included (a
successor runs a full lifecycle after its predecessor's midpoint); the second prices Tandem's logic
on the same time structure.

Every phase (ours, each yardstick) runs on a fresh Temporal dev server with only its own worker
polling: the dev server keeps finished histories in memory, and a phase run after another paid for
the other's too. ``--output FILE`` also writes the report to FILE (the Temporal core's warnings can
share stdout).

Both workers run workflows as the Tandem worker does, outside the SDK's sandbox; ``--sandboxed`` runs
both inside it (worker.py says why the default is off).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import TimeSkipper
from temporalio.worker import Worker

from bench.baseline import BaselineWorkflow, Shape, baseline_step
from domain.program import ProgramConfig
from domain.roster import Participant, Role, participant_id_for
from eventstore import EventStore
from localstack.stack import LocalStack
from localstack.temporal import TemporalDevServer
from tandem import collector, operations
from tandem.settings import Settings
from tandem.temporal import connect
from workflows.pairing import workflow_id_for


def roster(program_id: str, pairs: int) -> list[Participant]:
    people = []
    for n in range(pairs):
        for role, level in ((Role.MENTOR, 2), (Role.MENTEE, 7)):
            email = f"{role.value}{n}@bench.example.com"
            people.append(
                Participant(
                    participant_id=participant_id_for(program_id, email),
                    email=email,
                    name=f"{role.value} {n}",
                    role=role,
                    title="t",
                    department=f"d{n % 7}",
                    level=level,
                    communication_style="direct",
                    timezone="Europe/London",
                )
            )
    return people


async def run_ours(
    client: Client, store: EventStore, task_queue: str, pairs: int, seed: int
) -> tuple[float, dict[str, str | None], int]:
    program_id = f"bench-{uuid.uuid4().hex[:8]}"
    inputs = operations.Inputs(
        config=ProgramConfig(id=program_id, name="bench"), participants=roster(program_id, pairs)
    )
    _, specs = operations.plan(inputs)
    version = await operations.enrol(store, inputs, specs)
    started = time.perf_counter()
    handle = await operations.start_program(
        client, task_queue, inputs, specs, version, simulation_seed=seed, time_skipping=True
    )
    summary = await handle.result()
    elapsed = time.perf_counter() - started
    assert summary.closed == summary.pairings, summary  # the planned pairings plus their rematches
    rows = await store.pool.fetch(
        "SELECT stream_id, payload->>'replaces' AS replaces FROM events"
        " WHERE type = 'PairingProposed' AND payload->>'program_id' = $1",
        program_id,
    )
    assert len(rows) == summary.pairings, (len(rows), summary.pairings)
    # workflow id = stream id = "pairing-" + pairing id; each with the workflow id it replaced, if any
    replaced = {r["stream_id"]: workflow_id_for(r["replaces"]) if r["replaces"] else None for r in rows}
    return elapsed, replaced, summary.pairings


async def shape_of(client: Client, workflow_id: str) -> Shape:
    counts = {"timers": 0, "activities": 0, "updates": 0}
    async for event in client.get_workflow_handle(workflow_id).fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_TIMER_STARTED:
            counts["timers"] += 1
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            counts["activities"] += 1
        elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            counts["updates"] += 1
    return Shape(**counts)


async def shapes_of(client: Client, workflow_ids: list[str]) -> list[Shape]:
    """Every pairing's own shape: a diligent pairing has twice the timers of one that ends early,
    so one sample would make the yardstick too long or too short."""
    limit = asyncio.Semaphore(16)

    async def one(workflow_id: str) -> Shape:
        async with limit:
            return await shape_of(client, workflow_id)

    return list(await asyncio.gather(*(one(w) for w in workflow_ids)))


async def _start_bare(skipper: TimeSkipper, task_queue: str, shape: Shape) -> WorkflowHandle[Any, int]:
    return await skipper.client.start_workflow(
        BaselineWorkflow.run,
        shape,
        id=f"baseline-{uuid.uuid4().hex}",
        task_queue=task_queue,
        execution_timeout=timedelta(days=3650),
    )


async def run_baseline(client: Client, task_queue: str, shapes: list[Shape]) -> float:
    """One bare workflow per pairing we ran, each with that pairing's timers, activities, Updates."""
    skipper = TimeSkipper(client, config=operations.SIMULATION_TIME_SKIPPING)
    started = time.perf_counter()
    handles = [await _start_bare(skipper, task_queue, shape) for shape in shapes]
    await asyncio.gather(*(h.result() for h in handles))
    return time.perf_counter() - started


async def run_baseline_in_time(
    client: Client, task_queue: str, shapes: dict[str, Shape], replaced: dict[str, str | None]
) -> float:
    """The same bare workflows, started as the program started its pairings: those it planned at
    once, each successor when the bare workflow of the pairing it replaced has ended."""
    skipper = TimeSkipper(client, config=operations.SIMULATION_TIME_SKIPPING)
    successors: dict[str, list[str]] = {}
    for workflow_id, old in replaced.items():
        if old is not None:
            successors.setdefault(old, []).append(workflow_id)

    async def then(workflow_id: str, handle: WorkflowHandle[Any, int]) -> None:
        await handle.result()
        nexts = successors.get(workflow_id, [])
        handles = [await _start_bare(skipper, task_queue, shapes[n]) for n in nexts]
        await asyncio.gather(*(then(n, h) for n, h in zip(nexts, handles, strict=True)))

    started = time.perf_counter()
    roots = [w for w, old in replaced.items() if old is None]
    handles = [await _start_bare(skipper, task_queue, shapes[w]) for w in roots]
    await asyncio.gather(*(then(w, h) for w, h in zip(roots, handles, strict=True)))
    return time.perf_counter() - started


class CpuMeter:
    """CPU seconds spent by the Temporal server's process and by this one (worker, client, baseline
    worker) during a phase: which side a slower run pays in. Linux /proc; zeros elsewhere."""

    def __init__(self, server_pid: int | None) -> None:
        self.server_pid = server_pid

    def _server(self) -> float:
        if self.server_pid is None:
            return 0.0
        try:
            with open(f"/proc/{self.server_pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def read(self) -> tuple[float, float]:
        return self._server(), time.process_time()

    def since(self, start: tuple[float, float]) -> tuple[float, float]:
        server, here = self.read()
        return round(server - start[0], 1), round(here - start[1], 1)


class Servers:
    """A fresh Temporal dev server for every phase. The dev server keeps every finished history in
    its in-memory database, and a later phase paid for that: at 1,000 pairings the in-time yardstick,
    run last, used 0.61 s of server CPU per pairing against 0.38 s for the same workflows run second.
    On a fresh server each side pays for its own workflows only, whatever the order."""

    def __init__(self, server: TemporalDevServer, settings: Settings) -> None:
        self.server, self.settings = server, settings
        self.started = False

    @asynccontextmanager
    async def fresh(self) -> AsyncIterator[tuple[Client, CpuMeter]]:
        """A client of a server that has run nothing yet, and a CPU meter on that server."""
        if self.started:  # the stack started the first one
            await asyncio.to_thread(self.server.stop)
            await asyncio.to_thread(self.server.start)
        self.started = True
        process = self.server.child.process
        yield await connect(self.settings), CpuMeter(process.pid if process is not None else None)


def baseline_worker(client: Client, sandboxed: bool) -> Worker:
    from worker import (
        MAX_CACHED_WORKFLOWS,
        MAX_CONCURRENT_ACTIVITIES,
        SIMULATION_STICKY_TIMEOUT,
        workflow_runner,
    )

    return Worker(
        client,
        task_queue="bench-baseline",
        workflows=[BaselineWorkflow],
        activities=[baseline_step],
        max_concurrent_activities=MAX_CONCURRENT_ACTIVITIES,
        max_concurrent_workflow_tasks=50,
        # tuned as ours (runner, sticky timeout, cache, activity slots): the yardstick prices logic,
        # not the worker
        workflow_runner=workflow_runner(sandboxed),
        sticky_queue_schedule_to_start_timeout=SIMULATION_STICKY_TIMEOUT,
        max_cached_workflows=MAX_CACHED_WORKFLOWS,
    )


async def bench(servers: Servers, pairs: int, rounds: int, seed: int) -> dict[str, object]:
    """Per round: ours, then each yardstick, each phase with only its own worker, on its own server."""
    from worker import running_worker

    settings = servers.settings
    store = await EventStore.open(settings.database_url, migrate=False)
    ours: list[float] = []
    totals: list[int] = []
    successors: list[int] = []  # of the planned pairings' rematches, per round
    base: list[float] = []
    in_time: list[float] = []
    shapes: list[Shape] = []
    used: dict[str, list[tuple[float, float]]] = {"ours": [], "baseline": [], "in_time": []}
    try:
        for _ in range(rounds):
            async with servers.fresh() as (client, cpu), running_worker(settings, client, simulating=True):
                mark = cpu.read()
                elapsed, replaced, total = await run_ours(client, store, settings.task_queue, pairs, seed)
                used["ours"].append(cpu.since(mark))
                ids = list(replaced)
                shapes = await shapes_of(client, ids)
            totals.append(total)
            successors.append(sum(1 for old in replaced.values() if old is not None))
            ours.append(elapsed)
            async with servers.fresh() as (client, cpu), baseline_worker(client, settings.workflow_sandbox):
                mark = cpu.read()
                base.append(await run_baseline(client, "bench-baseline", shapes))
                used["baseline"].append(cpu.since(mark))
            by_id = dict(zip(ids, shapes, strict=True))
            async with servers.fresh() as (client, cpu), baseline_worker(client, settings.workflow_sandbox):
                mark = cpu.read()
                in_time.append(await run_baseline_in_time(client, "bench-baseline", by_id, replaced))
                used["in_time"].append(cpu.since(mark))
    finally:
        await store.close()
    mean = {k: round(statistics.mean(getattr(s, k) for s in shapes), 1) for k in Shape.model_fields}
    # pairing workflows completed per second, rematches included; the baseline runs as many workflows
    ours_rate = statistics.median(t / s for t, s in zip(totals, ours, strict=True))
    base_rate = statistics.median(t / s for t, s in zip(totals, base, strict=True))
    in_time_rate = statistics.median(t / s for t, s in zip(totals, in_time, strict=True))
    return {
        "pairings_planned": pairs,
        "sandboxed": settings.workflow_sandbox,
        "pairings_run": totals,
        "rounds": rounds,
        "mean_shape_per_pairing": mean,
        "ours_seconds": [round(x, 2) for x in ours],
        "baseline_seconds": [round(x, 2) for x in base],
        "ours_pairings_per_s": round(ours_rate, 2),
        "baseline_pairings_per_s": round(base_rate, 2),
        "ratio_ours_to_baseline": round(ours_rate / base_rate, 3),
        "successors": successors,
        "baseline_in_time_seconds": [round(x, 2) for x in in_time],
        "baseline_in_time_pairings_per_s": round(in_time_rate, 2),
        "ratio_ours_to_baseline_in_time": round(ours_rate / in_time_rate, 3),
        # per phase and round: [Temporal server CPU s, this process's CPU s (workers and clients)]
        "cpu_seconds": used,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pairings", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--sandboxed", action="store_true", help="run both workers' workflows in the SDK's sandbox"
    )
    parser.add_argument("--output", type=Path, help="also write the JSON report to this file")
    args = parser.parse_args()
    for name in ("pairings", "rounds"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1, got {getattr(args, name)}")
    if args.output is not None and not args.output.parent.is_dir():
        parser.error(f"--output: folder {args.output.parent} does not exist")
    stack = LocalStack.ephemeral()
    stack.start()
    try:
        settings = stack.settings("bench").model_copy(update={"workflow_sandbox": args.sandboxed})
        # every phase with the garbage collector set as our worker sets it (tandem/collector.py):
        # the yardstick prices logic, not the process's settings
        with collector.tuned():
            servers = Servers(stack.temporal, settings)
            report = asyncio.run(bench(servers, args.pairings, args.rounds, args.seed))
        result = json.dumps(report, indent=1)
        print(result)
        if args.output is not None:  # the Temporal core's own warnings share stdout
            args.output.write_text(result + "\n")
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
