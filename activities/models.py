"""Payloads that cross the activity boundary (pydantic, so the data converter checks them)."""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict

from domain.events import Event
from domain.notifications import Notice


class RecordBatch(BaseModel):
    """Events of one stream to append after ``expected_version``."""

    model_config = ConfigDict(frozen=True)
    stream_id: str
    expected_version: int
    events: list[Event]


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
