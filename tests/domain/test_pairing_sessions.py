"""The pairing aggregate, part 2: sessions, check-ins, misses and at-risk, ad-hoc sessions before
goals, and the fit check."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.errors import DuplicateSubmission, InvalidTransition, RuleViolation
from domain.pairing import (
    AnswerFitCheck,
    LogSession,
    Outcome,
    SessionStatus,
    Stage,
    SubmitMidpoint,
    Withdraw,
    next_alarm,
)
from tests.domain.pairing_helpers import (
    GOALS,
    T0,
    Driver,
    days,
    hours,
    payloads,
    terms,
    types,
)

HELD, MISSED, RESCHEDULED = SessionStatus.HELD, SessionStatus.MISSED, SessionStatus.RESCHEDULED
FIRST = T0 + timedelta(weeks=1)  # session 1 when goals are agreed at T0
CADENCE = timedelta(weeks=2)


def in_sessions(**overrides: object) -> Driver:
    d = Driver(terms(**overrides) if overrides else None)
    d.agree()
    return d


# -- scheduling, reminders and the check-in request -----------------------------------------------------


def test_the_first_session_is_scheduled_when_goals_are_agreed() -> None:
    d = in_sessions()
    assert [(s.number, s.at, s.status) for s in d.state.sessions] == [(1, FIRST, None)]


def test_a_reminder_before_and_a_check_in_request_at_the_session_time() -> None:
    d = in_sessions()
    reminder = d.step()
    assert d.now == FIRST - days(1)
    assert [(p.reminder, p.key, p.ref, p.due_at) for p in payloads(reminder, "ReminderDue")] == [
        ("session", "session:1", 1, FIRST)
    ]
    request = d.step()
    assert d.now == FIRST
    assert [(p.reminder, p.key, p.ref) for p in payloads(request, "ReminderDue")] == [
        ("checkin", "checkin:1", 1)
    ]
    assert d.tick() == []
    nxt = next_alarm(d.state)  # then the pairing waits for the end of the check-in window
    assert nxt is not None and (nxt.kind, nxt.at, nxt.ref) == ("checkin_closes", FIRST + days(3), 1)


def test_checking_in_before_the_session_time_is_refused() -> None:
    d = in_sessions()
    d.run_until(FIRST - hours(1))
    err = d.reject(LogSession(side="mentor", status=HELD, rating=5), RuleViolation, "session-not-yet-due")
    assert err.value == 1
    err = d.reject(LogSession(side="mentee", status=MISSED), RuleViolation, "session-not-yet-due")
    assert err.value == 1


# -- held, missed, rescheduled ----------------------------------------------------------------------------


def test_a_held_session_is_recorded_and_the_next_one_scheduled_on_the_cadence() -> None:
    d = in_sessions()
    d.to_session(1)
    d.advance(hours(2))
    events = d.do(
        LogSession(side="mentor", status=HELD, rating=4, topics=("TikTok", "AI tools"), private_note="shy")
    )
    assert types(events) == ["SessionCheckedIn", "SessionHeld", "ReminderDue", "SessionScheduled"]
    checkin = events[0].payload
    assert (checkin.session, checkin.side, checkin.status, checkin.rating) == (1, "mentor", HELD, 4)
    assert (checkin.topics, checkin.private_note, checkin.rescheduled_to) == (
        ("TikTok", "AI tools"),
        "shy",
        None,
    )
    fit = payloads(events, "ReminderDue")[0]
    assert (fit.reminder, fit.key, fit.ref) == ("fit_check", "fit_check:1", 1)
    nxt = payloads(events, "SessionScheduled")[0]
    assert (nxt.session, nxt.at) == (2, FIRST + CADENCE)
    first = d.state.sessions[0]
    assert (first.status, first.reported_by, first.ratings) == (HELD, ("mentor",), {"mentor": 4})
    assert first.resolved_at == d.now
    assert d.state.held_sessions == 1 and d.state.consecutive_misses == 0


@pytest.mark.parametrize(
    ("rating", "rule"), [(None, "rating-required"), (7, "rating-range"), (0, "rating-range")]
)
def test_a_held_session_needs_a_rating_from_one_to_five(rating: int | None, rule: str) -> None:
    d = in_sessions()
    d.to_session(1)
    err = d.reject(LogSession(side="mentor", status=HELD, rating=rating), RuleViolation, rule)
    assert err.value == rating


@pytest.mark.parametrize("rating", [1, 5])
def test_ratings_one_and_five_are_accepted(rating: int) -> None:
    d = in_sessions()
    d.to_session(1)
    assert "SessionHeld" in types(d.do(LogSession(side="mentee", status=HELD, rating=rating)))


@pytest.mark.parametrize("status", [MISSED, RESCHEDULED])
def test_missed_and_rescheduled_sessions_take_no_rating(status: SessionStatus) -> None:
    d = in_sessions()
    d.to_session(1)
    command = LogSession(side="mentor", status=status, rating=3, rescheduled_to=d.now + days(1))
    err = d.reject(command, RuleViolation, "rating-not-allowed")
    assert err.value == 3


def test_at_most_ten_topics() -> None:
    d = in_sessions()
    d.to_session(1)
    topics = tuple(f"topic {i}" for i in range(11))
    err = d.reject(
        LogSession(side="mentor", status=HELD, rating=3, topics=topics), RuleViolation, "too-many-topics"
    )
    assert err.value == 11


def test_a_side_checks_in_once_per_session() -> None:
    d = in_sessions()
    d.hold_session()
    d.advance(hours(1))
    command = LogSession(side="mentor", session=1, status=HELD, rating=5)
    err = d.reject(command, DuplicateSubmission, "checkin-duplicate")
    assert err.value == 1


def test_the_second_side_adds_its_rating_to_a_held_session() -> None:
    d = in_sessions()
    d.hold_session()
    d.advance(days(1))
    events = d.do(LogSession(side="mentee", session=1, status=HELD, rating=5))
    assert types(events) == ["SessionCheckedIn"]
    first = d.state.sessions[0]
    assert first.ratings == {"mentor": 4, "mentee": 5} and first.reported_by == ("mentor", "mentee")
    assert len(d.state.sessions) == 2  # no second "next session"


def test_the_second_side_confirms_a_miss() -> None:
    d = in_sessions()
    d.to_session(1)
    d.do(LogSession(side="mentor", status=MISSED))
    assert types(d.do(LogSession(side="mentee", session=1, status=MISSED))) == ["SessionCheckedIn"]
    assert d.state.consecutive_misses == 1


@pytest.mark.parametrize(
    ("first", "second"),
    [(HELD, MISSED), (MISSED, HELD), (HELD, RESCHEDULED)],
    ids=["held-missed", "missed-held", "held-resch"],
)
def test_a_conflicting_check_in_is_refused(first: SessionStatus, second: SessionStatus) -> None:
    d = in_sessions()
    d.to_session(1)
    d.do(LogSession(side="mentor", status=first, rating=4 if first is HELD else None))
    command = LogSession(
        side="mentee",
        session=1,
        status=second,
        rating=4 if second is HELD else None,
        rescheduled_to=d.now + days(1) if second is RESCHEDULED else None,
    )
    err = d.reject(command, RuleViolation, "session-already-recorded")
    assert err.value == second.value


def test_check_in_after_the_window_is_refused() -> None:
    d = in_sessions()
    d.hold_session()
    d.advance(days(3) + timedelta(seconds=1))
    err = d.reject(
        LogSession(side="mentee", session=1, status=HELD, rating=4),
        InvalidTransition,
        "checkin-window-closed",
    )
    assert err.value == 1


def test_check_in_at_the_last_moment_of_the_window_is_accepted() -> None:
    d = in_sessions()
    d.hold_session()
    d.at(FIRST + days(3))
    assert types(d.do(LogSession(side="mentee", session=1, status=HELD, rating=4))) == ["SessionCheckedIn"]


def test_a_pending_session_past_its_window_cannot_be_logged_before_the_tick() -> None:
    d = in_sessions()
    d.to_session(1)
    d.advance(days(4))  # the window closed, the workflow has not ticked yet
    err = d.reject(
        LogSession(side="mentor", status=HELD, rating=4), InvalidTransition, "checkin-window-closed"
    )
    assert err.value == 1


def test_unknown_session_number_is_refused() -> None:
    d = in_sessions()
    d.to_session(1)
    err = d.reject(
        LogSession(side="mentor", session=9, status=HELD, rating=4), RuleViolation, "unknown-session"
    )
    assert err.value == 9


def test_logging_with_no_session_to_log_is_refused() -> None:
    d = Driver()
    d.run_until(d.state.ends_at or T0)  # no goals, no sessions: closeout
    assert d.state.stage is Stage.CLOSEOUT
    err = d.reject(LogSession(side="mentor", status=HELD, rating=4), RuleViolation, "no-session-due")
    assert err.value == "mentor"


def test_a_held_session_needs_no_further_check_in_from_a_side_that_reported_every_session() -> None:
    d = in_sessions(
        duration="P1M",
        goal_setting_deadline="P1W",
        goal_reminders=(),
        first_session_after="P3W",
        midpoint_at=0.9,
    )
    d.hold_session()  # session 1 at +3W; the next one would fall after the end
    assert len(d.state.sessions) == 1
    d.advance(hours(1))
    err = d.reject(LogSession(side="mentor", status=HELD, rating=4), RuleViolation, "no-session-due")
    assert err.value == "mentor"


# -- reschedule --------------------------------------------------------------------------------------


def test_reschedule_moves_the_session_and_rearms_its_reminders() -> None:
    d = in_sessions()
    d.run_until(FIRST - hours(2))  # the day-before reminder already went out
    assert "session:1" in d.state.reminders_sent
    new_time = FIRST + days(2)
    events = d.do(LogSession(side="mentee", status=RESCHEDULED, rescheduled_to=new_time))
    assert types(events) == ["SessionCheckedIn", "SessionRescheduled"]
    moved = events[1].payload
    assert (moved.session, moved.from_at, moved.to_at) == (1, FIRST, new_time)
    record = d.state.sessions[0]
    assert (record.at, record.status, record.reported_by) == (new_time, RESCHEDULED, ())
    assert d.state.current_session == record
    assert "session:1" not in d.state.reminders_sent
    reminder = d.step()
    assert d.now == new_time - days(1) and payloads(reminder, "ReminderDue")[0].due_at == new_time
    d.step()
    assert d.now == new_time
    events = d.do(LogSession(side="mentee", status=HELD, rating=5))
    assert "SessionHeld" in types(events)
    assert payloads(events, "SessionScheduled")[0].at == new_time + CADENCE


def test_a_session_can_be_rescheduled_again_and_after_its_time() -> None:
    d = in_sessions()
    d.to_session(1)
    d.advance(days(1))
    d.do(LogSession(side="mentor", status=RESCHEDULED, rescheduled_to=d.now + days(1)))
    d.do(LogSession(side="mentor", status=RESCHEDULED, rescheduled_to=d.now + days(5)))
    assert d.state.sessions[0].at == d.now + days(5)
    assert len(d.state.sessions) == 1


def test_reschedule_needs_a_new_time() -> None:
    d = in_sessions()
    d.to_session(1)
    err = d.reject(LogSession(side="mentor", status=RESCHEDULED), RuleViolation, "reschedule-needs-time")
    assert err.value is None


@pytest.mark.parametrize("offset", [timedelta(0), -hours(1)], ids=["now", "past"])
def test_reschedule_needs_a_future_time(offset: timedelta) -> None:
    d = in_sessions()
    d.to_session(1)
    when = d.now + offset
    err = d.reject(
        LogSession(side="mentor", status=RESCHEDULED, rescheduled_to=when),
        RuleViolation,
        "reschedule-in-past",
    )
    assert err.value == when.isoformat()


def test_reschedule_must_fall_before_the_end() -> None:
    d = in_sessions()
    d.to_session(1)
    assert d.state.ends_at is not None
    when = d.state.ends_at
    err = d.reject(
        LogSession(side="mentor", status=RESCHEDULED, rescheduled_to=when),
        RuleViolation,
        "reschedule-after-end",
    )
    assert err.value == when.isoformat()


def test_only_a_rescheduled_session_takes_a_new_time() -> None:
    d = in_sessions()
    d.to_session(1)
    when = d.now + days(1)
    command = LogSession(side="mentor", status=MISSED, rescheduled_to=when)
    err = d.reject(command, RuleViolation, "reschedule-time-not-allowed")
    assert err.value == when.isoformat()


# -- misses and at-risk -------------------------------------------------------------------------------


def test_no_check_in_by_the_end_of_the_window_counts_as_missed() -> None:
    d = in_sessions()
    events = d.miss_session()
    assert d.now == FIRST + days(3)
    missed = payloads(events, "SessionMissed")[0]
    assert (missed.session, missed.reason) == (1, "no check-in")
    assert payloads(events, "SessionScheduled")[0].at == FIRST + CADENCE
    assert d.state.sessions[0].status is MISSED and d.state.consecutive_misses == 1
    assert not d.state.at_risk


def test_a_miss_reported_by_a_side_names_the_side() -> None:
    d = in_sessions()
    d.to_session(1)
    events = d.do(LogSession(side="mentee", status=MISSED))
    assert payloads(events, "SessionMissed")[0].reason == "reported missed by the mentee"


def test_consecutive_misses_at_the_threshold_flag_the_pairing_once() -> None:
    d = in_sessions()
    d.miss_session()
    events = d.miss_session()
    flagged = payloads(events, "AtRiskFlagged")
    assert [(f.reason, f.consecutive_misses) for f in flagged] == [("2 sessions missed in a row", 2)]
    assert d.state.at_risk and d.state.ever_at_risk
    assert "AtRiskFlagged" not in types(d.miss_session())  # flagged exactly once
    assert d.state.consecutive_misses == 3
    d.to_session()
    events = d.checkin("mentee")
    assert payloads(events, "AtRiskCleared")[0].reason == "session 4 held"
    assert not d.state.at_risk and d.state.ever_at_risk and d.state.consecutive_misses == 0


def test_the_threshold_comes_from_the_program() -> None:
    d = in_sessions(at_risk_after_misses=1)
    assert "AtRiskFlagged" in types(d.miss_session())


def test_a_held_session_resets_the_miss_count() -> None:
    d = in_sessions()
    d.miss_session()
    d.hold_session()
    assert "AtRiskFlagged" not in types(d.miss_session())
    assert d.state.consecutive_misses == 1


def test_no_session_is_scheduled_after_the_end() -> None:
    d = in_sessions(duration="P2M", goal_setting_deadline="P2W", goal_reminders=())
    events = d.run_until(d.state.ends_at or T0)
    assert d.state.ends_at is not None
    assert all(s.at < d.state.ends_at for s in d.state.sessions)
    assert payloads(events, "CloseoutOpened")


def test_a_session_pending_at_the_end_can_still_be_logged_in_closeout() -> None:
    # duration P1M with the first session one day before the end: its window runs past the end
    d = Driver(
        terms(duration="P1M", goal_setting_deadline="P1W", goal_reminders=(), first_session_after="P3W")
    )
    d.advance(days(9))
    d.agree()
    assert d.state.ends_at is not None and d.state.sessions[0].at < d.state.ends_at
    d.run_until(d.state.ends_at)
    assert d.state.stage is Stage.CLOSEOUT and d.state.current_session is not None
    events = d.do(LogSession(side="mentor", status=HELD, rating=3))
    assert types(events) == [
        "SessionCheckedIn",
        "SessionHeld",
        "ReminderDue",
    ]  # nothing scheduled in closeout


# -- check-ins before goals ------------------------------------------------------------------------------


def test_check_in_before_goals_is_refused_by_default() -> None:
    d = Driver()
    d.advance(days(3))
    err = d.reject(LogSession(side="mentor", status=HELD, rating=4), InvalidTransition, "goals-not-agreed")
    assert err.value == "goal_setting"


def test_check_in_before_goals_logs_an_adhoc_held_session_when_allowed() -> None:
    d = Driver(terms(allow_checkin_before_goals=True))
    d.advance(days(3))
    events = d.do(LogSession(side="mentee", status=HELD, rating=5, topics=("intro",)))
    assert types(events) == ["SessionScheduled", "SessionCheckedIn", "SessionHeld", "ReminderDue"]
    scheduled = events[0].payload
    assert (scheduled.session, scheduled.at) == (1, d.now)
    record = d.state.sessions[0]
    assert (record.number, record.status, record.ratings) == (1, HELD, {"mentee": 5})
    assert d.state.stage is Stage.GOAL_SETTING and d.state.current_session is None
    d.advance(days(1))
    assert types(d.do(LogSession(side="mentor", status=HELD, rating=4)))[0] == "SessionScheduled"
    assert [s.number for s in d.state.sessions] == [1, 2]


def test_agreeing_goals_after_adhoc_sessions_schedules_the_next_session() -> None:
    d = Driver(terms(allow_checkin_before_goals=True))
    d.advance(days(3))
    d.do(LogSession(side="mentee", status=HELD, rating=5))
    d.advance(days(1))
    events = d.agree()
    scheduled = payloads(events, "SessionScheduled")
    assert [(s.session, s.at) for s in scheduled] == [(2, d.now + timedelta(weeks=1))]
    assert d.state.current_session is not None and d.state.current_session.number == 2


@pytest.mark.parametrize("status", [MISSED, RESCHEDULED])
def test_only_held_sessions_are_logged_before_goals(status: SessionStatus) -> None:
    d = Driver(terms(allow_checkin_before_goals=True))
    d.advance(days(3))
    command = LogSession(side="mentor", status=status, rescheduled_to=d.now + days(1))
    err = d.reject(command, RuleViolation, "adhoc-held-only")
    assert err.value == status.value


def test_adhoc_sessions_check_the_rating_too() -> None:
    d = Driver(terms(allow_checkin_before_goals=True))
    err = d.reject(LogSession(side="mentor", status=HELD, rating=7), RuleViolation, "rating-range")
    assert err.value == 7


# -- fit check --------------------------------------------------------------------------------------


def test_fit_check_opens_only_after_the_first_held_session() -> None:
    d = in_sessions()
    err = d.reject(
        AnswerFitCheck(side="mentee", wants_new_partner=True), InvalidTransition, "fit-check-not-open"
    )
    assert err.value == "mentee"
    d.miss_session()
    err = d.reject(
        AnswerFitCheck(side="mentor", wants_new_partner=True), InvalidTransition, "fit-check-not-open"
    )
    assert err.value == "mentor"


def test_fit_check_answers_are_recorded_once_per_side() -> None:
    d = in_sessions()
    d.hold_session()
    events = d.do(AnswerFitCheck(side="mentee", wants_new_partner=True))
    assert types(events) == ["FitCheckAnswered"] and events[0].payload.wants_new_partner is True
    err = d.reject(
        AnswerFitCheck(side="mentee", wants_new_partner=False), DuplicateSubmission, "fit-check-duplicate"
    )
    assert err.value == "mentee"
    d.do(AnswerFitCheck(side="mentor", wants_new_partner=False))
    assert d.state.fit_check == {"mentee": True, "mentor": False}


def test_the_fit_check_reminder_comes_only_with_the_first_held_session() -> None:
    d = in_sessions()
    d.hold_session()
    events = d.hold_session()
    assert "SessionHeld" in types(events)
    assert not [p for p in payloads(events, "ReminderDue") if p.reminder == "fit_check"]


def test_fit_check_is_open_during_the_midpoint_review_but_not_in_closeout() -> None:
    d = in_sessions()
    d.hold_session()
    d.run_until_event("MidpointReviewOpened")
    assert types(d.do(AnswerFitCheck(side="mentor", wants_new_partner=False))) == ["FitCheckAnswered"]
    d.do(SubmitMidpoint(side="mentor", relationship=4, psychological_safety=4, progress=(50, 50)))
    d.run_until_event("CloseoutOpened")
    err = d.reject(
        AnswerFitCheck(side="mentee", wants_new_partner=True), InvalidTransition, "fit-check-closed"
    )
    assert err.value == "closeout"


def test_sessions_go_on_during_the_midpoint_review_without_scheduling_the_next() -> None:
    d = in_sessions()
    d.run_until_event("MidpointReviewOpened")
    assert d.state.stage is Stage.MIDPOINT_REVIEW
    assert d.state.current_session is not None
    number = d.state.current_session.number
    d.to_session()
    events = d.checkin("mentor")
    assert types(events)[:2] == ["SessionCheckedIn", "SessionHeld"] and "SessionScheduled" not in types(
        events
    )
    d.run_until_event("MidpointDecided")
    assert d.state.stage is Stage.SESSIONS
    assert d.state.current_session is not None and d.state.current_session.number == number + 1


def test_a_withdrawn_pairing_keeps_its_sessions() -> None:
    d = in_sessions()
    d.hold_session()
    d.do(Withdraw(side="mentee"))
    assert d.state.outcome is Outcome.WITHDRAWN and d.state.held_sessions == 1
    assert d.state.goals == GOALS


def test_agreeing_goals_days_before_the_end_schedules_no_session_after_it() -> None:
    d = Driver()
    assert d.state.ends_at is not None
    d.at(d.state.ends_at - days(3))  # goal-setting dragged on (no tick: the end has not fired yet)
    events = d.agree()
    assert "GoalsAgreed" in types(events) and "SessionScheduled" not in types(events)
    assert d.state.sessions == ()
    assert types(d.run_until(d.state.ends_at))[-1] == "CloseoutOpened"


def test_without_a_number_a_check_in_goes_to_the_last_session_the_side_has_not_reported() -> None:
    d = in_sessions(
        duration="P1M",
        goal_setting_deadline="P1W",
        goal_reminders=(),
        first_session_after="P3W",
        midpoint_at=0.9,
    )
    d.hold_session()  # by the mentor; nothing pending afterwards
    d.advance(hours(3))
    events = d.do(LogSession(side="mentee", status=HELD, rating=2))
    assert types(events) == ["SessionCheckedIn"] and events[0].payload.session == 1
    assert d.state.sessions[0].ratings == {"mentor": 4, "mentee": 2}


def test_extend_after_goals_agreed_too_late_for_any_session_schedules_the_first() -> None:
    from domain.pairing import Extend

    d = Driver()
    assert d.state.ends_at is not None
    d.at(d.state.ends_at - days(3))
    d.agree()
    d.run_until(d.state.ends_at)
    assert d.state.stage is Stage.CLOSEOUT and d.state.sessions == ()
    events = d.do(Extend(by="P1M"))
    assert types(events) == ["PairingExtended", "SessionScheduled"]
    assert (events[1].payload.session, events[1].payload.at) == (1, d.now + timedelta(weeks=1))


def test_a_late_tick_never_schedules_the_next_session_in_the_past() -> None:
    d = in_sessions()
    d.advance(timedelta(days=7 + 20))  # the worker was down: session 1 (day 7) and its window long gone
    events = d.tick()
    assert payloads(events, "SessionMissed")[0].session == 1
    assert [(s.session, s.at) for s in payloads(events, "SessionScheduled")] == [(2, d.now)]
    assert d.state.consecutive_misses == 1


def test_a_session_is_never_scheduled_at_the_very_end() -> None:
    d = in_sessions(duration="P4W", first_session_after="P2W", goal_setting_deadline="P1W", midpoint_at=0.9)
    d.hold_session()  # day 14; the next one would be at day 28, the end itself
    assert d.state.ends_at == T0 + timedelta(weeks=4)
    assert len(d.state.sessions) == 1 and d.state.current_session is None


def test_a_window_closing_at_the_end_still_counts_the_miss_before_the_closeout() -> None:
    # P1M from 4 Jan ends 4 Feb 09:00; the session on 1 Feb has its check-in window close at that moment
    d = in_sessions(duration="P1M", first_session_after="P4W", goal_setting_deadline="P1W")
    assert d.state.ends_at == d.state.sessions[0].at + days(3)
    events = d.run_until(d.state.ends_at)
    assert types(events)[-2:] == ["SessionMissed", "CloseoutOpened"]
    assert d.state.sessions[0].status is MISSED and d.state.current_session is None
