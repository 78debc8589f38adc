"""Starting workflows under the dev server's per-workflow time skipping."""

from __future__ import annotations

import uuid
from datetime import timedelta

from temporalio.client import Client, WorkflowHandle
from temporalio.testing import TimeSkipper, TimeSkippingConfig

from domain.pairing import PairingTerms
from domain.program import ProgramConfig
from domain.simulation import Behaviour, behaviour_for
from workflows.pairing import PairingInput, PairingResult, PairingWorkflow, workflow_id_for

TERMS = PairingTerms.from_program(ProgramConfig(id="test", name="test"))


def seed_for(pairing_id: str, behaviour: Behaviour) -> int:
    """A simulation seed under which ``pairing_id`` behaves as ``behaviour``."""
    for seed in range(10_000):
        if behaviour_for(seed, pairing_id) == behaviour:
            return seed
    raise AssertionError(f"no seed gives {behaviour}")


def new_pairing_input(
    *, simulation_seed: int | None = None, channel: str = "console", terms: PairingTerms = TERMS
) -> PairingInput:
    suffix = uuid.uuid4().hex[:8]
    return PairingInput(
        pairing_id=f"t-{suffix}",
        program_id="t",
        mentor_id=f"pm{suffix}",
        mentee_id=f"pe{suffix}",
        terms=terms,
        channel="simulated" if simulation_seed is not None else channel,
        simulation_seed=simulation_seed,
    )


async def start_pairing(
    client: Client, task_queue: str, inp: PairingInput, *, skip: bool
) -> tuple[WorkflowHandle[PairingWorkflow, PairingResult], TimeSkipper]:
    """Start a pairing; ``skip`` lets its clock run free, otherwise it only moves on fast_forward."""
    skipper = TimeSkipper(client, config=TimeSkippingConfig(enabled=skip))
    handle = await skipper.client.start_workflow(
        PairingWorkflow.run,
        inp,
        id=workflow_id_for(inp.pairing_id),
        task_queue=task_queue,
        execution_timeout=timedelta(days=3650),
    )
    return handle, skipper
