"""One call per workflow flush: record the new events, then deliver the notices they cause.

Workflows run it as a local activity: one call instead of two, and no extra server round trip
(the dev server is the bottleneck, see PLATFORM.md). Both halves are idempotent, so a retry redoes
only what is missing.
"""

from __future__ import annotations

from temporalio import activity

from activities.models import PublishBatch, PublishOutcome
from activities.notify import Notifier
from activities.record import Recorder


class Publisher:
    def __init__(self, recorder: Recorder, notifier: Notifier) -> None:
        self.recorder = recorder
        self.notifier = notifier

    @activity.defn(name="publish")
    async def publish(self, batch: PublishBatch) -> PublishOutcome:
        recorded = await self.recorder.append(batch.record)
        delivery = await self.notifier.deliver(batch.delivery) if batch.delivery else None
        return PublishOutcome(record=recorded, delivery=delivery)
