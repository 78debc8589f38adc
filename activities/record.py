"""Recording decided events in the PostgreSQL event store, exactly once.

The append is idempotent (same ids at the same versions are a no-op), so a retried activity, a
replayed workflow or a worker that died after the commit but before reporting never duplicates.
"""

from __future__ import annotations

from temporalio import activity

from activities.models import EventRow, RecordBatch, RecordOutcome
from domain.events import Event
from eventstore import EventStore, NewEvent, RecordedEvent


def to_new_event(event: Event | EventRow) -> NewEvent:
    return NewEvent(
        event_id=event.event_id,
        stream_id=event.stream_id,
        version=event.version,
        type=event.type,
        schema_version=event.schema_version,
        payload=event.payload if isinstance(event, EventRow) else event.payload_json(),
        occurred_at=event.occurred_at,
    )


def from_recorded(recorded: RecordedEvent) -> Event:
    """A stored row back into a typed event (upcasting older schemas on the way)."""
    return Event.model_validate(
        {
            "event_id": str(recorded.event_id),
            "stream_id": recorded.stream_id,
            "version": recorded.version,
            "type": recorded.type,
            "schema_version": recorded.schema_version,
            "payload": recorded.payload,
            "occurred_at": recorded.occurred_at,
        }
    )


async def load_stream(store: EventStore, stream_id: str) -> list[Event]:
    return [from_recorded(r) for r in await store.read_stream(stream_id)]


class Recorder:
    def __init__(self, store: EventStore) -> None:
        self.store = store

    async def append(self, batch: RecordBatch) -> RecordOutcome:
        result = await self.store.append(
            batch.stream_id, batch.expected_version, [to_new_event(e) for e in batch.events]
        )
        return RecordOutcome(
            stream_id=result.stream_id,
            recorded=result.recorded,
            already_present=result.already_present,
            version=result.version,
        )

    @activity.defn(name="record_events")
    async def record_events(self, batch: RecordBatch) -> RecordOutcome:
        outcome = await self.append(batch)
        activity.logger.debug("recorded %s", outcome)
        return outcome
