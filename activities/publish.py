"""One call per workflow flush: record the new events, deliver the notices they cause, and report
the pairing's new status to its program.

One activity instead of three, because every activity, and every signal a workflow sends itself, is
a server round trip and the dev server is the bottleneck (PLATFORM.md). All three halves are
idempotent, so a retry redoes only what is missing: the store skips events it holds, the outbox
notices it sent, and the program ignores a status no newer than the one it has. Reports of publishes
running at once go to their program in one signal (ProgramReports).
"""

from __future__ import annotations

import asyncio

from temporalio import activity
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from activities.models import PairingStatus, ProgramReport, PublishBatch, PublishOutcome
from activities.notify import Notifier
from activities.record import Recorder
from tandem import logs

log = logs.get("publish")


class Publisher:
    def __init__(self, recorder: Recorder, notifier: Notifier) -> None:
        self.recorder = recorder
        self.notifier = notifier
        self.reports = ProgramReports()

    @activity.defn(name="publish")
    async def publish(self, batch: PublishBatch) -> PublishOutcome:
        recorded = await self.recorder.append(batch.record)
        delivery = await self.notifier.deliver(batch.delivery) if batch.delivery else None
        if batch.report is not None:
            await self.reports.send(batch.report)
        return PublishOutcome(record=recorded, delivery=delivery)


# A program that continues as new refuses signals ("workflow is closing") until its next run has
# completed its first task: seconds (up to 9 s seen at 1,000 pairings, the worker busiest then). Waiting
# here costs a pairing those seconds; failing the activity cost it the activity's retry backoff on top
# (1, 2, 4, 8 s ...) and logged a traceback for a condition that is expected.
CLOSING_WAIT = 0.25  # seconds between attempts while the program is closing
CLOSING_PATIENCE = 12.0  # then fail, well inside the activity's 20 s timeout: its retries take over
# Statuses per signal: a status is about 300 bytes, so a signal stays far below the server's limits.
MAX_REPORTS_PER_SIGNAL = 200
# At most one signal per program in this many seconds: a report that comes sooner after the last
# signal waits for the rest of it, and for the reports that come meanwhile. Without it a signal
# carried 1.9 reports on average at 300 simulated pairings (a signal takes milliseconds, reports came
# every 40 ms). A report after a quiet spell goes at once: the pairings that run last in a
# simulation, and a real program's occasional reports, would wait for company that never comes.
# 0.15 s rather than 0.05 s: at 300 simulated pairings (3 runs each) the server counted 1.5 signal
# requests per pairing instead of 3.6, and the server's and worker's CPU per pairing fell 6%.
REPORT_LINGER = 0.15

_Waiting = tuple[PairingStatus, "asyncio.Future[None]"]


class ProgramReports:
    """Reports to programs, coalesced: at most one signal in flight per program, and every report
    that arrives meanwhile goes in the next one.

    Each signal is a server round trip, an event in the program's history and (often) a workflow task
    of the program; a simulated program of 300 pairings received 4.9 a pairing, from up to 50
    publishes running at once, and 1.5 a pairing once coalesced. A publish still returns only once
    its own report is accepted, so a report is never lost with the worker: the activity fails and is
    retried instead."""

    def __init__(self) -> None:
        self._queues: dict[str, list[_Waiting]] = {}
        self._senders: set[asyncio.Task[None]] = set()  # held: the loop keeps only weak references
        self._last_signal: dict[str, float] = {}  # program workflow id -> loop time its last signal ended

    async def send(self, report: ProgramReport) -> None:
        """Return once the program has the report (or no longer runs); raise if the signal failed."""
        client = activity.client()
        loop = asyncio.get_running_loop()
        accepted: asyncio.Future[None] = loop.create_future()
        queue = self._queues.get(report.workflow_id)
        if queue is None:
            self._forget_quiet(loop.time())
            queue = self._queues[report.workflow_id] = []
            sender = loop.create_task(self._drain(client, report.workflow_id, queue))
            self._senders.add(sender)
            sender.add_done_callback(self._senders.discard)
        queue.append((report.status, accepted))
        await accepted

    def _forget_quiet(self, now: float) -> None:
        """Drop what is known of programs quiet for longer than the linger: it no longer matters."""
        for workflow_id, at in list(self._last_signal.items()):
            if now - at >= REPORT_LINGER and workflow_id not in self._queues:
                del self._last_signal[workflow_id]

    async def _drain(self, client: Client, workflow_id: str, queue: list[_Waiting]) -> None:
        loop = asyncio.get_running_loop()
        try:
            while queue:
                wait = _linger_left(self._last_signal.get(workflow_id), loop.time())
                if wait > 0:
                    await asyncio.sleep(wait)  # busy: let more reports join this signal
                batch = queue[:MAX_REPORTS_PER_SIGNAL]
                del queue[:MAX_REPORTS_PER_SIGNAL]
                try:
                    await _signal(client, workflow_id, [status for status, _ in batch])
                except asyncio.CancelledError:  # the worker is going: its publishes are retried
                    queue[:0] = batch
                    raise
                except Exception as err:  # every publish waiting on it fails; Temporal retries each
                    for _, accepted in batch:
                        if not accepted.done():
                            accepted.set_exception(err)
                else:
                    for _, accepted in batch:
                        if not accepted.done():  # its activity may have been cancelled meanwhile
                            accepted.set_result(None)
                finally:
                    self._last_signal[workflow_id] = loop.time()
        finally:
            del self._queues[workflow_id]  # no await since the queue was found empty
            for _, accepted in queue:  # left only if this sender was cancelled
                accepted.cancel()


def _linger_left(last_signal: float | None, now: float) -> float:
    """Seconds a program's next signal waits: the rest of the linger since its last one, if any."""
    return 0.0 if last_signal is None else max(0.0, REPORT_LINGER - (now - last_signal))


async def _signal(client: Client, workflow_id: str, statuses: list[PairingStatus]) -> None:
    """Signal the program by workflow id, so the signal reaches its current run. A program that no
    longer runs (terminated by an operator) has nobody to tell: the pairings go on regardless."""
    handle = client.get_workflow_handle(workflow_id)
    loop = asyncio.get_running_loop()
    give_up = loop.time() + CLOSING_PATIENCE
    while True:
        try:
            await handle.signal("pairings_changed", statuses)
            return
        except RPCError as err:
            if err.status is RPCStatusCode.NOT_FOUND:
                log.warning(
                    "program_gone",
                    program_workflow_id=workflow_id,
                    pairing_ids=[s.pairing_id for s in statuses],
                    stages=[s.stage for s in statuses],
                )
                return
            if not _closing(err) or loop.time() >= give_up:
                raise
        await asyncio.sleep(CLOSING_WAIT)


def _closing(err: RPCError) -> bool:
    """The server's refusal while a workflow continues as new (ResourceExhausted, cause BusyWorkflow)."""
    return err.status is RPCStatusCode.RESOURCE_EXHAUSTED and "closing" in err.message
