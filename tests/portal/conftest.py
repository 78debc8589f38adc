"""The portal served for real (uvicorn on 127.0.0.1) beside the session's worker, Temporal and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client
from temporalio.testing import TimeSkipper, TimeSkippingConfig
from temporalio.worker import Worker

from activities.record import load_stream, to_new_event
from domain.durations import IsoDuration
from domain.pairing import Goal, PairingState, pairing_stream, replay
from domain.roster import (
    EnrollParticipant,
    Participant,
    Role,
    decide_roster,
    evolve_roster,
    initial_roster,
    participant_id_for,
)
from eventstore import EventStore
from localstack.processes import free_port
from portal.links import link_for
from portal.server import running_portal
from tandem.settings import Settings
from tests.workflows.helpers import TERMS, Driver, start_pairing
from workflows.pairing import REVISION, PairingInput, PairingWorkflow

# a short pairing: goals within a week, sessions weekly, six weeks in all
SHORT_TERMS = TERMS.model_copy(
    update={
        "duration": IsoDuration.parse("P6W"),
        "session_cadence": IsoDuration.parse("P1W"),
        "first_session_after": IsoDuration.parse("P2D"),
        "goal_setting_deadline": IsoDuration.parse("P1W"),
        "goal_reminders": (IsoDuration.parse("P2D"),),
        "at_risk_after_misses": 5,
        "midpoint_window": IsoDuration.parse("P3D"),
        "override_window": IsoDuration.parse("P1D"),
        "closeout_window": IsoDuration.parse("P1W"),
        "closeout_reminder": IsoDuration.parse("P2D"),
    }
)
GOALS = (
    Goal(title="Use an AI assistant weekly", signal="four weekly plans written with it"),
    Goal(title="Post on the internal network", signal="three posts with replies"),
)
MENTOR_EMAIL = "ava.mentor@example.com"
MENTEE_EMAIL = "morgan.leader@example.com"


@pytest.fixture(scope="session")
def portal_settings(settings: Settings, state_dir: Path) -> Settings:
    return settings.model_copy(
        update={
            "portal_host": "127.0.0.1",
            "portal_port": free_port(),
            "portal_key_file": state_dir / "portal-keys.json",
        }
    )


@pytest.fixture(scope="session")
async def portal_url(
    portal_settings: Settings, client: Client, store: EventStore, worker: Worker
) -> AsyncIterator[str]:
    async with running_portal(portal_settings, store=store, client=client) as url:
        yield url


@pytest.fixture
async def http(portal_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30, follow_redirects=False) as c:
        yield c


def person(program_id: str, email: str, role: Role, name: str, title: str) -> Participant:
    return Participant(
        participant_id=participant_id_for(program_id, email),
        email=email,
        name=name,
        role=role,
        title=title,
        department="Sales" if role is Role.MENTEE else "Marketing",
        level=9 if role is Role.MENTEE else 2,
        communication_style="direct",
        timezone="Europe/London",
    )


class PortalPairing:
    """One pairing with a real roster, driven by hand, reached through the portal."""

    def __init__(self, driver: Driver, store: EventStore, settings: Settings, inp: PairingInput) -> None:
        self.driver = driver
        self.store = store
        self.settings = settings
        self.inp = inp
        self.pairing_id = inp.pairing_id

    def participant(self, side: str) -> str:
        return self.inp.mentor_id if side == "mentor" else self.inp.mentee_id

    def link(
        self, side: str, action: str, *, ref: int | None = None, valid: timedelta = timedelta(days=7)
    ) -> str:
        expires = datetime.now(UTC) + valid
        return link_for(self.settings, self.participant(side), self.pairing_id, action, expires, ref)

    async def advance_until(
        self, what: str, reached: Callable[[PairingState], bool], limit: int = 80
    ) -> None:
        """Fire the pairing's alarms one by one until its state satisfies ``reached``.

        Several alarms due within the same second fire in one tick, so the test watches the state,
        not the kind of the alarm it skipped to."""
        for _ in range(limit):
            if reached(await self.driver.state()):
                await self.synced()
                return
            if await self.driver.handle.query(PairingWorkflow.query_next_deadline) is None:
                await asyncio.sleep(0.1)  # an Update may still be settling; look again
                continue
            await self.driver.to_next_alarm()
        raise AssertionError(f"never reached {what}; state {await self.driver.state()!r}")

    async def stored(self) -> PairingState:
        return replay(self.pairing_id, await load_stream(self.store, pairing_stream(self.pairing_id)))

    async def synced(self) -> PairingState:
        """The event store's state once it caught up with the workflow's (the portal reads the store)."""
        target = (await self.driver.state()).version
        for _ in range(200):
            state = await self.stored()
            if state.version >= target:
                return state
            await asyncio.sleep(0.05)
        raise AssertionError("the event store did not catch up with the workflow")

    async def types(self) -> list[str]:
        await self.synced()
        return [r.type for r in await self.store.read_stream(pairing_stream(self.pairing_id))]

    async def checkins(self, side: str) -> list[dict[str, object]]:
        return [
            r.payload
            for r in await self.store.read_stream(pairing_stream(self.pairing_id))
            if r.type == "SessionCheckedIn" and r.payload["side"] == side
        ]


@pytest.fixture
async def new_pairing(
    client: Client, worker: Worker, store: EventStore, portal_settings: Settings, portal_url: str
) -> AsyncIterator[Callable[..., Awaitable[PortalPairing]]]:
    handles = []

    async def make(*, goals: bool = False, terms: object = SHORT_TERMS) -> PortalPairing:
        program_id = f"portal-{uuid.uuid4().hex[:8]}"
        mentor = person(program_id, MENTOR_EMAIL, Role.MENTOR, "Ava Thompson", "Marketing analyst")
        mentee = person(program_id, MENTEE_EMAIL, Role.MENTEE, "Morgan Lee", "Chief Financial Officer")
        roster = initial_roster(program_id)
        events = []
        for p in (mentor, mentee):
            decided = decide_roster(roster, EnrollParticipant(participant=p), datetime.now(UTC))
            for e in decided:
                roster = evolve_roster(roster, e)
            events.extend(decided)
        await store.append(roster.stream_id, 0, [to_new_event(e) for e in events])
        inp = PairingInput(
            pairing_id=f"{program_id}.{uuid.uuid4().hex[:6]}",
            program_id=program_id,
            mentor_id=mentor.participant_id,
            mentee_id=mentee.participant_id,
            terms=terms,  # type: ignore[arg-type]
            revision=REVISION,
        )
        handle, _ = await start_pairing(client, worker.task_queue, inp, skip=False)
        handles.append(handle)
        pairing = PortalPairing(
            Driver(handle, TimeSkipper(client, config=TimeSkippingConfig(enabled=False))),  # type: ignore[arg-type]
            store,
            portal_settings,
            inp,
        )
        if goals:
            await pairing.driver.agree_goals(GOALS)
        await pairing.synced()
        return pairing

    yield make
    for handle in handles:
        with contextlib.suppress(Exception):  # best-effort cleanup
            if (await handle.describe()).status.name == "RUNNING":  # type: ignore[union-attr]
                await handle.terminate("test finished")


FORM_ID = re.compile(r'name="form_id" value="([^"]+)"')


def form_id(html: str) -> str:
    match = FORM_ID.search(html)
    assert match, "the form carries no form id"
    return match.group(1)
