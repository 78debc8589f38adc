"""One call per workflow flush: record the new events, deliver the notices they cause, and report
the pairing's new status to its program.

One activity instead of three, because every activity, and every signal a workflow sends itself, is
a server round trip and the dev server is the bottleneck (PLATFORM.md). All three halves are
idempotent, so a retry redoes only what is missing: the store skips events it holds, the outbox
notices it sent, and the program ignores a status no newer than the one it has.
"""

from __future__ import annotations

import asyncio

from temporalio import activity
from temporalio.service import RPCError, RPCStatusCode

from activities.models import ProgramReport, PublishBatch, PublishOutcome
from activities.notify import Notifier
from activities.record import Recorder
from tandem import logs

log = logs.get("publish")


class Publisher:
    def __init__(self, recorder: Recorder, notifier: Notifier) -> None:
        self.recorder = recorder
        self.notifier = notifier

    @activity.defn(name="publish")
    async def publish(self, batch: PublishBatch) -> PublishOutcome:
        recorded = await self.recorder.append(batch.record)
        delivery = await self.notifier.deliver(batch.delivery) if batch.delivery else None
        if batch.report is not None:
            await report_to_program(batch.report)
        return PublishOutcome(record=recorded, delivery=delivery)


# A program that continues as new refuses signals ("workflow is closing") until its next run has
# completed its first task: seconds (up to 9 s seen at 1,000 pairings, the worker busiest then). Waiting
# here costs a pairing those seconds; failing the activity cost it the activity's retry backoff on top
# (1, 2, 4, 8 s ...) and logged a traceback for a condition that is expected.
CLOSING_WAIT = 0.25  # seconds between attempts while the program is closing
CLOSING_PATIENCE = 12.0  # then fail, well inside the activity's 20 s timeout: its retries take over


async def report_to_program(report: ProgramReport) -> None:
    """Signal the program by workflow id, so the signal reaches its current run. A program that no
    longer runs (terminated by an operator) has nobody to tell: the pairing goes on regardless."""
    handle = activity.client().get_workflow_handle(report.workflow_id)
    loop = asyncio.get_running_loop()
    give_up = loop.time() + CLOSING_PATIENCE
    while True:
        try:
            await handle.signal("pairing_changed", report.status)
            return
        except RPCError as err:
            if err.status is RPCStatusCode.NOT_FOUND:
                log.warning(
                    "program_gone",
                    program_workflow_id=report.workflow_id,
                    pairing_id=report.status.pairing_id,
                    stage=report.status.stage,
                )
                return
            if not _closing(err) or loop.time() >= give_up:
                raise
        await asyncio.sleep(CLOSING_WAIT)


def _closing(err: RPCError) -> bool:
    """The server's refusal while a workflow continues as new (ResourceExhausted, cause BusyWorkflow)."""
    return err.status is RPCStatusCode.RESOURCE_EXHAUSTED and "closing" in err.message
