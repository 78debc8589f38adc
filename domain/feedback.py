"""Anonymous program feedback: one answer per participant, shown only in aggregates.

Participants tell the program (not their partner, not their manager) how useful it is and whether
they can speak freely in their pairing. A response names no participant: ``respondent`` is an opaque
key the portal derives with a secret salt, enough to refuse a second answer from the same person and
nothing more. The operator sees only :func:`summarize_feedback`, which withholds everything below
``min_responses`` answers (PRODUCT.md: aggregates of at least 5).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, StringConstraints

from domain.errors import DuplicateSubmission, RuleViolation
from domain.events import Event, EventPayload, stamp

MIN_RESPONSES = 5
Comment = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]
Respondent = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{8,64}$")]


def feedback_stream(program_id: str) -> str:
    return f"feedback-{program_id}"


class ProgramFeedbackGiven(EventPayload):
    """One anonymous response. ``occurred_at`` of its event is the day only (see the portal)."""

    TYPE = "ProgramFeedbackGiven"
    respondent: str
    usefulness: int
    safe_to_speak: int
    comment: str = ""


class GiveFeedback(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["give_feedback"] = "give_feedback"
    respondent: Respondent
    usefulness: int
    safe_to_speak: int
    comment: Comment = ""


class FeedbackState(BaseModel):
    model_config = ConfigDict(frozen=True)

    program_id: str
    version: int = 0
    respondents: frozenset[str] = frozenset()
    responses: tuple[ProgramFeedbackGiven, ...] = ()

    @property
    def stream_id(self) -> str:
        return feedback_stream(self.program_id)


def initial_feedback(program_id: str) -> FeedbackState:
    return FeedbackState(program_id=program_id)


def decide_feedback(state: FeedbackState, command: GiveFeedback, now: datetime) -> list[Event]:
    if command.respondent in state.respondents:
        raise DuplicateSubmission(
            "feedback-duplicate", "your feedback on this program is already recorded", None
        )
    for name, value in (("usefulness", command.usefulness), ("safe_to_speak", command.safe_to_speak)):
        if not 1 <= value <= 5:
            raise RuleViolation("rating-range", f"{name} is rated from 1 to 5, not {value}", value)
    given = ProgramFeedbackGiven(
        respondent=command.respondent,
        usefulness=command.usefulness,
        safe_to_speak=command.safe_to_speak,
        comment=command.comment,
    )
    return stamp(state.stream_id, state.version, [given], now)


def evolve_feedback(state: FeedbackState, event: Event) -> FeedbackState:
    payload = event.payload
    if isinstance(payload, ProgramFeedbackGiven):
        return state.model_copy(
            update={
                "version": event.version,
                "respondents": state.respondents | {payload.respondent},
                "responses": (*state.responses, payload),
            }
        )
    return state.model_copy(update={"version": event.version})


def replay_feedback(program_id: str, events: Iterable[Event]) -> FeedbackState:
    state = initial_feedback(program_id)
    for event in events:
        state = evolve_feedback(state, event)
    return state


@dataclass(frozen=True)
class FeedbackSummary:
    """What the operator may see. Below ``min_responses`` only the count is given."""

    responses: int
    min_responses: int
    usefulness_mean: float | None = None
    safe_to_speak_mean: float | None = None
    usefulness_counts: tuple[int, ...] | None = None  # answers 1..5
    safe_to_speak_counts: tuple[int, ...] | None = None
    comments: tuple[str, ...] = ()  # sorted, so their order says nothing about who

    @property
    def withheld(self) -> bool:
        return self.responses < self.min_responses


def summarize_feedback(state: FeedbackState, min_responses: int = MIN_RESPONSES) -> FeedbackSummary:
    responses = state.responses
    n = len(responses)
    if n < max(min_responses, 1):
        return FeedbackSummary(responses=n, min_responses=min_responses)
    return FeedbackSummary(
        responses=n,
        min_responses=min_responses,
        usefulness_mean=round(sum(r.usefulness for r in responses) / n, 2),
        safe_to_speak_mean=round(sum(r.safe_to_speak for r in responses) / n, 2),
        usefulness_counts=tuple(sum(1 for r in responses if r.usefulness == v) for v in range(1, 6)),
        safe_to_speak_counts=tuple(sum(1 for r in responses if r.safe_to_speak == v) for v in range(1, 6)),
        comments=tuple(sorted(r.comment for r in responses if r.comment)),
    )
