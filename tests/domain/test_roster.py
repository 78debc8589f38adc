"""Participants and the roster aggregate: opaque stable ids, enrolment and withdrawal."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from domain.errors import DomainError, InvalidTransition, RuleViolation
from domain.events import Event, check_sequence, stamp
from domain.pairing import SessionHeld
from domain.roster import (
    EnrollParticipant,
    Participant,
    ParticipantEnrolled,
    ParticipantWithdrawn,
    Role,
    RosterCommand,
    RosterState,
    WithdrawParticipant,
    decide_roster,
    evolve_roster,
    initial_roster,
    participant_id_for,
    replay_roster,
    roster_stream,
)
from tests.domain.pairing_helpers import T0

PROGRAM = "rm-pilot"


def person(email: str = "ava.thompson@example.com", **extra: Any) -> Participant:
    fields: dict[str, Any] = {
        "participant_id": participant_id_for(PROGRAM, email),
        "email": email,
        "name": "Ava Thompson",
        "role": Role.MENTOR,
        "title": "Analyst",
        "department": "Marketing",
        "level": 2,
        "communication_style": "direct",
        "timezone": "Europe/London",
        **extra,
    }
    return Participant(**fields)


def test_participant_ids_are_stable_opaque_and_per_program() -> None:
    pid = participant_id_for(PROGRAM, "ava.thompson@example.com")
    assert pid == participant_id_for(PROGRAM, "  Ava.Thompson@Example.COM ")
    assert pid != participant_id_for("rm-other", "ava.thompson@example.com")
    assert pid != participant_id_for(PROGRAM, "ava@example.com")
    assert pid.startswith("p") and len(pid) == 13 and int(pid[1:], 16) >= 0
    assert "ava" not in pid and "example" not in pid


def test_roles_are_mentor_and_mentee() -> None:
    assert {r.value for r in Role} == {"mentor", "mentee"}


def test_capacity_is_at_least_one() -> None:
    with pytest.raises(ValidationError):
        person(capacity=0)


class Roster:
    def __init__(self) -> None:
        self.state: RosterState = initial_roster(PROGRAM)
        self.events: list[Event] = []

    def do(self, command: RosterCommand) -> list[Event]:
        events = decide_roster(self.state, command, T0)
        check_sequence(events, self.state.stream_id, self.state.version)
        for event in events:
            self.state = evolve_roster(self.state, event)
        self.events += events
        return events

    def reject(self, command: RosterCommand, error: type[DomainError], rule: str) -> DomainError:
        before = copy.deepcopy(self.state.model_dump())
        with pytest.raises(error) as info:
            decide_roster(self.state, command, T0)
        assert info.value.rule == rule and type(info.value) is error
        assert self.state.model_dump() == before
        return info.value


def test_enrol_records_the_participant() -> None:
    r = Roster()
    ava = person()
    events = r.do(EnrollParticipant(participant=ava))
    assert [e.payload for e in events] == [ParticipantEnrolled(participant=ava)]
    assert events[0].stream_id == roster_stream(PROGRAM) == "roster-rm-pilot"
    assert r.state.participants == {ava.participant_id: ava} and r.state.active(ava.participant_id)
    assert not r.state.active("p-unknown")


def test_enrol_needs_the_id_derived_from_the_email() -> None:
    r = Roster()
    forged = person().model_copy(update={"participant_id": "p000000000000"})
    err = r.reject(EnrollParticipant(participant=forged), RuleViolation, "participant-id")
    assert err.value == "p000000000000"


def test_enrol_twice_is_refused() -> None:
    r = Roster()
    r.do(EnrollParticipant(participant=person()))
    err = r.reject(
        EnrollParticipant(participant=person(name="Ava T.")), InvalidTransition, "already-enrolled"
    )
    assert err.value == "ava.thompson@example.com"


def test_withdraw_marks_the_participant_inactive() -> None:
    r = Roster()
    ava, ben = person(), person("ben@example.com", name="Ben")
    r.do(EnrollParticipant(participant=ava))
    r.do(EnrollParticipant(participant=ben))
    events = r.do(WithdrawParticipant(participant_id=ava.participant_id, reason="  left the company "))
    assert events[0].payload == ParticipantWithdrawn(
        participant_id=ava.participant_id, reason="  left the company "
    )
    assert not r.state.active(ava.participant_id) and r.state.active(ben.participant_id)
    assert ava.participant_id in r.state.participants  # kept for history
    assert r.state.version == 3


def test_withdraw_unknown_or_twice_is_refused() -> None:
    r = Roster()
    err = r.reject(WithdrawParticipant(participant_id="p-nobody"), RuleViolation, "unknown-participant")
    assert err.value == "p-nobody"
    ava = person()
    r.do(EnrollParticipant(participant=ava))
    r.do(WithdrawParticipant(participant_id=ava.participant_id))
    err = r.reject(
        WithdrawParticipant(participant_id=ava.participant_id), InvalidTransition, "already-withdrawn"
    )
    assert err.value == ava.participant_id


def test_withdraw_reason_is_bounded() -> None:
    with pytest.raises(ValidationError):
        WithdrawParticipant(participant_id="p1", reason="x" * 501)


def test_replay_rebuilds_the_roster_and_ignores_foreign_events() -> None:
    r = Roster()
    ava = person()
    r.do(EnrollParticipant(participant=ava))
    r.do(WithdrawParticipant(participant_id=ava.participant_id))
    assert replay_roster(PROGRAM, r.events) == r.state
    [stray] = stamp(r.state.stream_id, r.state.version, [SessionHeld(session=1)], T0)
    assert evolve_roster(r.state, stray) == r.state.model_copy(update={"version": 3})


@given(st.lists(st.tuples(st.integers(0, 5), st.booleans()), max_size=30))
def test_replay_in_one_pass_equals_folding_evolve(steps: list[tuple[int, bool]]) -> None:
    """replay_roster builds the map in one pass (linear): it must give exactly the evolve fold."""
    r = Roster()
    people = [person(email=f"p{n}@example.com") for n in range(6)]
    for n, withdraw in steps:
        p = people[n]
        try:
            if withdraw:
                r.do(WithdrawParticipant(participant_id=p.participant_id))
            else:
                r.do(EnrollParticipant(participant=p))
        except DomainError:
            pass  # refused (already enrolled, not enrolled): nothing recorded
    [stray] = stamp(r.state.stream_id, r.state.version, [SessionHeld(session=1)], T0)
    folded = evolve_roster(r.state, stray)
    assert replay_roster(PROGRAM, [*r.events, stray]) == folded
    assert list(replay_roster(PROGRAM, r.events).participants) == list(r.state.participants)
