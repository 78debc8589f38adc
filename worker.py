"""The Tandem worker: hosts every workflow and activity; stops gracefully on SIGTERM or SIGINT.

Run it against any Temporal cluster and PostgreSQL via TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE,
DATABASE_URL and TANDEM_TASK_QUEUE (defaults: the local stack of `make up`). Besides workflows and
activities it runs the notification outbox's dispatcher (TANDEM_OUTBOX_POLL_SECONDS between passes,
TANDEM_OUTBOX_LEASE_SECONDS before a send interrupted by a crash is tried again).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker, WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from activities.matching import Matcher
from activities.notify import Notifier
from activities.outbox import DEFAULT_LEASE_SECONDS, Outbox
from activities.publish import Publisher
from activities.record import Recorder
from eventstore import EventStore
from eventstore.projections import kept_up
from tandem import collector, logs
from tandem.report import read_models
from tandem.settings import Settings, SettingsError
from tandem.temporal import connect
from workflows.pairing import PairingWorkflow
from workflows.program import ProgramWorkflow

WORKFLOWS = [ProgramWorkflow, PairingWorkflow]
MAX_CACHED_WORKFLOWS = 10_000
# Activities running at once. A publish that reports to its program returns only once the program has
# the report: seconds while the program continues as new. With the SDK-like 50, those waits filled
# every slot, and the activities that pairings scheduled meanwhile could not start in the reply to
# their workflow task (eagerly): they went through the server's task queue instead, four more server
# requests each, 0.33 per pairing at 1,000 simulated pairings and 0.86 in some runs at 300. With 500,
# none. A slot costs a coroutine; PostgreSQL sees at most the store's pool (10 connections).
MAX_CONCURRENT_ACTIVITIES = 500
PROJECTION_INTERVAL = 5.0  # seconds between catch-ups of the read models that reports read
# How long a workflow task waits for this worker (which holds the workflow in its cache) before the
# server gives it, with the whole history, to any worker. The SDK's 10 s suits a real program, where
# tasks are few and a crashed worker's workflows should move on quickly. A simulation under time
# skipping has every pairing ready at once: with 1,000 pairings the worker's queue ran more than 10 s
# deep, 0.6 tasks per pairing timed out, and each came back with the whole history for the server to
# read and send again, more work exactly when the server is busiest. A simulating worker runs in the process
# that drives the simulation (a crash ends both), so it waits as long as it takes.
STICKY_TIMEOUT = timedelta(seconds=10)
SIMULATION_STICKY_TIMEOUT = timedelta(minutes=10)


def workflow_runner(sandboxed: bool) -> WorkflowRunner:
    """Workflows run outside the SDK's sandbox unless asked (TANDEM_WORKFLOW_SANDBOX=on).

    The sandbox re-imports a workflow's modules for every new run and proxies what workflow code
    touches: on a 300-pairing simulated program the worker spent 0.21-0.22 s of CPU per pairing
    sandboxed, 0.15-0.18 s without. What guards determinism instead: domain/ is pure (imports checked by
    tests/test_quality.py) and, being passed through, was never sandboxed anyway; workflows/ hold no
    mutable module state; and CI replays every recorded history *inside* the sandbox
    (tests/workflows/test_replay.py) and runs a whole program on a sandboxed worker (tests/test_worker.py),
    so a workflow that reads the clock, draws randomness or does I/O fails there.
    """
    return SandboxedWorkflowRunner() if sandboxed else UnsandboxedWorkflowRunner()


def build_worker(
    client: Client,
    store: EventStore,
    task_queue: str,
    *,
    sandboxed: bool = False,
    sticky_timeout: timedelta = STICKY_TIMEOUT,
) -> Worker:
    recorder = Recorder(store)
    notifier = Notifier(store, store.pool, client)
    publisher = Publisher(recorder, notifier)
    matcher = Matcher(store)
    return Worker(
        client,
        task_queue=task_queue,
        workflows=WORKFLOWS,
        activities=[
            recorder.record_events,
            notifier.deliver_notices,
            notifier.simulate_participants,
            publisher.publish,
            matcher.propose_rematch,
            matcher.load_plan,
            matcher.withdraw_participant,
            matcher.propose_rematches,
            matcher.withdraw_participants,
        ],
        max_concurrent_activities=MAX_CONCURRENT_ACTIVITIES,
        max_concurrent_workflow_tasks=50,
        # Every running pairing is a cached workflow. Past the cache (SDK default 1,000) each workflow
        # task of an evicted pairing replays its history (and, sandboxed, re-imports its module):
        # with 5,000 pairings running, an eighth of the worker's CPU went to creating workflow instances.
        max_cached_workflows=MAX_CACHED_WORKFLOWS,
        workflow_runner=workflow_runner(sandboxed),
        sticky_queue_schedule_to_start_timeout=sticky_timeout,
        graceful_shutdown_timeout=timedelta(seconds=10),
    )


@asynccontextmanager
async def running_worker(
    settings: Settings, client: Client | None = None, *, simulating: bool = False
) -> AsyncIterator[Worker]:
    """A started worker with its own event-store pool, catching up the read models; all closed on exit.
    ``simulating``: the worker of a simulation run in this process (see SIMULATION_STICKY_TIMEOUT)."""
    client = client or await connect(settings)
    store = await EventStore.open(settings.database_url, migrate=True)
    try:
        worker = build_worker(
            client,
            store,
            settings.task_queue,
            sandboxed=settings.workflow_sandbox,
            sticky_timeout=SIMULATION_STICKY_TIMEOUT if simulating else STICKY_TIMEOUT,
        )
        outbox = Outbox(
            store, lease_seconds=float(os.environ.get("TANDEM_OUTBOX_LEASE_SECONDS", DEFAULT_LEASE_SECONDS))
        )
        poll = float(os.environ.get("TANDEM_OUTBOX_POLL_SECONDS", "1"))
        # the read models are caught up and due notifications sent in the background while the worker
        # runs; both stop with it. The garbage collector is set for a worker while it runs.
        with collector.tuned():
            async with (
                worker,
                kept_up(read_models.runner(store.pool), PROJECTION_INTERVAL),
                outbox.running(poll),
            ):
                yield worker
    finally:
        await store.close()


async def serve(settings: Settings) -> None:
    log = logs.get("worker")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with running_worker(settings):
        log.info(
            "worker started",
            task_queue=settings.task_queue,
            temporal=settings.temporal_address,
            namespace=settings.temporal_namespace,
        )
        await stop.wait()
        log.info("worker stopping: finishing in-flight tasks")
    log.info("worker stopped")


def main() -> None:
    try:
        settings = Settings.from_env()
    except SettingsError as err:
        print(f"worker: bad setting: {err}", file=sys.stderr)
        sys.exit(2)
    logs.configure(settings.log_format)
    asyncio.run(serve(settings))
    # skip interpreter finalisation: the Temporal client's native threads can abort it (see starter.py)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
