"""The pairing aggregate, part 1: proposal and start, goal-setting, pause/resume, extend, withdraw,
rematch, notes and the closed pairing. Sessions and fit check live in ``test_pairing_sessions.py``,
midpoint and closeout in ``test_pairing_midpoint.py``.

Every rejection asserts the error type, its rule, the offending value and that the state is unchanged.
"""

from __future__ import annotations

import typing
from datetime import timedelta

import pytest

from domain.durations import IsoDuration
from domain.errors import DomainError, DuplicateSubmission, InvalidTransition, RuleViolation
from domain.pairing import (
    AddNote,
    AgreeGoals,
    Extend,
    LogSession,
    MidpointDecision,
    Outcome,
    PairingCommand,
    PairingTerms,
    Pause,
    ProposeGoals,
    ProposePairing,
    Rematch,
    Resume,
    SessionStatus,
    Stage,
    StartPairing,
    SubmitCloseout,
    SubmitMidpoint,
    Tick,
    Withdraw,
    _Command,
    decide,
    initial_pairing,
    next_alarm,
    pairing_stream,
    replay,
)
from domain.program import ProgramConfig
from tests.domain.pairing_helpers import (
    DEFAULT_TERMS,
    GOALS,
    MENTEE_ID,
    MENTOR_ID,
    OTHER_GOALS,
    PAIRING_ID,
    T0,
    Driver,
    command_id,
    days,
    every_command,
    goal,
    payloads,
    terms,
    types,
)

ENDS = T0.replace(month=7)  # P6M after 4 Jan 2027
GOALS_DUE = T0 + timedelta(weeks=3)


def test_every_command_covers_the_whole_command_union() -> None:
    union = typing.get_args(typing.get_args(PairingCommand)[0])
    assert {type(c) for c in every_command()} == set(union)


# -- proposal and start ------------------------------------------------------------------------------


def test_propose_records_the_pair_and_waits_for_the_start() -> None:
    d = Driver(started=False)
    events = d.propose()
    assert types(events) == ["PairingProposed"]
    assert events[0].stream_id == pairing_stream(PAIRING_ID) == d.state.stream_id
    assert (d.state.mentor_id, d.state.mentee_id, d.state.program_id) == (MENTOR_ID, MENTEE_ID, "rm-test")
    assert d.state.stage is Stage.PROPOSED and d.state.version == 1
    assert d.state.side_of(MENTOR_ID) == "mentor" and d.state.side_of(MENTEE_ID) == "mentee"
    assert d.state.side_of("someone-else") is None
    assert next_alarm(d.state) is None


def test_proposing_twice_is_refused() -> None:
    d = Driver(started=False)
    d.propose()
    err = d.reject(every_command()[0], InvalidTransition, "already-proposed")
    assert err.value == PAIRING_ID


def test_proposing_a_started_pairing_is_refused() -> None:
    d = Driver()
    err = d.reject(every_command()[0], InvalidTransition, "already-proposed")
    assert err.value == PAIRING_ID


def test_proposal_for_another_pairing_is_refused() -> None:
    d = Driver(started=False)
    command = ProposePairing(pairing_id="other", program_id="rm-test", mentor_id="a", mentee_id="b")
    err = d.reject(command, RuleViolation, "pairing-id-mismatch")
    assert err.value == "other"


def test_a_participant_cannot_be_paired_with_themselves() -> None:
    d = Driver(started=False)
    command = ProposePairing(pairing_id=PAIRING_ID, program_id="rm-test", mentor_id="p1", mentee_id="p1")
    err = d.reject(command, RuleViolation, "self-pairing")
    assert err.value == "p1"


def test_start_before_the_proposal_is_refused() -> None:
    d = Driver(started=False)
    err = d.reject(StartPairing(terms=DEFAULT_TERMS), InvalidTransition, "not-proposed")
    assert err.value == "start_pairing"


@pytest.mark.parametrize(
    "command",
    [c for c in every_command() if not isinstance(c, (ProposePairing, StartPairing, Tick))],
    ids=command_id,
)
def test_a_proposed_pairing_accepts_only_start(command: _Command) -> None:
    d = Driver(started=False)
    d.propose()
    err = d.reject(command, InvalidTransition, "pairing-not-started")
    assert err.value == "proposed"


def test_tick_before_the_start_does_nothing() -> None:
    d = Driver(started=False)
    d.propose()
    assert d.tick() == []
    d.advance(days(400))
    assert d.tick() == []


def test_start_fixes_the_calendar_from_the_terms() -> None:
    d = Driver()
    started = payloads(d.events, "PairingStarted")[0]
    assert started.starts_at == T0 == d.state.starts_at
    assert started.ends_at == ENDS == d.state.ends_at
    assert started.goals_due_at == GOALS_DUE == d.state.goals_due_at
    assert started.midpoint_at == T0 + (ENDS - T0) / 2 == d.state.midpoint_at
    assert d.state.terms == DEFAULT_TERMS
    assert d.state.stage is Stage.GOAL_SETTING and d.state.version == 2


def test_midpoint_fraction_comes_from_the_terms() -> None:
    d = Driver(terms(midpoint_at=0.25))
    assert d.state.midpoint_at == T0 + (ENDS - T0) * 0.25


def test_starting_twice_is_refused() -> None:
    d = Driver()
    err = d.reject(StartPairing(terms=DEFAULT_TERMS), InvalidTransition, "already-started")
    assert err.value == "goal_setting"


@pytest.mark.parametrize("deadline", ["P5W", "P3W"], ids=["after", "at-the-end"])
def test_goal_deadline_must_fall_before_the_end(deadline: str) -> None:
    d = Driver(started=False)
    d.propose()
    err = d.reject(
        StartPairing(terms=terms(duration="P3W", goal_setting_deadline=deadline)),
        RuleViolation,
        "goal-deadline-after-end",
    )
    assert err.value == deadline


def test_terms_are_taken_from_the_program_file() -> None:
    config = ProgramConfig.model_validate(
        {
            "id": "rm-x",
            "name": "X",
            "schedule": {"duration": "P3M", "session_cadence": "P1W", "at_risk_after_misses": 3},
            "midpoint": {"at": 0.4, "rematch_if_relationship_below": 2, "end_early_if_progress_below": 10},
            "closeout": {"window": "P1W", "reminder": "P2D"},
        }
    )
    t = PairingTerms.from_program(config)
    assert (str(t.duration), str(t.session_cadence), t.at_risk_after_misses) == ("P3M", "P1W", 3)
    assert (t.midpoint_at, t.rematch_if_relationship_below, t.end_early_if_progress_below) == (0.4, 2, 10)
    assert (str(t.closeout_window), str(t.closeout_reminder)) == ("P1W", "P2D")
    assert t.goal_reminders == (IsoDuration(weeks=1), IsoDuration(days=2))


# -- goal-setting ----------------------------------------------------------------------------------


@pytest.mark.parametrize("count", [1, 5])
def test_a_side_proposes_one_to_five_goals(count: int) -> None:
    d = Driver()
    goals = tuple(goal(f"Goal {i}") for i in range(count))
    events = d.do(ProposeGoals(side="mentee", goals=goals))
    assert types(events) == ["GoalsProposed"]
    assert events[0].payload.goals == goals and events[0].payload.side == "mentee"
    assert d.state.proposed_goals == {"mentee": goals}


@pytest.mark.parametrize("count", [0, 6])
def test_zero_or_six_goals_are_refused(count: int) -> None:
    d = Driver()
    goals = tuple(goal(f"Goal {i}") for i in range(count))
    err = d.reject(ProposeGoals(side="mentor", goals=goals), RuleViolation, "goal-count")
    assert err.value == count


def test_the_same_goal_twice_is_refused_ignoring_case() -> None:
    d = Driver()
    goals = (goal("Learn TikTok", "posts weekly"), goal("learn tiktok", "POSTS WEEKLY"))
    err = d.reject(ProposeGoals(side="mentor", goals=goals), RuleViolation, "duplicate-goal")
    assert err.value == ["Learn TikTok", "learn tiktok"]


def test_same_title_with_another_signal_is_another_goal() -> None:
    d = Driver()
    goals = (goal("Learn TikTok", "posts weekly"), goal("Learn TikTok", "100 followers"))
    assert types(d.do(ProposeGoals(side="mentor", goals=goals))) == ["GoalsProposed"]


def test_agreeing_before_both_sides_proposed_is_refused() -> None:
    d = Driver()
    err = d.reject(AgreeGoals(side="mentor", goals=GOALS), RuleViolation, "goals-not-proposed")
    assert err.value == ["mentor", "mentee"]
    d.do(ProposeGoals(side="mentor", goals=GOALS))
    err = d.reject(AgreeGoals(side="mentor", goals=GOALS), RuleViolation, "goals-not-proposed")
    assert err.value == ["mentee"]


def test_the_agreed_list_is_checked_like_a_proposal() -> None:
    d = Driver()
    d.do(ProposeGoals(side="mentor", goals=GOALS))
    d.do(ProposeGoals(side="mentee", goals=OTHER_GOALS))
    err = d.reject(AgreeGoals(side="mentor", goals=()), RuleViolation, "goal-count")
    assert err.value == 0
    err = d.reject(AgreeGoals(side="mentor", goals=(GOALS[0], GOALS[0])), RuleViolation, "duplicate-goal")
    assert err.value == [GOALS[0].title, GOALS[0].title]


def test_goals_are_agreed_only_when_both_sides_accept_the_same_list() -> None:
    d = Driver()
    d.do(ProposeGoals(side="mentor", goals=GOALS))
    d.do(ProposeGoals(side="mentee", goals=OTHER_GOALS))
    assert types(d.do(AgreeGoals(side="mentor", goals=GOALS))) == ["GoalsAccepted"]
    assert types(d.do(AgreeGoals(side="mentee", goals=GOALS + OTHER_GOALS))) == ["GoalsAccepted"]
    assert d.state.stage is Stage.GOAL_SETTING and d.state.goals == ()
    # the mentor comes round to the longer list: now both accepted the same list
    d.advance(days(2))
    events = d.do(AgreeGoals(side="mentor", goals=GOALS + OTHER_GOALS))
    assert types(events) == ["GoalsAccepted", "GoalsAgreed", "SessionScheduled"]
    assert d.state.goals == GOALS + OTHER_GOALS
    assert d.state.goals_agreed_at == T0 + days(2)
    assert d.state.stage is Stage.SESSIONS


def test_acceptance_matches_goals_ignoring_case() -> None:
    d = Driver()
    d.do(ProposeGoals(side="mentor", goals=GOALS))
    d.do(ProposeGoals(side="mentee", goals=GOALS))
    d.do(AgreeGoals(side="mentor", goals=GOALS))
    shouted = tuple(goal(g.title.upper(), g.signal.upper()) for g in GOALS)
    assert "GoalsAgreed" in types(d.do(AgreeGoals(side="mentee", goals=shouted)))


def test_a_new_proposal_resets_every_acceptance() -> None:
    d = Driver()
    d.do(ProposeGoals(side="mentor", goals=GOALS))
    d.do(ProposeGoals(side="mentee", goals=GOALS))
    d.do(AgreeGoals(side="mentor", goals=GOALS))
    d.do(ProposeGoals(side="mentee", goals=OTHER_GOALS))  # changes their mind
    assert d.state.accepted_goals == {}
    # the mentor's earlier acceptance no longer counts
    assert types(d.do(AgreeGoals(side="mentee", goals=GOALS))) == ["GoalsAccepted"]
    assert "GoalsAgreed" in types(d.do(AgreeGoals(side="mentor", goals=GOALS)))


def test_agreement_schedules_the_first_session_after_first_session_after() -> None:
    d = Driver()
    d.advance(days(3))
    events = d.agree()
    assert types(events)[-2:] == ["GoalsAgreed", "SessionScheduled"]
    scheduled = payloads(events, "SessionScheduled")[0]
    assert (scheduled.session, scheduled.at) == (1, T0 + days(3) + timedelta(weeks=1))
    assert d.state.current_session is not None and d.state.current_session.number == 1


def test_goals_cannot_change_once_agreed() -> None:
    d = Driver()
    d.agree()
    err = d.reject(ProposeGoals(side="mentor", goals=OTHER_GOALS), InvalidTransition, "goals-not-open")
    assert err.value == "sessions"
    err = d.reject(AgreeGoals(side="mentee", goals=GOALS), InvalidTransition, "goals-not-open")
    assert err.value == "sessions"


def test_goal_reminders_fire_once_each_at_the_deadline_minus_their_offset() -> None:
    d = Driver()
    first = d.step()
    assert d.now == GOALS_DUE - timedelta(weeks=1)
    assert [(p.reminder, p.key, p.due_at) for p in payloads(first, "ReminderDue")] == [
        ("goals", "goals:P1W", GOALS_DUE)
    ]
    assert d.tick() == []  # ticking again at the same moment sends nothing twice
    second = d.step()
    assert d.now == GOALS_DUE - timedelta(days=2)
    assert [p.key for p in payloads(second, "ReminderDue")] == ["goals:P2D"]
    assert {"goals:P1W", "goals:P2D"} <= d.state.reminders_sent
    alarm = next_alarm(d.state)
    assert alarm is not None and (alarm.kind, alarm.at) == ("goal_deadline", GOALS_DUE)


def test_a_reminder_already_due_at_the_start_fires_at_the_first_tick() -> None:
    d = Driver(terms(goal_setting_deadline="P5D", goal_reminders=("P1W", "P2D")))
    events = d.tick()
    assert [p.key for p in payloads(events, "ReminderDue")] == ["goals:P1W"]


def test_passing_the_goal_deadline_flags_the_pairing_and_it_waits() -> None:
    d = Driver()
    events = d.run_until(GOALS_DUE)
    assert types(events)[-2:] == ["GoalDeadlinePassed", "AtRiskFlagged"]
    assert payloads(events, "GoalDeadlinePassed")[0].due_at == GOALS_DUE
    assert payloads(events, "AtRiskFlagged")[0].reason == "goals not agreed by the deadline"
    assert d.state.goal_deadline_passed and d.state.at_risk and d.state.ever_at_risk
    assert d.state.stage is Stage.GOAL_SETTING  # no failure: the pairing waits
    alarm = next_alarm(d.state)
    assert alarm is not None and alarm.kind == "end"
    d.advance(days(10))
    assert d.tick() == []  # the deadline fires once
    events = d.agree()
    assert types(events)[-3:] == ["GoalsAgreed", "AtRiskCleared", "SessionScheduled"]
    assert not d.state.at_risk and d.state.ever_at_risk
    assert d.state.stage is Stage.SESSIONS


def test_the_deadline_does_not_flag_a_pairing_already_at_risk() -> None:
    d = Driver()
    d.state = d.state.model_copy(update={"at_risk": True})
    events = d.run_until(GOALS_DUE)
    assert "GoalDeadlinePassed" in types(events) and "AtRiskFlagged" not in types(events)


def test_reaching_the_end_without_agreed_goals_ends_early() -> None:
    d = Driver()
    events = d.run_until(ENDS)
    assert types(events)[-1] == "CloseoutOpened"
    assert d.state.stage is Stage.CLOSEOUT and d.state.pending_outcome is Outcome.ENDED_EARLY
    d.do(SubmitCloseout(side="mentor", attainment=(), would_recommend=3, satisfaction=2))
    events = d.do(SubmitCloseout(side="mentee", attainment=(), would_recommend=5, satisfaction=3))
    assert payloads(events, "PairingClosed")[0].outcome is Outcome.ENDED_EARLY
    assert d.state.outcome is Outcome.ENDED_EARLY


# -- pause and resume --------------------------------------------------------------------------------


def test_pause_records_the_reason_and_the_moment() -> None:
    d = Driver()
    d.advance(days(1))
    events = d.do(Pause(reason="  parental leave  "))
    assert types(events) == ["PairingPaused"] and events[0].payload.reason == "parental leave"
    assert d.state.paused and d.state.paused_at == T0 + days(1)


@pytest.mark.parametrize(
    "command",
    [c for c in every_command() if not isinstance(c, (Resume, Withdraw, Extend, Tick, ProposePairing))],
    ids=command_id,
)
def test_a_paused_pairing_refuses_everything_but_resume_withdraw_and_extend(command: _Command) -> None:
    d = Driver()
    d.agree()
    d.do(Pause())
    err = d.reject(command, InvalidTransition, "pairing-paused")
    assert err.value == command_id(command)


def test_a_paused_pairing_still_refuses_a_new_proposal() -> None:
    d = Driver()
    d.do(Pause())
    err = d.reject(every_command()[0], InvalidTransition, "already-proposed")
    assert err.value == PAIRING_ID


def test_no_alarm_fires_while_paused() -> None:
    d = Driver()
    d.agree()
    d.do(Pause())
    assert next_alarm(d.state) is None
    d.advance(days(365))
    assert d.tick() == []
    assert d.state.stage is Stage.SESSIONS


def test_resume_needs_a_pause() -> None:
    d = Driver()
    err = d.reject(Resume(), InvalidTransition, "not-paused")
    assert err.value == "resume"


def test_resume_shifts_every_pending_deadline_by_the_pause_length() -> None:
    d = Driver()
    before = d.state
    d.advance(days(1))
    d.do(Pause())
    d.advance(days(10))
    events = d.do(Resume())
    assert (
        types(events) == ["PairingResumed"] and events[0].payload.paused_seconds == days(10).total_seconds()
    )
    s = d.state
    assert not s.paused
    assert s.ends_at == ENDS + days(10)
    assert s.goals_due_at == GOALS_DUE + days(10)
    assert before.midpoint_at is not None and s.midpoint_at == before.midpoint_at + days(10)
    # the first goal reminder comes ten days later than planned
    d.step()
    assert d.now == GOALS_DUE + days(10) - timedelta(weeks=1)


def test_resume_shifts_the_pending_session_but_not_the_ones_already_held() -> None:
    d = Driver()
    d.agree()
    d.hold_session()
    held = d.state.sessions[0]
    pending = d.state.sessions[1]
    d.do(Pause())
    d.advance(days(5))
    d.do(Resume())
    assert d.state.sessions[0] == held
    assert d.state.sessions[1].at == pending.at + days(5)
    assert d.state.current_session is not None
    assert next_alarm(d.state) is not None
    d.step()  # the session reminder comes five days later too
    assert d.now == pending.at + days(5) - days(1)


def test_resume_keeps_deadlines_that_already_passed() -> None:
    d = Driver()
    d.run_until(GOALS_DUE)
    d.do(Pause())
    d.advance(days(7))
    d.do(Resume())
    assert d.state.goals_due_at == GOALS_DUE
    assert d.state.ends_at == ENDS + days(7)


def test_resume_shifts_the_midpoint_windows_and_the_closeout_deadline() -> None:
    d = Driver()
    d.agree()
    d.run_until_event("MidpointReviewOpened")
    due = d.state.midpoint_due_at
    assert due is not None and d.state.midpoint_at is not None
    opened_at = d.state.midpoint_at
    d.do(Pause())
    d.advance(days(2))
    d.do(Resume())
    assert d.state.midpoint_due_at == due + days(2)
    assert d.state.midpoint_at == opened_at  # already opened: not moved
    d.do(SubmitMidpoint(side="mentor", relationship=4, psychological_safety=4, progress=(50, 50)))
    d.do(SubmitMidpoint(side="mentee", relationship=4, psychological_safety=4, progress=(50, 50)))
    proposal = d.state.midpoint_proposal
    assert proposal is not None
    d.do(Pause())
    d.advance(days(1))
    d.do(Resume())
    assert d.state.midpoint_proposal is not None
    assert d.state.midpoint_proposal.override_until == proposal.override_until + days(1)
    d.run_until_event("CloseoutOpened")
    closeout_due = d.state.closeout_due_at
    assert closeout_due is not None
    d.do(Pause())
    d.advance(days(3))
    d.do(Resume())
    assert d.state.closeout_due_at == closeout_due + days(3)


def test_pause_resume_at_the_same_moment_shifts_nothing() -> None:
    d = Driver()
    before = d.state
    d.do(Pause())
    events = d.do(Resume())
    assert events[0].payload.paused_seconds == 0.0
    assert d.state.ends_at == before.ends_at and d.state.goals_due_at == before.goals_due_at


def test_withdraw_and_extend_are_accepted_while_paused() -> None:
    d = Driver()
    d.do(Pause())
    assert types(d.do(Extend(by="P1M"))) == ["PairingExtended"]
    assert d.state.paused
    assert types(d.do(Withdraw(side="mentor"))) == ["PairingClosed"]
    assert d.state.outcome is Outcome.WITHDRAWN


# -- extend ----------------------------------------------------------------------------------------


def test_extend_moves_the_end() -> None:
    d = Driver()
    events = d.do(Extend(by="P1M"))
    assert types(events) == ["PairingExtended"]
    assert events[0].payload.by == IsoDuration(months=1)
    assert events[0].payload.ends_at == d.state.ends_at == ENDS.replace(month=8)


@pytest.mark.parametrize(("by", "rule"), [("P0D", "extend-by-zero"), ("P13M", "extend-too-long")])
def test_extend_by_nothing_or_by_more_than_a_year_is_refused(by: str, rule: str) -> None:
    d = Driver()
    err = d.reject(Extend(by=by), RuleViolation, rule)
    assert err.value == str(IsoDuration.parse(by))


def test_extend_during_closeout_reopens_sessions() -> None:
    d = Driver()
    d.agree()
    d.run_until(ENDS)
    assert d.state.stage is Stage.CLOSEOUT and d.state.pending_outcome is None
    last = d.state.sessions[-1]
    d.advance(days(2))
    events = d.do(Extend(by="P1M"))
    assert types(events) == ["PairingExtended", "SessionScheduled"]
    # the end had passed: the month is added to now
    assert d.state.ends_at == (ENDS + days(2)).replace(month=8)
    assert d.state.stage is Stage.SESSIONS and d.state.closeout_due_at is None
    scheduled = payloads(events, "SessionScheduled")[0]
    assert scheduled.session == last.number + 1
    assert scheduled.at == max(d.now + timedelta(weeks=1), last.at + timedelta(weeks=2))
    d.run_until_event("CloseoutOpened")
    assert d.state.stage is Stage.CLOSEOUT
    d.run_until_event("PairingClosed")
    assert d.state.outcome is Outcome.COMPLETED


def test_extend_during_closeout_with_too_little_time_reopens_without_a_session() -> None:
    d = Driver()
    d.agree()
    d.run_until(ENDS)
    events = d.do(Extend(by="P3D"))
    assert types(events) == ["PairingExtended"]
    assert d.state.stage is Stage.SESSIONS


def test_extend_during_closeout_without_goals_reopens_goal_setting() -> None:
    d = Driver()
    d.run_until(ENDS)
    assert d.state.pending_outcome is Outcome.ENDED_EARLY
    events = d.do(Extend(by="P1M"))
    assert types(events) == ["PairingExtended"]
    assert d.state.stage is Stage.GOAL_SETTING and d.state.pending_outcome is None
    d.agree()
    assert d.state.stage is Stage.SESSIONS
    d.run_until_event("PairingClosed")
    assert d.state.outcome is Outcome.COMPLETED


def test_extend_is_refused_once_a_closeout_survey_is_in() -> None:
    d = Driver()
    d.agree()
    d.run_until(ENDS)
    d.do(SubmitCloseout(side="mentor", attainment=(50, 50), would_recommend=8, satisfaction=4))
    err = d.reject(Extend(by="P1M"), InvalidTransition, "closeout-started")
    assert err.value == "P1M"


def test_extend_is_refused_when_the_midpoint_decided_to_end_early() -> None:
    d = Driver()
    d.agree()
    d.run_until_event("MidpointReviewOpened")
    d.do(SubmitMidpoint(side="mentor", relationship=4, psychological_safety=4, progress=(0, 10)))
    d.do(SubmitMidpoint(side="mentee", relationship=4, psychological_safety=4, progress=(5, 5)))
    d.run_until_event("MidpointDecided")
    assert d.state.midpoint_decision is MidpointDecision.END_EARLY
    err = d.reject(Extend(by="P1M"), InvalidTransition, "ending-early")
    assert err.value == "P1M"


# -- withdraw, rematch, notes ------------------------------------------------------------------------


@pytest.mark.parametrize("side", ["mentor", "mentee"])
def test_withdraw_closes_with_the_side(side: typing.Literal["mentor", "mentee"]) -> None:
    d = Driver()
    d.agree()
    events = d.do(Withdraw(side=side, reason="moved to another company"))
    closed = payloads(events, "PairingClosed")[0]
    assert (closed.outcome, closed.withdrawn_side) == (Outcome.WITHDRAWN, side)
    assert closed.reason == f"{side} withdrew: moved to another company"
    assert d.state.stage is Stage.CLOSED and d.state.outcome is Outcome.WITHDRAWN
    assert d.state.closed_reason == closed.reason


def test_withdraw_without_a_reason() -> None:
    d = Driver()
    events = d.do(Withdraw(side="mentee"))
    assert events[0].payload.reason == "mentee withdrew"


def test_rematch_closes_with_outcome_rematched() -> None:
    d = Driver()
    d.agree()
    d.run_until(d.state.sessions[0].at + days(20))
    assert d.state.at_risk
    events = d.do(Rematch())
    closed = payloads(events, "PairingClosed")[0]
    assert (closed.outcome, closed.reason, closed.withdrawn_side) == (
        Outcome.REMATCHED,
        "operator rematch",
        None,
    )
    assert d.state.outcome is Outcome.REMATCHED and not d.state.at_risk and d.state.ever_at_risk
    assert types(Driver().do(Rematch(reason="asked at the fit check")))[-1] == "PairingClosed"


def test_notes_are_counted_and_kept_in_the_event() -> None:
    d = Driver()
    events = d.do(AddNote(author="operator", text="  spoke to both  "))
    assert types(events) == ["NoteAdded"] and events[0].payload.text == "spoke to both"
    d.do(AddNote(author="mentee", text="second"))
    assert d.state.notes == 2


# -- the closed pairing ------------------------------------------------------------------------------


@pytest.mark.parametrize("command", every_command(), ids=command_id)
def test_a_closed_pairing_accepts_nothing(command: _Command) -> None:
    d = Driver()
    d.do(Withdraw(side="mentor"))
    assert next_alarm(d.state) is None
    err = d.reject(command, InvalidTransition, "pairing-closed")
    assert err.value == command_id(command)
    assert "closed" in err.message


# -- the aggregate as a whole ------------------------------------------------------------------------


class Shout(_Command):
    type: typing.Literal["shout"] = "shout"


def test_an_unknown_command_is_refused() -> None:
    d = Driver()
    err = d.reject(Shout(), RuleViolation, "unknown-command")
    assert err.value == "shout"


def test_replay_rebuilds_the_state_of_a_full_lifecycle() -> None:
    d = Driver()
    d.advance(days(2))
    d.agree()
    d.hold_session()
    d.do(LogSession(side="mentee", session=1, status=SessionStatus.HELD, rating=5))
    d.run_until_event("MidpointReviewOpened")
    d.do(SubmitMidpoint(side="mentor", relationship=5, psychological_safety=4, progress=(60, 40)))
    d.do(SubmitMidpoint(side="mentee", relationship=4, psychological_safety=5, progress=(50, 70)))
    d.run_until_event("CloseoutOpened")
    d.do(SubmitCloseout(side="mentor", attainment=(80, 60), would_recommend=9, satisfaction=5))
    d.do(SubmitCloseout(side="mentee", attainment=(90, 70), would_recommend=10, satisfaction=5))
    assert d.state.stage is Stage.CLOSED and d.state.outcome is Outcome.COMPLETED
    assert d.state.version == len(d.events)
    assert replay(PAIRING_ID, d.events) == d.state
    halfway = len(d.events) // 2
    from domain.pairing import apply_all

    assert apply_all(replay(PAIRING_ID, d.events[:halfway]), d.events[halfway:]) == d.state


def test_decide_on_a_fresh_pairing_only_accepts_a_proposal() -> None:
    state = initial_pairing("x")
    with pytest.raises(DomainError) as info:
        decide(state, Pause(), T0)
    assert info.value.rule == "pairing-not-started"
    assert not isinstance(info.value, DuplicateSubmission)


def test_evolve_is_total_for_events_it_cannot_place() -> None:
    """A check-in for an unknown session or another aggregate's event only moves the version."""
    from domain.events import stamp
    from domain.pairing import SessionCheckedIn, evolve
    from domain.program import ProgramCreated

    d = Driver()
    stray = stamp(
        d.state.stream_id,
        d.state.version,
        [
            SessionCheckedIn(session=9, side="mentor", status=SessionStatus.HELD, rating=3),
            ProgramCreated(program_id="rm-test", name="Test"),
        ],
        T0,
    )
    state = d.state
    for event in stray:
        state = evolve(state, event)
    assert state == d.state.model_copy(update={"version": d.state.version + 2})
