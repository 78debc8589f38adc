"""One form per portal action: what it shows, how it reads the posted fields, when it is done.

Each form turns the posted fields into the very domain command the operator CLI sends
(``tandem/cli/act.py``); pydantic's errors and the workflow validator's ``RuleViolation`` both come
back as messages next to the field they are about. The side (mentor or mentee) is never a field: it
comes from the signed token and the pairing's roster.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ValidationError

from domain.pairing import (
    MAX_GOALS,
    SIDES,
    AgreeGoals,
    AnswerFitCheck,
    Goal,
    LogSession,
    PairingState,
    ProposeGoals,
    SessionStatus,
    Side,
    Stage,
    SubmitCloseout,
    SubmitMidpoint,
)

Fields = dict[str, str]  # the posted form, one value per name (checkboxes: see ``lists``)


class FormErrors(Exception):
    """Problems found while reading the form: ``errors`` maps a field name ("" = the whole form)."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k or 'form'}: {v}" for k, v in errors.items()))
        self.errors = errors


_FRIENDLY = {
    "missing": "Please fill this in.",
    "int_parsing": "Enter a whole number.",
    "int_type": "Enter a whole number.",
    "string_too_short": "Please fill this in.",
    "bool_parsing": "Choose one of the options.",
}


def pydantic_errors(exc: ValidationError, name_of: Callable[[tuple[Any, ...]], str]) -> dict[str, str]:
    errors: dict[str, str] = {}
    for problem in exc.errors():
        name = name_of(tuple(problem["loc"]))
        message = _FRIENDLY.get(problem["type"]) or problem["msg"].rstrip(".") + "."
        if problem["type"] == "literal_error" or problem["type"] == "enum":
            message = "Choose one of the options."
        errors.setdefault(name, message)
    return errors


def _plain_name(loc: tuple[Any, ...]) -> str:
    if not loc:
        return ""
    head = str(loc[0])
    if head in ("progress", "attainment") and len(loc) > 1:
        return f"{head}-{loc[1]}"
    return head


def _given(fields: Fields, name: str) -> dict[str, str]:
    """The field if it was filled in; a blank one is left out, so pydantic reports it missing."""
    value = fields.get(name, "").strip()
    return {name: value} if value else {}


def _blank_to_none(value: str | None) -> str | None:
    return None if value is None or not value.strip() else value.strip()


@dataclass
class Context:
    """What a form needs to know, read from the event store (never from workflow history)."""

    state: PairingState
    side: Side
    timezone: str = "UTC"
    lists: dict[str, list[str]] = field(default_factory=dict)  # multi-valued fields (checkboxes)
    my_notes: list[tuple[int, str]] = field(default_factory=list)  # this side's own private notes only

    @property
    def zone(self) -> ZoneInfo:
        try:
            return ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            return ZoneInfo("UTC")


class ActionForm:
    action: str
    update: str  # the pairing workflow's Update name ("" for program feedback)
    title: str
    template: str
    rules: dict[str, str] = {}  # domain rule -> field name

    def done(self, ctx: Context, ref: int | None) -> str | None:
        """A sentence if this participant already did this (the link is used up), else None."""
        return None

    def view(self, ctx: Context, ref: int | None) -> dict[str, Any]:
        return {}

    def parse(self, fields: Fields, ctx: Context, ref: int | None) -> BaseModel:
        raise NotImplementedError

    def field_for(self, rule: str, message: str) -> str:
        return self.rules.get(rule, "")


# -- goals --------------------------------------------------------------------------------------------


def _goal_value(goal: Goal) -> str:
    raw = json.dumps([goal.title, goal.signal], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _goal_from_value(value: str) -> Goal:
    try:
        title, signal = json.loads(base64.urlsafe_b64decode(value.encode()))
        return Goal(title=str(title), signal=str(signal))
    except (binascii.Error, ValueError, TypeError):
        raise FormErrors({"goals": "That goal is not one of the proposed goals."}) from None


class ProposeGoalsForm(ActionForm):
    action = "propose_goals"
    update = "propose_goals"
    title = "Propose your goals"
    template = "propose_goals.html"
    rules = {"goal-count": "goals", "duplicate-goal": "goals"}

    def view(self, ctx: Context, ref: int | None) -> dict[str, Any]:
        mine = ctx.state.proposed_goals.get(ctx.side, ())
        rows = [{"title": g.title, "signal": g.signal} for g in mine]
        rows += [{"title": "", "signal": ""}] * (MAX_GOALS - len(rows))
        return {"rows": rows, "already_proposed": bool(mine)}

    def parse(self, fields: Fields, ctx: Context, ref: int | None) -> BaseModel:
        raw: list[dict[str, str]] = []
        rows: list[int] = []
        for i in range(MAX_GOALS):
            title = fields.get(f"goal-{i}-title", "").strip()
            signal = fields.get(f"goal-{i}-signal", "").strip()
            if title or signal:
                raw.append({"title": title, "signal": signal})
                rows.append(i)

        def name_of(loc: tuple[Any, ...]) -> str:
            if len(loc) >= 3 and loc[0] == "goals" and isinstance(loc[1], int):
                return f"goal-{rows[loc[1]]}-{loc[2]}"
            return "goals"

        try:
            return ProposeGoals(side=ctx.side, goals=raw)  # type: ignore[arg-type]
        except ValidationError as exc:
            raise FormErrors(pydantic_errors(exc, name_of)) from None


class AgreeGoalsForm(ActionForm):
    action = "agree_goals"
    update = "agree_goals"
    title = "Agree on your goals"
    template = "agree_goals.html"
    rules = {"goal-count": "goals", "duplicate-goal": "goals", "goals-not-proposed": "goals"}

    def done(self, ctx: Context, ref: int | None) -> str | None:
        if ctx.state.goals:
            return "Your goals are agreed."
        return None

    def view(self, ctx: Context, ref: int | None) -> dict[str, Any]:
        seen: set[tuple[str, str]] = set()
        choices = []
        other: Side = "mentee" if ctx.side == "mentor" else "mentor"
        checked = {g.key() for g in ctx.state.accepted_goals.get(other, ())} or {
            g.key() for g in ctx.state.proposed_goals.get(ctx.side, ())
        }
        for side in SIDES:
            for goal in ctx.state.proposed_goals.get(side, ()):
                if goal.key() in seen:
                    continue
                seen.add(goal.key())
                choices.append(
                    {
                        "value": _goal_value(goal),
                        "title": goal.title,
                        "signal": goal.signal,
                        "by": "you" if side == ctx.side else "your partner",
                        "checked": goal.key() in checked,
                    }
                )
        return {
            "choices": choices,
            "partner_agreed": other in ctx.state.accepted_goals,
            "waiting_for": [s for s in SIDES if s not in ctx.state.proposed_goals],
        }

    def parse(self, fields: Fields, ctx: Context, ref: int | None) -> BaseModel:
        goals = [_goal_from_value(v) for v in ctx.lists.get("goal", [])]
        try:
            return AgreeGoals(side=ctx.side, goals=tuple(goals))
        except ValidationError as exc:
            raise FormErrors(pydantic_errors(exc, lambda loc: "goals")) from None


# -- sessions -----------------------------------------------------------------------------------------


class LogSessionForm(ActionForm):
    action = "log_session"
    update = "log_session"
    title = "Check in for your session"
    template = "log_session.html"
    rules = {
        "rating-required": "rating",
        "rating-range": "rating",
        "rating-not-allowed": "rating",
        "too-many-topics": "topics",
        "reschedule-needs-time": "rescheduled_to",
        "reschedule-in-past": "rescheduled_to",
        "reschedule-after-end": "rescheduled_to",
        "reschedule-time-not-allowed": "rescheduled_to",
        "adhoc-held-only": "status",
        "session-already-recorded": "status",
    }

    def _record(self, ctx: Context, ref: int | None) -> Any:
        if ref is None:
            return ctx.state.current_session
        return next((s for s in ctx.state.sessions if s.number == ref), None)

    def done(self, ctx: Context, ref: int | None) -> str | None:
        record = self._record(ctx, ref) if ref is not None else None
        if (
            record is not None
            and ctx.side in record.reported_by
            and record.status is not SessionStatus.RESCHEDULED
        ):
            return f"Your check-in for session {record.number} is recorded."
        return None

    def view(self, ctx: Context, ref: int | None) -> dict[str, Any]:
        record = self._record(ctx, ref)
        when = record.at.astimezone(ctx.zone).strftime("%A %d %B %Y, %H:%M") if record else None
        return {
            "session": record.number if record else None,
            "when": when,
            "timezone": ctx.zone.key,
            "statuses": [s.value for s in SessionStatus],
            "my_notes": ctx.my_notes,
        }

    def parse(self, fields: Fields, ctx: Context, ref: int | None) -> BaseModel:
        errors: dict[str, str] = {}
        rescheduled_to: datetime | None = None
        text = _blank_to_none(fields.get("rescheduled_to"))
        if text is not None:
            try:
                moment = datetime.fromisoformat(text)
                rescheduled_to = moment if moment.tzinfo else moment.replace(tzinfo=ctx.zone)
            except ValueError:
                errors["rescheduled_to"] = "Enter a date and time, e.g. 2027-03-14 15:30."
        topics = tuple(
            t.strip() for t in fields.get("topics", "").replace(",", "\n").splitlines() if t.strip()
        )
        data: dict[str, Any] = {
            "side": ctx.side,
            "session": ref,
            "status": fields.get("status", ""),
            "rating": _blank_to_none(fields.get("rating")),
            "topics": topics,
            "private_note": fields.get("private_note", ""),
            "rescheduled_to": rescheduled_to,
        }
        if not data["status"]:
            errors.setdefault("status", "Choose held, missed or rescheduled.")
        try:
            command = LogSession.model_validate(data)
        except ValidationError as exc:
            errors = {**pydantic_errors(exc, _plain_name), **errors}
        if errors:
            raise FormErrors(errors)
        return command


class FitCheckForm(ActionForm):
    action = "fit_check"
    update = "answer_fit_check"
    title = "Confidential fit check"
    template = "fit_check.html"

    def done(self, ctx: Context, ref: int | None) -> str | None:
        if ctx.side in ctx.state.fit_check:
            return "Your fit-check answer is recorded."
        return None

    def parse(self, fields: Fields, ctx: Context, ref: int | None) -> BaseModel:
        answer = fields.get("wants_new_partner", "")
        if answer not in ("yes", "no"):
            raise FormErrors({"wants_new_partner": "Choose one of the two answers."})
        return AnswerFitCheck(side=ctx.side, wants_new_partner=answer == "yes")


def _goal_numbers(fields: Fields, prefix: str, goals: int) -> list[str]:
    values = [fields.get(f"{prefix}-{i}", "").strip() for i in range(goals)]
    blank = {f"{prefix}-{i}": "Please fill this in." for i, v in enumerate(values) if not v}
    if blank:
        raise FormErrors(blank)
    return values


class MidpointForm(ActionForm):
    action = "midpoint"
    update = "submit_midpoint"
    title = "Midpoint review"
    template = "midpoint.html"
    rules = {"progress-per-goal": "progress-0", "progress-range": "progress-0"}

    def done(self, ctx: Context, ref: int | None) -> str | None:
        if ctx.side in ctx.state.midpoint_reviews:
            return "Your midpoint review is recorded."
        return None

    def view(self, ctx: Context, ref: int | None) -> dict[str, Any]:
        return {"goals": [g.title for g in ctx.state.goals]}

    def field_for(self, rule: str, message: str) -> str:
        if rule == "rating-range":
            return "psychological_safety" if message.startswith("psychological") else "relationship"
        return super().field_for(rule, message)

    def parse(self, fields: Fields, ctx: Context, ref: int | None) -> BaseModel:
        progress = _goal_numbers(fields, "progress", len(ctx.state.goals))
        try:
            return SubmitMidpoint.model_validate(
                {
                    "side": ctx.side,
                    **_given(fields, "relationship"),
                    **_given(fields, "psychological_safety"),
                    "progress": progress,
                }
            )
        except ValidationError as exc:
            raise FormErrors(pydantic_errors(exc, _plain_name)) from None


class CloseoutForm(ActionForm):
    action = "closeout"
    update = "submit_closeout"
    title = "Closeout survey"
    template = "closeout.html"
    rules = {
        "recommend-range": "would_recommend",
        "rating-range": "satisfaction",
        "attainment-per-goal": "attainment-0",
        "attainment-range": "attainment-0",
    }

    def done(self, ctx: Context, ref: int | None) -> str | None:
        if ctx.side in ctx.state.closeout:
            return "Your closeout survey is recorded."
        return None

    def view(self, ctx: Context, ref: int | None) -> dict[str, Any]:
        return {"goals": [g.title for g in ctx.state.goals]}

    def parse(self, fields: Fields, ctx: Context, ref: int | None) -> BaseModel:
        attainment = _goal_numbers(fields, "attainment", len(ctx.state.goals))
        try:
            return SubmitCloseout.model_validate(
                {
                    "side": ctx.side,
                    "attainment": attainment,
                    **_given(fields, "would_recommend"),
                    **_given(fields, "satisfaction"),
                    "takeaways": fields.get("takeaways", ""),
                }
            )
        except ValidationError as exc:
            raise FormErrors(pydantic_errors(exc, _plain_name)) from None


class FeedbackForm(ActionForm):
    """Anonymous program feedback: recorded in the event store, not sent to the pairing."""

    action = "feedback"
    update = ""
    title = "Anonymous feedback on the program"
    template = "feedback.html"
    rules = {"rating-range": "usefulness"}

    def field_for(self, rule: str, message: str) -> str:
        if rule == "rating-range" and message.startswith("safe_to_speak"):
            return "safe_to_speak"
        return super().field_for(rule, message)

    def parse(self, fields: Fields, ctx: Context, ref: int | None) -> BaseModel:
        from domain.feedback import GiveFeedback

        try:
            return GiveFeedback.model_validate(
                {
                    "respondent": fields["_respondent"],
                    **_given(fields, "usefulness"),
                    **_given(fields, "safe_to_speak"),
                    "comment": fields.get("comment", ""),
                }
            )
        except ValidationError as exc:
            raise FormErrors(pydantic_errors(exc, _plain_name)) from None


FORMS: dict[str, ActionForm] = {
    f.action: f
    for f in (
        ProposeGoalsForm(),
        AgreeGoalsForm(),
        LogSessionForm(),
        FitCheckForm(),
        MidpointForm(),
        CloseoutForm(),
        FeedbackForm(),
    )
}

# the stages in which an action can still be taken (else the page says so instead of a form)
OPEN_STAGES: dict[str, tuple[Stage, ...]] = {
    "propose_goals": (Stage.GOAL_SETTING,),
    "agree_goals": (Stage.GOAL_SETTING,),
    "log_session": (Stage.GOAL_SETTING, Stage.SESSIONS, Stage.MIDPOINT_REVIEW, Stage.CLOSEOUT),
    "fit_check": (Stage.GOAL_SETTING, Stage.SESSIONS, Stage.MIDPOINT_REVIEW),
    "midpoint": (Stage.MIDPOINT_REVIEW,),
    "closeout": (Stage.CLOSEOUT,),
    "feedback": tuple(Stage),
}
