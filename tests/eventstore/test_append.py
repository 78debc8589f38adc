"""Append semantics (expected versions, idempotent retries, mismatches) and reads."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from eventstore import (
    AppendResult,
    DuplicateEventId,
    EventMismatch,
    EventStore,
    NewEvent,
    RecordedEvent,
    VersionConflict,
)
from tests.eventstore.es_factories import T0, new_events


def _same(recorded: RecordedEvent, new: NewEvent) -> bool:
    return (
        recorded.event_id == new.event_id
        and recorded.stream_id == new.stream_id
        and recorded.version == new.version
        and recorded.type == new.type
        and recorded.schema_version == new.schema_version
        and recorded.payload == new.payload
        and recorded.occurred_at == new.occurred_at
    )


async def test_append_then_read_stream_round_trips_every_field(store: EventStore) -> None:
    payload: dict[str, Any] = {
        "name": "Zoë Ångström — 日本語 🚀",
        "quote": 'say "hi"\\n',
        "nested": {"list": [1, 2.5, None, True, {"k": "v"}], "empty": {}},
        "big": 2**62,
    }
    events = new_events("mentorship-1", 1, 2, payload=payload)
    events.append(
        NewEvent(
            event_id=str(uuid.uuid4()),  # strings are accepted and normalised to UUID
            stream_id="mentorship-1",
            version=3,
            type="SessionHeld",
            schema_version=2,
            payload={"at": "2025-01-02T03:04:05+00:00"},
            occurred_at=datetime(2025, 6, 1, 12, 0, tzinfo=timezone(timedelta(hours=2))),
        )
    )
    assert isinstance(events[2].event_id, uuid.UUID)

    result = await store.append("mentorship-1", 0, events)
    assert result == AppendResult(stream_id="mentorship-1", recorded=3, already_present=0, version=3)

    stored = await store.read_stream("mentorship-1")
    assert len(stored) == 3
    assert all(_same(r, e) for r, e in zip(stored, events, strict=True))
    assert stored[0].payload == payload and isinstance(stored[0].payload, dict)
    assert [r.position for r in stored] == sorted(r.position for r in stored)
    assert all(r.recorded_at.tzinfo is not None for r in stored)
    assert await store.stream_version("mentorship-1") == 3
    assert await store.head_position() == stored[-1].position
    assert [r.version for r in await store.read_stream("mentorship-1", from_version=2)] == [2, 3]
    assert await store.read_stream("mentorship-1", from_version=4) == []


async def test_empty_store_and_unknown_stream(store: EventStore) -> None:
    assert await store.stream_version("nope") == 0
    assert await store.head_position() == 0
    assert await store.read_stream("nope") == []
    assert await store.read_all() == []


async def test_appends_continue_from_the_expected_version(store: EventStore) -> None:
    await store.append("s", 0, new_events("s", 1, 2))
    result = await store.append("s", 2, new_events("s", 3, 3))
    assert result == AppendResult("s", recorded=3, already_present=0, version=5)
    assert [e.version for e in await store.read_stream("s")] == [1, 2, 3, 4, 5]


@pytest.mark.parametrize(("recorded", "expected"), [(0, 1), (0, 7), (2, 3)])
async def test_expected_version_ahead_of_stream_is_a_conflict(
    store: EventStore, recorded: int, expected: int
) -> None:
    if recorded:
        await store.append("s", 0, new_events("s", 1, recorded))
    head = await store.head_position()
    with pytest.raises(VersionConflict) as info:
        await store.append("s", expected, new_events("s", expected + 1, 2))
    err = info.value
    assert type(err) is VersionConflict
    assert (err.stream_id, err.expected_version, err.actual_version) == ("s", expected, recorded)
    assert "'s'" in str(err) and str(expected) in str(err) and str(recorded) in str(err)
    assert await store.head_position() == head  # nothing written
    assert await store.stream_version("s") == recorded


async def test_retrying_a_recorded_batch_is_a_no_op_reporting_already_present(store: EventStore) -> None:
    batch = new_events("s", 1, 3)
    assert await store.append("s", 0, batch) == AppendResult("s", 3, 0, 3)
    head = await store.head_position()

    assert await store.append("s", 0, batch) == AppendResult("s", recorded=0, already_present=3, version=3)
    assert await store.head_position() == head
    assert [e.event_id for e in await store.read_stream("s")] == [e.event_id for e in batch]


async def test_retry_compares_payloads_as_json_not_as_text(store: EventStore) -> None:
    first = new_events("s", 1, 1, payload={"a": 1, "b": [1, 2], "c": {"x": "y", "z": None}})
    await store.append("s", 0, first)
    reordered = dataclasses.replace(first[0], payload={"c": {"z": None, "x": "y"}, "b": [1, 2], "a": 1})
    assert await store.append("s", 0, [reordered]) == AppendResult("s", 0, 1, 1)


async def test_retry_after_the_stream_moved_on_still_succeeds(store: EventStore) -> None:
    first = new_events("s", 1, 2)
    await store.append("s", 0, first)
    await store.append("s", 2, new_events("s", 3, 2))
    # The batch is recorded; the stream has more events after it; version reports the stream's head.
    assert await store.append("s", 0, first) == AppendResult("s", recorded=0, already_present=2, version=4)
    assert await store.append("s", 1, first[1:]) == AppendResult("s", 0, 1, 4)


async def test_retry_whose_prefix_is_recorded_inserts_only_the_suffix(store: EventStore) -> None:
    batch = new_events("s", 1, 5)
    await store.append("s", 0, batch[:2])  # e.g. a crash after a partial, separately committed write
    head = await store.head_position()

    assert await store.append("s", 0, batch) == AppendResult("s", recorded=3, already_present=2, version=5)
    stored = await store.read_stream("s")
    assert all(_same(r, e) for r, e in zip(stored, batch, strict=True))
    assert len(stored) == 5
    assert min(r.position for r in stored[2:]) > head


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"payload": {"n": 1, "stream": "s", "extra": True}}, "payload"),
        ({"payload": {"n": "1", "stream": "s"}}, "payload"),
        ({"event_id": uuid.uuid4()}, "event_id"),
        ({"type": "Other"}, "type"),
        ({"schema_version": 2}, "schema_version"),
    ],
)
async def test_different_event_at_a_recorded_version_is_a_mismatch(
    store: EventStore, change: dict[str, Any], field: str
) -> None:
    batch = new_events("s", 1, 2)
    await store.append("s", 0, batch)
    head = await store.head_position()

    altered = [batch[0], dataclasses.replace(batch[1], **change), *new_events("s", 3, 2)]
    with pytest.raises(EventMismatch) as info:
        await store.append("s", 0, altered)
    err = info.value
    assert isinstance(err, VersionConflict)
    assert (err.stream_id, err.expected_version, err.actual_version, err.version) == ("s", 0, 2, 2)
    assert err.differences == (field,)
    assert field in str(err) and "version 2" in str(err)
    assert await store.head_position() == head  # the suffix was not written either
    assert [e.event_id for e in await store.read_stream("s")] == [e.event_id for e in batch]


async def test_occurred_at_is_not_part_of_the_retry_comparison(store: EventStore) -> None:
    batch = new_events("s", 1, 1)
    await store.append("s", 0, batch)
    later = dataclasses.replace(batch[0], occurred_at=T0 + timedelta(seconds=5))
    assert await store.append("s", 0, [later]) == AppendResult("s", 0, 1, 1)
    assert (await store.read_stream("s"))[0].occurred_at == T0


class _NoPool:
    """Fails any use, proving that validation happens before touching the database."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"database touched via pool.{name}")


def _bad_batches() -> list[tuple[str, int, list[NewEvent], str]]:
    ok = new_events("s", 1, 3)
    dup = dataclasses.replace(ok[1], event_id=ok[0].event_id)
    return [
        ("s", 0, [ok[0], ok[2]], "version 3, expected 2"),
        ("s", 0, ok[1:], "version 2, expected 1"),
        ("s", 1, ok, "version 1, expected 2"),
        ("s", 0, [ok[0], *new_events("t", 2, 1)], "is for stream 't'"),
        ("s", 0, [ok[0], dup], "appears twice"),
        ("s", -1, [], "expected_version"),
        ("", 0, [], "stream_id"),
        ("s", 0, new_events("s", 1, 1, payload={"x": float("nan")}), "not JSON"),
        ("s", 0, new_events("s", 1, 1, payload={"x": {1, 2}}), "not JSON"),
        ("s", 0, new_events("s", 1, 1, payload={"x": "a\x00b"}), "NUL"),
        ("s", 0, new_events("s", 1, 1, payload={"a\\\x00": 1}), "NUL"),
        ("s", 0, new_events("s", 1, 1, payload={"x": "\ud800"}), "surrogate"),
    ]


@pytest.mark.parametrize(("stream_id", "expected", "events", "message"), _bad_batches())
async def test_malformed_batches_are_refused_before_touching_the_database(
    stream_id: str, expected: int, events: list[NewEvent], message: str
) -> None:
    store = EventStore(_NoPool())
    with pytest.raises(ValueError, match=message):
        await store.append(stream_id, expected, events)


async def test_payload_text_that_merely_looks_like_a_nul_escape_is_stored(store: EventStore) -> None:
    payload = {"path": "C:\\u0000\\x", "odd": "\\\\u0000"}
    await store.append("s", 0, new_events("s", 1, 1, payload=payload))
    assert (await store.read_stream("s"))[0].payload == payload


async def test_float_payloads_round_trip_by_value(store: EventStore) -> None:
    """jsonb keeps numbers as numeric: values survive, but an integral float written in exponent form
    (1e20) reads back as an int. Callers wanting exact decimals should send strings."""
    payload = {"a": 0.1, "b": 1.5, "c": 2.0, "d": 1e-7, "e": 1e20}
    await store.append("s", 0, new_events("s", 1, 1, payload=payload))
    stored = (await store.read_stream("s"))[0].payload
    assert stored == payload
    assert isinstance(stored["c"], float) and isinstance(stored["e"], int)


def test_new_event_requires_aware_datetime_and_valid_id() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        NewEvent(uuid.uuid4(), "s", 1, "t", 1, {}, datetime(2025, 1, 1))
    with pytest.raises(ValueError):
        NewEvent("not-a-uuid", "s", 1, "t", 1, {}, T0)


async def test_empty_batch_checks_the_version_and_writes_nothing(store: EventStore) -> None:
    assert await store.append("s", 0, []) == AppendResult("s", 0, 0, 0)
    await store.append("s", 0, new_events("s", 1, 2))
    assert await store.append("s", 1, []) == AppendResult("s", 0, 0, 2)
    with pytest.raises(VersionConflict):
        await store.append("s", 3, [])


async def test_reusing_an_event_id_from_another_stream_is_refused(store: EventStore) -> None:
    [first] = new_events("a", 1, 1)
    await store.append("a", 0, [first])
    clash = NewEvent(first.event_id, "b", 1, "Noted", 1, {}, T0)
    with pytest.raises(DuplicateEventId) as info:
        await store.append("b", 0, [*new_events("b", 1, 0), clash])
    assert (info.value.event_id, info.value.stream_id, info.value.version) == (first.event_id, "a", 1)
    assert await store.stream_version("b") == 0


async def test_read_all_pages_through_every_event_once_in_position_order(store: EventStore) -> None:
    expected_ids: list[uuid.UUID] = []
    versions = {"a": 0, "b": 0, "c": 0}
    for round_ in range(7):
        for stream, size in (("a", 1), ("b", 3), ("c", round_ % 4 + 1)):
            batch = new_events(stream, versions[stream] + 1, size)
            await store.append(stream, versions[stream], batch)
            versions[stream] += size
            expected_ids.extend(e.event_id for e in batch)
    # A rolled-back append consumes positions, leaving a gap that paging must step over.
    with pytest.raises(EventMismatch):
        await store.append("a", 0, new_events("a", 1, 1))

    seen: list[RecordedEvent] = []
    after, pages = 0, 0
    while page := await store.read_all(after_position=after, limit=4):
        assert len(page) <= 4
        seen.extend(page)
        after = page[-1].position
        pages += 1
    positions = [e.position for e in seen]
    assert positions == sorted(positions) and len(set(positions)) == len(positions)
    assert [e.event_id for e in seen] == expected_ids
    assert pages == -(-len(expected_ids) // 4)
    assert after == await store.head_position()
    assert await store.read_all(after_position=after) == []
    assert len(await store.read_all()) == len(expected_ids)  # default limit covers it
    with pytest.raises(ValueError):
        await store.read_all(limit=0)


async def test_append_batches_writes_several_streams_in_one_transaction(store: EventStore) -> None:
    await store.append("b", 0, new_events("b", 1, 1))
    retried = new_events("c", 1, 2)
    await store.append("c", 0, retried[:1])
    results = await store.append_batches(
        [("a", 0, new_events("a", 1, 2)), ("b", 1, new_events("b", 2, 1)), ("c", 0, retried)]
    )
    assert results == [
        AppendResult("a", 2, 0, 2),
        AppendResult("b", 1, 0, 2),
        AppendResult("c", 1, 1, 2),
    ]
    assert await store.append_batches([]) == []


@pytest.mark.parametrize("failure", ["conflict", "mismatch", "duplicate_id"])
async def test_append_batches_is_all_or_nothing(store: EventStore, failure: str) -> None:
    await store.append("b", 0, new_events("b", 1, 2))
    [other] = new_events("z", 1, 1)
    await store.append("z", 0, [other])
    head = await store.head_position()

    second: list[NewEvent]
    expected: int
    error: type[Exception]
    if failure == "conflict":
        second, expected, error = new_events("b", 6, 1), 5, VersionConflict
    elif failure == "mismatch":
        second, expected, error = new_events("b", 2, 2), 1, EventMismatch
    else:
        second = [NewEvent(other.event_id, "b", 3, "Noted", 1, {}, T0)]
        expected, error = 2, DuplicateEventId
    with pytest.raises(error):
        await store.append_batches([("a", 0, new_events("a", 1, 3)), ("b", expected, second)])
    assert await store.stream_version("a") == 0
    assert await store.stream_version("b") == 2
    assert await store.head_position() == head


async def test_append_batches_refuses_a_stream_twice(store: EventStore) -> None:
    with pytest.raises(ValueError, match="only once"):
        await store.append_batches([("a", 0, new_events("a", 1, 1)), ("a", 1, new_events("a", 2, 1))])
    batch = new_events("a", 1, 1)
    with pytest.raises(ValueError, match="more than one batch"):
        await store.append_batches(
            [("a", 0, batch), ("b", 0, [dataclasses.replace(batch[0], stream_id="b")])]
        )
