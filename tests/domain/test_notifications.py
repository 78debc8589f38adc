"""Notices: who is told what about which pairing event, with idempotent keys and no personal data."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from domain.events import Event, stamp
from domain.notifications import Notice, notices_for
from domain.pairing import (
    AddNote,
    AgreeGoals,
    AnswerFitCheck,
    CloseoutSubmitted,
    Extend,
    FitCheckAnswered,
    LogSession,
    OverrideMidpoint,
    PairingState,
    Pause,
    ProposeGoals,
    Rematch,
    ReminderDue,
    Resume,
    SessionStatus,
    SubmitCloseout,
    SubmitMidpoint,
    Withdraw,
    evolve,
)
from tests.domain.pairing_helpers import (
    GOALS,
    MENTEE_ID,
    MENTOR_ID,
    OTHER_GOALS,
    PAIRING_ID,
    T0,
    Driver,
    goal,
)
from tests.domain.test_events import SAMPLES

PARTICIPANTS = {"mentor": MENTOR_ID, "mentee": MENTEE_ID, "operator": None}


def notices_of(events: list[Event]) -> list[tuple[Event, list[Notice]]]:
    """Each event's notices, computed with the state right after that event (as the workflow does)."""
    state = PairingState(pairing_id=PAIRING_ID)
    out = []
    for event in events:
        state = evolve(state, event)
        out.append((event, notices_for(state, event)))
    return out


def all_notices(d: Driver) -> list[Notice]:
    return [n for _, ns in notices_of(d.events) for n in ns]


def plan(notices: list[Notice]) -> list[tuple[str, str, str | None, int | None]]:
    return [(n.template, n.recipient, n.action, n.ref) for n in notices]


def last_notices(d: Driver, count: int = 1) -> list[Notice]:
    """Notices of the last ``count`` events of the driver."""
    return [n for _, ns in notices_of(d.events)[-count:] for n in ns]


# -- who is told what --------------------------------------------------------------------------------


def test_the_start_welcomes_both_sides_and_asks_for_goals() -> None:
    d = Driver()
    notices = last_notices(d)
    assert plan(notices) == [
        ("welcome", "mentor", "propose_goals", None),
        ("welcome", "mentee", "propose_goals", None),
    ]
    assert all("2027-01-25" in n.summary for n in notices)
    assert [n.participant_id for n in notices] == [MENTOR_ID, MENTEE_ID]
    assert all((n.program_id, n.pairing_id) == ("rm-test", PAIRING_ID) for n in notices)


def test_the_proposal_itself_notifies_nobody() -> None:
    d = Driver()
    assert notices_of(d.events)[0][1] == []


def test_goal_proposals_ask_both_sides_to_agree_once_both_proposed() -> None:
    d = Driver()
    d.do(ProposeGoals(side="mentor", goals=GOALS))
    assert last_notices(d) == []
    d.do(ProposeGoals(side="mentee", goals=OTHER_GOALS))
    assert plan(last_notices(d)) == [
        ("goals_to_agree", "mentor", "agree_goals", None),
        ("goals_to_agree", "mentee", "agree_goals", None),
    ]


def test_an_acceptance_asks_the_partner_to_agree() -> None:
    d = Driver()
    d.do(ProposeGoals(side="mentor", goals=GOALS))
    d.do(ProposeGoals(side="mentee", goals=OTHER_GOALS))
    d.do(AgreeGoals(side="mentee", goals=GOALS))
    assert plan(last_notices(d)) == [("partner_agreed_goals", "mentor", "agree_goals", None)]
    d.do(AgreeGoals(side="mentor", goals=OTHER_GOALS))  # a different list: the mentee must look again
    assert plan(last_notices(d)) == [("partner_agreed_goals", "mentee", "agree_goals", None)]


def test_the_acceptance_that_completes_the_agreement_asks_nobody_to_agree_again() -> None:
    d = Driver()
    d.do(ProposeGoals(side="mentor", goals=GOALS))
    d.do(ProposeGoals(side="mentee", goals=GOALS))
    d.do(AgreeGoals(side="mentor", goals=GOALS))
    events = d.do(AgreeGoals(side="mentee", goals=GOALS))
    assert [e.type for e in events] == ["GoalsAccepted", "GoalsAgreed", "SessionScheduled"]
    notices = last_notices(d, len(events))
    assert plan(notices) == [("goals_agreed", "mentor", None, None), ("goals_agreed", "mentee", None, None)]
    assert notices[0].summary == "Goals agreed (2)."


def test_goal_reminders_go_to_both_sides_with_the_due_date() -> None:
    d = Driver()
    d.step()
    notices = last_notices(d)
    assert plan(notices) == [
        ("goals_reminder", "mentor", "propose_goals", None),
        ("goals_reminder", "mentee", "propose_goals", None),
    ]
    assert notices[0].summary == "Reminder: goals are due 2027-01-25."


def test_the_goal_deadline_and_the_at_risk_flag_alert_only_the_operator() -> None:
    d = Driver()
    events = d.run_until(d.state.goals_due_at or T0)
    notices = last_notices(d, 2)
    assert [e.type for e in events[-2:]] == ["GoalDeadlinePassed", "AtRiskFlagged"]
    assert plan(notices) == [("goals_overdue", "operator", None, None), ("at_risk", "operator", None, None)]
    assert all(n.participant_id is None for n in notices)
    assert notices[1].summary == "Pairing at risk: goals not agreed by the deadline."


def test_session_reminder_and_check_in_request_go_to_both_sides() -> None:
    d = Driver()
    d.agree()
    d.step()
    reminder = last_notices(d)
    assert plan(reminder) == [
        ("session_reminder", "mentor", None, 1),
        ("session_reminder", "mentee", None, 1),
    ]
    assert reminder[0].summary == "Session 1 is coming up on 2027-01-11 09:00 UTC."
    d.step()
    assert plan(last_notices(d)) == [
        ("checkin_request", "mentor", "log_session", 1),
        ("checkin_request", "mentee", "log_session", 1),
    ]


def test_the_first_held_session_asks_both_for_the_fit_check() -> None:
    d = Driver()
    d.agree()
    events = d.hold_session()
    notices = last_notices(d, len(events))
    assert plan(notices) == [("fit_check", "mentor", "fit_check", 1), ("fit_check", "mentee", "fit_check", 1)]
    assert "confidential" in notices[0].summary


def test_a_request_for_a_new_partner_alerts_only_the_operator() -> None:
    d = Driver()
    d.agree()
    d.hold_session()
    d.do(AnswerFitCheck(side="mentor", wants_new_partner=False))
    assert last_notices(d) == []
    d.do(AnswerFitCheck(side="mentee", wants_new_partner=True))
    notices = last_notices(d)
    assert plan(notices) == [("rematch_requested", "operator", None, None)]
    assert notices[0].participant_id is None


def test_midpoint_notices() -> None:
    d = Driver()
    d.agree()
    d.run_until_event("MidpointReviewOpened")
    assert plan(last_notices(d)) == [
        ("midpoint_review", "mentor", "midpoint", None),
        ("midpoint_review", "mentee", "midpoint", None),
    ]
    d.do(SubmitMidpoint(side="mentor", relationship=2, psychological_safety=2, progress=(40, 40)))
    assert last_notices(d) == []
    events = d.do(SubmitMidpoint(side="mentee", relationship=4, psychological_safety=4, progress=(40, 40)))
    proposed = last_notices(d, len(events))
    assert plan(proposed) == [("midpoint_decision", "operator", None, None)]
    assert proposed[0].summary.startswith("Midpoint decision proposed: rematch (relationship rated 2 (< 3))")
    events = d.do(OverrideMidpoint(decision="continue", reason="SECRET operator reason"))
    decided = last_notices(d, len(events))
    assert plan(decided) == [
        ("midpoint_decided", "mentor", None, None),
        ("midpoint_decided", "mentee", None, None),
        ("midpoint_decided", "operator", None, None),
    ]
    assert decided[0].summary == "Midpoint decision: continue."


def test_closeout_notices_and_the_reminder_only_to_who_has_not_answered() -> None:
    d = Driver()
    d.agree()
    d.run_until_event("CloseoutOpened")
    assert plan(last_notices(d)) == [
        ("closeout_survey", "mentor", "closeout", None),
        ("closeout_survey", "mentee", "closeout", None),
    ]
    d.do(SubmitCloseout(side="mentee", attainment=(50, 50), would_recommend=8, satisfaction=4))
    assert last_notices(d) == []
    d.step()
    assert plan(last_notices(d)) == [("closeout_reminder", "mentor", "closeout", None)]
    d.step()
    closed = last_notices(d)
    assert plan(closed) == [
        ("closed", "mentor", None, None),
        ("closed", "mentee", None, None),
        ("closed", "operator", None, None),
    ]
    assert closed[0].summary.startswith("Pairing closed: completed")


def test_pause_resume_and_extend_tell_both_sides() -> None:
    d = Driver()
    d.do(Pause(reason="SECRET illness"))
    assert plan(last_notices(d)) == [("paused", "mentor", None, None), ("paused", "mentee", None, None)]
    d.do(Resume())
    assert plan(last_notices(d)) == [("resumed", "mentor", None, None), ("resumed", "mentee", None, None)]
    d.do(Extend(by="P1M"))
    notices = last_notices(d)
    assert plan(notices) == [("extended", "mentor", None, None), ("extended", "mentee", None, None)]
    assert notices[0].summary == "Your pairing now runs until 2027-08-04."


@pytest.mark.parametrize(
    "type_name",
    [
        "PairingProposed",
        "SessionScheduled",
        "SessionCheckedIn",
        "SessionHeld",
        "MidpointReviewSubmitted",
        "NoteAdded",
        "CloseoutSubmitted",
        "GoalsProposed",  # alone: the other side has not proposed yet
    ],
)
def test_bookkeeping_events_notify_nobody(type_name: str) -> None:
    event = stamp("pairing-x", 3, [SAMPLES[type_name]], T0)[0]
    state = PairingState(pairing_id="x", mentor_id="a", mentee_id="b")
    assert notices_for(state, event) == []


def test_a_reminder_kind_without_a_template_notifies_nobody() -> None:
    event = stamp("pairing-x", 3, [ReminderDue(reminder="midpoint", key="midpoint")], T0)[0]
    assert notices_for(PairingState(pairing_id="x"), event) == []


def test_reminders_without_a_due_date_still_read_well() -> None:
    state = PairingState(pairing_id="x", mentor_id="a", mentee_id="b")
    goals = stamp("pairing-x", 3, [ReminderDue(reminder="goals", key="goals:P1W")], T0)[0]
    assert notices_for(state, goals)[0].summary == "Reminder: goals due."
    session = stamp("pairing-x", 4, [ReminderDue(reminder="session", key="session:2", ref=2)], T0)[0]
    assert notices_for(state, session)[0].summary == "Session 2 is coming up."


def test_every_pairing_event_type_is_either_announced_or_deliberately_silent() -> None:
    """Guards new event types: each must be placed in one of the two lists."""
    announced = {
        "PairingStarted",
        "GoalsProposed",
        "GoalsAccepted",
        "GoalsAgreed",
        "GoalDeadlinePassed",
        "ReminderDue",
        "AtRiskFlagged",
        "FitCheckAnswered",
        "MidpointReviewOpened",
        "MidpointSkipped",
        "SessionMissed",
        "SessionRescheduled",
        "AtRiskCleared",
        "MidpointDecisionProposed",
        "MidpointDecided",
        "CloseoutOpened",
        "PairingPaused",
        "PairingResumed",
        "PairingExtended",
        "PairingClosed",
    }
    silent = {
        "PairingProposed",
        "SessionScheduled",
        "SessionCheckedIn",
        "SessionHeld",
        "MidpointReviewSubmitted",
        "NoteAdded",
        "CloseoutSubmitted",
    }
    pairing_types = {name for name, p in SAMPLES.items() if type(p).__module__ == "domain.pairing"}
    assert announced | silent == pairing_types and not announced & silent


# -- keys ------------------------------------------------------------------------------------------


def full_story() -> Driver:
    d = Driver()
    d.agree()
    d.hold_session()
    d.do(AnswerFitCheck(side="mentee", wants_new_partner=True))
    d.miss_session()
    d.miss_session()
    d.do(Pause())
    d.advance(timedelta(days=2))
    d.do(Resume())
    d.run_until_event("MidpointReviewOpened")
    d.do(SubmitMidpoint(side="mentor", relationship=4, psychological_safety=4, progress=(50, 50)))
    d.do(SubmitMidpoint(side="mentee", relationship=4, psychological_safety=4, progress=(50, 50)))
    d.run_until_event("CloseoutOpened")
    d.do(Extend(by="P2W"))
    d.run_until_event("CloseoutOpened")
    d.do(SubmitCloseout(side="mentor", attainment=(50, 50), would_recommend=8, satisfaction=4))
    d.run_until_event("PairingClosed")
    return d


def test_keys_are_the_event_id_and_the_recipient() -> None:
    for event, notices in notices_of(full_story().events):
        assert all(n.key == f"{event.event_id}:{n.recipient}" for n in notices)


def test_keys_are_unique_per_recipient_over_a_whole_pairing() -> None:
    notices = all_notices(full_story())
    assert len(notices) > 40
    counts = Counter(n.key for n in notices)
    assert [k for k, c in counts.items() if c > 1] == []


def test_keys_are_deterministic() -> None:
    first = [n.key for n in all_notices(full_story())]
    second = [n.key for n in all_notices(full_story())]
    assert first == second
    assert all_notices(full_story()) == all_notices(full_story())


def test_participant_notices_carry_their_participant_and_operator_notices_none() -> None:
    notices = all_notices(full_story())
    assert {n.recipient for n in notices} == {"mentor", "mentee", "operator"}
    assert all(n.participant_id == PARTICIPANTS[n.recipient] for n in notices)


def test_operator_only_notices() -> None:
    by_template: dict[str, set[str]] = {}
    for n in all_notices(full_story()):
        by_template.setdefault(n.template, set()).add(n.recipient)
    operator_only = {t for t, r in by_template.items() if r == {"operator"}}
    assert operator_only == {"at_risk", "rematch_requested", "midpoint_decision"}
    assert all(
        "operator" not in r
        for t, r in by_template.items()
        if t not in operator_only | {"midpoint_decided", "closed"}
    )


# -- privacy ---------------------------------------------------------------------------------------


def secret_story() -> Driver:
    """A pairing whose every free text carries SECRET, plus names and emails nowhere near notices."""
    d = Driver()
    secret_goals = (goal("SECRET goal title", "SECRET signal"),)
    d.do(ProposeGoals(side="mentor", goals=secret_goals))
    d.do(ProposeGoals(side="mentee", goals=secret_goals))
    d.do(AgreeGoals(side="mentor", goals=secret_goals))
    d.do(AgreeGoals(side="mentee", goals=secret_goals))
    d.to_session()
    d.do(
        LogSession(
            side="mentor",
            status=SessionStatus.HELD,
            rating=1,
            topics=("SECRET topic",),
            private_note="SECRET: my leader is condescending",
        )
    )
    d.do(AddNote(author="mentee", text="SECRET note about Ava Thompson <ava@example.com>"))
    d.do(AnswerFitCheck(side="mentor", wants_new_partner=True))
    d.do(Pause(reason="SECRET: sick leave"))
    d.do(Resume())
    return d


@pytest.mark.parametrize(
    "ending",
    [
        Withdraw(side="mentor", reason="SECRET: my leader is condescending"),
        Rematch(reason="SECRET: the mentor asked for a new partner at the fit check"),
    ],
    ids=["withdraw", "rematch"],
)
def test_no_free_text_reaches_any_notice(ending: Withdraw | Rematch) -> None:
    d = secret_story()
    d.do(ending)
    notices = all_notices(d)
    leaks = [(n.template, n.recipient, n.summary) for n in notices if "SECRET" in n.summary]
    assert leaks == []
    assert not any("@" in n.summary or "Ava" in n.summary for n in notices)
    closed = [n for n in notices if n.template == "closed"]
    assert len(closed) == 3


def test_a_withdrawal_tells_the_partner_which_side_left_but_not_why() -> None:
    d = Driver()
    d.do(Withdraw(side="mentee", reason="my partner is condescending"))
    notices = last_notices(d)
    assert {n.recipient for n in notices} == {"mentor", "mentee", "operator"}
    mentor = next(n for n in notices if n.recipient == "mentor")
    assert "withdrawn" in mentor.summary and "mentee" in mentor.summary
    assert "condescending" not in mentor.summary


def test_the_fit_check_answer_stays_confidential() -> None:
    d = Driver()
    d.agree()
    d.hold_session()
    d.do(AnswerFitCheck(side="mentee", wants_new_partner=True))
    notices = last_notices(d)
    assert [n.recipient for n in notices] == ["operator"]
    event = stamp("pairing-x", 3, [FitCheckAnswered(side="mentor", wants_new_partner=False)], T0)[0]
    assert notices_for(d.state, event) == []


def test_closeout_and_midpoint_answers_are_never_echoed() -> None:
    event = stamp("pairing-x", 3, [SAMPLES["CloseoutSubmitted"]], T0)[0]
    assert isinstance(event.payload, CloseoutSubmitted)
    assert notices_for(PairingState(pairing_id="x"), event) == []


@pytest.mark.parametrize(
    ("type_name", "template", "recipients"),
    [
        ("SessionMissed", "session_missed", ["mentor", "mentee"]),
        ("SessionRescheduled", "session_rescheduled", ["mentor", "mentee"]),
        ("AtRiskCleared", "at_risk_cleared", ["operator"]),
    ],
)
def test_misses_reschedules_and_cleared_flags_are_announced(
    type_name: str, template: str, recipients: list[str]
) -> None:
    event = stamp("pairing-x", 3, [SAMPLES[type_name]], T0)[0]
    state = PairingState(pairing_id="x", mentor_id="a", mentee_id="b")
    notices = notices_for(state, event)
    assert [n.recipient for n in notices] == recipients
    assert {n.template for n in notices} == {template} and all(n.action is None for n in notices)
