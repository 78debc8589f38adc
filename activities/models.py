"""Payloads that cross the activity boundary (pydantic, so the data converter checks them)."""

from __future__ import annotations

from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, model_validator

from domain.events import Event, EventEnvelope, payload_class
from domain.notifications import Notice


class EventRow(EventEnvelope):
    """A decided event on its way into the store: the envelope as ``Event`` has it, the payload as
    the JSON its typed payload dumps to, which is what the store keeps.

    Built from an ``Event`` (which validated the payload when the domain decided it), so the payload
    is not validated into its class again on the activity's side only to be dumped back to JSON: that
    round trip was most of a publish's decoding. Its type must still be one this code knows, at
    today's schema (an older one would need upcasting first)."""

    payload: dict[str, Any]

    @classmethod
    def of(cls, event: Event) -> EventRow:
        """The row of an event the domain decided, which validated it then: not validated again.
        Every publish of a workflow builds one per event, inside its workflow task."""
        return cls.model_construct(**_row_fields(event))

    @model_validator(mode="before")
    @classmethod
    def _from_event(cls, data: Any) -> Any:
        return _row_fields(data) if isinstance(data, Event) else data

    @model_validator(mode="after")
    def _check_type(self) -> EventRow:
        # UnknownEventType (a ValueError) for a type this code does not know
        self._check_envelope(payload_class(self.type).SCHEMA_VERSION)
        return self


def _row_fields(event: Event) -> dict[str, Any]:
    """An event's fields as its row has them: the envelope as is, the payload as JSON."""
    return {**dict(event), "payload": event.payload_json()}


class RecordBatch(BaseModel):
    """Events of one stream to append after ``expected_version`` (``Event`` objects are accepted)."""

    model_config = ConfigDict(frozen=True)
    stream_id: str
    expected_version: int
    events: list[EventRow]


class RecordOutcome(BaseModel):
    model_config = ConfigDict(frozen=True)
    stream_id: str
    recorded: int
    already_present: int
    version: int


class DeliveryBatch(BaseModel):
    """Notices to deliver for one pairing. ``simulation_seed`` set means participants are simulated."""

    model_config = ConfigDict(frozen=True)
    workflow_id: str
    channel: str
    notices: list[Notice]
    simulation_seed: int | None = None


class DeliveryReport(BaseModel):
    model_config = ConfigDict(frozen=True)
    delivered: int
    skipped_duplicates: int
    simulated_actions: int = 0
    rejected_actions: int = 0


class PairingStatus(BaseModel):
    """What a pairing reports to its program whenever it changes: ids, stage and flags only."""

    model_config = ConfigDict(frozen=True)

    pairing_id: str
    mentee_id: str
    mentor_id: str
    stage: str
    at_risk: bool = False
    ever_at_risk: bool = False
    outcome: str | None = None
    withdrawn_side: str | None = None
    held_sessions: int = 0
    goals_overdue: bool = False
    version: int = 0


class ProgramReport(BaseModel):
    """A pairing's new status, for its program's workflow (signal ``pairing_changed``)."""

    model_config = ConfigDict(frozen=True)
    workflow_id: str
    status: PairingStatus


class PublishBatch(BaseModel):
    """One flush of a workflow: record its new events, deliver the notices they cause, and tell the
    program what changed (``report``) once the events are recorded."""

    model_config = ConfigDict(frozen=True)
    record: RecordBatch
    delivery: DeliveryBatch | None = None
    report: ProgramReport | None = None


class PublishOutcome(BaseModel):
    model_config = ConfigDict(frozen=True)
    record: RecordOutcome
    delivery: DeliveryReport | None = None


class RematchRequest(BaseModel):
    """Ask for a new mentor for one mentee of a running program (ids only)."""

    model_config = ConfigDict(frozen=True)
    program_id: str
    mentee_id: str
    current_assignments: list[tuple[str, str]]  # (mentor_id, mentee_id) of running pairings
    exclude_mentors: list[str]


class RematchProposal(BaseModel):
    model_config = ConfigDict(frozen=True)
    mentor_id: str
    score: float
    reasons: tuple[str, ...] = ()


class RematchWanted(BaseModel):
    model_config = ConfigDict(frozen=True)
    mentee_id: str
    exclude_mentors: list[str]


class RematchBatch(BaseModel):
    """New mentors for every mentee a program must rematch at once (ids only), matched in order."""

    model_config = ConfigDict(frozen=True)
    program_id: str
    wanted: list[RematchWanted]
    current_assignments: list[tuple[str, str]]  # (mentor_id, mentee_id) of running pairings


class RematchProposals(BaseModel):
    model_config = ConfigDict(frozen=True)
    proposals: list[RematchProposal | None]  # one per wanted, in order: None when nobody fits


class WithdrawalRequest(BaseModel):
    model_config = ConfigDict(frozen=True)
    program_id: str
    participant_id: str
    reason: str = ""
    occurred_at: AwareDatetime


class WithdrawalBatch(BaseModel):
    """Participants of one program who withdrew, recorded in the roster in one append."""

    model_config = ConfigDict(frozen=True)
    program_id: str
    withdrawals: list[WithdrawalRequest]


class PairingSpec(BaseModel):
    """A pairing to start: ids, score and reasons (no names or emails)."""

    model_config = ConfigDict(frozen=True)

    pairing_id: str
    mentor_id: str
    mentee_id: str
    score: float | None = None
    reasons: tuple[str, ...] = ()


class PlanPage(BaseModel):
    """Read the program's planned pairings after stream version ``after_version``."""

    model_config = ConfigDict(frozen=True)
    program_id: str
    after_version: int
    limit: int


class PlanChunk(BaseModel):
    model_config = ConfigDict(frozen=True)
    pairings: list[PairingSpec]
    last_version: int  # where the next page starts
