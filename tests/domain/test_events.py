"""The event envelope: deterministic ids, numbering, sequence checks, JSON round trips and upcasting."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any, ClassVar

import pytest
from pydantic import ValidationError

from domain import events as events_module
from domain.events import (
    EVENT_NAMESPACE,
    Event,
    EventPayload,
    UnknownEventType,
    check_sequence,
    event_id_for,
    event_types,
    payload_class,
    stamp,
    upcast,
    upcaster,
)
from domain.feedback import ProgramFeedbackGiven
from domain.leavers import LeaversImported, ParticipantLeftCompany
from domain.pairing import (
    AtRiskCleared,
    AtRiskFlagged,
    CloseoutOpened,
    CloseoutSubmitted,
    FitCheckAnswered,
    Goal,
    GoalDeadlinePassed,
    GoalsAccepted,
    GoalsAgreed,
    GoalsProposed,
    MidpointDecided,
    MidpointDecision,
    MidpointDecisionProposed,
    MidpointReviewOpened,
    MidpointReviewSubmitted,
    MidpointSkipped,
    NoteAdded,
    Outcome,
    PairingClosed,
    PairingExtended,
    PairingPaused,
    PairingProposed,
    PairingResumed,
    PairingStarted,
    ReminderDue,
    SessionCheckedIn,
    SessionHeld,
    SessionMissed,
    SessionRescheduled,
    SessionScheduled,
    SessionStatus,
)
from domain.program import (
    PairingPlanned,
    ProgramClosed,
    ProgramConfig,
    ProgramConfigured,
    ProgramCreated,
    ProgramStarted,
)
from domain.roster import Participant, ParticipantEnrolled, ParticipantWithdrawn, Role
from tests.domain.pairing_helpers import DEFAULT_TERMS, T0

STREAM = "pairing-rm-test.pa.pb"
LATER = T0 + timedelta(days=30)
G = (Goal(title="Use an AI assistant weekly", signal="4 weekly plans"), Goal(title="Post", signal="3 posts"))
CONFIG = ProgramConfig.model_validate(
    {
        "id": "rm-test",
        "name": "Test program",
        "schedule": {"duration": "P3M", "goal_reminders": ["P1W", "P1DT12H"]},
        "targets": [
            {"metric": "session_completion", "at_least": 0.8},
            {"metric": "at_risk_rate", "at_most": 0.15},
        ],
        "matching": {"exclude": [["a@x.com", "b@x.com"]], "force": [["c@x.com", "d@x.com"]]},
    }
)
PERSON = Participant(
    participant_id="p0123456789ab",
    email="ava@example.com",
    name="Ava Thompson",
    role=Role.MENTOR,
    title="Analyst",
    department="Marketing",
    level=2,
    manager_email="dan@example.com",
    skills_offered=("TikTok",),
    skills_wanted=("negotiation",),
    communication_style="direct",
    timezone="Europe/London",
    languages=("en", "fr"),
)

SAMPLES: dict[str, EventPayload] = {
    p.TYPE: p
    for p in (
        ProgramFeedbackGiven(respondent="r0123456789abcdef", usefulness=4, safe_to_speak=5, comment="Time"),
        PairingProposed(
            pairing_id="rm-test.pa.pb",
            program_id="rm-test",
            mentor_id="pa",
            mentee_id="pb",
            score=2.75,
            reasons=("same communication style",),
            replaces="rm-test.pa.pc",
        ),
        PairingStarted(
            starts_at=T0,
            ends_at=LATER,
            goals_due_at=T0 + timedelta(days=21),
            midpoint_at=T0 + timedelta(days=15, hours=3),
            terms=DEFAULT_TERMS,
        ),
        GoalsProposed(side="mentor", goals=G),
        GoalsAccepted(side="mentee", goals=G),
        GoalsAgreed(goals=G),
        GoalDeadlinePassed(due_at=T0),
        ReminderDue(reminder="session", key="session:3", ref=3, due_at=LATER),
        SessionScheduled(session=2, at=LATER),
        SessionCheckedIn(
            session=2,
            side="mentee",
            status=SessionStatus.RESCHEDULED,
            topics=("AI", "TikTok"),
            private_note="private",
            rescheduled_to=LATER,
        ),
        SessionHeld(session=2),
        SessionMissed(session=3, reason="no check-in"),
        SessionRescheduled(session=2, from_at=T0, to_at=LATER),
        AtRiskFlagged(reason="2 sessions missed in a row", consecutive_misses=2),
        AtRiskCleared(reason="session 4 held"),
        FitCheckAnswered(side="mentee", wants_new_partner=True),
        MidpointReviewOpened(due_at=LATER),
        MidpointSkipped(reason="too little time left"),
        MidpointReviewSubmitted(side="mentor", relationship=4, psychological_safety=5, progress=(30, 70)),
        MidpointDecisionProposed(decision=MidpointDecision.END_EARLY, reason="low", override_until=LATER),
        MidpointDecided(decision=MidpointDecision.REMATCH, overridden=True, reason="operator"),
        PairingPaused(reason="leave"),
        PairingResumed(paused_seconds=86400.5),
        PairingExtended(by="P1M2W", ends_at=LATER),
        NoteAdded(author="operator", text="spoke to both"),
        CloseoutOpened(due_at=LATER),
        CloseoutSubmitted(
            side="mentor", attainment=(80, 60), would_recommend=9, satisfaction=5, takeaways="t"
        ),
        PairingClosed(outcome=Outcome.WITHDRAWN, reason="mentee withdrew", withdrawn_side="mentee"),
        ProgramCreated(program_id="rm-test", name="Test program"),
        ProgramConfigured(config=CONFIG),
        PairingPlanned(
            pairing_id="rm-test.pa.pb",
            mentor_id="pa",
            mentee_id="pb",
            score=0.72,
            reasons=("same communication style",),
        ),
        ProgramStarted(pairings=12),
        ParticipantLeftCompany(participant_id="p0123456789ab", left_on=date(2027, 6, 30)),
        LeaversImported(as_of=date(2027, 9, 1), rows=3, participants=2, recorded=2),
        ProgramClosed(outcomes={"completed": 10, "withdrawn": 2}),
        ParticipantEnrolled(participant=PERSON),
        ParticipantWithdrawn(participant_id="p0123456789ab", reason="left the company"),
    )
}


# -- ids, numbering, sequences ------------------------------------------------------------------------


def test_event_ids_are_deterministic_uuid5_of_stream_and_version() -> None:
    assert event_id_for(STREAM, 1) == event_id_for(STREAM, 1)
    assert event_id_for(STREAM, 1) == str(uuid.uuid5(EVENT_NAMESPACE, f"{STREAM}/1"))
    assert uuid.UUID(event_id_for(STREAM, 1)).version == 5


def test_event_ids_are_the_standard_uuid5_for_any_stream() -> None:
    """event_id_for computes uuid5 by hand (for speed): it must agree with the standard library on
    every kind of stream id, non-ASCII included, and at any version."""
    streams = [STREAM, "", "pairing-Zoë.ünïcode", "program-\u2603-snow", "x" * 300, "a/b/c"]
    for stream in streams:
        for version in (1, 2, 9, 10, 255, 256, 65_537, 10**12):
            expected = uuid.uuid5(EVENT_NAMESPACE, f"{stream}/{version}")
            assert event_id_for(stream, version) == str(expected), (stream, version)


def test_event_ids_differ_by_stream_and_by_version() -> None:
    ids = {event_id_for(s, v) for s in (STREAM, "pairing-other", "program-rm-test") for v in range(1, 50)}
    assert len(ids) == 3 * 49
    # the separator keeps "a/1" + version 1 apart from "a" + version "11"-like collisions
    assert event_id_for("a1", 1) != event_id_for("a", 11)


def test_event_ids_are_pinned() -> None:
    """Changing the namespace or the name format would change every stored id: never do."""
    assert str(EVENT_NAMESPACE) == "5b0c5d1e-6c3a-4c55-9a57-7d1f3e0a2b11"
    assert event_id_for("pairing-x", 1) == str(
        uuid.uuid5(uuid.UUID("5b0c5d1e-6c3a-4c55-9a57-7d1f3e0a2b11"), "pairing-x/1")
    )


def test_stamp_numbers_events_after_the_current_version() -> None:
    payloads = [SessionHeld(session=1), SessionMissed(session=2, reason="x"), AtRiskCleared(reason="y")]
    stamped = stamp(STREAM, 7, payloads, T0)
    assert [e.version for e in stamped] == [8, 9, 10]
    assert [e.event_id for e in stamped] == [event_id_for(STREAM, v) for v in (8, 9, 10)]
    assert [e.type for e in stamped] == ["SessionHeld", "SessionMissed", "AtRiskCleared"]
    assert all(e.stream_id == STREAM and e.occurred_at == T0 and e.schema_version == 1 for e in stamped)
    assert [e.payload for e in stamped] == payloads
    assert stamp(STREAM, 7, [], T0) == []
    assert stamp(STREAM, 0, [GoalsAgreed(goals=G)], T0)[0].schema_version == 1
    assert stamp(STREAM, 0, [GoalsProposed(side="mentor", goals=G)], T0)[0].schema_version == 2


def test_a_retried_decision_produces_the_very_same_events() -> None:
    payloads = [SessionHeld(session=1), AtRiskCleared(reason="held")]
    assert stamp(STREAM, 3, payloads, T0) == stamp(STREAM, 3, payloads, T0)


def test_check_sequence_accepts_a_gapless_continuation() -> None:
    stamped = stamp(STREAM, 4, [SessionHeld(session=1), SessionHeld(session=2)], T0)
    check_sequence(stamped, STREAM, 4)
    check_sequence([], STREAM, 4)
    check_sequence(stamp(STREAM, 0, [SessionHeld(session=1)], T0), STREAM)


def test_check_sequence_refuses_gaps_repeats_and_foreign_streams() -> None:
    stamped = stamp(STREAM, 4, [SessionHeld(session=1), SessionHeld(session=2), SessionHeld(session=3)], T0)
    with pytest.raises(ValueError, match="expected version 6, got 7"):
        check_sequence([stamped[0], stamped[2]], STREAM, 4)
    with pytest.raises(ValueError, match="expected version 4, got 5"):
        check_sequence(stamped, STREAM, 3)
    with pytest.raises(ValueError, match="expected version 6, got 5"):
        check_sequence([stamped[0], stamped[0]], STREAM, 4)
    with pytest.raises(ValueError, match="in stream 'pairing-other'"):
        check_sequence(stamped, "pairing-other", 4)


# -- JSON round trips --------------------------------------------------------------------------------


def test_the_samples_cover_every_registered_event_type() -> None:
    assert set(SAMPLES) == set(event_types()), "add a sample for every new event type"
    assert all(payload_class(name) is type(p) for name, p in SAMPLES.items())


@pytest.mark.parametrize("type_name", sorted(SAMPLES))
def test_every_event_type_round_trips_through_json(type_name: str) -> None:
    payload = SAMPLES[type_name]
    event = stamp(STREAM, 41, [payload], T0 + timedelta(microseconds=123))[0]
    text = event.model_dump_json()
    loaded = Event.model_validate_json(text)
    assert loaded == event
    assert type(loaded.payload) is type(payload)
    assert loaded.payload_json() == event.payload_json() == json.loads(text)["payload"]
    # the stored-row form: payload as plain JSON next to its type and schema version
    row = {**json.loads(text), "payload": event.payload_json()}
    assert Event.model_validate(row) == event


def test_occurred_at_keeps_its_instant_across_time_zones() -> None:
    plus_two = T0.astimezone(timezone(timedelta(hours=2)))
    event = stamp(STREAM, 0, [SessionHeld(session=1)], plus_two)[0]
    loaded = Event.model_validate_json(event.model_dump_json())
    assert loaded.occurred_at == T0 and loaded == event


def test_naive_timestamps_are_refused() -> None:
    with pytest.raises(ValidationError):
        stamp(STREAM, 0, [SessionHeld(session=1)], datetime(2027, 1, 1))


def test_an_event_instance_validates_as_itself() -> None:
    event = stamp(STREAM, 0, [SessionHeld(session=1)], T0)[0]
    assert Event.model_validate(event) is event


def test_data_that_is_not_an_event_row_is_refused() -> None:
    with pytest.raises(ValidationError):
        Event.model_validate(["SessionHeld", 1])


def test_a_payload_dict_may_carry_its_type() -> None:
    data = {
        "event_id": event_id_for(STREAM, 1),
        "stream_id": STREAM,
        "version": 1,
        "occurred_at": T0.isoformat(),
        "payload": {"type": "SessionHeld", "session": 4},
    }
    event = Event.model_validate(data)
    assert (event.type, event.schema_version, event.payload) == ("SessionHeld", 1, SessionHeld(session=4))


def _row(type_name: Any, payload: Any, schema_version: Any = 1, version: int = 1) -> dict[str, Any]:
    return {
        "event_id": event_id_for(STREAM, version),
        "stream_id": STREAM,
        "version": version,
        "type": type_name,
        "schema_version": schema_version,
        "occurred_at": T0.isoformat(),
        "payload": payload,
    }


def test_an_event_without_a_type_is_refused() -> None:
    with pytest.raises(ValidationError, match="event has no type"):
        Event.model_validate(_row(None, {"session": 1}))


def test_an_unknown_event_type_is_refused_by_name() -> None:
    with pytest.raises(ValidationError, match="unknown event type 'SessionTeleported'"):
        Event.model_validate(_row("SessionTeleported", {"session": 1}))
    with pytest.raises(UnknownEventType, match="SessionTeleported"):
        payload_class("SessionTeleported")
    with pytest.raises(UnknownEventType):
        upcast("SessionTeleported", 1, {})


def test_type_and_payload_must_agree() -> None:
    with pytest.raises(ValidationError, match="does not match payload"):
        Event(
            event_id="x",
            stream_id=STREAM,
            version=1,
            type="SessionMissed",
            schema_version=1,
            occurred_at=T0,
            payload=SessionHeld(session=1),
        )


def test_versions_start_at_one() -> None:
    with pytest.raises(ValidationError, match="event versions start at 1"):
        Event.model_validate(_row("SessionHeld", {"session": 1}, version=0))


def test_a_payload_with_unknown_fields_is_refused() -> None:
    with pytest.raises(ValidationError, match="extra"):
        Event.model_validate(_row("SessionHeld", {"session": 1, "mood": "great"}))


def test_a_payload_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(ValidationError):
        Event.model_validate(_row("SessionHeld", None))


def test_payloads_are_immutable() -> None:
    held = SessionHeld(session=1)
    with pytest.raises(ValidationError):
        held.session = 2  # type: ignore[misc]


# -- upcasting ---------------------------------------------------------------------------------------


def test_a_stored_v1_goals_proposed_loads_as_v2_with_signals() -> None:
    stored = _row(
        "GoalsProposed", {"side": "mentor", "goals": ["Ship the app (launched in store)", "Learn TikTok"]}
    )
    event = Event.model_validate(stored)
    assert event.schema_version == 2 == GoalsProposed.SCHEMA_VERSION
    assert event.payload == GoalsProposed(
        side="mentor",
        goals=(
            Goal(title="Ship the app", signal="launched in store"),
            Goal(title="Learn TikTok", signal="not stated"),
        ),
    )
    # and from JSON text, as the event store hands it over
    assert Event.model_validate_json(json.dumps(stored)) == event
    # it round-trips as v2 from then on
    assert Event.model_validate_json(event.model_dump_json()) == event


def test_a_stored_row_without_schema_version_counts_as_v1() -> None:
    stored = _row("GoalsProposed", {"side": "mentee", "goals": ["Learn TikTok"]})
    del stored["schema_version"]
    assert Event.model_validate(stored).payload.goals == (Goal(title="Learn TikTok", signal="not stated"),)


@pytest.mark.parametrize(
    ("text", "title", "signal"),
    [
        ("  Present to the board (slides approved)  ", "Present to the board", "slides approved"),
        ("Use (and teach) AI (team uses it weekly)", "Use (and teach) AI", "team uses it weekly"),
        ("(only a signal)", "(only a signal)", "only a signal"),
        ("Ship it ()", "Ship it", "not stated"),
        ("Ship (it", "Ship (it", "not stated"),
    ],
)
def test_the_v1_upcaster_reads_the_parenthesised_signal(text: str, title: str, signal: str) -> None:
    assert upcast("GoalsProposed", 1, {"side": "mentor", "goals": [text]}) == {
        "side": "mentor",
        "goals": [{"title": title, "signal": signal}],
    }


def test_the_v1_upcaster_tolerates_missing_goals() -> None:
    assert upcast("GoalsProposed", 1, {"side": "mentor"})["goals"] == []
    assert upcast("GoalsProposed", 1, {"side": "mentor", "goals": None})["goals"] == []


def test_current_payloads_are_not_upcast() -> None:
    body = {"side": "mentor", "goals": [{"title": "x", "signal": "y"}]}
    assert upcast("GoalsProposed", 2, body) == body
    assert upcast("GoalsProposed", 2, body) is not body  # a copy


def test_a_schema_newer_than_the_code_is_refused() -> None:
    with pytest.raises(ValueError, match="GoalsProposed stored with schema v3, newer than this code's v2"):
        upcast("GoalsProposed", 3, {})
    with pytest.raises(ValidationError, match="newer than this code's v2"):
        Event.model_validate(_row("GoalsProposed", {"side": "mentor", "goals": []}, schema_version=3))


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A scratch copy of the payload and upcaster registries (test-only types vanish afterwards)."""
    monkeypatch.setattr(events_module, "_PAYLOADS", dict(events_module._PAYLOADS))
    monkeypatch.setattr(events_module, "_UPCASTERS", dict(events_module._UPCASTERS))
    yield


def test_upcasters_chain_from_any_old_version(registry: None) -> None:
    class Pinged(EventPayload):
        TYPE: ClassVar[str] = "TestPinged"
        SCHEMA_VERSION: ClassVar[int] = 3
        target: str
        loud: bool

    @upcaster("TestPinged", from_version=1)
    def _v1(data: dict[str, Any]) -> dict[str, Any]:
        return {"target": data["who"]}

    @upcaster("TestPinged", from_version=2)
    def _v2(data: dict[str, Any]) -> dict[str, Any]:
        return {**data, "loud": False}

    assert event_types()["TestPinged"] is Pinged
    assert upcast("TestPinged", 1, {"who": "ops"}) == {"target": "ops", "loud": False}
    assert upcast("TestPinged", 2, {"target": "ops"}) == {"target": "ops", "loud": False}
    event = Event.model_validate(_row("TestPinged", {"who": "ops"}))
    assert (event.schema_version, event.payload) == (3, Pinged(target="ops", loud=False))


def test_a_missing_upcaster_is_reported(registry: None) -> None:
    class Gapped(EventPayload):
        TYPE: ClassVar[str] = "TestGapped"
        SCHEMA_VERSION: ClassVar[int] = 3

    upcaster("TestGapped", from_version=1)(lambda data: data)
    assert Gapped.SCHEMA_VERSION == 3
    with pytest.raises(ValueError, match="no upcaster for TestGapped from schema v2"):
        upcast("TestGapped", 1, {})


def test_an_upcaster_registers_once(registry: None) -> None:
    with pytest.raises(TypeError, match="upcaster for GoalsProposed v1 registered twice"):
        upcaster("GoalsProposed", from_version=1)(lambda data: data)


def test_an_event_type_registers_once(registry: None) -> None:
    with pytest.raises(TypeError, match="event type 'SessionHeld' registered twice"):

        class Impostor(EventPayload):
            TYPE: ClassVar[str] = "SessionHeld"
            session: int


def _define_reloadable() -> type[EventPayload]:
    class Reloaded(EventPayload):
        TYPE: ClassVar[str] = "TestReloaded"

    return Reloaded


def test_redefining_the_same_class_replaces_it(registry: None) -> None:
    """A module reload defines the class again under the same qualified name: not an error."""
    first = _define_reloadable()
    second = _define_reloadable()
    assert first is not second and payload_class("TestReloaded") is second


def test_abstract_bases_without_a_type_are_not_registered(registry: None) -> None:
    before = set(event_types())

    class Base(EventPayload):
        pass

    class Concrete(Base):
        TYPE: ClassVar[str] = "TestConcrete"

    assert set(event_types()) - before == {"TestConcrete"}
    assert payload_class("TestConcrete") is Concrete


def test_event_types_is_a_copy() -> None:
    listed = event_types()
    listed.pop("SessionHeld")
    assert "SessionHeld" in event_types()


def test_utc_is_the_natural_zone() -> None:
    event = stamp(STREAM, 0, [SessionHeld(session=1)], datetime(2027, 1, 1, tzinfo=UTC))[0]
    assert json.loads(event.model_dump_json())["occurred_at"] == "2027-01-01T00:00:00Z"


def test_schema_version_must_match_the_payload() -> None:
    """A v2 payload labelled v1 would be upcast again when loaded: its goals silently turned into
    titles like "{'title': ...}". The envelope refuses the mismatch up front."""
    with pytest.raises(ValidationError, match="event schema v1 does not match GoalsProposed v2"):
        Event(
            event_id=event_id_for(STREAM, 1), stream_id=STREAM, version=1, type="GoalsProposed",
            schema_version=1, occurred_at=T0, payload=GoalsProposed(side="mentor", goals=G),
        )  # fmt: skip
