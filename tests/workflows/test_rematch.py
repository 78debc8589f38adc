"""Rematch: a pairing closed by a rematch decision or a mentor's withdrawal gets a linked successor."""

from __future__ import annotations

import asyncio
import uuid

from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.worker import Worker

from domain.pairing import Rematch, Withdraw
from domain.program import ProgramConfig
from domain.roster import Participant, Role, participant_id_for
from eventstore import EventStore, RecordedEvent
from tandem import operations
from tests.workflows.helpers import activities_called
from workflows.pairing import REVISION, ActionResult, workflow_id_for
from workflows.program import PLANNED_PRIORITY, SUCCESSOR_PRIORITY, ProgramWorkflow


def _people(program_id: str) -> list[Participant]:
    def person(email: str, role: Role, level: int) -> Participant:
        return Participant(
            participant_id=participant_id_for(program_id, email),
            email=email,
            name=email,
            role=role,
            title="t",
            department=email[:2],
            level=level,
            communication_style="direct",
            timezone="UTC",
        )

    return [
        person("m1@example.com", Role.MENTOR, 1),
        person("m2@example.com", Role.MENTOR, 2),
        person("m3@example.com", Role.MENTOR, 3),
        person("e1@example.com", Role.MENTEE, 8),
    ]


async def _successors(store: EventStore, program_id: str, replaced: str) -> list[RecordedEvent]:
    """PairingProposed events that name ``replaced`` as the pairing they replace (the mentee's
    possible pairings are few: one per mentor, ids built from program, mentee and mentor)."""
    people = _people(program_id)
    mentee = next(p for p in people if p.role is Role.MENTEE)
    found = []
    for mentor in (p for p in people if p.role is Role.MENTOR):
        stream = f"pairing-{program_id}.{mentee.participant_id}.{mentor.participant_id}"
        first = (await store.read_stream(stream))[:1]
        if first and first[0].type == "PairingProposed" and first[0].payload.get("replaces") == replaced:
            found.append(first[0])
    return found


async def _recorded_successors(store: EventStore, program_id: str, replaced: str) -> list[RecordedEvent]:
    """The successors once recorded: a new pairing records its first events in its first activity,
    a moment after the program started it."""
    for _ in range(600):
        found = await _successors(store, program_id, replaced)
        if found:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"no recorded successor of {replaced}")


async def _wait_for(predicate, what: str, tries: int = 600) -> None:  # type: ignore[no-untyped-def]
    for _ in range(tries):
        if await predicate():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


async def test_rematch_and_mentor_withdrawal_start_linked_pairings(
    client: Client, worker: Worker, store: EventStore
) -> None:
    program_id = f"rem-{uuid.uuid4().hex[:8]}"
    people = _people(program_id)
    inputs = operations.Inputs(config=ProgramConfig(id=program_id, name="rematch"), participants=people)
    _, specs = operations.plan(inputs)
    assert len(specs) == 1
    version = await operations.enrol(store, inputs, specs)
    program = await operations.start_program(client, worker.task_queue, inputs, specs, version)
    first = specs[0].pairing_id

    async def summary():  # type: ignore[no-untyped-def]
        return await program.query(ProgramWorkflow.query_summary)

    async def pairing_count(n: int) -> bool:
        return (await summary()).pairings == n

    handle = client.get_workflow_handle(workflow_id_for(first))

    async def exists() -> bool:
        try:
            await handle.describe()
            return True
        except RPCError:
            return False

    await _wait_for(exists, "the first pairing")
    await handle.execute_update("rematch", Rematch(reason="fit check"), result_type=ActionResult)
    await _wait_for(lambda: pairing_count(2), "the rematch")

    # the successor names its predecessor and has a different mentor
    stream_ids = {f"pairing-{s.pairing_id}" for s in specs}
    proposed = await _recorded_successors(store, program_id, first)
    assert len(proposed) == 1 and proposed[0].stream_id not in stream_ids
    second = proposed[0].stream_id.removeprefix("pairing-")
    assert proposed[0].payload["mentor_id"] != specs[0].mentor_id

    # each pairing starts with its card: the program's id, the pairing it replaces, its revision
    second_handle = client.get_workflow_handle(workflow_id_for(second))
    assert (await (await handle.describe()).memo())["summary"]["replaces"] is None
    assert (await (await second_handle.describe()).memo())["summary"] == {
        "program": program_id,
        "replaces": first,
        "revision": REVISION,
    }

    # the new mentor withdraws: recorded in the roster, and the mentee gets a third mentor
    await second_handle.execute_update(
        "withdraw", Withdraw(side="mentor", reason="moved team"), result_type=ActionResult
    )
    await _wait_for(lambda: pairing_count(3), "the second rematch")
    roster = [r for r in await store.read_stream(f"roster-{program_id}") if r.type == "ParticipantWithdrawn"]
    assert [r.payload["participant_id"] for r in roster] == [proposed[0].payload["mentor_id"]]

    # all three mentors now tried: the mentee's withdrawal closes the program
    third = (await _recorded_successors(store, program_id, second))[0].stream_id.removeprefix("pairing-")
    await client.get_workflow_handle(workflow_id_for(third)).execute_update(
        "withdraw", Withdraw(side="mentee", reason="left"), result_type=ActionResult
    )
    result = await program.result()
    assert result.pairings == 3 and result.rematches == 2 and result.closed == 3
    assert result.outcomes == {"rematched": 1, "withdrawn": 2}
    assert result.unmatched_after_rematch == 0
    # closes are acted upon in batches (one call for every withdrawal, one for every rematch waiting),
    # by local activities, inside the program's workflow task ("program-local-calls")
    called = activities_called((await program.fetch_history()).events)
    assert called.count(("propose_rematches", "local")) == 2
    assert called.count(("withdraw_participants", "local")) == 2
    assert {name for name, kind in called if kind == "regular"} == {"record_events"}
    # successors start with a whole lifecycle ahead: their tasks go ahead of the planned pairings'
    priorities = [await _priority(client, p) for p in (first, second, third)]
    assert priorities == [PLANNED_PRIORITY.priority_key] + [SUCCESSOR_PRIORITY.priority_key] * 2
    assert SUCCESSOR_PRIORITY.priority_key < PLANNED_PRIORITY.priority_key  # lower keys go first


async def _priority(client: Client, pairing_id: str) -> int:
    described = await client.get_workflow_handle(workflow_id_for(pairing_id)).describe()
    return described.raw_description.workflow_execution_info.priority.priority_key


async def test_a_midpoint_rematch_decision_starts_a_linked_pairing(
    client: Client, worker: Worker, store: EventStore
) -> None:
    from temporalio.testing import TimeSkipper, TimeSkippingConfig

    from domain.pairing import Goal, SubmitMidpoint
    from tests.workflows.helpers import Driver

    program_id = f"mid-{uuid.uuid4().hex[:8]}"
    inputs = operations.Inputs(
        config=ProgramConfig(id=program_id, name="midpoint"), participants=_people(program_id)
    )
    _, specs = operations.plan(inputs)
    version = await operations.enrol(store, inputs, specs)
    program = await operations.start_program(client, worker.task_queue, inputs, specs, version)
    handle = client.get_workflow_handle(workflow_id_for(specs[0].pairing_id))

    async def exists() -> bool:
        try:
            await handle.describe()
            return True
        except RPCError:
            return False

    await _wait_for(exists, "the first pairing")
    driver = Driver(handle, TimeSkipper(client, config=TimeSkippingConfig(enabled=False)))  # type: ignore[arg-type]
    await driver.agree_goals((Goal(title="Learn the app", signal="five journeys done"),))
    await driver.to_next_alarm("midpoint_opens", limit=80)
    for side in ("mentor", "mentee"):
        await driver.act(
            "submit_midpoint",
            SubmitMidpoint(
                side=side,
                relationship=1,
                psychological_safety=2,  # type: ignore[arg-type]
                progress=(10,),
            ),
        )
    state = await driver.state()
    assert state.midpoint_proposal is not None and state.midpoint_proposal.decision.value == "rematch"
    await driver.to_next_alarm("override_closes")

    async def successor() -> bool:
        return (await program.query(ProgramWorkflow.query_summary)).rematches == 1

    await _wait_for(successor, "the successor pairing")
    linked = await _recorded_successors(store, program_id, specs[0].pairing_id)
    assert len(linked) == 1
    closed = [
        r for r in await store.read_stream(f"pairing-{specs[0].pairing_id}") if r.type == "PairingClosed"
    ]
    assert closed[0].payload["outcome"] == "rematched"
    await program.terminate("test finished")
    await client.get_workflow_handle(linked[0].stream_id).terminate(
        "test finished"
    )  # workflow id = stream id
