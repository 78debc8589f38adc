"""The pairing aggregate: one mentor, one mentee, one lifecycle.

``proposed → goal_setting → sessions → midpoint_review → sessions → closeout → closed``

Every rule of the lifecycle lives here. A workflow only (1) turns participant and operator actions
into commands, (2) sleeps until :func:`next_alarm` and then sends :class:`Tick`, and (3) records the
events :func:`decide` returns. Time enters only as the ``now`` argument, so the same decisions come
out of a live workflow, a replay and a unit test.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from domain.durations import Duration
from domain.errors import DuplicateSubmission, InvalidTransition, RuleViolation
from domain.events import Event, EventPayload, stamp, upcaster
from domain.program import ProgramConfig

Side = Literal["mentor", "mentee"]
Author = Literal["mentor", "mentee", "operator"]
SIDES: tuple[Side, Side] = ("mentor", "mentee")
MAX_GOALS = 5
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_BUT_LINE_BREAKS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _one_line(text: str) -> str:
    """Free text on one line: no control characters (a tab or line break included)."""
    found = _CONTROL.search(text)
    if found:
        raise ValueError(
            f"contains control character U+{ord(found.group()):04X} at character {found.start() + 1}"
        )
    return text


def _lines(text: str) -> str:
    """Free text that may span lines (tabs and line breaks allowed), without other control characters."""
    found = _CONTROL_BUT_LINE_BREAKS.search(text)
    if found:
        raise ValueError(
            f"contains control character U+{ord(found.group()):04X} at character {found.start() + 1}"
        )
    return text


# Goal is shared with events (facts already recorded), so its own fields keep their old rules; commands
# check their goals' text with ``_one_line`` (see ProposeGoals).
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
ShortLine = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), AfterValidator(_one_line)
]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000), AfterValidator(_lines)]
Topic = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), AfterValidator(_one_line)
]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500), AfterValidator(_one_line)]
NoteText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000), AfterValidator(_lines)
]


class Stage(StrEnum):
    PROPOSED = "proposed"
    GOAL_SETTING = "goal_setting"
    SESSIONS = "sessions"
    MIDPOINT_REVIEW = "midpoint_review"
    CLOSEOUT = "closeout"
    CLOSED = "closed"


class Outcome(StrEnum):
    COMPLETED = "completed"
    ENDED_EARLY = "ended_early"
    WITHDRAWN = "withdrawn"
    REMATCHED = "rematched"


class SessionStatus(StrEnum):
    HELD = "held"
    MISSED = "missed"
    RESCHEDULED = "rescheduled"


class MidpointDecision(StrEnum):
    CONTINUE = "continue"
    REMATCH = "rematch"
    END_EARLY = "end_early"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Goal(_Frozen):
    """A goal with the measurable signal that tells whether it was reached."""

    title: ShortText
    signal: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]

    def key(self) -> tuple[str, str]:
        return (self.title.casefold(), self.signal.casefold())


class PairingTerms(_Frozen):
    """The part of the program file a pairing lives by, frozen into the pairing when it starts."""

    duration: Duration
    session_cadence: Duration
    first_session_after: Duration
    goal_setting_deadline: Duration
    goal_reminders: tuple[Duration, ...]
    session_reminder: Duration
    checkin_window: Duration
    at_risk_after_misses: int
    allow_checkin_before_goals: bool
    midpoint_at: float
    midpoint_window: Duration
    override_window: Duration
    rematch_if_relationship_below: int
    end_early_if_progress_below: int
    closeout_window: Duration
    closeout_reminder: Duration

    @classmethod
    def from_program(cls, config: ProgramConfig) -> PairingTerms:
        s, m, c = config.schedule, config.midpoint, config.closeout
        return cls(
            duration=s.duration,
            session_cadence=s.session_cadence,
            first_session_after=s.first_session_after,
            goal_setting_deadline=s.goal_setting_deadline,
            goal_reminders=s.goal_reminders,
            session_reminder=s.session_reminder,
            checkin_window=s.checkin_window,
            at_risk_after_misses=s.at_risk_after_misses,
            allow_checkin_before_goals=s.allow_checkin_before_goals,
            midpoint_at=m.at,
            midpoint_window=m.window,
            override_window=m.override_window,
            rematch_if_relationship_below=m.rematch_if_relationship_below,
            end_early_if_progress_below=m.end_early_if_progress_below,
            closeout_window=c.window,
            closeout_reminder=c.reminder,
        )


# ---------------------------------------------------------------------------------------------
# Events


class PairingProposed(EventPayload):
    TYPE = "PairingProposed"
    pairing_id: str
    program_id: str
    mentor_id: str
    mentee_id: str
    score: float | None = None
    reasons: tuple[str, ...] = ()
    replaces: str | None = None


class PairingStarted(EventPayload):
    TYPE = "PairingStarted"
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    goals_due_at: AwareDatetime
    midpoint_at: AwareDatetime
    terms: PairingTerms


class GoalsProposed(EventPayload):
    TYPE = "GoalsProposed"
    SCHEMA_VERSION = 2  # v1 stored goals as plain titles, without a measurable signal
    side: Side
    goals: tuple[Goal, ...]


@upcaster("GoalsProposed", from_version=1)
def _goals_proposed_v1(payload: dict[str, object]) -> dict[str, object]:
    """v1 goals were strings like ``"Ship the app (launched in store)"``: the part in parentheses,
    when present, was the team's habit for the signal; otherwise the signal was never stated."""
    goals = []
    for raw in payload.get("goals", []) or []:  # type: ignore[attr-defined]
        text = str(raw).strip()
        if text.endswith(")") and "(" in text:
            title, _, rest = text.rpartition("(")
            goals.append({"title": title.strip() or text, "signal": rest[:-1].strip() or "not stated"})
        else:
            goals.append({"title": text, "signal": "not stated"})
    return {**payload, "goals": goals}


class GoalsAccepted(EventPayload):
    TYPE = "GoalsAccepted"
    side: Side
    goals: tuple[Goal, ...]


class GoalsAgreed(EventPayload):
    TYPE = "GoalsAgreed"
    goals: tuple[Goal, ...]


class GoalDeadlinePassed(EventPayload):
    TYPE = "GoalDeadlinePassed"
    due_at: AwareDatetime


Reminder = Literal["goals", "session", "checkin", "fit_check", "midpoint", "closeout"]


class ReminderDue(EventPayload):
    """Somebody should act soon. ``key`` marks this reminder as sent so that it never fires twice."""

    TYPE = "ReminderDue"
    reminder: Reminder
    key: str
    ref: int | None = None
    due_at: AwareDatetime | None = None


class SessionScheduled(EventPayload):
    TYPE = "SessionScheduled"
    session: int
    at: AwareDatetime


class SessionCheckedIn(EventPayload):
    """One side's check-in. ``private_note`` is for its author only; reports never show it."""

    TYPE = "SessionCheckedIn"
    session: int
    side: Side
    status: SessionStatus
    rating: int | None = None
    topics: tuple[str, ...] = ()
    private_note: str = ""
    rescheduled_to: AwareDatetime | None = None


class SessionHeld(EventPayload):
    TYPE = "SessionHeld"
    session: int


class SessionMissed(EventPayload):
    TYPE = "SessionMissed"
    session: int
    reason: str


class SessionRescheduled(EventPayload):
    TYPE = "SessionRescheduled"
    session: int
    from_at: AwareDatetime
    to_at: AwareDatetime


class AtRiskFlagged(EventPayload):
    TYPE = "AtRiskFlagged"
    reason: str
    consecutive_misses: int = 0


class AtRiskCleared(EventPayload):
    TYPE = "AtRiskCleared"
    reason: str


class FitCheckAnswered(EventPayload):
    """Confidential: the other side never learns the answer."""

    TYPE = "FitCheckAnswered"
    side: Side
    wants_new_partner: bool


class MidpointReviewOpened(EventPayload):
    TYPE = "MidpointReviewOpened"
    due_at: AwareDatetime


class MidpointSkipped(EventPayload):
    """The midpoint came when too little time was left for a review (goals agreed very late)."""

    TYPE = "MidpointSkipped"
    reason: str


class MidpointReviewSubmitted(EventPayload):
    TYPE = "MidpointReviewSubmitted"
    side: Side
    relationship: int
    psychological_safety: int
    progress: tuple[int, ...]


class MidpointDecisionProposed(EventPayload):
    TYPE = "MidpointDecisionProposed"
    decision: MidpointDecision
    reason: str
    override_until: AwareDatetime


class MidpointDecided(EventPayload):
    TYPE = "MidpointDecided"
    decision: MidpointDecision
    overridden: bool
    reason: str


class PairingPaused(EventPayload):
    TYPE = "PairingPaused"
    reason: str = ""


class PairingResumed(EventPayload):
    TYPE = "PairingResumed"
    paused_seconds: float


class PairingExtended(EventPayload):
    TYPE = "PairingExtended"
    by: Duration
    ends_at: AwareDatetime


class NoteAdded(EventPayload):
    TYPE = "NoteAdded"
    author: Author
    text: str


class CloseoutOpened(EventPayload):
    TYPE = "CloseoutOpened"
    due_at: AwareDatetime


class CloseoutSubmitted(EventPayload):
    TYPE = "CloseoutSubmitted"
    side: Side
    attainment: tuple[int, ...]
    would_recommend: int
    satisfaction: int
    takeaways: str = ""


class PairingClosed(EventPayload):
    TYPE = "PairingClosed"
    outcome: Outcome
    reason: str
    withdrawn_side: Side | None = None


# ---------------------------------------------------------------------------------------------
# Commands (the payloads of Temporal Updates and of operator actions)


class _Command(_Frozen):
    pass


class ProposePairing(_Command):
    type: Literal["propose_pairing"] = "propose_pairing"
    pairing_id: str
    program_id: str
    mentor_id: str
    mentee_id: str
    score: float | None = None
    reasons: tuple[str, ...] = ()
    replaces: str | None = None


def _goals_on_one_line(goals: tuple[Goal, ...]) -> tuple[Goal, ...]:
    for number, goal in enumerate(goals, start=1):
        for name in ("title", "signal"):
            try:
                _one_line(getattr(goal, name))
            except ValueError as error:
                raise ValueError(f"goal {number} {name} {error}") from None
    return goals


ProposedGoals = Annotated[tuple[Goal, ...], AfterValidator(_goals_on_one_line)]


class StartPairing(_Command):
    type: Literal["start_pairing"] = "start_pairing"
    terms: PairingTerms


class ProposeGoals(_Command):
    type: Literal["propose_goals"] = "propose_goals"
    side: Side
    goals: ProposedGoals


class AgreeGoals(_Command):
    """A side accepts this exact list; once both sides accepted the same list, the goals are agreed."""

    type: Literal["agree_goals"] = "agree_goals"
    side: Side
    goals: ProposedGoals


class LogSession(_Command):
    type: Literal["log_session"] = "log_session"
    side: Side
    session: int | None = None
    status: SessionStatus
    rating: int | None = None
    topics: tuple[Topic, ...] = ()
    private_note: LongText = ""
    rescheduled_to: AwareDatetime | None = None


class AnswerFitCheck(_Command):
    type: Literal["answer_fit_check"] = "answer_fit_check"
    side: Side
    wants_new_partner: bool


class SubmitMidpoint(_Command):
    type: Literal["submit_midpoint"] = "submit_midpoint"
    side: Side
    relationship: int
    psychological_safety: int
    progress: tuple[int, ...]


class OverrideMidpoint(_Command):
    type: Literal["override_midpoint"] = "override_midpoint"
    decision: MidpointDecision
    reason: ShortLine


class SubmitCloseout(_Command):
    type: Literal["submit_closeout"] = "submit_closeout"
    side: Side
    attainment: tuple[int, ...]
    would_recommend: int
    satisfaction: int
    takeaways: LongText = ""


class Pause(_Command):
    type: Literal["pause"] = "pause"
    reason: Reason = ""


class Resume(_Command):
    type: Literal["resume"] = "resume"


class Extend(_Command):
    type: Literal["extend"] = "extend"
    by: Duration


class Withdraw(_Command):
    type: Literal["withdraw"] = "withdraw"
    side: Side
    reason: Reason = ""


class AddNote(_Command):
    type: Literal["add_note"] = "add_note"
    author: Author
    text: NoteText


class Rematch(_Command):
    """Operator: end this pairing now so that the program pairs the mentee with someone else."""

    type: Literal["rematch"] = "rematch"
    reason: Reason = ""


class Tick(_Command):
    """The clock: process every alarm due at or before ``now``."""

    type: Literal["tick"] = "tick"


PairingCommand = Annotated[
    ProposePairing
    | StartPairing
    | ProposeGoals
    | AgreeGoals
    | LogSession
    | AnswerFitCheck
    | SubmitMidpoint
    | OverrideMidpoint
    | SubmitCloseout
    | Pause
    | Resume
    | Extend
    | Withdraw
    | AddNote
    | Rematch
    | Tick,
    Field(discriminator="type"),
]
PAUSED_ALLOWED = (Resume, Withdraw, Extend, Tick)


# ---------------------------------------------------------------------------------------------
# State


class SessionRecord(_Frozen):
    number: int
    at: AwareDatetime
    status: SessionStatus | None = None  # None while pending; RESCHEDULED is never final
    reported_by: tuple[Side, ...] = ()
    ratings: dict[str, int] = Field(default_factory=dict)
    resolved_at: AwareDatetime | None = None


class PairingState(_Frozen):
    pairing_id: str
    version: int = 0
    stage: Stage = Stage.PROPOSED
    program_id: str = ""
    mentor_id: str = ""
    mentee_id: str = ""
    replaces: str | None = None
    terms: PairingTerms | None = None
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    goals_due_at: AwareDatetime | None = None
    goal_deadline_passed: bool = False
    midpoint_at: AwareDatetime | None = None
    proposed_goals: dict[str, tuple[Goal, ...]] = Field(default_factory=dict)
    accepted_goals: dict[str, tuple[Goal, ...]] = Field(default_factory=dict)
    goals: tuple[Goal, ...] = ()
    goals_agreed_at: AwareDatetime | None = None
    sessions: tuple[SessionRecord, ...] = ()
    consecutive_misses: int = 0
    at_risk: bool = False
    ever_at_risk: bool = False
    reminders_sent: frozenset[str] = frozenset()
    fit_check: dict[str, bool] = Field(default_factory=dict)
    midpoint_opened: bool = False
    midpoint_due_at: AwareDatetime | None = None
    midpoint_reviews: dict[str, MidpointReviewSubmitted] = Field(default_factory=dict)
    midpoint_proposal: MidpointDecisionProposed | None = None
    midpoint_decision: MidpointDecision | None = None
    closeout_due_at: AwareDatetime | None = None
    closeout: dict[str, CloseoutSubmitted] = Field(default_factory=dict)
    pending_outcome: Outcome | None = None
    paused_at: AwareDatetime | None = None
    notes: int = 0
    outcome: Outcome | None = None
    closed_reason: str = ""
    withdrawn_side: Side | None = None

    @property
    def stream_id(self) -> str:
        return pairing_stream(self.pairing_id)

    @property
    def paused(self) -> bool:
        return self.paused_at is not None

    @property
    def current_session(self) -> SessionRecord | None:
        """The latest session if it still waits for its outcome."""
        if self.sessions and self.sessions[-1].status in (None, SessionStatus.RESCHEDULED):
            return self.sessions[-1]
        return None

    @property
    def held_sessions(self) -> int:
        return sum(1 for s in self.sessions if s.status is SessionStatus.HELD)

    def side_of(self, participant_id: str) -> Side | None:
        if participant_id == self.mentor_id:
            return "mentor"
        if participant_id == self.mentee_id:
            return "mentee"
        return None


def pairing_stream(pairing_id: str) -> str:
    return f"pairing-{pairing_id}"


def initial_pairing(pairing_id: str) -> PairingState:
    return PairingState(pairing_id=pairing_id)


# ---------------------------------------------------------------------------------------------
# Alarms: what the pairing waits for next, computed from state alone.


class Alarm(_Frozen):
    at: AwareDatetime
    kind: str
    ref: int | None = None


_Due = tuple[datetime, str, int | None]  # an alarm before it is chosen: at, kind, ref


def _due(at: datetime, kind: str, ref: int | None = None) -> _Due:
    return (at, kind, ref)


def _alarms(state: PairingState) -> list[_Due]:
    """Every alarm the pairing has set, as plain tuples: next_alarm runs several times per
    workflow task, and building a model for each candidate was most of its cost."""
    if state.stage in (Stage.PROPOSED, Stage.CLOSED) or state.paused or state.terms is None:
        return []
    terms = state.terms
    assert state.ends_at is not None
    alarms: list[_Due] = []
    if state.stage in (Stage.GOAL_SETTING, Stage.SESSIONS):
        alarms.append(_due(at=state.ends_at, kind="end"))
    if state.stage is Stage.GOAL_SETTING and state.goals_due_at is not None:
        for offset in terms.goal_reminders:
            key = f"goals:{offset}"
            if key not in state.reminders_sent:
                alarms.append(_due(at=offset.subtract_from(state.goals_due_at), kind=key))
        if not state.goal_deadline_passed:
            alarms.append(_due(at=state.goals_due_at, kind="goal_deadline"))
    current = state.current_session
    if current is not None and state.stage in (Stage.SESSIONS, Stage.MIDPOINT_REVIEW):
        n = current.number
        if f"session:{n}" not in state.reminders_sent:
            alarms.append(
                _due(at=terms.session_reminder.subtract_from(current.at), kind="session_reminder", ref=n)
            )
        if f"checkin:{n}" not in state.reminders_sent:
            alarms.append(_due(at=current.at, kind="checkin_request", ref=n))
        alarms.append(_due(at=terms.checkin_window.add_to(current.at), kind="checkin_closes", ref=n))
    elif current is not None and state.stage is Stage.CLOSEOUT:
        # a session still open when the pairing ends is counted (held if checked in, else missed)
        alarms.append(
            _due(at=terms.checkin_window.add_to(current.at), kind="checkin_closes", ref=current.number)
        )
    if state.stage is Stage.SESSIONS and not state.midpoint_opened and state.midpoint_at is not None:
        alarms.append(_due(at=state.midpoint_at, kind="midpoint_opens"))
    if state.stage is Stage.MIDPOINT_REVIEW:
        if state.midpoint_proposal is None and state.midpoint_due_at is not None:
            alarms.append(_due(at=state.midpoint_due_at, kind="midpoint_due"))
        elif state.midpoint_proposal is not None:
            alarms.append(_due(at=state.midpoint_proposal.override_until, kind="override_closes"))
    if state.stage is Stage.CLOSEOUT and state.closeout_due_at is not None:
        if "closeout" not in state.reminders_sent:
            alarms.append(
                _due(
                    at=terms.closeout_reminder.subtract_from(state.closeout_due_at), kind="closeout_reminder"
                )
            )
        alarms.append(_due(at=state.closeout_due_at, kind="closeout_due"))
    return alarms


_ALARM_ORDER = {
    "checkin_closes": 0,
    "session_reminder": 1,
    "checkin_request": 2,
    "goal_deadline": 3,
    "midpoint_opens": 4,
    "midpoint_due": 5,
    "override_closes": 6,
    "closeout_reminder": 7,
    "closeout_due": 8,
    "end": 9,
}


def next_alarm(state: PairingState) -> Alarm | None:
    """The earliest thing this pairing waits for, or None while it only waits for people."""
    alarms = _alarms(state)
    if not alarms:
        return None
    at, kind, ref = min(alarms, key=lambda a: (a[0], _ALARM_ORDER.get(a[1].split(":")[0], -1), a[1]))
    return Alarm(at=at, kind=kind, ref=ref)


# ---------------------------------------------------------------------------------------------
# decide


def decide(state: PairingState, command: _Command, now: datetime) -> list[Event]:
    """Decide the events a command causes, or raise a typed :class:`DomainError`. Never mutates."""
    payloads = _decide(state, command, now)
    return stamp(state.stream_id, state.version, payloads, now)


def _decide(state: PairingState, command: _Command, now: datetime) -> list[EventPayload]:
    if state.stage is Stage.CLOSED:
        raise InvalidTransition(
            "pairing-closed",
            f"pairing {state.pairing_id} is closed ({state.outcome}); it accepts nothing",
            _type_of(command),
        )
    if isinstance(command, ProposePairing):
        return _propose(state, command)
    if state.stage is Stage.PROPOSED:
        if isinstance(command, StartPairing):
            return _start(state, command, now)
        if isinstance(command, Tick):
            return []
        raise InvalidTransition(
            "pairing-not-started", f"pairing {state.pairing_id} has not started", str(state.stage)
        )
    if state.paused and not isinstance(command, PAUSED_ALLOWED):
        raise InvalidTransition(
            "pairing-paused",
            f"pairing {state.pairing_id} is paused: only resume, withdraw and extend are accepted",
            _type_of(command),
        )
    match command:
        case StartPairing():
            raise InvalidTransition("already-started", "pairing already started", str(state.stage))
        case Tick():
            return _tick(state, now)
        case ProposeGoals():
            return _propose_goals(state, command)
        case AgreeGoals():
            return _agree_goals(state, command, now)
        case LogSession():
            return _log_session(state, command, now)
        case AnswerFitCheck():
            return _fit_check(state, command)
        case SubmitMidpoint():
            return _submit_midpoint(state, command, now)
        case OverrideMidpoint():
            return _override_midpoint(state, command, now)
        case SubmitCloseout():
            return _submit_closeout(state, command)
        case Pause():
            if state.paused:
                raise InvalidTransition("already-paused", "pairing is already paused", None)
            return [PairingPaused(reason=command.reason)]
        case Resume():
            if not state.paused:
                raise InvalidTransition("not-paused", "pairing is not paused", _type_of(command))
            assert state.paused_at is not None
            return [PairingResumed(paused_seconds=max(0.0, (now - state.paused_at).total_seconds()))]
        case Extend():
            return _extend(state, command, now)
        case Withdraw():
            who = "mentor" if command.side == "mentor" else "mentee"
            reason = f"{who} withdrew" + (f": {command.reason}" if command.reason else "")
            return [PairingClosed(outcome=Outcome.WITHDRAWN, reason=reason, withdrawn_side=command.side)]
        case AddNote():
            return [NoteAdded(author=command.author, text=command.text)]
        case Rematch():
            return [PairingClosed(outcome=Outcome.REMATCHED, reason=command.reason or "operator rematch")]
    raise RuleViolation("unknown-command", f"unknown command {_type_of(command)}", _type_of(command))


def _type_of(command: _Command) -> str:
    return str(getattr(command, "type", type(command).__name__))


def _propose(state: PairingState, command: ProposePairing) -> list[EventPayload]:
    if state.stage is not Stage.PROPOSED or state.version > 0:
        raise InvalidTransition(
            "already-proposed", f"pairing {state.pairing_id} was already proposed", command.pairing_id
        )
    if command.pairing_id != state.pairing_id:
        raise RuleViolation(
            "pairing-id-mismatch", f"command is for pairing {command.pairing_id}", command.pairing_id
        )
    if command.mentor_id == command.mentee_id:
        raise RuleViolation(
            "self-pairing", "a participant cannot be paired with themselves", command.mentor_id
        )
    return [PairingProposed(**command.model_dump(exclude={"type"}))]


def _start(state: PairingState, command: StartPairing, now: datetime) -> list[EventPayload]:
    if state.version == 0:
        raise InvalidTransition(
            "not-proposed", "a pairing must be proposed before it starts", _type_of(command)
        )
    terms = command.terms
    ends_at = terms.duration.add_to(now)
    goals_due = terms.goal_setting_deadline.add_to(now)
    if goals_due >= ends_at:
        raise RuleViolation(
            "goal-deadline-after-end",
            "goal-setting deadline falls after the pairing ends",
            str(terms.goal_setting_deadline),
        )
    midpoint_at = now + (ends_at - now) * terms.midpoint_at
    return [
        PairingStarted(
            starts_at=now, ends_at=ends_at, goals_due_at=goals_due, midpoint_at=midpoint_at, terms=terms
        )
    ]


def _check_goals(goals: tuple[Goal, ...]) -> None:
    if not 1 <= len(goals) <= MAX_GOALS:
        raise RuleViolation(
            "goal-count", f"a pairing agrees on 1 to {MAX_GOALS} goals, not {len(goals)}", len(goals)
        )
    keys = [g.key() for g in goals]
    if len(set(keys)) != len(keys):
        raise RuleViolation("duplicate-goal", "the same goal is listed twice", [g.title for g in goals])


def _require_stage(state: PairingState, stages: Iterable[Stage], rule: str, what: str) -> None:
    allowed = tuple(stages)
    if state.stage not in allowed:
        names = " or ".join(s.value.replace("_", " ") for s in allowed)
        raise InvalidTransition(
            rule,
            f"{what} is only possible during {names}; the pairing is in "
            f"{state.stage.value.replace('_', ' ')}",
            state.stage.value,
        )


def _propose_goals(state: PairingState, command: ProposeGoals) -> list[EventPayload]:
    _require_stage(state, [Stage.GOAL_SETTING], "goals-not-open", "proposing goals")
    _check_goals(command.goals)
    return [GoalsProposed(side=command.side, goals=command.goals)]


def _agree_goals(state: PairingState, command: AgreeGoals, now: datetime) -> list[EventPayload]:
    _require_stage(state, [Stage.GOAL_SETTING], "goals-not-open", "agreeing goals")
    _check_goals(command.goals)
    missing = [s for s in SIDES if s not in state.proposed_goals]
    if missing:
        raise RuleViolation(
            "goals-not-proposed",
            f"both sides propose goals before agreeing; waiting for the {missing[0]}",
            missing,
        )
    out: list[EventPayload] = [GoalsAccepted(side=command.side, goals=command.goals)]
    other: Side = "mentee" if command.side == "mentor" else "mentor"
    theirs = state.accepted_goals.get(other)
    if theirs is not None and sorted(g.key() for g in theirs) == sorted(g.key() for g in command.goals):
        assert state.terms is not None
        out.append(GoalsAgreed(goals=command.goals))
        if state.at_risk:
            out.append(AtRiskCleared(reason="goals agreed"))
        first = state.terms.first_session_after.add_to(now)
        if state.current_session is None and state.ends_at is not None and first < state.ends_at:
            # ad-hoc sessions logged before the agreement keep their numbers: continue after them
            out.append(SessionScheduled(session=len(state.sessions) + 1, at=first))
    return out


def _session_for(state: PairingState, command: LogSession, now: datetime) -> SessionRecord:
    if command.session is not None:
        for record in state.sessions:
            if record.number == command.session:
                return record
        raise RuleViolation(
            "unknown-session", f"there is no session {command.session} in this pairing", command.session
        )
    current = state.current_session
    if current is not None and now >= current.at:
        return current
    # the partner may still be adding their report to the session held last
    assert state.terms is not None
    for record in reversed(state.sessions):
        if (
            record.status in (SessionStatus.HELD, SessionStatus.MISSED)
            and command.side not in record.reported_by
        ):
            if now <= state.terms.checkin_window.add_to(record.at):
                return record
            break
    if current is not None:
        return current
    raise RuleViolation("no-session-due", "no session waits for a check-in", command.side)


def _log_session(state: PairingState, command: LogSession, now: datetime) -> list[EventPayload]:
    terms = state.terms
    assert terms is not None and state.ends_at is not None
    if state.stage is Stage.GOAL_SETTING:
        if not terms.allow_checkin_before_goals:
            raise InvalidTransition(
                "goals-not-agreed",
                "sessions are logged once goals are agreed (the program does not allow check-ins before)",
                state.stage.value,
            )
        return _log_adhoc_session(state, command, now)
    _require_stage(
        state, [Stage.SESSIONS, Stage.MIDPOINT_REVIEW, Stage.CLOSEOUT], "no-sessions", "logging a session"
    )
    record = _session_for(state, command, now)
    _check_checkin_values(command, now, state.ends_at)
    if command.side in record.reported_by and record.status is not SessionStatus.RESCHEDULED:
        raise DuplicateSubmission(
            "checkin-duplicate",
            f"the {command.side} already checked in for session {record.number}",
            record.number,
        )
    window_end = terms.checkin_window.add_to(record.at)
    if now > window_end:
        raise InvalidTransition(
            "checkin-window-closed",
            f"the check-in window for session {record.number} closed at {window_end.isoformat()}",
            record.number,
        )
    if command.status is not SessionStatus.RESCHEDULED and now < record.at:
        raise RuleViolation(
            "session-not-yet-due",
            f"session {record.number} is scheduled for {record.at.isoformat()}; check in "
            "after it took place, or reschedule it",
            record.number,
        )
    checkin = SessionCheckedIn(
        session=record.number,
        side=command.side,
        status=command.status,
        rating=command.rating,
        topics=command.topics,
        private_note=command.private_note,
        rescheduled_to=command.rescheduled_to,
    )
    final = record.status if record.status in (SessionStatus.HELD, SessionStatus.MISSED) else None
    if final is not None:
        if command.status is not final:
            raise RuleViolation(
                "session-already-recorded",
                f"session {record.number} is already recorded as {final.value}; "
                "ask the operator to correct it",
                command.status.value,
            )
        return [checkin]
    out: list[EventPayload] = [checkin]
    if command.status is SessionStatus.RESCHEDULED:
        assert command.rescheduled_to is not None
        out.append(SessionRescheduled(session=record.number, from_at=record.at, to_at=command.rescheduled_to))
        return out
    if command.status is SessionStatus.HELD:
        out.extend(_on_held(state, record.number, now))
    else:
        out.extend(_on_missed(state, record.number, f"reported missed by the {command.side}", now))
    return out


def _log_adhoc_session(state: PairingState, command: LogSession, now: datetime) -> list[EventPayload]:
    if command.status is not SessionStatus.HELD:
        raise RuleViolation(
            "adhoc-held-only",
            "before goals are agreed only held sessions can be logged",
            command.status.value,
        )
    assert state.ends_at is not None
    _check_checkin_values(command, now, state.ends_at)
    if command.session is not None:  # the partner confirms an ad-hoc session already logged
        record = next((r for r in state.sessions if r.number == command.session), None)
        if record is None:
            raise RuleViolation(
                "unknown-session", f"there is no session {command.session} in this pairing", command.session
            )
        if command.side in record.reported_by:
            raise DuplicateSubmission(
                "checkin-duplicate",
                f"the {command.side} already checked in for session {record.number}",
                record.number,
            )
        return [
            SessionCheckedIn(
                session=record.number,
                side=command.side,
                status=command.status,
                rating=command.rating,
                topics=command.topics,
                private_note=command.private_note,
            )
        ]
    number = len(state.sessions) + 1
    return [
        SessionScheduled(session=number, at=now),
        SessionCheckedIn(
            session=number,
            side=command.side,
            status=command.status,
            rating=command.rating,
            topics=command.topics,
            private_note=command.private_note,
        ),
        *_on_held(state, number, now, schedule_next=False),
    ]


def _check_checkin_values(command: LogSession, now: datetime, ends_at: datetime) -> None:
    if command.status is SessionStatus.HELD:
        if command.rating is None:
            raise RuleViolation("rating-required", "a held session needs a rating from 1 to 5", None)
        if not 1 <= command.rating <= 5:
            raise RuleViolation(
                "rating-range", f"ratings go from 1 to 5, not {command.rating}", command.rating
            )
    elif command.rating is not None:
        raise RuleViolation(
            "rating-not-allowed", f"a {command.status.value} session has no rating", command.rating
        )
    if len(command.topics) > 10:
        raise RuleViolation("too-many-topics", "at most 10 topics per check-in", len(command.topics))
    if command.status is SessionStatus.RESCHEDULED:
        if command.rescheduled_to is None:
            raise RuleViolation("reschedule-needs-time", "a rescheduled session needs its new time", None)
        if command.rescheduled_to <= now:
            raise RuleViolation(
                "reschedule-in-past",
                "a session can only be rescheduled to a future time",
                command.rescheduled_to.isoformat(),
            )
        if command.rescheduled_to >= ends_at:
            raise RuleViolation(
                "reschedule-after-end",
                "the new time falls after the pairing ends",
                command.rescheduled_to.isoformat(),
            )
    elif command.rescheduled_to is not None:
        raise RuleViolation(
            "reschedule-time-not-allowed",
            "only a rescheduled session takes a new time",
            command.rescheduled_to.isoformat(),
        )


def _next_session(state: PairingState, number: int, after: datetime, now: datetime) -> list[EventPayload]:
    """Schedule the session after ``number`` on the cadence, unless it would fall after the end."""
    assert state.terms is not None and state.ends_at is not None
    if state.stage is not Stage.SESSIONS:
        return []
    at = max(state.terms.session_cadence.add_to(after), now)
    if at >= state.ends_at:
        return []
    return [SessionScheduled(session=number + 1, at=at)]


def _on_held(
    state: PairingState, number: int, now: datetime, schedule_next: bool = True
) -> list[EventPayload]:
    out: list[EventPayload] = [SessionHeld(session=number)]
    if state.at_risk and state.goals:  # goals still overdue keep the flag: a meeting is not agreement
        out.append(AtRiskCleared(reason=f"session {number} held"))
    if state.held_sessions == 0:
        out.append(ReminderDue(reminder="fit_check", key=f"fit_check:{number}", ref=number))
    if schedule_next:
        record = next(s for s in state.sessions if s.number == number)
        out.extend(_next_session(state, number, record.at, now))
    return out


def _on_missed(state: PairingState, number: int, reason: str, now: datetime) -> list[EventPayload]:
    assert state.terms is not None
    out: list[EventPayload] = [SessionMissed(session=number, reason=reason)]
    misses = state.consecutive_misses + 1
    if misses >= state.terms.at_risk_after_misses and not state.at_risk:
        out.append(AtRiskFlagged(reason=f"{misses} sessions missed in a row", consecutive_misses=misses))
    record = next(s for s in state.sessions if s.number == number)
    out.extend(_next_session(state, number, record.at, now))
    return out


def _fit_check(state: PairingState, command: AnswerFitCheck) -> list[EventPayload]:
    if state.held_sessions == 0:
        raise InvalidTransition(
            "fit-check-not-open", "the fit check opens after the first held session", command.side
        )
    _require_stage(
        state,
        [Stage.GOAL_SETTING, Stage.SESSIONS, Stage.MIDPOINT_REVIEW],
        "fit-check-closed",
        "answering the fit check",
    )
    if command.side in state.fit_check:
        raise DuplicateSubmission(
            "fit-check-duplicate", f"the {command.side} already answered the fit check", command.side
        )
    return [FitCheckAnswered(side=command.side, wants_new_partner=command.wants_new_partner)]


def _check_percentages(values: tuple[int, ...], goals: int, what: str) -> None:
    if len(values) != goals:
        raise RuleViolation(
            f"{what}-per-goal",
            f"give one {what} value per agreed goal ({goals}), not {len(values)}",
            len(values),
        )
    for value in values:
        if not 0 <= value <= 100:
            raise RuleViolation(f"{what}-range", f"{what} is a percentage from 0 to 100, not {value}", value)


def _submit_midpoint(state: PairingState, command: SubmitMidpoint, now: datetime) -> list[EventPayload]:
    _require_stage(state, [Stage.MIDPOINT_REVIEW], "midpoint-not-open", "submitting the midpoint review")
    if state.midpoint_proposal is not None:
        raise InvalidTransition(
            "midpoint-decided", "the midpoint review has already been decided", command.side
        )
    if command.side in state.midpoint_reviews:
        raise DuplicateSubmission(
            "midpoint-duplicate", f"the {command.side} already submitted the midpoint review", command.side
        )
    for name, value in (
        ("relationship", command.relationship),
        ("psychological_safety", command.psychological_safety),
    ):
        if not 1 <= value <= 5:
            raise RuleViolation("rating-range", f"{name} is rated from 1 to 5, not {value}", value)
    _check_percentages(command.progress, len(state.goals), "progress")
    review = MidpointReviewSubmitted(
        side=command.side,
        relationship=command.relationship,
        psychological_safety=command.psychological_safety,
        progress=command.progress,
    )
    out: list[EventPayload] = [review]
    reviews = {**state.midpoint_reviews, command.side: review}
    if len(reviews) == 2:
        out.append(_propose_decision(state, reviews, now))
    return out


def midpoint_rule(
    terms: PairingTerms, reviews: dict[str, MidpointReviewSubmitted]
) -> tuple[MidpointDecision, str]:
    """The program's decision rule: low relationship → rematch; little progress → end early."""
    if not reviews:
        return MidpointDecision.CONTINUE, "no reviews submitted; continuing by default"
    worst = min(r.relationship for r in reviews.values())
    if worst < terms.rematch_if_relationship_below:
        return (
            MidpointDecision.REMATCH,
            f"relationship rated {worst} (< {terms.rematch_if_relationship_below})",
        )
    progress = [p for r in reviews.values() for p in r.progress]
    mean = sum(progress) / len(progress) if progress else 100.0
    if mean < terms.end_early_if_progress_below:
        return (
            MidpointDecision.END_EARLY,
            f"mean goal progress {mean:.0f}% (< {terms.end_early_if_progress_below}%)",
        )
    return MidpointDecision.CONTINUE, f"relationship {worst}/5 or better, mean goal progress {mean:.0f}%"


def _propose_decision(
    state: PairingState, reviews: dict[str, MidpointReviewSubmitted], now: datetime
) -> MidpointDecisionProposed:
    assert state.terms is not None
    decision, reason = midpoint_rule(state.terms, reviews)
    return MidpointDecisionProposed(
        decision=decision, reason=reason, override_until=state.terms.override_window.add_to(now)
    )


def _override_midpoint(state: PairingState, command: OverrideMidpoint, now: datetime) -> list[EventPayload]:
    _require_stage(state, [Stage.MIDPOINT_REVIEW], "midpoint-not-open", "overriding the midpoint decision")
    if state.midpoint_proposal is None:
        raise InvalidTransition(
            "midpoint-not-proposed",
            "the midpoint decision can be overridden once it is proposed",
            command.decision.value,
        )
    if now > state.midpoint_proposal.override_until:
        raise InvalidTransition(
            "override-window-closed",
            "the override window has closed",
            state.midpoint_proposal.override_until.isoformat(),
        )
    decided = MidpointDecided(decision=command.decision, overridden=True, reason=command.reason)
    return [decided, *_apply_decision(state, command.decision, now)]


def _apply_decision(state: PairingState, decision: MidpointDecision, now: datetime) -> list[EventPayload]:
    assert state.terms is not None
    if decision is MidpointDecision.REMATCH:
        return [PairingClosed(outcome=Outcome.REMATCHED, reason="midpoint review: rematch")]
    if decision is MidpointDecision.END_EARLY:
        return [CloseoutOpened(due_at=state.terms.closeout_window.add_to(now))]
    # continue: resume the cadence unless a session is still pending
    if state.current_session is not None:
        return []
    assert state.ends_at is not None
    last = state.sessions[-1] if state.sessions else None
    at = state.terms.first_session_after.add_to(now)
    if last is not None:
        at = max(at, state.terms.session_cadence.add_to(last.at))
    if at >= state.ends_at:
        return []
    return [SessionScheduled(session=(last.number if last else 0) + 1, at=at)]


def _submit_closeout(state: PairingState, command: SubmitCloseout) -> list[EventPayload]:
    _require_stage(state, [Stage.CLOSEOUT], "closeout-not-open", "submitting the closeout survey")
    if command.side in state.closeout:
        raise DuplicateSubmission(
            "closeout-duplicate", f"the {command.side} already submitted the closeout survey", command.side
        )
    if not 0 <= command.would_recommend <= 10:
        raise RuleViolation(
            "recommend-range",
            f"would-recommend goes from 0 to 10, not {command.would_recommend}",
            command.would_recommend,
        )
    if not 1 <= command.satisfaction <= 5:
        raise RuleViolation(
            "rating-range",
            f"satisfaction is rated from 1 to 5, not {command.satisfaction}",
            command.satisfaction,
        )
    _check_percentages(command.attainment, len(state.goals), "attainment")
    submitted = CloseoutSubmitted(
        side=command.side,
        attainment=command.attainment,
        would_recommend=command.would_recommend,
        satisfaction=command.satisfaction,
        takeaways=command.takeaways,
    )
    out: list[EventPayload] = [submitted]
    if len(state.closeout) + 1 == 2:
        out.append(_close(state, "both sides submitted the closeout survey"))
    return out


def _close(state: PairingState, reason: str) -> PairingClosed:
    return PairingClosed(outcome=state.pending_outcome or Outcome.COMPLETED, reason=reason)


def _extend(state: PairingState, command: Extend, now: datetime) -> list[EventPayload]:
    if command.by.is_zero:
        raise RuleViolation("extend-by-zero", "extend by a positive duration such as P1M", str(command.by))
    if command.by.approx() > timedelta(days=366):
        raise RuleViolation(
            "extend-too-long", "a pairing can be extended by at most a year at a time", str(command.by)
        )
    assert state.ends_at is not None
    if state.midpoint_decision is MidpointDecision.END_EARLY:
        raise InvalidTransition(
            "ending-early", "the pairing is ending early by the midpoint decision", str(command.by)
        )
    if state.closeout:
        raise InvalidTransition(
            "closeout-started",
            "the closeout survey has started; the pairing can no longer be extended",
            str(command.by),
        )
    ends_at = command.by.add_to(max(state.ends_at, now))
    out: list[EventPayload] = [PairingExtended(by=command.by, ends_at=ends_at)]
    if state.stage is Stage.CLOSEOUT and state.goals and state.current_session is None and state.terms:
        # reopening sessions: put the next one on the calendar
        at = state.terms.first_session_after.add_to(now)
        if state.sessions:
            at = max(at, state.terms.session_cadence.add_to(state.sessions[-1].at))
        if at < ends_at:
            out.append(SessionScheduled(session=len(state.sessions) + 1, at=at))
    return out


def _tick(state: PairingState, now: datetime) -> list[EventPayload]:
    """Fire every alarm due at or before ``now``, in order, evolving a scratch state between them."""
    out: list[EventPayload] = []
    scratch = state
    for _ in range(1000):  # bounded: each alarm changes state so it does not fire again
        alarm = next_alarm(scratch)
        if alarm is None or alarm.at > now:
            break
        fired = _fire(scratch, alarm, now)
        if not fired:
            raise AssertionError(f"alarm {alarm.kind} fired without effect")  # would loop forever
        for payload in fired:
            scratch = _apply(scratch, payload, now)
        out.extend(fired)
        if scratch.stage is Stage.CLOSED:
            break
    return out


def _fire(state: PairingState, alarm: Alarm, now: datetime) -> list[EventPayload]:
    terms = state.terms
    assert terms is not None
    kind = alarm.kind
    if kind.startswith("goals:"):
        return [ReminderDue(reminder="goals", key=kind, due_at=state.goals_due_at)]
    if kind == "goal_deadline":
        assert state.goals_due_at is not None
        out: list[EventPayload] = [GoalDeadlinePassed(due_at=state.goals_due_at)]
        if not state.at_risk:
            out.append(AtRiskFlagged(reason="goals not agreed by the deadline"))
        return out
    if kind == "session_reminder":
        current = state.current_session
        return [
            ReminderDue(
                reminder="session",
                key=f"session:{alarm.ref}",
                ref=alarm.ref,
                due_at=current.at if current else None,
            )
        ]
    if kind == "checkin_request":
        return [ReminderDue(reminder="checkin", key=f"checkin:{alarm.ref}", ref=alarm.ref)]
    if kind == "checkin_closes":
        assert alarm.ref is not None
        return _on_missed(state, alarm.ref, "no check-in", now)
    if kind == "midpoint_opens":
        # the window runs from when the review actually opens (a late tick must not shorten it)
        due_at = terms.midpoint_window.add_to(max(alarm.at, now))
        assert state.ends_at is not None
        if due_at > state.ends_at:
            return [MidpointSkipped(reason="too little time left before the end for a midpoint review")]
        return [MidpointReviewOpened(due_at=due_at)]
    if kind == "midpoint_due":
        return [_propose_decision(state, dict(state.midpoint_reviews), alarm.at)]
    if kind == "override_closes":
        assert state.midpoint_proposal is not None
        decision = state.midpoint_proposal.decision
        return [
            MidpointDecided(decision=decision, overridden=False, reason=state.midpoint_proposal.reason),
            *_apply_decision(state, decision, now),
        ]
    if kind == "end":
        return [CloseoutOpened(due_at=terms.closeout_window.add_to(alarm.at))]
    if kind == "closeout_reminder":
        return [ReminderDue(reminder="closeout", key="closeout", due_at=state.closeout_due_at)]
    if kind == "closeout_due":
        return [_close(state, "closeout deadline passed")]
    raise AssertionError(f"unknown alarm {kind}")


# ---------------------------------------------------------------------------------------------
# evolve


def evolve(state: PairingState, event: Event) -> PairingState:
    """Apply one recorded event. Total: evolve never raises for an event decide could produce.

    One copy of the state per event: the fields it changes and its version go in together."""
    changes = _changes(state, event.payload, event.occurred_at)
    return state.model_copy(update={**changes, "version": event.version})


def _replace_session(state: PairingState, number: int, **changes: object) -> tuple[SessionRecord, ...]:
    return tuple(s.model_copy(update=changes) if s.number == number else s for s in state.sessions)


def _shift(moment: datetime | None, by: timedelta) -> datetime | None:
    return None if moment is None else moment + by


def _apply(state: PairingState, payload: EventPayload, at: datetime) -> PairingState:
    return state.model_copy(update=_changes(state, payload, at))


def _changes(state: PairingState, payload: EventPayload, at: datetime) -> dict[str, object]:
    """The fields an event sets, with their new values (none for an event that changes nothing)."""
    s = state
    match payload:
        case PairingProposed():
            return {
                "program_id": payload.program_id,
                "mentor_id": payload.mentor_id,
                "mentee_id": payload.mentee_id,
                "replaces": payload.replaces,
            }
        case PairingStarted():
            return {
                "stage": Stage.GOAL_SETTING,
                "terms": payload.terms,
                "starts_at": payload.starts_at,
                "ends_at": payload.ends_at,
                "goals_due_at": payload.goals_due_at,
                "midpoint_at": payload.midpoint_at,
            }
        case GoalsProposed():
            return {
                "proposed_goals": {**s.proposed_goals, payload.side: payload.goals},
                "accepted_goals": {},
            }
        case GoalsAccepted():
            return {"accepted_goals": {**s.accepted_goals, payload.side: payload.goals}}
        case GoalsAgreed():
            return {"goals": payload.goals, "goals_agreed_at": at, "stage": Stage.SESSIONS}
        case GoalDeadlinePassed():
            return {"goal_deadline_passed": True}
        case ReminderDue():
            return {"reminders_sent": s.reminders_sent | {payload.key}}
        case SessionScheduled():
            scheduled = SessionRecord(number=payload.session, at=payload.at)
            return {"sessions": (*s.sessions, scheduled)}
        case SessionCheckedIn():
            record = next((r for r in s.sessions if r.number == payload.session), None)
            if record is None:
                return {}
            reported = (
                record.reported_by
                if payload.side in record.reported_by
                else (*record.reported_by, payload.side)
            )
            ratings = dict(record.ratings)
            if payload.rating is not None:
                ratings[payload.side] = payload.rating
            return {"sessions": _replace_session(s, payload.session, reported_by=reported, ratings=ratings)}
        case SessionHeld():
            return {
                "sessions": _replace_session(s, payload.session, status=SessionStatus.HELD, resolved_at=at),
                "consecutive_misses": 0,
            }
        case SessionMissed():
            return {
                "sessions": _replace_session(s, payload.session, status=SessionStatus.MISSED, resolved_at=at),
                "consecutive_misses": s.consecutive_misses + 1,
            }
        case SessionRescheduled():
            return {
                "sessions": _replace_session(
                    s,
                    payload.session,
                    at=payload.to_at,
                    status=SessionStatus.RESCHEDULED,
                    reported_by=(),
                    ratings={},
                ),
                "reminders_sent": s.reminders_sent
                - {f"session:{payload.session}", f"checkin:{payload.session}"},
            }
        case AtRiskFlagged():
            return {"at_risk": True, "ever_at_risk": True}
        case AtRiskCleared():
            return {"at_risk": False}
        case FitCheckAnswered():
            return {"fit_check": {**s.fit_check, payload.side: payload.wants_new_partner}}
        case MidpointReviewOpened():
            return {
                "stage": Stage.MIDPOINT_REVIEW,
                "midpoint_opened": True,
                "midpoint_due_at": payload.due_at,
            }
        case MidpointSkipped():
            return {"midpoint_opened": True}
        case MidpointReviewSubmitted():
            return {"midpoint_reviews": {**s.midpoint_reviews, payload.side: payload}}
        case MidpointDecisionProposed():
            return {"midpoint_proposal": payload}
        case MidpointDecided():
            stage = Stage.SESSIONS if payload.decision is MidpointDecision.CONTINUE else s.stage
            return {"midpoint_decision": payload.decision, "stage": stage}
        case PairingPaused():
            return {"paused_at": at}
        case PairingResumed():
            by = timedelta(seconds=payload.paused_seconds)
            sessions = tuple(
                r
                if r.status in (SessionStatus.HELD, SessionStatus.MISSED)
                else r.model_copy(update={"at": r.at + by})
                for r in s.sessions
            )
            proposal = s.midpoint_proposal
            if proposal is not None:
                proposal = proposal.model_copy(update={"override_until": proposal.override_until + by})
            return {
                "paused_at": None,
                "ends_at": _shift(s.ends_at, by),
                "goals_due_at": s.goals_due_at if s.goal_deadline_passed else _shift(s.goals_due_at, by),
                "midpoint_at": s.midpoint_at if s.midpoint_opened else _shift(s.midpoint_at, by),
                "midpoint_due_at": _shift(s.midpoint_due_at, by),
                "closeout_due_at": _shift(s.closeout_due_at, by),
                "sessions": sessions,
                "midpoint_proposal": proposal,
            }
        case PairingExtended():
            update: dict[str, object] = {"ends_at": payload.ends_at}
            if s.stage is Stage.CLOSEOUT:
                update.update(
                    {
                        "stage": Stage.SESSIONS if s.goals else Stage.GOAL_SETTING,
                        "closeout_due_at": None,
                        "closeout": {},
                        "pending_outcome": None,
                        "reminders_sent": s.reminders_sent - {"closeout"},
                    }
                )
            return update
        case NoteAdded():
            return {"notes": s.notes + 1}
        case CloseoutOpened():
            # reaching closeout from the midpoint (end early) or without agreed goals is not completion
            early = s.stage is Stage.MIDPOINT_REVIEW or not s.goals
            pending = Outcome.ENDED_EARLY if early else s.pending_outcome
            return {
                "stage": Stage.CLOSEOUT,
                "closeout_due_at": payload.due_at,
                "pending_outcome": pending,
            }
        case CloseoutSubmitted():
            return {"closeout": {**s.closeout, payload.side: payload}}
        case PairingClosed():
            return {
                "stage": Stage.CLOSED,
                "outcome": payload.outcome,
                "closed_reason": payload.reason,
                "withdrawn_side": payload.withdrawn_side,
                "paused_at": None,
                "at_risk": False,
            }
    return {}


def replay(pairing_id: str, events: Iterable[Event]) -> PairingState:
    state = initial_pairing(pairing_id)
    for event in events:
        state = evolve(state, event)
    return state


def apply_all(state: PairingState, events: Iterable[Event]) -> PairingState:
    for event in events:
        state = evolve(state, event)
    return state
