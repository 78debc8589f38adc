"""ProgramWorkflow: children started with search attributes, all closed, program stream recorded."""

from __future__ import annotations

import asyncio
import uuid

from temporalio.client import Client
from temporalio.worker import Worker

from domain.program import ProgramConfig
from domain.roster import Role
from eventstore import EventStore
from tandem import operations
from tandem.settings import Settings
from tandem.status import program_status
from tests.workflows.helpers import activities_called, person
from workflows.pairing import workflow_id_for
from workflows.program import START_CHUNK, ProgramSummary


async def _count(client: Client, query: str) -> int:
    return sum([1 async for _ in client.list_workflows(query)])


async def test_program_runs_its_pairings_to_closure(
    client: Client, worker: Worker, store: EventStore, settings: Settings
) -> None:
    program_id = f"prog-{uuid.uuid4().hex[:8]}"
    people = [person(program_id, n, role) for n in range(4) for role in (Role.MENTOR, Role.MENTEE)]
    inputs = operations.Inputs(config=ProgramConfig(id=program_id, name="test program"), participants=people)
    proposal, specs = operations.plan(inputs)
    assert len(specs) == 4 and not proposal.unmatched
    version = await operations.enrol(store, inputs, specs)

    handle = await operations.start_program(
        client, worker.task_queue, inputs, specs, version, simulation_seed=11, time_skipping=True
    )
    summary = await handle.result()

    assert isinstance(summary, ProgramSummary)
    assert summary.pairings == summary.closed == 4 + summary.rematches
    config = (await handle.describe()).raw_description.execution_config
    assert config.default_workflow_task_timeout.ToTimedelta() == operations.PROGRAM_TASK_TIMEOUT
    # the program and its pairings skip time under the simulation's budget, not the server's 200
    budget = operations.SIMULATION_TIME_SKIPPING.max_session_skip_count
    for workflow_id in (handle.id, workflow_id_for(specs[0].pairing_id)):
        described = await client.get_workflow_handle(workflow_id).describe()
        skipping = described.raw_description.workflow_extended_info.time_skipping_info
        assert skipping.effective_config.max_session_skip_count == budget
    assert sum(summary.outcomes.values()) == summary.pairings
    total = summary.pairings
    program_events = [e.type for e in await store.read_stream(f"program-{program_id}")]
    assert program_events == [
        "ProgramCreated",
        "ProgramConfigured",
        *["PairingPlanned"] * 4,
        "ProgramStarted",
        "ProgramClosed",
    ]
    roster = await store.read_stream(f"roster-{program_id}")
    assert [e.type for e in roster].count("ParticipantEnrolled") == 8

    # the Temporal UI's filters: every pairing carries the program id and its final stage
    query = f'ProgramId = "{program_id}" AND WorkflowType = "PairingWorkflow"'
    for _ in range(100):  # visibility is eventually consistent
        if await _count(client, query + ' AND PairingStage = "closed"') == total:
            break
        await asyncio.sleep(0.1)
    assert await _count(client, query + ' AND PairingStage = "closed"') == total
    assert await _count(client, query + " AND AtRisk = true") == 0
    status = await program_status(settings, program_id)
    assert status["pairings"] == total and status["by_stage"]["closed"] == total
    assert status["program_status"] == "completed"

    # the pairings reported through their publish activity, not by signals of their own (each of
    # which cost the pairing one more workflow task)
    for spec in specs:
        history = await client.get_workflow_handle(workflow_id_for(spec.pairing_id)).fetch_history()
        sent = [
            e
            for e in history.events
            if e.HasField("signal_external_workflow_execution_initiated_event_attributes")
        ]
        assert sent == []


async def test_enrolling_the_same_program_twice_is_refused(store: EventStore) -> None:
    program_id = f"prog-{uuid.uuid4().hex[:8]}"
    inputs = operations.Inputs(
        config=ProgramConfig(id=program_id, name="once"), participants=[person(program_id, 0, Role.MENTOR)]
    )
    await operations.enrol(store, inputs, [])
    try:
        await operations.enrol(store, inputs, [])
    except operations.ProgramExists as exc:
        assert program_id in str(exc)
    else:
        raise AssertionError("a second enrolment must be refused")
    assert len(await store.read_stream(f"roster-{program_id}")) == 1


async def test_a_hundred_pairing_program_completes(client: Client, worker: Worker, store: EventStore) -> None:
    """Scale smoke test: 100 simulated pairings (two-month pairings to keep CI short) all close."""
    from domain.durations import IsoDuration
    from domain.program import ScheduleSettings

    program_id = f"prog100-{uuid.uuid4().hex[:6]}"
    people = [person(program_id, n, role) for n in range(100) for role in (Role.MENTOR, Role.MENTEE)]
    schedule = ScheduleSettings(
        duration=IsoDuration.parse("P2M"),
        goal_setting_deadline=IsoDuration.parse("P2W"),
        goal_reminders=(IsoDuration.parse("P2D"),),
    )
    config = ProgramConfig(id=program_id, name="hundred", schedule=schedule)
    inputs = operations.Inputs(config=config, participants=people)
    _, specs = operations.plan(inputs)
    assert len(specs) == 100
    version = await operations.enrol(store, inputs, specs)
    handle = await operations.start_program(
        client, worker.task_queue, inputs, specs, version, simulation_seed=2, time_skipping=True
    )
    summary = await handle.result()
    assert summary.closed == summary.pairings == 100 + summary.rematches == sum(summary.outcomes.values())
    assert summary.rematches > 0  # mismatched pairs and mentors who left got new mentors
    assert summary.by_stage["closed"] == summary.pairings and summary.held_sessions > 100

    # children start in chunks (at most START_CHUNK per workflow task, so that what they cause stays
    # under the server's buffer of events arriving during one task) from one page of the plan
    starts_per_task, current = [], 0
    events = [event async for event in handle.fetch_history_events()]
    for event in events:
        if event.HasField("start_child_workflow_execution_initiated_event_attributes"):
            current += 1
        elif event.HasField("workflow_task_completed_event_attributes"):
            starts_per_task.append(current)
            current = 0
    # the page is read by a local activity, in the task that starts the first chunk
    assert [c for c in activities_called(events) if c[0] == "load_plan"] == [("load_plan", "local")]
    assert max(starts_per_task) == START_CHUNK
    assert sum(starts_per_task) + current == summary.pairings
