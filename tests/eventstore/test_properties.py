"""Property: any sequence of appends, retries, partial retries and stale or future appends across a few
streams leaves every stream holding exactly the accepted events at versions 1..n, with no gap and no
duplicate, and every call's outcome matches a simple in-memory model."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventstore import AppendResult, EventMismatch, EventStore, NewEvent, VersionConflict
from tests.eventstore.es_factories import T0

STREAMS = 3

# jsonb cannot hold NUL, and lone surrogates cannot be encoded as UTF-8.
safe_text = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=8)
json_scalars = st.none() | st.booleans() | st.integers(min_value=-(2**53), max_value=2**53) | safe_text
payloads = st.dictionaries(
    safe_text,
    st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=3), max_leaves=5),
    max_size=3,
)


@dataclass(frozen=True)
class Op:
    """One call. ``back`` picks the expected version as head - back (clamped at 0); ``kind`` decides
    whether the already-recorded part is resent faithfully, altered, or the expectation is in the future."""

    kind: str  # "resend" (retry/prefix/plain append), "alter" (stale, different events), "future"
    streams: tuple[int, ...]  # >1 => append_batches
    back: int
    new: int
    payload: dict[str, Any]


ops = st.builds(
    Op,
    kind=st.sampled_from(["resend", "resend", "resend", "alter", "future"]),
    streams=st.lists(st.integers(0, STREAMS - 1), min_size=1, max_size=3, unique=True).map(tuple),
    back=st.integers(0, 4),
    new=st.integers(0, 3),
    payload=payloads,
)


def _event(stream: str, version: int, payload: dict[str, Any]) -> NewEvent:
    return NewEvent(uuid.uuid4(), stream, version, "Happened", 1, payload, T0)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(program=st.lists(ops, min_size=1, max_size=12))
async def test_random_appends_and_retries_keep_streams_gapless(store: EventStore, program: list[Op]) -> None:
    # The database outlives examples, so each example writes its own streams.
    names = [f"p-{uuid.uuid4().hex[:10]}-{i}" for i in range(STREAMS)]
    model: dict[str, list[NewEvent]] = {n: [] for n in names}

    for op in program:
        batches: list[tuple[str, int, list[NewEvent]]] = []
        expected_results: list[AppendResult] = []
        failure: type[Exception] | None = None
        for index in op.streams:
            name = names[index]
            recorded = model[name]
            head = len(recorded)
            expected = max(head - op.back, 0)
            if op.kind == "future":
                expected = head + 1 + op.back
                events = [_event(name, expected + 1 + i, op.payload) for i in range(op.new)]
                failure = failure or VersionConflict
            elif op.kind == "alter" and expected < head:
                # Different event ids (and maybe payloads) at already-recorded versions.
                events = [_event(name, v, op.payload) for v in range(expected + 1, head + op.new + 1)]
                failure = failure or EventMismatch
            else:
                resent = recorded[expected:]
                events = resent + [_event(name, head + 1 + i, op.payload) for i in range(op.new)]
                expected_results.append(AppendResult(name, op.new, len(resent), head + op.new))
            batches.append((name, expected, events))

        try:
            if len(batches) == 1:
                results = [await store.append(*batches[0])]
            else:
                results = await store.append_batches(batches)
        except VersionConflict as exc:
            assert failure is not None, f"unexpected {exc!r}"
            assert type(exc) is failure, f"expected {failure.__name__}, got {exc!r}"
            for name, _, _ in batches:  # all or nothing: no stream of the call was touched
                assert await store.stream_version(name) == len(model[name])
            continue
        assert failure is None, f"expected {failure.__name__}, got {results}"
        assert results == expected_results
        for name, expected, events in batches:
            already = len(model[name]) - expected
            model[name] = model[name] + events[already:]

    for name, events in model.items():
        stored = await store.read_stream(name)
        assert [e.version for e in stored] == list(range(1, len(events) + 1))
        assert [e.event_id for e in stored] == [e.event_id for e in events]
        assert [e.payload for e in stored] == [e.payload for e in events]
        assert await store.stream_version(name) == len(events)
