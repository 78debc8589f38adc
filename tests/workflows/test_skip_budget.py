"""Simulations skip time as often as they need: the server's default stops after 200 skips."""

from __future__ import annotations

import asyncio
import uuid

from temporalio.client import Client, WorkflowHandle
from temporalio.testing import TimeSkipper, TimeSkippingConfig
from temporalio.worker import Worker

from tandem.operations import SIMULATION_TIME_SKIPPING
from tests.workflows.sleeper import Sleeper

DAYS = 230  # more skips than the server's default budget of 200


async def _start(client: Client, queue: str, config: TimeSkippingConfig) -> WorkflowHandle[Sleeper, int]:
    skipper = TimeSkipper(client, config=config)
    workflow_id = f"sleeper-{uuid.uuid4().hex}"
    return await skipper.client.start_workflow(Sleeper.run, DAYS, id=workflow_id, task_queue=queue)


async def _skipping(handle: WorkflowHandle[Sleeper, int]) -> bool:
    info = (await handle.describe()).raw_description.workflow_extended_info.time_skipping_info
    return info.effective_config.enabled


async def test_a_simulated_workflow_skips_past_the_servers_default_budget(client: Client) -> None:
    queue = f"sleeper-{uuid.uuid4().hex[:6]}"
    async with Worker(client, task_queue=queue, workflows=[Sleeper]):
        # the premise: with the server's default, skipping stops short of the end
        default = await _start(client, queue, TimeSkippingConfig(enabled=True))
        try:
            for _ in range(300):
                if not await _skipping(default):
                    break
                await asyncio.sleep(0.2)
            assert not await _skipping(default), "the server's default budget no longer stops skipping"
        finally:
            await default.terminate()
        # ours runs every day of it
        ours = await _start(client, queue, SIMULATION_TIME_SKIPPING)
        assert await asyncio.wait_for(ours.result(), timeout=120) == DAYS
