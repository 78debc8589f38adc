"""Long histories stay bounded: pairings and programs continue-as-new and lose nothing."""

from __future__ import annotations

import asyncio
import uuid

from temporalio.client import Client
from temporalio.testing import TimeSkipper, TimeSkippingConfig
from temporalio.worker import Worker

from domain.pairing import PairingTerms
from domain.program import ProgramConfig
from domain.roster import Participant, Role, participant_id_for
from eventstore import EventStore
from tandem import operations
from tests.workflows.helpers import new_pairing_input, seed_for, start_pairing
from workflows.pairing import PairingWorkflow
from workflows.program import ProgramInput, ProgramWorkflow, program_workflow_id


async def _runs(client: Client, workflow_id: str, at_least: int = 1) -> int:
    """Runs of a workflow id in visibility, which is eventually consistent: poll for a while."""
    count = 0
    for _ in range(100):
        count = sum([1 async for _ in client.list_workflows(f'WorkflowId = "{workflow_id}"')])
        if count >= at_least:
            break
        await asyncio.sleep(0.1)
    return count


async def test_pairing_continues_as_new_and_the_store_has_every_event_once(
    client: Client, worker: Worker, store: EventStore
) -> None:
    inp = new_pairing_input(simulation_seed=0)
    inp = inp.model_copy(
        update={"simulation_seed": seed_for(inp.pairing_id, "diligent"), "history_limit": 50}
    )
    handle, _ = await start_pairing(client, worker.task_queue, inp, skip=True)
    result = await handle.result()

    assert result.outcome == "completed"
    stored = await store.read_stream(f"pairing-{inp.pairing_id}")
    assert [e.version for e in stored] == list(range(1, result.version + 1))  # no gap, no duplicate
    last_run = await client.get_workflow_handle(handle.id).query(PairingWorkflow.query_events)
    assert 0 < len(last_run) < len(stored)  # the last run only holds its own part...
    assert [(e.version, str(e.event_id)) for e in stored[-len(last_run) :]] == [
        (r.version, r.event_id) for r in last_run
    ]  # ...which is exactly the tail of the store
    assert await _runs(client, handle.id, 3) >= 3


async def test_program_continues_as_new_and_still_counts_every_pairing(
    client: Client, worker: Worker, store: EventStore
) -> None:
    program_id = f"can-{uuid.uuid4().hex[:8]}"
    people = []
    for n in range(5):
        for role, level in ((Role.MENTOR, 2), (Role.MENTEE, 8)):
            email = f"{role.value}{n}@example.com"
            people.append(
                Participant(
                    participant_id=participant_id_for(program_id, email),
                    email=email,
                    name=email,
                    role=role,
                    title="t",
                    department=f"d{n}",
                    level=level,
                    communication_style="direct",
                    timezone="UTC",
                )
            )
    config = ProgramConfig(id=program_id, name="continue-as-new")
    inputs = operations.Inputs(config=config, participants=people)
    _, specs = operations.plan(inputs)
    version = await operations.enrol(store, inputs, specs)
    skipper = TimeSkipper(client, config=TimeSkippingConfig(enabled=True))
    handle = await skipper.client.start_workflow(
        ProgramWorkflow.run,
        ProgramInput(
            program_id=program_id,
            program_version=version,
            terms=PairingTerms.from_program(config),
            planned=len(specs),
            channel="simulated",
            simulation_seed=4,
            history_limit=25,
            pairing_history_limit=150,
        ),
        id=program_workflow_id(program_id),
        task_queue=worker.task_queue,
    )
    summary = await handle.result()
    assert summary.pairings == summary.closed == 5 + summary.rematches == sum(summary.outcomes.values())
    assert summary.by_stage["closed"] == summary.pairings
    assert await _runs(client, handle.id, 2) >= 2
    types = [e.type for e in await store.read_stream(f"program-{program_id}")]
    assert types == [
        "ProgramCreated",
        "ProgramConfigured",
        *["PairingPlanned"] * 5,
        "ProgramStarted",
        "ProgramClosed",
    ]
