"""Starting workflows under the dev server's per-workflow time skipping."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import TimeSkipper, TimeSkippingConfig

from domain.pairing import AgreeGoals, Alarm, Goal, PairingState, PairingTerms, ProposeGoals
from domain.program import ProgramConfig
from domain.roster import Participant, Role, participant_id_for
from domain.simulation import Behaviour, behaviour_for
from workflows.pairing import (
    REVISION,
    ActionResult,
    PairingInput,
    PairingResult,
    PairingWorkflow,
    card,
    workflow_id_for,
)

TERMS = PairingTerms.from_program(ProgramConfig(id="test", name="test"))


def activities_called(events: Iterable[HistoryEvent]) -> list[tuple[str, str]]:
    """(name, "regular" or "local") of each activity a history calls, in order: regular ones by
    their scheduled events, local ones by their markers (whose "data" is the SDK's plain JSON)."""
    called = []
    for event in events:
        if event.HasField("activity_task_scheduled_event_attributes"):
            called.append((event.activity_task_scheduled_event_attributes.activity_type.name, "regular"))
        elif event.marker_recorded_event_attributes.marker_name == "core_local_activity":
            data = event.marker_recorded_event_attributes.details["data"].payloads[0].data
            called.append((json.loads(data)["activity_type"], "local"))
    return called


def person(program_id: str, n: int, role: Role) -> Participant:
    """A participant of a generated program: mentors junior (level 2), mentees senior (level 7)."""
    email = f"{role.value}{n}@example.com"
    return Participant(
        participant_id=participant_id_for(program_id, email),
        email=email,
        name=f"{role.value} {n}",
        role=role,
        title="title",
        department=f"dept{n % 3}",
        level=2 if role is Role.MENTOR else 7,
        communication_style="direct",
        timezone="Europe/London",
    )


def seed_for(pairing_id: str, behaviour: Behaviour) -> int:
    """A simulation seed under which ``pairing_id`` behaves as ``behaviour``."""
    for seed in range(10_000):
        if behaviour_for(seed, pairing_id) == behaviour:
            return seed
    raise AssertionError(f"no seed gives {behaviour}")


def new_pairing_input(
    *,
    simulation_seed: int | None = None,
    channel: str = "console",
    terms: PairingTerms = TERMS,
    revision: int = REVISION,
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
        revision=revision,
    )


async def start_pairing(
    client: Client, task_queue: str, inp: PairingInput, *, skip: bool, memo: dict[str, Any] | None = None
) -> tuple[WorkflowHandle[PairingWorkflow, PairingResult], TimeSkipper]:
    """Start a pairing; ``skip`` lets its clock run free, otherwise it only moves on fast_forward.
    ``memo``: one to start with, as a pairing started by older code had; by default the card its
    program would give it."""
    skipper = TimeSkipper(client, config=TimeSkippingConfig(enabled=skip))
    handle = await skipper.client.start_workflow(
        PairingWorkflow.run,
        inp,
        id=workflow_id_for(inp.pairing_id),
        task_queue=task_queue,
        execution_timeout=timedelta(days=3650),
        memo=card(inp) if memo is None else memo,
    )
    return handle, skipper


class Driver:
    """Drive one pairing by hand: act through Updates, move its virtual clock to the next alarm."""

    def __init__(self, handle: WorkflowHandle[PairingWorkflow, PairingResult], skipper: TimeSkipper) -> None:
        self.handle = handle
        self.skipper = skipper

    async def state(self) -> PairingState:
        return await self.handle.query(PairingWorkflow.query_state)

    async def act(self, update: str, command: object) -> ActionResult:
        return await self.handle.execute_update(update, command, result_type=ActionResult)

    async def now(self) -> datetime:
        return await self.skipper.get_current_time(self.handle)

    async def advance(self, by: timedelta) -> None:
        await self.skipper.fast_forward(self.handle, by)

    async def to_next_alarm(self, kind: str | None = None, limit: int = 50) -> Alarm:
        """Fast-forward just past the next alarm (of ``kind``, skipping others); return it."""
        for _ in range(limit):
            alarm = await self.handle.query(PairingWorkflow.query_next_deadline)
            assert alarm is not None, "the pairing waits for nobody's clock"
            await self.advance(max(alarm.at - await self.now(), timedelta(0)) + timedelta(seconds=1))
            await self._handled(alarm)
            if kind is None or alarm.kind == kind:
                return alarm
        raise AssertionError(f"no {kind} alarm within {limit} alarms")

    async def _handled(self, alarm: Alarm, within: float = 20.0) -> None:
        """Wait until the workflow has acted on the fired timer (its next alarm is another one).

        The timer fires on the server; the workflow reacts in its next task. An Update sent in
        between would be validated against the state before the alarm (the SDK applies Updates
        before timers within one activation), so tests wait for the reaction first.
        """
        deadline = asyncio.get_running_loop().time() + within
        while await self.handle.query(PairingWorkflow.query_next_deadline) == alarm:
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"the pairing did not act on its {alarm.kind} alarm within {within}s")
            await asyncio.sleep(0.05)

    async def agree_goals(self, goals: tuple[Goal, ...]) -> None:
        for side in ("mentor", "mentee"):
            await self.act("propose_goals", ProposeGoals(side=side, goals=goals))  # type: ignore[arg-type]
        for side in ("mentor", "mentee"):
            await self.act("agree_goals", AgreeGoals(side=side, goals=goals))  # type: ignore[arg-type]
