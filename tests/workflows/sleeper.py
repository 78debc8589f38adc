"""A workflow that only sleeps: it prices and tests time skipping with nothing else in the way."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow


@workflow.defn
class Sleeper:
    @workflow.run
    async def run(self, days: int) -> int:
        for _ in range(days):
            await workflow.sleep(timedelta(days=1))
        return days
