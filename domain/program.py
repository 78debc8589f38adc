"""The program: its configuration (the parsed program file) and the program aggregate.

The configuration states the program's goals as measurable targets *before* it starts (step 1 of the
product), its schedule, its matching preferences and its channels.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from domain.durations import Duration, IsoDuration
from domain.errors import InvalidTransition, RuleViolation
from domain.events import Event, EventPayload, stamp
from domain.metrics import METRICS

PROGRAM_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")


def _d(text: str) -> IsoDuration:
    return IsoDuration.parse(text)


class _Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ScheduleSettings(_Settings):
    """When things happen in every pairing. Durations are ISO-8601 (P6M, P2W, P3D, PT12H)."""

    duration: Duration = _d("P6M")
    session_cadence: Duration = _d("P2W")
    first_session_after: Duration = _d("P1W")
    goal_setting_deadline: Duration = _d("P3W")
    goal_reminders: tuple[Duration, ...] = (_d("P1W"), _d("P2D"))
    session_reminder: Duration = _d("P1D")
    checkin_window: Duration = _d("P3D")
    at_risk_after_misses: int = Field(2, ge=1, le=20)
    allow_checkin_before_goals: bool = False


class MidpointSettings(_Settings):
    """The midpoint review and its decision rule (evaluated in this order)."""

    at: float = Field(0.5, gt=0, lt=1)
    window: Duration = _d("P1W")
    override_window: Duration = _d("P3D")
    rematch_if_relationship_below: int = Field(3, ge=1, le=5)
    end_early_if_progress_below: int = Field(20, ge=0, le=100)


class CloseoutSettings(_Settings):
    window: Duration = _d("P2W")
    reminder: Duration = _d("P3D")


class Target(_Settings):
    """A measurable target on one metric of the impact report."""

    metric: str
    at_least: float | None = None
    at_most: float | None = None

    @model_validator(mode="after")
    def _one_possible_bound(self) -> Target:
        """Also checked here, not only by the file parser, so no code path builds an impossible target."""
        if (self.at_least is None) == (self.at_most is None):
            raise ValueError("a target needs exactly one of at_least or at_most")
        metric = METRICS.get(self.metric)
        if metric is None:
            raise ValueError(f"unknown metric {self.metric!r}")
        bound = self.at_least if self.at_least is not None else self.at_most
        assert bound is not None
        if not metric.minimum <= bound <= metric.maximum:
            raise ValueError(
                f"impossible target: {self.metric} bound {bound} is outside "
                f"{metric.minimum}..{metric.maximum}"
            )
        return self

    def met_by(self, value: float) -> bool:
        if self.at_least is not None:
            return value >= self.at_least
        assert self.at_most is not None
        return value <= self.at_most


class MatchingWeights(_Settings):
    """Relative weights of the compatibility score; each criterion scores 0..1 before weighting.

    The score of a pair is the weighted sum, rounded to 4 decimals (see :mod:`domain.compatibility`).
    """

    skills: float = Field(3.0, ge=0)  # share of the mentee's wanted skills the mentor offers
    reverse_skills: float = Field(1.0, ge=0)  # share of the mentor's wanted skills the mentee offers
    communication_style: float = Field(1.0, ge=0)  # 1 same style, 0.5 a compatible_styles pair
    timezone_overlap: float = Field(1.0, ge=0)  # shared working hours / length of the working day
    languages: float = Field(1.0, ge=0)  # 1 when they share a language
    serendipity: float = Field(0.5, ge=0)  # seeded bonus for unlikely cross-department pairs


class MatchingRequirements(_Settings):
    """Criteria declared required instead of (or as well as) weighted: a pair failing one is never
    proposed."""

    shared_language: bool = False
    min_overlap_hours: float = Field(0.0, ge=0, le=24)
    min_skills_covered: int = Field(0, ge=0, le=50)
    min_skills_learned_back: int = Field(0, ge=0, le=50)
    compatible_communication_style: bool = False
    cross_department: bool = False


class WorkingHours(_Settings):
    """Everyone's local working day in hours (9 = 09:00, 17.5 = 17:30): time-zone overlap is measured on
    it."""

    start: float = Field(9.0, ge=0, le=24)
    end: float = Field(17.0, ge=0, le=24)

    @model_validator(mode="after")
    def _start_before_end(self) -> WorkingHours:
        if self.start >= self.end:
            raise ValueError(f"working_hours start ({self.start:g}) must be before end ({self.end:g})")
        return self

    @property
    def length(self) -> float:
        return self.end - self.start


class MatchingSettings(_Settings):
    """How mentors and mentees are paired. Exclusions and forced pairs name people by email."""

    seed: int = 0
    reverse_pairs: bool = True
    weights: MatchingWeights = MatchingWeights()
    required: MatchingRequirements = MatchingRequirements()
    working_hours: WorkingHours = WorkingHours()
    compatible_styles: tuple[tuple[str, str], ...] = ()
    exclude: tuple[tuple[str, str], ...] = ()
    force: tuple[tuple[str, str], ...] = ()

    @field_validator("compatible_styles")
    @classmethod
    def _styles_lowercase(cls, value: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
        """Styles are compared as the roster stores them: trimmed and lowercased."""
        pairs = tuple((a.strip().lower(), b.strip().lower()) for a, b in value)
        for a, b in pairs:
            if not a or not b:
                raise ValueError("compatible_styles pairs name two communication styles")
        return pairs


class Channel(StrEnum):
    CONSOLE = "console"
    SIMULATED = "simulated"
    EMAIL = "email"
    WEBHOOK = "webhook"


class EmailSecurity(StrEnum):
    NONE = "none"  # plain SMTP (a local relay or a test sink)
    STARTTLS = "starttls"
    TLS = "tls"  # implicit TLS (port 465)


class EmailSettings(_Settings):
    """Where mail goes. Credentials are never here: TANDEM_SMTP_USERNAME / TANDEM_SMTP_PASSWORD."""

    host: str = Field("localhost", min_length=1, max_length=253)
    port: int = Field(25, ge=1, le=65535)
    sender: str = Field("tandem@localhost", min_length=3, max_length=254)
    operator: str = ""  # address for operator notices; empty: operator notices go to the console
    security: EmailSecurity = EmailSecurity.NONE
    timeout_seconds: float = Field(30.0, gt=0, le=120)


class WebhookSettings(_Settings):
    """A Slack-compatible incoming webhook. Its URL is a credential, so the file only names the
    environment variable that holds it."""

    url_env: str = Field("TANDEM_WEBHOOK_URL", pattern=r"^[A-Z_][A-Z0-9_]*$")
    timeout_seconds: float = Field(10.0, gt=0, le=120)


class RetrySettings(_Settings):
    """Backoff for transient delivery failures (mail server down, webhook 5xx): it doubles from
    ``initial_seconds`` up to ``max_seconds`` and never gives up (faults delay, they do not lose)."""

    initial_seconds: float = Field(5.0, gt=0, le=86_400)
    max_seconds: float = Field(3_600.0, gt=0, le=7 * 86_400)


class NotificationSettings(_Settings):
    channel: Channel = Channel.CONSOLE
    email: EmailSettings = EmailSettings()
    webhook: WebhookSettings = WebhookSettings()
    retry: RetrySettings = RetrySettings()
    session_minutes: int = Field(60, ge=5, le=480)  # length of a session in calendar invitations


class ProgramConfig(_Settings):
    """A parsed, validated program file."""

    id: str
    name: str = Field(min_length=1, max_length=200)
    description: str = ""
    schedule: ScheduleSettings = ScheduleSettings()
    midpoint: MidpointSettings = MidpointSettings()
    closeout: CloseoutSettings = CloseoutSettings()
    targets: tuple[Target, ...] = ()
    matching: MatchingSettings = MatchingSettings()
    notifications: NotificationSettings = NotificationSettings()

    @field_validator("id")
    @classmethod
    def _id_shape(cls, value: str) -> str:
        if not PROGRAM_ID_PATTERN.match(value):
            raise ValueError(
                f"program id {value!r} must be 2-63 characters of lowercase letters, digits and '-'"
            )
        return value


# ---------------------------------------------------------------------------------------------
# The program aggregate: created, configured, started, closed.


class ProgramStage(StrEnum):
    NEW = "new"
    CREATED = "created"
    RUNNING = "running"
    CLOSED = "closed"


class ProgramCreated(EventPayload):
    TYPE = "ProgramCreated"
    program_id: str
    name: str


class ProgramConfigured(EventPayload):
    TYPE = "ProgramConfigured"
    config: ProgramConfig


class PairingPlanned(EventPayload):
    """One pairing the program will start: ids, score and reasons only (no names or emails).

    The plan lives in the program's stream, not in workflow input, so a 5,000-pairing program's
    workflow history stays small: the workflow reads its plan in pages.
    """

    TYPE = "PairingPlanned"
    pairing_id: str
    mentor_id: str
    mentee_id: str
    score: float | None = None
    reasons: tuple[str, ...] = ()


class ProgramStarted(EventPayload):
    TYPE = "ProgramStarted"
    pairings: int = Field(ge=0)


class ProgramClosed(EventPayload):
    TYPE = "ProgramClosed"
    outcomes: dict[str, int]


class CreateProgram(BaseModel):
    model_config = ConfigDict(frozen=True)
    type: Literal["create"] = "create"
    config: ProgramConfig


class ConfigureProgram(BaseModel):
    model_config = ConfigDict(frozen=True)
    type: Literal["configure"] = "configure"
    config: ProgramConfig


class StartProgram(BaseModel):
    model_config = ConfigDict(frozen=True)
    type: Literal["start"] = "start"
    pairings: int = Field(ge=0)


class PlanPairings(BaseModel):
    model_config = ConfigDict(frozen=True)
    type: Literal["plan"] = "plan"
    pairings: tuple[PairingPlanned, ...]


class CloseProgram(BaseModel):
    model_config = ConfigDict(frozen=True)
    type: Literal["close"] = "close"
    outcomes: dict[str, int]


ProgramCommand = CreateProgram | ConfigureProgram | PlanPairings | StartProgram | CloseProgram


class ProgramState(BaseModel):
    model_config = ConfigDict(frozen=True)

    program_id: str
    version: int = 0
    stage: ProgramStage = ProgramStage.NEW
    config: ProgramConfig | None = None
    pairings: int = 0
    planned: int = 0
    outcomes: dict[str, int] = Field(default_factory=dict)

    @property
    def stream_id(self) -> str:
        return program_stream(self.program_id)


def program_stream(program_id: str) -> str:
    return f"program-{program_id}"


def initial_program(program_id: str) -> ProgramState:
    return ProgramState(program_id=program_id)


def decide_program(state: ProgramState, command: ProgramCommand, now: datetime) -> list[Event]:
    payloads: list[EventPayload]
    match command:
        case CreateProgram(config=config):
            if state.stage is not ProgramStage.NEW:
                raise InvalidTransition(
                    "program-exists", f"program {state.program_id} already exists", state.program_id
                )
            if config.id != state.program_id:
                raise RuleViolation(
                    "program-id-mismatch",
                    f"config is for program {config.id}, not {state.program_id}",
                    config.id,
                )
            payloads = [
                ProgramCreated(program_id=config.id, name=config.name),
                ProgramConfigured(config=config),
            ]
        case ConfigureProgram(config=config):
            if state.stage in (ProgramStage.NEW, ProgramStage.CLOSED):
                raise InvalidTransition(
                    "program-not-open", f"program {state.program_id} is {state.stage}", str(state.stage)
                )
            if config.id != state.program_id:
                raise RuleViolation(
                    "program-id-mismatch",
                    f"config is for program {config.id}, not {state.program_id}",
                    config.id,
                )
            payloads = [ProgramConfigured(config=config)]
        case PlanPairings(pairings=planned):
            if state.stage is not ProgramStage.CREATED:
                raise InvalidTransition(
                    "program-not-plannable",
                    f"program {state.program_id} is {state.stage}; pairings are planned before it starts",
                    str(state.stage),
                )
            ids = [p.pairing_id for p in planned]
            if len(set(ids)) != len(ids):
                raise RuleViolation("duplicate-pairing", "the same pairing is planned twice", ids)
            payloads = list(planned)
        case StartProgram(pairings=pairings):
            if state.stage is not ProgramStage.CREATED:
                raise InvalidTransition(
                    "program-not-startable",
                    f"program {state.program_id} is {state.stage}, not created",
                    str(state.stage),
                )
            payloads = [ProgramStarted(pairings=pairings)]
        case CloseProgram(outcomes=outcomes):
            if state.stage is not ProgramStage.RUNNING:
                raise InvalidTransition(
                    "program-not-running",
                    f"program {state.program_id} is {state.stage}, not running",
                    str(state.stage),
                )
            payloads = [ProgramClosed(outcomes=dict(outcomes))]
    return stamp(state.stream_id, state.version, payloads, now)


def evolve_program(state: ProgramState, event: Event) -> ProgramState:
    update: dict[str, object] = {"version": event.version}
    match event.payload:
        case ProgramCreated():
            update["stage"] = ProgramStage.CREATED
        case ProgramConfigured(config=config):
            update["config"] = config
        case PairingPlanned():
            update["planned"] = state.planned + 1
        case ProgramStarted(pairings=pairings):
            update["stage"] = ProgramStage.RUNNING
            update["pairings"] = pairings
        case ProgramClosed(outcomes=outcomes):
            update["stage"] = ProgramStage.CLOSED
            update["outcomes"] = dict(outcomes)
    return state.model_copy(update=update)


def replay_program(program_id: str, events: list[Event]) -> ProgramState:
    state = initial_program(program_id)
    for event in events:
        state = evolve_program(state, event)
    return state
