"""The pairing aggregate, part 3: the midpoint review (submissions, decision rule, override, applying the
decision) and the closeout survey."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from domain.errors import DuplicateSubmission, InvalidTransition, RuleViolation
from domain.pairing import (
    MidpointDecision,
    MidpointReviewSubmitted,
    Outcome,
    OverrideMidpoint,
    Stage,
    SubmitCloseout,
    SubmitMidpoint,
    midpoint_rule,
    next_alarm,
)
from tests.domain.pairing_helpers import (
    DEFAULT_TERMS,
    T0,
    Driver,
    days,
    payloads,
    terms,
    types,
)

ENDS = T0.replace(month=7)
MIDPOINT = T0 + (ENDS - T0) / 2
CONTINUE, REMATCH, END_EARLY = MidpointDecision.CONTINUE, MidpointDecision.REMATCH, MidpointDecision.END_EARLY


def at_midpoint(**overrides: object) -> Driver:
    d = Driver(terms(**overrides) if overrides else None)
    d.agree()
    d.run_until_event("MidpointReviewOpened")
    return d


def review(
    side: str = "mentor", relationship: int = 4, safety: int = 4, progress: tuple[int, ...] = (50, 50)
):
    return SubmitMidpoint(
        side=side, relationship=relationship, psychological_safety=safety, progress=progress
    )  # type: ignore[arg-type]


def both_reviews(d: Driver, mentor: SubmitMidpoint, mentee: SubmitMidpoint) -> datetime:
    d.do(mentor)
    d.advance(days(1))
    d.do(mentee)
    return d.now


# -- opening ---------------------------------------------------------------------------------------


def test_the_midpoint_review_opens_at_half_the_duration() -> None:
    d = at_midpoint()
    assert d.now == MIDPOINT
    opened = payloads(d.events, "MidpointReviewOpened")[0]
    assert opened.due_at == MIDPOINT + timedelta(weeks=1) == d.state.midpoint_due_at
    assert d.state.stage is Stage.MIDPOINT_REVIEW and d.state.midpoint_opened
    alarm = next_alarm(d.state)
    assert alarm is not None
    assert alarm.at <= opened.due_at  # a pending session's alarms, or the review's deadline


def test_the_midpoint_opens_at_the_configured_fraction() -> None:
    d = at_midpoint(midpoint_at=0.25, midpoint_window="P3D")
    assert d.now == T0 + (ENDS - T0) * 0.25
    assert d.state.midpoint_due_at == d.now + days(3)


def test_midpoint_review_is_refused_before_it_opens() -> None:
    d = Driver()
    d.agree()
    err = d.reject(review(), InvalidTransition, "midpoint-not-open")
    assert err.value == "sessions"
    err = d.reject(OverrideMidpoint(decision=REMATCH, reason="x"), InvalidTransition, "midpoint-not-open")
    assert err.value == "sessions"


def test_the_midpoint_waits_for_agreed_goals() -> None:
    d = Driver()
    d.run_until(MIDPOINT + days(1))
    assert d.state.stage is Stage.GOAL_SETTING and not d.state.midpoint_opened


# -- submissions -------------------------------------------------------------------------------------


def test_one_submission_is_recorded_and_waits_for_the_other_side() -> None:
    d = at_midpoint()
    events = d.do(review("mentee", 5, 3, (40, 60)))
    assert types(events) == ["MidpointReviewSubmitted"]
    assert d.state.midpoint_reviews["mentee"] == MidpointReviewSubmitted(
        side="mentee", relationship=5, psychological_safety=3, progress=(40, 60)
    )
    assert d.state.midpoint_proposal is None


@pytest.mark.parametrize(
    ("mentor", "mentee", "decision", "reason"),
    [
        (review("mentor", 2), review("mentee", 5), REMATCH, "relationship rated 2 (< 3)"),
        (
            review("mentor", 3, progress=(10, 0)),
            review("mentee", 3, progress=(20, 10)),
            END_EARLY,
            "mean goal progress 10% (< 20%)",
        ),
        (
            review("mentor", 3, progress=(20, 20)),
            review("mentee", 4, progress=(20, 20)),
            CONTINUE,
            "relationship 3/5 or better, mean goal progress 20%",
        ),
        (
            review("mentor", 1, progress=(0, 0)),
            review("mentee", 1, progress=(0, 0)),
            REMATCH,
            "relationship rated 1 (< 3)",
        ),
    ],
    ids=["low-relationship-rematch", "low-progress-end-early", "at-thresholds-continue", "rematch-wins"],
)
def test_both_submissions_propose_a_decision_by_the_rule(
    mentor: SubmitMidpoint, mentee: SubmitMidpoint, decision: MidpointDecision, reason: str
) -> None:
    d = at_midpoint()
    d.do(mentor)
    d.advance(days(1))
    events = d.do(mentee)
    assert types(events) == ["MidpointReviewSubmitted", "MidpointDecisionProposed"]
    proposal = events[1].payload
    assert (proposal.decision, proposal.reason) == (decision, reason)
    assert proposal.override_until == d.now + days(3)
    assert d.state.midpoint_proposal == proposal
    assert d.state.stage is Stage.MIDPOINT_REVIEW


def test_the_rule_follows_the_program_thresholds() -> None:
    d = at_midpoint(rematch_if_relationship_below=5, end_early_if_progress_below=60)
    both_reviews(d, review("mentor", 4, progress=(90, 90)), review("mentee", 5, progress=(90, 90)))
    assert d.state.midpoint_proposal is not None and d.state.midpoint_proposal.decision is REMATCH
    d = at_midpoint(rematch_if_relationship_below=1, end_early_if_progress_below=60)
    both_reviews(d, review("mentor", 1, progress=(50, 60)), review("mentee", 1, progress=(50, 60)))
    assert d.state.midpoint_proposal is not None and d.state.midpoint_proposal.decision is END_EARLY


@pytest.mark.parametrize("progress", [(50,), (50, 50, 50), ()], ids=["short", "long", "empty"])
def test_progress_needs_one_value_per_goal(progress: tuple[int, ...]) -> None:
    d = at_midpoint()
    err = d.reject(review(progress=progress), RuleViolation, "progress-per-goal")
    assert err.value == len(progress)


@pytest.mark.parametrize("bad", [-1, 101])
def test_progress_is_a_percentage(bad: int) -> None:
    d = at_midpoint()
    err = d.reject(review(progress=(0, bad)), RuleViolation, "progress-range")
    assert err.value == bad


@pytest.mark.parametrize(("relationship", "safety", "bad"), [(0, 3, 0), (6, 3, 6), (3, 0, 0), (3, 7, 7)])
def test_ratings_of_the_midpoint_review_go_from_one_to_five(relationship: int, safety: int, bad: int) -> None:
    d = at_midpoint()
    err = d.reject(review(relationship=relationship, safety=safety), RuleViolation, "rating-range")
    assert err.value == bad


def test_each_side_submits_the_midpoint_review_once() -> None:
    d = at_midpoint()
    d.do(review("mentor"))
    err = d.reject(review("mentor", 5), DuplicateSubmission, "midpoint-duplicate")
    assert err.value == "mentor"


def test_no_submission_after_the_decision_is_proposed() -> None:
    d = at_midpoint()
    d.do(review("mentor"))
    d.run_until(d.state.midpoint_due_at or T0)  # the deadline proposes with one review
    assert d.state.midpoint_proposal is not None
    err = d.reject(review("mentee"), InvalidTransition, "midpoint-decided")
    assert err.value == "mentee"


def test_the_deadline_proposes_from_the_reviews_in_hand() -> None:
    d = at_midpoint()
    d.do(review("mentee", 2))
    due = d.state.midpoint_due_at
    assert due is not None
    events = d.run_until(due)
    proposal = payloads(events, "MidpointDecisionProposed")[0]
    assert proposal.decision is REMATCH and proposal.override_until == due + days(3)


def test_without_reviews_the_deadline_proposes_to_continue() -> None:
    d = at_midpoint()
    events = d.run_until(d.state.midpoint_due_at or T0)
    proposal = payloads(events, "MidpointDecisionProposed")[0]
    assert (proposal.decision, proposal.reason) == (CONTINUE, "no reviews submitted; continuing by default")


def test_the_rule_with_reviews_but_no_goals_counts_progress_as_complete() -> None:
    empty = MidpointReviewSubmitted(side="mentor", relationship=4, psychological_safety=4, progress=())
    assert midpoint_rule(DEFAULT_TERMS, {"mentor": empty}) == (
        CONTINUE,
        "relationship 4/5 or better, mean goal progress 100%",
    )


# -- override ---------------------------------------------------------------------------------------


def test_override_is_refused_before_the_proposal() -> None:
    d = at_midpoint()
    err = d.reject(
        OverrideMidpoint(decision=END_EARLY, reason="operator"), InvalidTransition, "midpoint-not-proposed"
    )
    assert err.value == "end_early"


def test_override_within_the_window_decides_and_applies_at_once() -> None:
    d = at_midpoint()
    both_reviews(d, review("mentor", 2), review("mentee", 4))
    assert d.state.midpoint_proposal is not None and d.state.midpoint_proposal.decision is REMATCH
    d.advance(days(3))  # the last moment of the override window
    events = d.do(OverrideMidpoint(decision=CONTINUE, reason="  they sorted it out  "))
    decided = events[0].payload
    assert (decided.decision, decided.overridden, decided.reason) == (CONTINUE, True, "they sorted it out")
    assert d.state.midpoint_decision is CONTINUE and d.state.stage is Stage.SESSIONS


def test_override_after_the_window_is_refused() -> None:
    d = at_midpoint()
    both_reviews(d, review("mentor"), review("mentee"))
    proposal = d.state.midpoint_proposal
    assert proposal is not None
    d.at(proposal.override_until + timedelta(seconds=1))  # before the workflow ticked
    err = d.reject(
        OverrideMidpoint(decision=REMATCH, reason="late"), InvalidTransition, "override-window-closed"
    )
    assert err.value == proposal.override_until.isoformat()


def test_override_to_rematch_closes_the_pairing() -> None:
    d = at_midpoint()
    both_reviews(d, review("mentor"), review("mentee"))
    events = d.do(OverrideMidpoint(decision=REMATCH, reason="fit check said so"))
    assert types(events) == ["MidpointDecided", "PairingClosed"]
    assert d.state.outcome is Outcome.REMATCHED


def test_override_to_end_early_opens_the_closeout() -> None:
    d = at_midpoint()
    both_reviews(d, review("mentor"), review("mentee"))
    events = d.do(OverrideMidpoint(decision=END_EARLY, reason="leader leaves"))
    assert types(events) == ["MidpointDecided", "CloseoutOpened"]
    assert d.state.pending_outcome is Outcome.ENDED_EARLY


# -- the decision applied at the end of the override window ---------------------------------------------


def test_continue_is_applied_at_the_end_of_the_window_and_schedules_the_next_session() -> None:
    d = at_midpoint()
    # let the pending session resolve during the review so that no session is pending
    d.run_until((d.state.current_session.at if d.state.current_session else T0) + days(3))
    assert d.state.current_session is None
    both_reviews(d, review("mentor"), review("mentee"))
    proposal = d.state.midpoint_proposal
    assert proposal is not None
    events = d.run_until(proposal.override_until)
    assert types(events) == ["MidpointDecided", "SessionScheduled"]
    decided = events[0].payload
    assert (decided.decision, decided.overridden) == (CONTINUE, False)
    last = d.state.sessions[-2]
    scheduled = events[1].payload
    assert scheduled.session == last.number + 1
    assert scheduled.at == max(d.now + timedelta(weeks=1), last.at + timedelta(weeks=2))
    assert d.state.stage is Stage.SESSIONS and d.state.midpoint_decision is CONTINUE
    assert next_alarm(d.state) is not None


def test_continue_keeps_a_pending_session_instead_of_scheduling_another() -> None:
    d = at_midpoint()
    pending = d.state.current_session
    assert pending is not None and pending.at > d.now  # the next session is still ahead
    both_reviews(d, review("mentor"), review("mentee"))
    events = d.do(OverrideMidpoint(decision=CONTINUE, reason="ok"))
    assert types(events) == ["MidpointDecided"]
    assert d.state.current_session == pending and d.state.sessions[-1] == pending


def test_continue_schedules_nothing_when_the_next_session_would_fall_after_the_end() -> None:
    d = at_midpoint(midpoint_at=0.95)
    d.hold_session()  # held during the review: nothing scheduled yet
    assert d.state.current_session is None
    both_reviews(d, review("mentor"), review("mentee"))
    proposal = d.state.midpoint_proposal
    assert proposal is not None
    events = d.run_until(proposal.override_until)
    assert types(events) == ["MidpointDecided"]
    assert d.state.current_session is None and d.state.stage is Stage.SESSIONS


def test_rematch_is_applied_at_the_end_of_the_window() -> None:
    d = at_midpoint()
    both_reviews(d, review("mentor", 1), review("mentee", 2))
    events = d.run_until_event("PairingClosed")
    closed = payloads(events, "PairingClosed")[0]
    assert (closed.outcome, closed.reason) == (Outcome.REMATCHED, "midpoint review: rematch")
    assert d.state.stage is Stage.CLOSED and next_alarm(d.state) is None


def test_end_early_opens_the_closeout_and_ends_early() -> None:
    d = at_midpoint()
    both_reviews(d, review("mentor", progress=(5, 5)), review("mentee", progress=(10, 0)))
    proposal = d.state.midpoint_proposal
    assert proposal is not None
    events = d.run_until(proposal.override_until)
    assert types(events)[-2:] == ["MidpointDecided", "CloseoutOpened"]
    assert d.state.stage is Stage.CLOSEOUT and d.state.pending_outcome is Outcome.ENDED_EARLY
    assert d.state.closeout_due_at == proposal.override_until + timedelta(weeks=2)
    d.do(SubmitCloseout(side="mentor", attainment=(10, 10), would_recommend=4, satisfaction=2))
    events = d.do(SubmitCloseout(side="mentee", attainment=(0, 20), would_recommend=6, satisfaction=3))
    assert payloads(events, "PairingClosed")[0].outcome is Outcome.ENDED_EARLY


# -- closeout --------------------------------------------------------------------------------------


def in_closeout() -> Driver:
    d = Driver()
    d.agree()
    d.run_until(ENDS)
    assert d.state.stage is Stage.CLOSEOUT
    return d


def closeout(
    side: str = "mentor", attainment: tuple[int, ...] = (70, 90), recommend: int = 9, satisfaction: int = 4
):
    return SubmitCloseout(  # type: ignore[arg-type]
        side=side, attainment=attainment, would_recommend=recommend, satisfaction=satisfaction, takeaways="x"
    )


def test_the_end_opens_the_closeout_with_its_deadline() -> None:
    d = in_closeout()
    opened = payloads(d.events, "CloseoutOpened")[0]
    assert opened.due_at == ENDS + timedelta(weeks=2) == d.state.closeout_due_at
    assert d.state.pending_outcome is None
    reminder = d.step()
    assert d.now == ENDS + timedelta(weeks=2) - days(3)
    assert [(p.reminder, p.key) for p in payloads(reminder, "ReminderDue")] == [("closeout", "closeout")]


def test_closeout_is_refused_before_it_opens() -> None:
    d = Driver()
    d.agree()
    err = d.reject(closeout(), InvalidTransition, "closeout-not-open")
    assert err.value == "sessions"


def test_both_closeout_surveys_close_the_pairing_completed() -> None:
    d = in_closeout()
    events = d.do(closeout("mentee", (100, 0), 10, 5))
    assert types(events) == ["CloseoutSubmitted"]
    assert d.state.closeout["mentee"].attainment == (100, 0)
    events = d.do(closeout("mentor", (0, 100), 0, 1))
    assert types(events) == ["CloseoutSubmitted", "PairingClosed"]
    closed = events[1].payload
    assert (closed.outcome, closed.reason) == (Outcome.COMPLETED, "both sides submitted the closeout survey")
    assert d.state.stage is Stage.CLOSED and d.state.outcome is Outcome.COMPLETED


def test_each_side_submits_the_closeout_once() -> None:
    d = in_closeout()
    d.do(closeout("mentor"))
    err = d.reject(closeout("mentor", recommend=3), DuplicateSubmission, "closeout-duplicate")
    assert err.value == "mentor"


@pytest.mark.parametrize("recommend", [-1, 11])
def test_would_recommend_goes_from_zero_to_ten(recommend: int) -> None:
    d = in_closeout()
    err = d.reject(closeout(recommend=recommend), RuleViolation, "recommend-range")
    assert err.value == recommend


@pytest.mark.parametrize("satisfaction", [0, 6])
def test_satisfaction_goes_from_one_to_five(satisfaction: int) -> None:
    d = in_closeout()
    err = d.reject(closeout(satisfaction=satisfaction), RuleViolation, "rating-range")
    assert err.value == satisfaction


def test_attainment_needs_one_percentage_per_goal() -> None:
    d = in_closeout()
    err = d.reject(closeout(attainment=(50,)), RuleViolation, "attainment-per-goal")
    assert err.value == 1
    err = d.reject(closeout(attainment=(50, 150)), RuleViolation, "attainment-range")
    assert err.value == 150


def test_the_closeout_deadline_closes_the_pairing() -> None:
    d = in_closeout()
    d.do(closeout("mentor"))
    events = d.run_until(d.state.closeout_due_at or T0)
    closed = payloads(events, "PairingClosed")[0]
    assert (closed.outcome, closed.reason) == (Outcome.COMPLETED, "closeout deadline passed")
    assert d.state.stage is Stage.CLOSED and next_alarm(d.state) is None


def test_the_closeout_deadline_closes_a_silent_pairing_too() -> None:
    d = in_closeout()
    events = d.run_until_event("PairingClosed")
    assert payloads(events, "PairingClosed")[0].outcome is Outcome.COMPLETED


def test_a_midpoint_reached_with_too_little_time_left_is_skipped_not_rushed() -> None:
    d = Driver()
    assert d.state.ends_at is not None
    d.at(d.state.ends_at - timedelta(days=3))  # goals agreed only three days before the end
    d.agree()
    events = d.tick()
    assert "MidpointSkipped" in [e.type for e in events] and "MidpointReviewOpened" not in [
        e.type for e in events
    ]
    assert d.state.midpoint_opened and d.state.stage is Stage.SESSIONS


def test_a_midpoint_opened_late_gets_its_full_window() -> None:
    d = Driver()
    d.agree()
    assert d.state.midpoint_at is not None and d.state.terms is not None
    d.at(d.state.midpoint_at + timedelta(days=5))  # the worker was down for five days
    d.tick()
    assert d.state.stage is Stage.MIDPOINT_REVIEW and d.state.midpoint_due_at is not None
    assert d.state.midpoint_due_at == d.state.terms.midpoint_window.add_to(d.now)
