"""A bare workflow with the same shape as a pairing (timers, activities, updates) and no domain logic.

It is the yardstick of bench/lifecycle.py: whatever the baseline costs is the price of Temporal on
this machine; the ratio of our engine to it is the price of Tandem's own logic.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict
from temporalio import activity, workflow


class Shape(BaseModel):
    model_config = ConfigDict(frozen=True)
    timers: int
    activities: int
    updates: int


@activity.defn(name="baseline_step")
async def baseline_step(workflow_id: str, updates: int) -> int:
    handle = activity.client().get_workflow_handle(workflow_id)
    for _ in range(updates):
        await handle.execute_update("poke", 1)
    return updates


@workflow.defn
class BaselineWorkflow:
    def __init__(self) -> None:
        self.pokes = 0

    @workflow.update
    def poke(self, n: int) -> int:
        self.pokes += n
        return self.pokes

    @workflow.run
    async def run(self, shape: Shape) -> int:
        per_activity, extra = divmod(shape.updates, max(1, shape.activities))
        for i in range(max(shape.timers, shape.activities)):
            if i < shape.timers:
                await workflow.sleep(timedelta(days=3))
            if i < shape.activities:
                updates = per_activity + (1 if i < extra else 0)
                await workflow.execute_activity(
                    baseline_step,
                    args=[workflow.info().workflow_id, updates],
                    start_to_close_timeout=timedelta(minutes=1),
                )
        return self.pokes
