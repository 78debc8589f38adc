"""The record half of a publish: events travel as rows (envelope typed, payload as JSON) and are
stored exactly as the domain's typed events dump them."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from activities.models import EventRow, PublishBatch, RecordBatch
from activities.record import Recorder, load_stream
from domain.events import Event
from domain.pairing import PairingTerms, ProposePairing, StartPairing, decide, evolve, initial_pairing
from domain.program import ProgramConfig
from eventstore import EventStore

NOW = datetime(2027, 1, 4, 9, 30, tzinfo=UTC)


def _decided(pairing_id: str) -> list[Event]:
    state = initial_pairing(pairing_id)
    proposed = decide(
        state,
        ProposePairing(pairing_id=pairing_id, program_id="rec", mentor_id="m1", mentee_id="e1"),
        NOW,
    )
    for event in proposed:
        state = evolve(state, event)
    terms = PairingTerms.from_program(ProgramConfig(id="rec", name="rec"))
    return proposed + decide(state, StartPairing(terms=terms), NOW)


def test_a_batch_of_rows_travels_as_the_typed_events_did() -> None:
    """Same JSON either way: a publish scheduled by a worker of either kind decodes on the other."""
    events = _decided("rec.a")
    batch = RecordBatch(stream_id=events[0].stream_id, expected_version=0, events=events)
    wire = json.loads(PublishBatch(record=batch).model_dump_json())["record"]["events"]
    assert wire == [json.loads(e.model_dump_json()) for e in events]
    rows = RecordBatch.model_validate(json.loads(batch.model_dump_json())).events
    assert [r.payload for r in rows] == [e.payload_json() for e in events]
    # and an older worker's typed events decode from the rows' JSON
    assert [Event.model_validate_json(r.model_dump_json()) for r in rows] == events


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"type": "NoSuchEvent"}, "unknown event type 'NoSuchEvent'"),
        ({"schema_version": 7}, "event schema v7 does not match PairingProposed v1"),
        ({"version": 0}, "event versions start at 1"),
        ({"occurred_at": "2027-01-04T09:30:00"}, "timezone"),
    ],
)
def test_a_row_of_an_unknown_type_or_schema_is_refused(change: dict[str, object], message: str) -> None:
    row = json.loads(_decided("rec.b")[0].model_dump_json())
    with pytest.raises(ValidationError, match=message):
        EventRow.model_validate(row | change)


async def test_rows_are_stored_as_their_events(store: EventStore) -> None:
    events = _decided("rec.c")
    batch = RecordBatch.model_validate_json(
        RecordBatch(stream_id=events[0].stream_id, expected_version=0, events=events).model_dump_json()
    )
    outcome = await Recorder(store).append(batch)
    assert (outcome.recorded, outcome.version) == (len(events), len(events))
    assert await load_stream(store, events[0].stream_id) == events
    again = await Recorder(store).append(batch)  # a retried publish: nothing new
    assert (again.recorded, again.already_present) == (0, len(events))
