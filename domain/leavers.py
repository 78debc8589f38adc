"""Participants who left the company, from HR's leavers extract: the facts behind retention.

They are recorded in the program's roster stream (``roster-{program_id}``), the stream that already
holds each participant's enrolment and withdrawal, so a participant's whole story with the program
is in one place and the impact report can always be rebuilt from events. Only the opaque
``participant_id`` and the date are recorded: HR's file names people by email, the events do not.

``LeaversImported`` records the extract's *as-of* date: on that date everyone of the program who is
not recorded as a leaver was still employed. Retention at N months is measurable only once an
extract as of N months after the program's start has been imported; before that the report says
"not yet measurable" instead of counting people as retained because nobody said otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from pydantic import Field

from domain.errors import RuleViolation
from domain.events import Event, EventPayload, stamp
from domain.roster import RosterState, participant_id_for


class ParticipantLeftCompany(EventPayload):
    """The participant left the company on ``left_on`` (a later import may correct the date)."""

    TYPE = "ParticipantLeftCompany"
    participant_id: str
    left_on: date


class LeaversImported(EventPayload):
    """An HR leavers extract as of ``as_of`` was applied to the program (counts only, no names)."""

    TYPE = "LeaversImported"
    as_of: date
    rows: int = Field(ge=0)
    participants: int = Field(ge=0)
    recorded: int = Field(ge=0)


@dataclass(frozen=True)
class Leaver:
    """One row of the leavers file: who (by email, lowercased) left when, and where it was read."""

    email: str
    left_on: date
    line: int


@dataclass(frozen=True)
class LeaversState:
    """What the roster stream already says about leavers."""

    left_on: dict[str, date]
    as_of: date | None


def leavers_state(events: Iterable[Event]) -> LeaversState:
    """Fold a roster stream's leaver facts (other events are ignored)."""
    left: dict[str, date] = {}
    as_of: date | None = None
    for event in events:
        payload = event.payload
        if isinstance(payload, ParticipantLeftCompany):
            left[payload.participant_id] = payload.left_on
        elif isinstance(payload, LeaversImported):
            as_of = payload.as_of if as_of is None else max(as_of, payload.as_of)
    return LeaversState(left, as_of)


@dataclass(frozen=True)
class LeaversDecision:
    events: list[Event]
    participants: int  # rows naming a participant of this program
    recorded: int  # leaving dates recorded now (new or corrected)
    unchanged: int  # rows already recorded with the same date
    outside: int  # rows naming someone who is not a participant of this program


def decide_leavers(
    roster: RosterState,
    known: LeaversState,
    leavers: Sequence[Leaver],
    as_of: date,
    now: datetime,
) -> LeaversDecision:
    """The events that record an extract: a ``ParticipantLeftCompany`` per new or changed leaving
    date of a participant, then one ``LeaversImported``. Importing the same extract again decides
    nothing (the import is idempotent)."""
    late = [leaver for leaver in leavers if leaver.left_on > as_of]
    if late:
        raise RuleViolation(
            "left-after-as-of",
            f"{late[0].email} left on {late[0].left_on.isoformat()}, after the extract's as-of date "
            f"{as_of.isoformat()}",
            late[0].left_on.isoformat(),
        )
    payloads: list[EventPayload] = []
    participants = unchanged = outside = 0
    seen: set[str] = set()
    for leaver in leavers:
        pid = participant_id_for(roster.program_id, leaver.email)
        if pid not in roster.participants:
            outside += 1
            continue
        if pid in seen:
            raise RuleViolation("duplicate-leaver", f"{leaver.email} is listed twice", leaver.email)
        seen.add(pid)
        participants += 1
        if known.left_on.get(pid) == leaver.left_on:
            unchanged += 1
            continue
        payloads.append(ParticipantLeftCompany(participant_id=pid, left_on=leaver.left_on))
    recorded = len(payloads)
    if payloads or known.as_of is None or as_of > known.as_of:
        payloads.append(
            LeaversImported(as_of=as_of, rows=len(leavers), participants=participants, recorded=recorded)
        )
    events = stamp(roster.stream_id, roster.version, payloads, now)
    return LeaversDecision(events, participants, recorded, unchanged, outside)
