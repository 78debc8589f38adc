"""One call per workflow flush: record the new events, deliver the notices they cause, and report
the pairing's new status to its program.

One activity instead of three, because every activity, and every signal a workflow sends itself, is
a server round trip and the dev server is the bottleneck (PLATFORM.md). All three halves are
idempotent, so a retry redoes only what is missing: the store skips events it holds, the outbox
notices it sent, and the program ignores a status no newer than the one it has.
"""

from __future__ import annotations

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


async def report_to_program(report: ProgramReport) -> None:
    """Signal the program by workflow id, so the signal reaches its current run. A program that no
    longer runs (terminated by an operator) has nobody to tell: the pairing goes on regardless."""
    handle = activity.client().get_workflow_handle(report.workflow_id)
    try:
        await handle.signal("pairing_changed", report.status)
    except RPCError as err:
        if err.status is not RPCStatusCode.NOT_FOUND:
            raise
        log.warning(
            "program_gone",
            program_workflow_id=report.workflow_id,
            pairing_id=report.status.pairing_id,
            stage=report.status.stage,
        )
