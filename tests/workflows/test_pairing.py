"""PairingWorkflow against a real Temporal dev server (time skipping) and a real PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.worker import Worker

from domain.pairing import (
    AgreeGoals,
    Goal,
    LogSession,
    ProposeGoals,
    SessionStatus,
    Stage,
)
from eventstore import EventStore
from tests.workflows.helpers import new_pairing_input, seed_for, start_pairing
from workflows.pairing import ActionResult, EventRef, PairingWorkflow

TERMS_FIRST_SESSION = timedelta(weeks=1)  # the default program's first_session_after
GOALS = (Goal(title="Use an AI assistant weekly", signal="4 weekly plans written with it"),)


async def _events_in_store(store: EventStore, pairing_id: str) -> list[EventRef]:
    rows = await store.read_stream(f"pairing-{pairing_id}")
    return [EventRef(version=r.version, event_id=str(r.event_id), type=r.type) for r in rows]


async def test_pairing_walks_all_four_stages_and_store_matches_history(
    client: Client, worker: Worker, store: EventStore
) -> None:
    inp = new_pairing_input(simulation_seed=0)
    inp = inp.model_copy(update={"simulation_seed": seed_for(inp.pairing_id, "diligent")})
    handle, _ = await start_pairing(client, worker.task_queue, inp, skip=True)

    result = await handle.result()

    assert result.outcome == "completed"
    assert result.held_sessions >= 5
    workflow_events = await handle.query(PairingWorkflow.query_events)
    stored = await _events_in_store(store, inp.pairing_id)
    assert stored == workflow_events  # same ids, same order
    assert [e.version for e in stored] == list(range(1, len(stored) + 1))  # no gap, no duplicate
    types = [e.type for e in stored]
    for milestone in (
        "PairingStarted",
        "GoalsAgreed",
        "SessionHeld",
        "MidpointReviewOpened",
        "MidpointDecided",
        "CloseoutOpened",
        "CloseoutSubmitted",
        "PairingClosed",
    ):
        assert milestone in types, milestone
    order = [
        types.index(m)
        for m in ("PairingStarted", "GoalsAgreed", "MidpointReviewOpened", "CloseoutOpened", "PairingClosed")
    ]
    assert order == sorted(order)


async def test_invalid_updates_are_rejected_and_change_nothing(
    client: Client, worker: Worker, store: EventStore
) -> None:
    inp = new_pairing_input()
    handle, skipper = await start_pairing(client, worker.task_queue, inp, skip=False)
    try:
        state = await handle.query(PairingWorkflow.query_state)
        assert state.stage is Stage.GOAL_SETTING

        async def rejected(update: str, command: object, fragment: str) -> None:
            before = await handle.query(PairingWorkflow.query_state)
            with pytest.raises(WorkflowUpdateFailedError) as caught:
                await handle.execute_update(update, command, result_type=ActionResult)
            assert fragment in str(caught.value.cause)
            after = await handle.query(PairingWorkflow.query_state)
            assert after == before

        # a check-in before goals are agreed
        await rejected(
            "log_session",
            LogSession(side="mentor", status=SessionStatus.HELD, rating=4),
            "once goals are agreed",
        )
        # six goals
        many = tuple(Goal(title=f"goal {i}", signal="done") for i in range(6))
        await rejected("propose_goals", ProposeGoals(side="mentor", goals=many), "1 to 5 goals")

        for side in ("mentor", "mentee"):
            await handle.execute_update(
                "propose_goals", ProposeGoals(side=side, goals=GOALS), result_type=ActionResult
            )
        for side in ("mentor", "mentee"):
            await handle.execute_update(
                "agree_goals", AgreeGoals(side=side, goals=GOALS), result_type=ActionResult
            )
        state = await handle.query(PairingWorkflow.query_state)
        assert state.stage is Stage.SESSIONS

        # move the clock to the first session, then try a rating of 7
        await skipper.fast_forward(handle, TERMS_FIRST_SESSION + timedelta(minutes=1))
        state = await handle.query(PairingWorkflow.query_state)
        assert state.current_session is not None and "checkin:1" in state.reminders_sent
        await rejected(
            "log_session",
            LogSession(side="mentor", status=SessionStatus.HELD, rating=7),
            "ratings go from 1 to 5, not 7",
        )

        accepted = await handle.execute_update(
            "log_session",
            LogSession(side="mentor", status=SessionStatus.HELD, rating=5),
            result_type=ActionResult,
        )
        assert "SessionHeld" in accepted.events
        await rejected(
            "log_session",
            LogSession(side="mentor", session=1, status=SessionStatus.HELD, rating=4),
            "already checked in",
        )

        # what the store holds equals what the workflow decided, once the loop has flushed
        state = await handle.query(PairingWorkflow.query_state)
        for _ in range(100):
            if await store.stream_version(state.stream_id) == state.version:
                break
            await asyncio.sleep(0.05)
        assert await _events_in_store(store, inp.pairing_id) == await handle.query(
            PairingWorkflow.query_events
        )
    finally:
        await handle.terminate("test finished")


async def test_a_new_pairing_writes_few_bookkeeping_events(client: Client, worker: Worker) -> None:
    """Each patch a new workflow takes costs a marker and a search-attribute upsert in its history:
    a pairing started today takes its revision from its input and writes none (revision 2 wrote one,
    V2_PATCH, and earlier pairings one per change). It upserts what the UI shows at most once per
    workflow task, where the task left the pairing, and writes its memo once, at the close, in the
    task that completes it (revision 4): the server folds that task's upserts into the close of its
    visibility record instead of writing them on their own."""
    inp = new_pairing_input(simulation_seed=0)
    inp = inp.model_copy(update={"simulation_seed": seed_for(inp.pairing_id, "diligent")})
    handle, _ = await start_pairing(client, worker.task_queue, inp, skip=True)
    await handle.result()

    markers: list[str] = []
    memo_writes = memo_task = completed_task = 0
    stages_per_task: list[list[str]] = [[]]
    async for event in handle.fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED:
            details = event.marker_recorded_event_attributes.details
            markers.append(details["patch-data"].payloads[0].data.decode())
        elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED:
            memo_writes += 1
            memo_task = len(stages_per_task)
        elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            stages_per_task.append([])
        elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
            completed_task = len(stages_per_task)
        elif event.event_type == EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
            fields = event.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields
            if "PairingStage" in fields:
                stages_per_task[-1].append(fields["PairingStage"].data.decode())
    assert markers == [] and memo_writes == 1, (markers, memo_writes)
    shown = [stages for stages in stages_per_task if stages]
    assert all(len(stages) == 1 for stages in shown), shown
    # a diligent pairing agrees its goals in its first task and closes out in its last
    assert shown[0] == ['"sessions"'] and shown[-1] == ['"closed"'], shown
    # the close is shown by the task that completes the pairing, memo and all
    assert stages_per_task[-1] == ['"closed"'] and memo_task == completed_task, stages_per_task
