"""Property tests of the pairing aggregate over random histories.

A history is a random list of steps: commands of every type (with valid and invalid values: ratings out of
range, wrong or repeated sides, past and far-future times, goal lists of any length), time advances (small
and huge), jumps to the next alarm and ticks. Along every history:

(a) replaying the recorded events equals the state built step by step;
(b) every command yields events or a typed ``DomainError``; a rejection leaves the state identical, decide
    never mutates its input, and the invariants hold after every step;
(c) every decided event round-trips through JSON (and through the stored-row form);
(d) after a Tick nothing due at or before ``now`` is left (``next_alarm`` is in the future), and Tick ends.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.errors import DomainError
from domain.events import Event, check_sequence, stamp
from domain.pairing import (
    AddNote,
    AgreeGoals,
    AnswerFitCheck,
    CloseoutSubmitted,
    Extend,
    Goal,
    GoalsProposed,
    LogSession,
    MidpointDecision,
    MidpointDecisionProposed,
    NoteAdded,
    Outcome,
    OverrideMidpoint,
    PairingClosed,
    PairingProposed,
    PairingResumed,
    PairingState,
    PairingTerms,
    Pause,
    ProposeGoals,
    ProposePairing,
    Rematch,
    ReminderDue,
    Resume,
    SessionCheckedIn,
    SessionRescheduled,
    SessionStatus,
    Side,
    Stage,
    StartPairing,
    SubmitCloseout,
    SubmitMidpoint,
    Tick,
    Withdraw,
    _Command,
    decide,
    evolve,
    next_alarm,
    replay,
)
from tests.domain.pairing_helpers import DEFAULT_TERMS, PAIRING_ID, Driver, goal, snapshot, terms

PROPOSED, GOAL_SETTING, SESSIONS, MIDPOINT, CLOSEOUT, CLOSED = (
    Stage.PROPOSED,
    Stage.GOAL_SETTING,
    Stage.SESSIONS,
    Stage.MIDPOINT_REVIEW,
    Stage.CLOSEOUT,
    Stage.CLOSED,
)
LIFECYCLE = {
    (PROPOSED, GOAL_SETTING),
    (GOAL_SETTING, SESSIONS),
    (GOAL_SETTING, CLOSEOUT),
    (GOAL_SETTING, CLOSED),
    (SESSIONS, MIDPOINT),
    (SESSIONS, CLOSEOUT),
    (SESSIONS, CLOSED),
    (MIDPOINT, SESSIONS),
    (MIDPOINT, CLOSEOUT),
    (MIDPOINT, CLOSED),
    (CLOSEOUT, CLOSED),
    (CLOSEOUT, SESSIONS),
    (CLOSEOUT, GOAL_SETTING),  # extend during closeout reopens
}
POOL = tuple(goal(f"Goal {c}") for c in "ABCDEF")
TERMS = [
    DEFAULT_TERMS,
    terms(
        duration="P2M",
        session_cadence="P1W",
        goal_setting_deadline="P2W",
        checkin_window="P2D",
        allow_checkin_before_goals=True,
        at_risk_after_misses=1,
        midpoint_at=0.3,
        midpoint_window="P3D",
        override_window="P1D",
        closeout_window="P1W",
        closeout_reminder="P1D",
    ),
    terms(
        duration="P3M",
        goal_reminders=(),
        first_session_after="P3D",
        rematch_if_relationship_below=4,
        end_early_if_progress_below=50,
        midpoint_at=0.7,
    ),
]


# -- steps ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Advance:
    by: timedelta


@dataclass(frozen=True)
class ToNextAlarm:
    """Stand at the next alarm (the workflow's timer) and tick."""


@dataclass(frozen=True)
class AtSession:
    """A side checks in right at the pending session's time (time moves there without ticking)."""

    side: str
    status: SessionStatus
    rating: int


@dataclass(frozen=True)
class ReviewAtMidpoint:
    """Let time pass until the midpoint review opens, then submit ``review``."""

    review: Do


@dataclass(frozen=True)
class Do:
    """A command built against the current state and time (so times can be relative to ``now``)."""

    kind: str
    args: tuple[Any, ...] = ()

    def build(self, state: PairingState, now: datetime) -> _Command:
        a = self.args
        match self.kind:
            case "propose_pairing":
                return ProposePairing(pairing_id=a[0], program_id="rm-test", mentor_id=a[1], mentee_id=a[2])
            case "start":
                return StartPairing(terms=a[0])
            case "propose_goals":
                return ProposeGoals(side=a[0], goals=a[1])
            case "agree_goals":
                return AgreeGoals(side=a[0], goals=a[1])
            case "agree_proposed":  # accept what a side proposed: this is how agreements happen
                side: Side = a[0]
                return AgreeGoals(side=side, goals=state.proposed_goals.get(a[1], POOL[:2]))
            case "log":
                side, number, status, rating, topics, offset = a
                when = None if offset is None else now + offset
                return LogSession(
                    side=side,
                    session=number,
                    status=status,
                    rating=rating,
                    topics=topics,
                    rescheduled_to=when,
                )
            case "log_current":  # a plausible check-in for whatever is pending
                current = state.current_session
                return LogSession(
                    side=a[0],
                    session=current.number if current else None,
                    status=a[1],
                    rating=a[2] if a[1] is SessionStatus.HELD else None,
                    rescheduled_to=now + a[3] if a[1] is SessionStatus.RESCHEDULED else None,
                )
            case "fit_check":
                return AnswerFitCheck(side=a[0], wants_new_partner=a[1])
            case "midpoint":
                progress = a[3] if a[3] is not None else tuple(a[4] for _ in state.goals)
                return SubmitMidpoint(
                    side=a[0], relationship=a[1], psychological_safety=a[2], progress=progress
                )
            case "override":
                return OverrideMidpoint(decision=a[0], reason="operator override")
            case "closeout":
                attainment = a[3] if a[3] is not None else tuple(a[4] for _ in state.goals)
                return SubmitCloseout(
                    side=a[0], would_recommend=a[1], satisfaction=a[2], attainment=attainment
                )
            case "pause":
                return Pause(reason="leave")
            case "resume":
                return Resume()
            case "extend":
                return Extend(by=a[0])
            case "withdraw":
                return Withdraw(side=a[0], reason="moving on")
            case "note":
                return AddNote(author=a[0], text="a note")
            case "rematch":
                return Rematch()
            case "tick":
                return Tick()
        raise AssertionError(self.kind)


sides = st.sampled_from(["mentor", "mentee"])
goal_lists = st.lists(st.sampled_from(POOL), max_size=7).map(tuple)
small_ints = st.integers(-2, 8)
statuses = st.sampled_from(list(SessionStatus))
offsets = st.one_of(
    st.none(),
    st.sampled_from(
        [timedelta(0), -timedelta(hours=1), timedelta(hours=3), timedelta(days=2), timedelta(days=400)]
    ),
)
durations = st.sampled_from(["P0D", "PT1H", "P3D", "P2W", "P1M", "P13M"])

commands = st.one_of(
    st.builds(lambda s, g: Do("propose_goals", (s, g)), sides, goal_lists),
    st.builds(lambda s, g: Do("agree_goals", (s, g)), sides, goal_lists),
    st.builds(lambda s, o: Do("agree_proposed", (s, o)), sides, sides),
    st.builds(
        lambda s, n, st_, r, t, o: Do("log", (s, n, st_, r, t, o)),
        sides,
        st.one_of(st.none(), st.integers(-1, 9)),
        statuses,
        st.one_of(st.none(), small_ints),
        st.lists(st.sampled_from(["AI", "TikTok", "feedback"]), max_size=12).map(tuple),
        offsets,
    ),
    st.builds(
        lambda s, st_, r, o: Do("log_current", (s, st_, r, o)),
        sides,
        statuses,
        st.integers(1, 5),
        st.sampled_from([timedelta(hours=2), timedelta(days=1), timedelta(days=5)]),
    ),
    st.builds(lambda s, w: Do("fit_check", (s, w)), sides, st.booleans()),
    st.builds(
        lambda s, r, p, prog, each: Do("midpoint", (s, r, p, prog, each)),
        sides,
        small_ints,
        small_ints,
        st.one_of(st.none(), st.lists(st.integers(-10, 110), max_size=4).map(tuple)),
        st.integers(-5, 105),
    ),
    st.builds(lambda d: Do("override", (d,)), st.sampled_from(list(MidpointDecision))),
    st.builds(
        lambda s, rec, sat, att, each: Do("closeout", (s, rec, sat, att, each)),
        sides,
        st.integers(-2, 12),
        small_ints,
        st.one_of(st.none(), st.lists(st.integers(-10, 110), max_size=4).map(tuple)),
        st.integers(-5, 105),
    ),
    st.just(Do("pause")),
    st.just(Do("resume")),
    st.builds(lambda d: Do("extend", (d,)), durations),
    st.builds(lambda s: Do("withdraw", (s,)), sides),
    st.builds(lambda a: Do("note", (a,)), st.sampled_from(["mentor", "mentee", "operator"])),
    st.just(Do("rematch")),
    st.just(Do("tick")),
    st.just(Do("start", (DEFAULT_TERMS,))),
    st.just(Do("propose_pairing", (PAIRING_ID, "a", "b"))),
)
endings = st.sampled_from([Do("withdraw", ("mentor",)), Do("withdraw", ("mentee",)), Do("rematch")])
wild = commands.filter(lambda c: c.kind not in ("withdraw", "rematch"))  # endings come rarely, see _pick
time_steps = st.one_of(
    st.just(ToNextAlarm()),
    st.builds(
        Advance,
        st.sampled_from(
            [
                timedelta(hours=1),
                timedelta(days=1),
                timedelta(days=3),
                timedelta(weeks=1),
                timedelta(weeks=2),
                timedelta(days=30),
                timedelta(days=75),
            ]
        ),
    ),
)
# what participants and operators would plausibly do: valid values, so that histories get deep
plausible = st.one_of(
    st.builds(
        lambda s, g: Do("propose_goals", (s, g)),
        sides,
        st.lists(st.sampled_from(POOL), min_size=1, max_size=3, unique=True).map(tuple),
    ),
    st.builds(lambda s, o: Do("agree_proposed", (s, o)), sides, sides),
    st.builds(
        lambda s, st_, r, o: Do("log_current", (s, st_, r, o)),
        sides,
        st.sampled_from(
            [SessionStatus.HELD, SessionStatus.HELD, SessionStatus.MISSED, SessionStatus.RESCHEDULED]
        ),
        st.integers(1, 5),
        st.sampled_from([timedelta(hours=2), timedelta(days=1), timedelta(days=5)]),
    ),
    st.builds(
        AtSession, sides, st.sampled_from([SessionStatus.HELD, SessionStatus.MISSED]), st.integers(1, 5)
    ),
    st.builds(AtSession, sides, st.just(SessionStatus.HELD), st.integers(1, 5)),
    st.builds(lambda s, w: Do("fit_check", (s, w)), sides, st.booleans()),
    st.builds(
        lambda s, r, p, each: Do("midpoint", (s, r, p, None, each)),
        sides,
        st.integers(1, 5),
        st.integers(1, 5),
        st.integers(0, 100),
    ),
    st.builds(
        lambda s, r, p, each: ReviewAtMidpoint(Do("midpoint", (s, r, p, None, each))),
        sides,
        st.integers(1, 5),
        st.integers(1, 5),
        st.integers(0, 100),
    ),
    st.builds(
        lambda s, rec, sat, each: Do("closeout", (s, rec, sat, None, each)),
        sides,
        st.integers(0, 10),
        st.integers(1, 5),
        st.integers(0, 100),
    ),
)
AGREED_PREFIX = [
    Do("propose_goals", ("mentor", POOL[:2])),
    Do("propose_goals", ("mentee", POOL[1:3])),
    Do("agree_proposed", ("mentor", "mentor")),
    Do("agree_proposed", ("mentee", "mentor")),
]
jump = st.just(ToNextAlarm())
rare = st.one_of(st.just(Do("pause")), st.just(Do("extend", ("P1M",))), endings)


def _pick(n: int) -> st.SearchStrategy[Any]:
    """Weighted steps: mostly time passing and plausible actions, some wild values, rarely an ending.
    (The rare band sits mid-range: Hypothesis likes to draw the bounds 0 and 99.)"""
    if n == 50:
        return endings
    if n in (51, 52):
        return rare
    if n < 40 or n > 90:
        return jump
    if n < 70:
        return plausible
    if n < 75:
        return st.just(Do("resume"))
    if n < 80:
        return time_steps
    return wild


steps = st.integers(0, 99).flatmap(_pick)
histories = st.builds(
    lambda agreed, steps: (AGREED_PREFIX if agreed else []) + steps,
    st.booleans(),
    st.lists(steps, min_size=30, max_size=100),
)


# -- the runner: every check after every step -------------------------------------------------------------


def check_invariants(state: PairingState, recorded: int) -> None:
    assert state.version == recorded
    assert 0 <= len(state.goals) <= 5
    if state.stage in (SESSIONS, MIDPOINT):
        assert len(state.goals) >= 1
    assert [s.number for s in state.sessions] == list(range(1, len(state.sessions) + 1))
    pending = [s for s in state.sessions if s.status in (None, SessionStatus.RESCHEDULED)]
    assert len(pending) <= 1
    assert not pending or pending[0] is state.sessions[-1]
    for record in state.sessions:
        assert len(set(record.reported_by)) == len(record.reported_by)
        assert all(1 <= r <= 5 for r in record.ratings.values())
    assert set(state.midpoint_reviews) <= {"mentor", "mentee"} and set(state.closeout) <= {"mentor", "mentee"}
    assert not state.at_risk or state.ever_at_risk
    assert (state.stage is CLOSED) == (state.outcome is not None)
    if state.paused:
        assert next_alarm(state) is None


def round_trips(event: Event) -> None:
    text = event.model_dump_json()
    assert Event.model_validate_json(text) == event
    assert Event.model_validate({**json.loads(text), "payload": event.payload_json()}) == event


@dataclass
class Played:
    driver: Driver
    accepted: int = 0
    rejected: int = 0
    ticks: int = 0


def play(history: list[Any], pairing_terms: PairingTerms) -> Played:
    d = Driver(pairing_terms)
    out = Played(d)
    for event in d.events:
        round_trips(event)
    for step in history:
        if isinstance(step, ReviewAtMidpoint):
            # time passes alarm by alarm (each tick checked) until the review is open, then the side answers
            for _ in range(80):
                if d.state.stage is not SESSIONS or d.state.midpoint_opened or d.state.paused:
                    break
                execute(d, out, ToNextAlarm())
            execute(d, out, step.review)
        else:
            execute(d, out, step)
    assert replay(PAIRING_ID, d.events) == d.state
    return out


def execute(d: Driver, out: Played, step: Any) -> None:
    """One step with every check: typed outcome, untouched state on rejection, lifecycle, invariants, JSON."""
    if isinstance(step, Advance):
        d.advance(step.by)
        return
    if isinstance(step, ToNextAlarm):
        alarm = next_alarm(d.state)
        if alarm is not None:
            d.now = max(d.now, alarm.at)
        command: _Command = Tick()
    elif isinstance(step, AtSession):
        current = d.state.current_session
        if current is not None:
            d.now = max(d.now, current.at)
        rating = step.rating if step.status is SessionStatus.HELD else None
        command = LogSession(side=step.side, status=step.status, rating=rating)  # type: ignore[arg-type]
    else:
        command = step.build(d.state, d.now)
    before = d.state
    frozen = snapshot(before)
    try:
        events = decide(before, command, d.now)
    except DomainError as err:
        out.rejected += 1
        assert snapshot(d.state) == frozen and d.state is before
        assert err.rule and err.message
        if before.stage is CLOSED:
            assert err.rule == "pairing-closed"
        return
    assert before.stage is not CLOSED, "a closed pairing accepted a command"
    assert snapshot(before) == frozen, "decide mutated its input"
    check_sequence(events, before.stream_id, before.version)
    out.accepted += 1
    state = before
    for event in events:
        previous = state.stage
        state = evolve(state, event)
        assert previous == state.stage or (previous, state.stage) in LIFECYCLE, (
            previous,
            state.stage,
            event.type,
        )
        round_trips(event)
    d.state = state
    d.events.extend(events)
    check_invariants(state, len(d.events))
    if isinstance(command, Tick):
        out.ticks += 1
        alarm = next_alarm(state)
        assert alarm is None or alarm.at > d.now, f"{alarm} still due at {d.now}"
        if state.stage is not CLOSED:
            assert decide(state, Tick(), d.now) == []  # ticking twice at one moment adds nothing


SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(st.sampled_from(TERMS), histories)
def test_replay_equals_the_state_built_step_by_step(pairing_terms: PairingTerms, history: list[Any]) -> None:
    outcome = play(history, pairing_terms)
    events = outcome.driver.events
    assert replay(PAIRING_ID, events) == outcome.driver.state
    # replaying any prefix gives the state the pairing had at that version
    cut = len(events) // 2
    assert replay(PAIRING_ID, events[:cut]).version == cut


@SETTINGS
@given(st.sampled_from(TERMS), st.lists(commands, max_size=40), st.lists(time_steps, max_size=40))
def test_any_command_sequence_yields_events_or_a_typed_error_and_keeps_the_invariants(
    pairing_terms: PairingTerms, cmds: list[Do], times: list[Any]
) -> None:
    interleaved: list[Any] = [step for pair in zip(cmds, times, strict=False) for step in pair]
    interleaved += cmds[len(times) :] + times[len(cmds) :]
    play(interleaved, pairing_terms)


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(TERMS), histories)
def test_every_decided_event_round_trips_through_json(
    pairing_terms: PairingTerms, history: list[Any]
) -> None:
    outcome = play(history, pairing_terms)  # play() round-trips every event it records, in two forms
    for event in outcome.driver.events:
        assert Event.model_validate_json(event.model_dump_json()).payload == event.payload


texts = st.text(max_size=40)
moments = st.builds(
    lambda moment, minutes: moment.replace(tzinfo=timezone(timedelta(minutes=minutes))),
    st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2200, 1, 1)),
    st.integers(-1439, 1439),
)
numbers = st.integers(-(2**62), 2**62)
reals = st.floats(allow_nan=False, allow_infinity=False)


@settings(max_examples=150, deadline=None)
@given(texts, texts, moments, moments, numbers, reals, st.lists(texts, max_size=4), st.booleans())
def test_events_with_any_field_values_round_trip_through_json(
    text: str, other: str, when: datetime, later: datetime, n: int, x: float, many: list[str], flag: bool
) -> None:
    """Free text (any unicode), timestamps in any offset, big numbers and floats survive the trip."""
    payloads = [
        PairingProposed(
            pairing_id=text,
            program_id=other,
            mentor_id=text,
            mentee_id=other,
            score=x,
            reasons=tuple(many),
            replaces=other or None,
        ),
        GoalsProposed(
            side="mentee",
            goals=tuple(
                Goal(title=t.strip() or "t", signal=other.strip() or "s")
                for t in many[:5]
                if len(t.strip()) <= 200
            ),
        ),
        SessionCheckedIn(
            session=n,
            side="mentor",
            status=SessionStatus.RESCHEDULED,
            rating=n,
            topics=tuple(many),
            private_note=text,
            rescheduled_to=later,
        ),
        SessionRescheduled(session=n, from_at=when, to_at=later),
        MidpointDecisionProposed(decision=MidpointDecision.REMATCH, reason=text, override_until=when),
        PairingResumed(paused_seconds=x),
        NoteAdded(author="operator", text=text),
        PairingClosed(outcome=Outcome.WITHDRAWN, reason=other, withdrawn_side="mentee" if flag else None),
        ReminderDue(reminder="session", key=text, ref=n, due_at=when if flag else None),
        CloseoutSubmitted(
            side="mentor", attainment=(n, -n), would_recommend=n, satisfaction=n, takeaways=text
        ),
    ]
    for event in stamp(f"pairing-{text}", abs(n) % 1000, payloads, when):
        round_trips(event)


big_jumps = st.lists(
    st.one_of(
        st.builds(Advance, st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=400))),
        st.just(Do("tick")),
        st.just(ToNextAlarm()),
        commands,
    ),
    max_size=30,
)


@SETTINGS
@given(st.sampled_from(TERMS), big_jumps)
def test_a_tick_processes_every_due_alarm_and_terminates(
    pairing_terms: PairingTerms, history: list[Any]
) -> None:
    outcome = play([*history, Do("tick")], pairing_terms)  # play() checks next_alarm after every tick
    assert outcome.ticks >= 1 or outcome.driver.state.stage is CLOSED


def test_one_tick_after_a_year_runs_the_whole_lifecycle_to_closed() -> None:
    d = Driver()
    d.agree()
    d.advance(timedelta(days=365))
    events = d.tick()
    assert d.state.stage is CLOSED and events[-1].type == "PairingClosed"
    assert next_alarm(d.state) is None
    assert replay(PAIRING_ID, d.events) == d.state
    assert d.state.version == len(d.events)
