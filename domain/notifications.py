"""Which events tell whom what: the pure mapping from pairing events to notices.

A notice names a recipient *role* (mentor, mentee, operator), never an address: the notification
activity looks the person up in the event store, so personal data stays out of workflow history.
Its ``key`` is derived from the event id, which makes delivery idempotent across retries.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from domain.events import Event
from domain.pairing import (
    AtRiskCleared,
    AtRiskFlagged,
    CloseoutOpened,
    FitCheckAnswered,
    GoalDeadlinePassed,
    GoalsAccepted,
    GoalsAgreed,
    GoalsProposed,
    MidpointDecided,
    MidpointDecisionProposed,
    MidpointReviewOpened,
    MidpointSkipped,
    PairingClosed,
    PairingExtended,
    PairingPaused,
    PairingResumed,
    PairingStarted,
    PairingState,
    ReminderDue,
    SessionMissed,
    SessionRescheduled,
)

Recipient = Literal["mentor", "mentee", "operator"]
Action = Literal["propose_goals", "agree_goals", "log_session", "fit_check", "midpoint", "closeout"]
BOTH: tuple[Recipient, Recipient] = ("mentor", "mentee")


class Notice(BaseModel):
    model_config = ConfigDict(frozen=True)

    key: str
    program_id: str
    pairing_id: str
    recipient: Recipient
    participant_id: str | None = None  # None for the operator
    template: str
    action: Action | None = None
    ref: int | None = None
    summary: str


def notices_for(state: PairingState, event: Event) -> list[Notice]:
    """Notices caused by ``event``; ``state`` is the pairing *after* the event."""
    p = event.payload
    plan: list[tuple[tuple[Recipient, ...], str, Action | None, int | None, str]] = []
    match p:
        case PairingStarted():
            plan.append(
                (
                    BOTH,
                    "welcome",
                    "propose_goals",
                    None,
                    f"Your reverse-mentoring pairing has started; propose 1-5 goals by "
                    f"{p.goals_due_at:%Y-%m-%d}.",
                )
            )
        case GoalsProposed() if len(state.proposed_goals) == 2:
            plan.append(
                (
                    BOTH,
                    "goals_to_agree",
                    "agree_goals",
                    None,
                    "Both of you proposed goals: agree on the final list.",
                )
            )
        case GoalsAccepted():
            other: Recipient = "mentee" if p.side == "mentor" else "mentor"
            # the acceptance that completes the agreement asks nobody to agree again (GoalsAgreed follows)
            theirs = state.accepted_goals.get(other)
            if theirs is None or [g.key() for g in theirs] != [g.key() for g in p.goals]:
                plan.append(
                    (
                        (other,),
                        "partner_agreed_goals",
                        "agree_goals",
                        None,
                        "Your partner agreed to a goal list: review and agree.",
                    )
                )
        case GoalsAgreed():
            plan.append((BOTH, "goals_agreed", None, None, f"Goals agreed ({len(p.goals)})."))
        case GoalDeadlinePassed():
            plan.append(
                (
                    ("operator",),
                    "goals_overdue",
                    None,
                    None,
                    "Goal-setting deadline passed without agreed goals; the pairing waits, flagged.",
                )
            )
        case ReminderDue(reminder="goals"):
            plan.append(
                (
                    BOTH,
                    "goals_reminder",
                    "propose_goals",
                    None,
                    f"Reminder: goals are due {p.due_at:%Y-%m-%d}." if p.due_at else "Reminder: goals due.",
                )
            )
        case ReminderDue(reminder="session"):
            when = f" on {p.due_at:%Y-%m-%d %H:%M} UTC" if p.due_at else ""
            plan.append((BOTH, "session_reminder", None, p.ref, f"Session {p.ref} is coming up{when}."))
        case ReminderDue(reminder="checkin"):
            plan.append(
                (
                    BOTH,
                    "checkin_request",
                    "log_session",
                    p.ref,
                    f"How did session {p.ref} go? Check in: held, missed or rescheduled.",
                )
            )
        case ReminderDue(reminder="fit_check"):
            plan.append(
                (
                    BOTH,
                    "fit_check",
                    "fit_check",
                    p.ref,
                    "Fit check: is this pairing working for you? Your answer is confidential.",
                )
            )
        case ReminderDue(reminder="closeout"):
            pending = tuple(r for r in BOTH if r not in state.closeout)
            plan.append(
                (pending, "closeout_reminder", "closeout", None, "Reminder: the closeout survey is due.")
            )
        case AtRiskFlagged():
            plan.append((("operator",), "at_risk", None, None, f"Pairing at risk: {p.reason}."))
        case AtRiskCleared():
            plan.append(
                (("operator",), "at_risk_cleared", None, None, f"Pairing no longer at risk: {p.reason}.")
            )
        case MidpointSkipped():
            plan.append(
                (("operator",), "midpoint_skipped", None, None, f"Midpoint review skipped: {p.reason}.")
            )
        case SessionMissed():
            plan.append(
                (BOTH, "session_missed", None, p.session, f"Session {p.session} was counted as missed.")
            )
        case SessionRescheduled():
            plan.append(
                (
                    BOTH,
                    "session_rescheduled",
                    None,
                    p.session,
                    f"Session {p.session} moved to {p.to_at:%Y-%m-%d %H:%M} UTC.",
                )
            )
        case FitCheckAnswered(wants_new_partner=True):
            plan.append(
                (
                    ("operator",),
                    "rematch_requested",
                    None,
                    None,
                    f"Confidential: the {p.side} asked for a new partner at the fit check.",
                )
            )
        case MidpointReviewOpened():
            plan.append(
                (
                    BOTH,
                    "midpoint_review",
                    "midpoint",
                    None,
                    f"Midpoint review: rate the relationship and goal progress by {p.due_at:%Y-%m-%d}.",
                )
            )
        case MidpointDecisionProposed():
            plan.append(
                (
                    ("operator",),
                    "midpoint_decision",
                    None,
                    None,
                    f"Midpoint decision proposed: {p.decision.value} ({p.reason}); override until "
                    f"{p.override_until:%Y-%m-%d %H:%M} UTC.",
                )
            )
        case MidpointDecided():
            plan.append(
                (
                    (*BOTH, "operator"),
                    "midpoint_decided",
                    None,
                    None,
                    f"Midpoint decision: {p.decision.value.replace('_', ' ')}.",
                )
            )
        case CloseoutOpened():
            plan.append(
                (
                    BOTH,
                    "closeout_survey",
                    "closeout",
                    None,
                    f"Closeout: tell us how it went, by {p.due_at:%Y-%m-%d}.",
                )
            )
        case PairingPaused():
            plan.append((BOTH, "paused", None, None, "Your pairing is paused."))
        case PairingResumed():
            plan.append((BOTH, "resumed", None, None, "Your pairing has resumed."))
        case PairingExtended():
            plan.append((BOTH, "extended", None, None, f"Your pairing now runs until {p.ends_at:%Y-%m-%d}."))
        case PairingClosed():
            # never the free-text reason: it may be personal, and the partner must not read it
            who = f" (the {p.withdrawn_side} withdrew)" if p.withdrawn_side else ""
            plan.append(
                (
                    (*BOTH, "operator"),
                    "closed",
                    None,
                    None,
                    f"Pairing closed: {p.outcome.value.replace('_', ' ')}{who}.",
                )
            )
    return [
        Notice(
            key=f"{event.event_id}:{recipient}",
            program_id=state.program_id,
            pairing_id=state.pairing_id,
            recipient=recipient,
            participant_id=_participant(state, recipient),
            template=template,
            action=action,
            ref=ref,
            summary=summary,
        )
        for recipients, template, action, ref, summary in plan
        for recipient in recipients
    ]


def _participant(state: PairingState, recipient: Recipient) -> str | None:
    if recipient == "mentor":
        return state.mentor_id
    if recipient == "mentee":
        return state.mentee_id
    return None
