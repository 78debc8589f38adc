"""A small driver that plays a pairing like a story: commands at a virtual ``now``, alarms and ticks.

``Driver`` holds a :class:`PairingState` and a virtual clock. ``do`` decides a command and evolves the
state with the resulting events; ``reject`` asserts that a command is refused with a given error type
and rule, and that deciding it left the state untouched; ``step`` jumps to the next alarm and ticks;
``run_until`` plays every alarm up to a moment. Every event decided is kept in ``events`` so a test can
replay them.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain.errors import DomainError
from domain.events import Event, check_sequence
from domain.pairing import (
    AgreeGoals,
    Goal,
    LogSession,
    PairingState,
    PairingTerms,
    ProposeGoals,
    ProposePairing,
    SessionStatus,
    Side,
    StartPairing,
    Tick,
    _Command,
    decide,
    evolve,
    initial_pairing,
    next_alarm,
)
from domain.program import ProgramConfig

T0 = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)  # a Monday morning
PAIRING_ID = "rm-test.pmentee.pmentor"
MENTOR_ID = "pmentor000001"
MENTEE_ID = "pmentee000001"

DEFAULT_TERMS = PairingTerms.from_program(ProgramConfig(id="rm-test", name="Test program"))


def terms(**overrides: Any) -> PairingTerms:
    """The default program terms (P6M, cadence P2W, first session after P1W, goals due P3W, ...)
    with some settings replaced; durations may be given as ISO text (``checkin_window="P2D"``)."""
    return PairingTerms.model_validate({**DEFAULT_TERMS.model_dump(), **overrides})


def goal(title: str, signal: str | None = None) -> Goal:
    return Goal(title=title, signal=signal or f"{title}: done")


GOALS = (goal("Use an AI assistant weekly"), goal("Post on the internal channel"))
OTHER_GOALS = (goal("Learn the customer app"),)


def types(events: Iterable[Event]) -> list[str]:
    return [e.type for e in events]


def payloads(events: Iterable[Event], type_name: str) -> list[Any]:
    return [e.payload for e in events if e.type == type_name]


def snapshot(state: PairingState) -> dict[str, Any]:
    """A deep, detached copy of everything in the state (catches in-place mutation of inner dicts)."""
    return copy.deepcopy(state.model_dump())


class Driver:
    def __init__(
        self,
        terms: PairingTerms | None = None,
        *,
        start: datetime = T0,
        started: bool = True,
        pairing_id: str = PAIRING_ID,
    ) -> None:
        self.state: PairingState = initial_pairing(pairing_id)
        self.now = start
        self.events: list[Event] = []
        self.terms = terms or DEFAULT_TERMS
        if started:
            self.propose()
            self.do(StartPairing(terms=self.terms))

    # -- commands -------------------------------------------------------------------------------

    def propose(self) -> list[Event]:
        return self.do(
            ProposePairing(
                pairing_id=self.state.pairing_id,
                program_id="rm-test",
                mentor_id=MENTOR_ID,
                mentee_id=MENTEE_ID,
                score=2.5,
                reasons=("covers 2 of 3 wanted skills",),
            )
        )

    def do(self, command: _Command) -> list[Event]:
        """Decide ``command`` at ``now`` and evolve the state with the events."""
        events = decide(self.state, command, self.now)
        check_sequence(events, self.state.stream_id, self.state.version)
        for event in events:
            self.state = evolve(self.state, event)
        self.events.extend(events)
        return events

    def reject(self, command: _Command, error: type[DomainError], rule: str) -> DomainError:
        """Assert ``command`` is refused with ``error`` and ``rule``, and that nothing changed."""
        before = self.state
        frozen = snapshot(before)
        with pytest.raises(error) as info:
            decide(self.state, command, self.now)
        assert type(info.value) is error, f"expected {error.__name__}, got {info.value!r}"
        assert info.value.rule == rule, f"expected rule {rule}, got {info.value!r}"
        assert info.value.message
        assert self.state is before
        assert snapshot(self.state) == frozen
        return info.value

    # -- time -----------------------------------------------------------------------------------

    def advance(self, delta: timedelta) -> None:
        self.now += delta

    def at(self, moment: datetime) -> None:
        self.now = moment

    def tick(self) -> list[Event]:
        return self.do(Tick())

    def step(self) -> list[Event]:
        """Jump to the next alarm (never backwards) and tick."""
        alarm = next_alarm(self.state)
        assert alarm is not None, "the pairing waits for nothing"
        self.now = max(self.now, alarm.at)
        return self.tick()

    def run_until(self, moment: datetime) -> list[Event]:
        """Play every alarm due up to ``moment``, each at its own time, then stand at ``moment``."""
        out: list[Event] = []
        while True:
            alarm = next_alarm(self.state)
            if alarm is None or alarm.at > moment:
                break
            out.extend(self.step())
        self.now = max(self.now, moment)
        return out

    def run_until_event(self, type_name: str, limit: int = 200) -> list[Event]:
        """Step alarm by alarm until an event of ``type_name`` is decided; return all events on the way."""
        out: list[Event] = []
        for _ in range(limit):
            fired = self.step()
            out.extend(fired)
            if type_name in types(fired):
                return out
        raise AssertionError(f"no {type_name} within {limit} alarms; saw {types(out)}")

    # -- story shortcuts --------------------------------------------------------------------------

    def agree(self, goals: tuple[Goal, ...] = GOALS) -> list[Event]:
        """Both sides propose, then both accept the same list: goals agreed, first session scheduled."""
        out = self.do(ProposeGoals(side="mentor", goals=goals))
        out += self.do(ProposeGoals(side="mentee", goals=goals))
        out += self.do(AgreeGoals(side="mentor", goals=goals))
        out += self.do(AgreeGoals(side="mentee", goals=goals))
        return out

    def to_session(self, number: int | None = None) -> None:
        """Stand at the scheduled time of the pending session (firing the alarms on the way)."""
        current = self.state.current_session
        assert current is not None, "no pending session"
        if number is not None:
            assert current.number == number
        self.run_until(current.at)

    def checkin(
        self,
        side: Side,
        status: SessionStatus = SessionStatus.HELD,
        rating: int | None = 4,
        **extra: Any,
    ) -> list[Event]:
        if status is not SessionStatus.HELD and rating == 4:
            rating = None
        return self.do(LogSession(side=side, status=status, rating=rating, **extra))

    def hold_session(self) -> list[Event]:
        """The pending session takes place and the mentor reports it held (rating 4)."""
        self.to_session()
        return self.checkin("mentor")

    def miss_session(self) -> list[Event]:
        """Nobody checks in: the check-in window closes and the session counts as missed."""
        current = self.state.current_session
        assert current is not None
        return self.run_until_event("SessionMissed")


def hours(n: float) -> timedelta:
    return timedelta(hours=n)


def days(n: float) -> timedelta:
    return timedelta(days=n)


def every_command() -> list[_Command]:
    """One well-formed instance of every pairing command type (see ``PAIRING_COMMAND_TYPES``)."""
    from domain.pairing import (
        AddNote,
        AnswerFitCheck,
        Extend,
        MidpointDecision,
        OverrideMidpoint,
        Pause,
        Rematch,
        Resume,
        SubmitCloseout,
        SubmitMidpoint,
        Withdraw,
    )

    return [
        ProposePairing(pairing_id=PAIRING_ID, program_id="rm-test", mentor_id=MENTOR_ID, mentee_id=MENTEE_ID),
        StartPairing(terms=DEFAULT_TERMS),
        ProposeGoals(side="mentor", goals=GOALS),
        AgreeGoals(side="mentee", goals=GOALS),
        LogSession(side="mentor", status=SessionStatus.HELD, rating=4),
        AnswerFitCheck(side="mentee", wants_new_partner=False),
        SubmitMidpoint(side="mentor", relationship=4, psychological_safety=4, progress=(50, 50)),
        OverrideMidpoint(decision=MidpointDecision.CONTINUE, reason="operator knows better"),
        SubmitCloseout(side="mentee", attainment=(80, 60), would_recommend=9, satisfaction=5),
        Pause(reason="parental leave"),
        Resume(),
        Extend(by="P1M"),
        Withdraw(side="mentee", reason="moved on"),
        AddNote(author="operator", text="checked in with both"),
        Rematch(reason="operator decision"),
        Tick(),
    ]


def command_id(command: _Command) -> str:
    return str(getattr(command, "type", type(command).__name__))
