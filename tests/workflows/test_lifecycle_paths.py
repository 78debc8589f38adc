"""Every lifecycle path of a pairing, driven by hand on a real server with time skipping."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.worker import Worker

from domain.durations import IsoDuration
from domain.pairing import Extend, Goal, LogSession, Pause, Resume, SessionStatus, Stage, Withdraw
from eventstore import EventStore
from tests.workflows.helpers import Driver, new_pairing_input, start_pairing
from workflows.pairing import REVISION

GOALS = (Goal(title="Co-host a town hall Q&A", signal="held before the midpoint"),)


@pytest.fixture
async def driver(client: Client, worker: Worker):  # type: ignore[no-untyped-def]
    handle, skipper = await start_pairing(client, worker.task_queue, new_pairing_input(), skip=False)
    yield Driver(handle, skipper)
    if (await handle.describe()).status.name == "RUNNING":  # type: ignore[union-attr]
        await handle.terminate("test finished")


async def _stored_types(store: EventStore, driver: Driver) -> list[str]:
    state = await driver.state()
    for _ in range(100):  # the loop records right after each decision; wait for it to catch up
        if await store.stream_version(state.stream_id) == state.version:
            break
        await asyncio.sleep(0.05)
    return [e.type for e in await store.read_stream(state.stream_id)]


async def _at_risk_in_ui(client: Client, workflow_id: str, expected: bool) -> bool:
    query = f'WorkflowId = "{workflow_id}" AND AtRisk = {"true" if expected else "false"}'
    for _ in range(100):
        if [w async for w in client.list_workflows(query)]:
            return True
        await asyncio.sleep(0.1)
    return False


async def test_goal_deadline_passes_escalates_and_waits(
    driver: Driver, client: Client, store: EventStore
) -> None:
    await driver.to_next_alarm("goal_deadline")
    state = await driver.state()
    assert state.goal_deadline_passed and state.at_risk and state.stage is Stage.GOAL_SETTING
    assert await _at_risk_in_ui(client, driver.handle.id, True)  # flagged by a timer, not an Update
    assert (await driver.handle.describe()).status.name == "RUNNING"  # type: ignore[union-attr]
    await driver.agree_goals(GOALS)
    state = await driver.state()
    assert state.stage is Stage.SESSIONS and not state.at_risk
    types = await _stored_types(store, driver)
    assert types.index("GoalDeadlinePassed") < types.index("AtRiskFlagged") < types.index("AtRiskCleared")
    assert types.count("ReminderDue") >= 2  # both goal reminders went out before the deadline


async def test_two_misses_flag_at_risk_and_a_held_session_clears_it(
    driver: Driver, client: Client, store: EventStore
) -> None:
    await driver.agree_goals(GOALS)
    for _ in range(2):
        await driver.to_next_alarm("checkin_request")
        await driver.act("log_session", LogSession(side="mentor", status=SessionStatus.MISSED))
    state = await driver.state()
    assert state.at_risk and state.consecutive_misses == 2
    assert await _at_risk_in_ui(client, driver.handle.id, True)
    await driver.to_next_alarm("checkin_request")
    await driver.act("log_session", LogSession(side="mentee", status=SessionStatus.HELD, rating=4))
    state = await driver.state()
    assert not state.at_risk and state.consecutive_misses == 0
    assert await _at_risk_in_ui(client, driver.handle.id, False)
    assert (await _stored_types(store, driver)).count("AtRiskFlagged") == 1


async def test_no_checkin_counts_as_missed(driver: Driver) -> None:
    await driver.agree_goals(GOALS)
    await driver.to_next_alarm("checkin_closes")
    state = await driver.state()
    assert state.sessions[0].status is SessionStatus.MISSED and state.sessions[1].number == 2


async def test_pause_across_a_long_gap_then_resume(driver: Driver, store: EventStore) -> None:
    await driver.agree_goals(GOALS)
    before = await driver.state()
    await driver.act("pause", Pause(reason="sabbatical"))
    paused = await driver.state()
    assert await driver.handle.query("next_deadline") is None
    await driver.advance(timedelta(days=60))
    assert (await driver.state()).version == paused.version  # nothing happened while paused
    await driver.act("resume", Resume())
    after = await driver.state()
    assert before.ends_at is not None and after.ends_at is not None
    shift = after.ends_at - before.ends_at
    assert timedelta(days=60) <= shift < timedelta(days=61)
    assert after.sessions[-1].at - before.sessions[-1].at == shift
    assert "PairingResumed" in await _stored_types(store, driver)


async def test_extend_moves_the_end(driver: Driver) -> None:
    before = await driver.state()
    await driver.act("extend", Extend(by=IsoDuration.parse("P1M")))
    after = await driver.state()
    assert before.ends_at is not None and after.ends_at is not None
    assert timedelta(days=28) <= after.ends_at - before.ends_at <= timedelta(days=31)


async def test_withdrawal_midway_closes_the_pairing(driver: Driver) -> None:
    await driver.agree_goals(GOALS)
    await driver.to_next_alarm("checkin_request")
    await driver.act("log_session", LogSession(side="mentor", status=SessionStatus.HELD, rating=5))
    await driver.act("withdraw", Withdraw(side="mentee", reason="left the company"))
    result = await driver.handle.result()
    assert result.outcome == "withdrawn" and result.held_sessions == 1
    with pytest.raises(Exception):  # noqa: B017 - the workflow has completed: nothing more is accepted
        await driver.act("log_session", LogSession(side="mentor", status=SessionStatus.HELD, rating=5))


async def test_every_invalid_update_is_rejected_without_change(driver: Driver) -> None:
    await driver.agree_goals(GOALS)
    await driver.to_next_alarm("checkin_request")
    invalid = [
        ("log_session", LogSession(side="mentor", status=SessionStatus.HELD)),  # no rating
        ("log_session", LogSession(side="mentor", status=SessionStatus.MISSED, rating=3)),
        ("log_session", LogSession(side="mentor", status=SessionStatus.RESCHEDULED)),  # no new time
        ("log_session", LogSession(side="mentor", session=9, status=SessionStatus.HELD, rating=3)),
        ("extend", Extend(by=IsoDuration.parse("P0D"))),
        ("resume", Resume()),
    ]
    for update, command in invalid:
        before = await driver.state()
        with pytest.raises(WorkflowUpdateFailedError):
            await driver.act(update, command)
        assert await driver.state() == before, update


async def _history_of(driver: Driver) -> list[HistoryEvent]:
    return [e async for e in driver.handle.fetch_history_events()]


async def test_the_memo_is_a_card_until_the_close_adds_the_summary(driver: Driver) -> None:
    """Revision 3: the memo is the card the pairing started with (what stays true) until it closes;
    the stage and at-risk flag are search attributes, the rest is read live by the queries."""
    card = (await (await driver.handle.describe()).memo())["summary"]
    assert card == {"program": "t", "replaces": None, "revision": REVISION}
    await driver.agree_goals(GOALS)
    assert (await (await driver.handle.describe()).memo())["summary"] == card  # not rewritten per stage
    await driver.to_next_alarm("checkin_request")
    await driver.act("log_session", LogSession(side="mentor", status=SessionStatus.HELD, rating=5))
    await driver.act("withdraw", Withdraw(side="mentee", reason="left the company"))
    await driver.handle.result()
    memo = await (await driver.handle.describe()).memo()
    assert list(memo) == ["summary"]  # one payload: each entry is encrypted and stored on its own
    summary = memo["summary"]
    assert summary == card | {
        "stage": "closed",
        "at_risk": False,
        "held_sessions": 1,
        "goals": 1,
        "next_deadline": None,
        "outcome": "withdrawn",
        "ever_at_risk": False,
    }
    assert GOALS[0].title not in str(memo) and "left the company" not in str(memo)
    # one memo write, at the close; and no patch marker, nor its TemporalChangeVersion upsert
    history = await _history_of(driver)
    kinds = [e.event_type for e in history]
    assert kinds.count(EventType.EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED) == 1
    assert EventType.EVENT_TYPE_MARKER_RECORDED not in kinds
    upserted = {
        key
        for e in history
        if e.event_type == EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES
        for key in e.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields
    }
    assert upserted == {"PairingStage", "AtRisk", "Outcome"}


async def test_a_revision_2_pairing_rewrites_its_memo_at_each_stage(client: Client, worker: Worker) -> None:
    """Pairings started before revision 3 go on as they were: the V2_PATCH marker, and the memo's
    summary rewritten at every change of stage."""
    handle, skipper = await start_pairing(
        client, worker.task_queue, new_pairing_input(revision=2), skip=False, memo={}
    )
    driver = Driver(handle, skipper)
    await driver.agree_goals(GOALS)
    summary = (await (await handle.describe()).memo())["summary"]
    assert summary["stage"] == "sessions" and summary["goals"] == 1 and summary["at_risk"] is False
    assert str(summary["next_deadline"]).startswith("session_reminder at ")
    assert GOALS[0].title not in str(summary)
    kinds = [e.event_type for e in await _history_of(driver)]
    assert kinds.count(EventType.EVENT_TYPE_MARKER_RECORDED) == 1  # V2_PATCH
    await handle.terminate("test finished")


async def test_the_memo_of_an_older_pairing_loses_its_one_entry_per_field(
    client: Client, worker: Worker
) -> None:
    """Pairings upserted one memo entry per field before the memo became one entry."""
    older = {"stage": "goal_setting", "goals": 0, "at_risk": False}
    handle, skipper = await start_pairing(
        client, worker.task_queue, new_pairing_input(revision=2), skip=False, memo=older
    )
    driver = Driver(handle, skipper)
    await driver.agree_goals(GOALS)
    memo = await (await handle.describe()).memo()
    assert list(memo) == ["summary"] and memo["summary"]["stage"] == "sessions"
    await handle.terminate("test finished")
