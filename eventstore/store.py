"""Append-only PostgreSQL event store.

Appends are idempotent by design: activities that record events may be retried after a crash, so
re-appending a batch that is already recorded (same event ids, types, schema versions and payloads at
the same versions) succeeds and reports the events as ``already_present`` instead of failing.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg  # type: ignore[import-untyped]

from eventstore import schema

__all__ = [
    "AppendResult",
    "DuplicateEventId",
    "EventMismatch",
    "EventStore",
    "EventStoreError",
    "NewEvent",
    "RecordedEvent",
    "VersionConflict",
    "dump_payload",
]


# A JSON \u0000 escape (preceded by an even number of backslashes, so not an escaped "\\u0000").
_NUL_ESCAPE = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")


def dump_payload(payload: dict[str, Any]) -> str:
    """Compact JSON text for a payload; NaN/Infinity are refused because jsonb cannot hold them."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _payload_text(payload: dict[str, Any]) -> str:
    """JSON text that jsonb will accept, or ValueError now rather than a driver error mid-transaction."""
    text = dump_payload(payload)
    if "\\u0000" in text and _NUL_ESCAPE.search(text):
        raise ValueError("it contains a NUL character (\\u0000), which jsonb cannot store")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"it contains a lone surrogate, which is not valid UTF-8 ({exc.reason})") from exc
    return text


def _check_aware(name: str, value: datetime) -> None:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {value!r}")


@dataclass(frozen=True, init=False)
class NewEvent:
    """An event to append.

    ``event_id`` may be passed as a string (e.g. from a workflow's deterministic id) and is stored as
    a UUID; ``occurred_at`` must be timezone-aware so that no local clock setting leaks into history.
    """

    event_id: uuid.UUID
    stream_id: str
    version: int
    type: str
    schema_version: int
    payload: dict[str, Any]
    occurred_at: datetime

    def __init__(
        self,
        event_id: uuid.UUID | str,
        stream_id: str,
        version: int,
        type: str,
        schema_version: int,
        payload: dict[str, Any],
        occurred_at: datetime,
    ) -> None:
        _check_aware("occurred_at", occurred_at)
        if not isinstance(payload, dict):
            raise TypeError(f"payload must be a dict, got {payload.__class__.__name__}")
        set_ = object.__setattr__  # frozen: assign once, here
        set_(self, "event_id", event_id if isinstance(event_id, uuid.UUID) else uuid.UUID(str(event_id)))
        set_(self, "stream_id", stream_id)
        set_(self, "version", version)
        set_(self, "type", type)
        set_(self, "schema_version", schema_version)
        set_(self, "payload", payload)
        set_(self, "occurred_at", occurred_at)


@dataclass(frozen=True)
class RecordedEvent:
    """An event as stored: a :class:`NewEvent`'s fields plus its global ``position`` and ``recorded_at``."""

    event_id: uuid.UUID
    stream_id: str
    version: int
    type: str
    schema_version: int
    payload: dict[str, Any]
    occurred_at: datetime
    position: int
    recorded_at: datetime


@dataclass(frozen=True)
class AppendResult:
    """Outcome of one stream's append.

    ``version`` is the stream's version when the transaction committed: the batch's last version, or
    more when a retried batch had already been followed by later events.
    """

    stream_id: str
    recorded: int
    already_present: int
    version: int


class EventStoreError(Exception):
    """Base class of the store's own errors."""


class VersionConflict(EventStoreError):
    """The stream is not at the version the writer expected (and the gap is not an idempotent retry)."""

    def __init__(
        self, stream_id: str, expected_version: int, actual_version: int, message: str | None = None
    ) -> None:
        self.stream_id = stream_id
        self.expected_version = expected_version
        self.actual_version = actual_version
        super().__init__(
            message
            or f"stream {stream_id!r}: expected version {expected_version}, actual version {actual_version}"
        )


class EventMismatch(VersionConflict):
    """The stream already holds a *different* event at a version the batch wanted.

    A subclass of :class:`VersionConflict` because it is one: someone else wrote first. Catching
    ``VersionConflict`` handles both; catch this one to tell a lost race from a stale expectation.
    """

    def __init__(
        self,
        stream_id: str,
        expected_version: int,
        actual_version: int,
        version: int,
        differences: Sequence[str],
    ) -> None:
        self.version = version
        self.differences = tuple(differences)
        super().__init__(
            stream_id,
            expected_version,
            actual_version,
            f"stream {stream_id!r}: expected version {expected_version}, actual version {actual_version}; "
            f"the stored event at version {version} differs in {', '.join(differences)}",
        )


class DuplicateEventId(EventStoreError):
    """An event id in the batch is already recorded elsewhere (another stream or another version)."""

    def __init__(self, event_id: uuid.UUID, stream_id: str, version: int) -> None:
        self.event_id = event_id
        self.stream_id = stream_id
        self.version = version
        super().__init__(
            f"event id {event_id} is already recorded in stream {stream_id!r} at version {version}"
        )


@dataclass(frozen=True)
class _Batch:
    stream_id: str
    expected_version: int
    events: tuple[NewEvent, ...]
    payloads: tuple[str, ...]


def _validate(stream_id: str, expected_version: int, events: Sequence[NewEvent]) -> _Batch:
    """Reject malformed batches before any round trip, naming the offending event."""
    if not isinstance(stream_id, str) or not stream_id:
        raise ValueError(f"stream_id must be a non-empty string, got {stream_id!r}")
    if isinstance(expected_version, bool) or not isinstance(expected_version, int) or expected_version < 0:
        raise ValueError(f"expected_version must be an int >= 0, got {expected_version!r}")
    payloads: list[str] = []
    seen: set[uuid.UUID] = set()
    for i, event in enumerate(events):
        if not isinstance(event, NewEvent):
            raise TypeError(f"event {i} is a {type(event).__name__}, not a NewEvent")
        if event.stream_id != stream_id:
            raise ValueError(
                f"event {i} ({event.event_id}) is for stream {event.stream_id!r}, not {stream_id!r}: "
                "one append writes one stream"
            )
        want = expected_version + 1 + i
        if event.version != want:
            raise ValueError(
                f"stream {stream_id!r}: event {i} ({event.event_id}) has version {event.version}, "
                f"expected {want}: versions must run consecutively from expected_version + 1"
            )
        if event.event_id in seen:
            raise ValueError(f"stream {stream_id!r}: event id {event.event_id} appears twice in the batch")
        seen.add(event.event_id)
        try:
            payloads.append(_payload_text(event.payload))
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"stream {stream_id!r}: payload of event {i} (version {event.version}) is not JSON: {exc}"
            ) from exc
    return _Batch(stream_id, expected_version, tuple(events), tuple(payloads))


_COLUMNS = "position, event_id, stream_id, version, type, schema_version, payload, occurred_at, recorded_at"

_LOCK_SQL = "SELECT locked_stream_id, current_version FROM eventstore_lock_streams($1::text[])"

_APPEND_SQL = (
    "SELECT mismatched_stream_id, current_version FROM eventstore_append("
    "$1::text[], $2::int[], $3::uuid[], $4::text[], $5::int[], $6::text[], $7::int[], $8::text[],"
    " $9::timestamptz[])"
)

# One round trip for every event of every batch; unnest keeps array order, so positions follow it.
_INSERT_SQL = """
INSERT INTO events (event_id, stream_id, version, type, schema_version, payload, occurred_at)
SELECT n.event_id, n.stream_id, n.version, n.type, n.schema_version, n.payload::jsonb, n.occurred_at
FROM unnest($1::uuid[], $2::text[], $3::int[], $4::text[], $5::int[], $6::text[], $7::timestamptz[])
    WITH ORDINALITY AS n(event_id, stream_id, version, type, schema_version, payload, occurred_at, ord)
ORDER BY n.ord
"""

# Payloads are compared as jsonb, so key order and whitespace do not matter, exactly as when stored.
_COMPARE_SQL = """
SELECT n.stream_id, n.version,
       e.event_id = n.event_id             AS same_event_id,
       e.type = n.type                     AS same_type,
       e.schema_version = n.schema_version AS same_schema_version,
       e.payload = n.payload::jsonb        AS same_payload
FROM unnest($1::uuid[], $2::text[], $3::int[], $4::text[], $5::int[], $6::text[])
    WITH ORDINALITY AS n(event_id, stream_id, version, type, schema_version, payload, ord)
JOIN events AS e ON e.stream_id = n.stream_id AND e.version = n.version
ORDER BY n.ord
"""

_FIELDS = ("event_id", "type", "schema_version", "payload")


def _columns(pairs: Sequence[tuple[NewEvent, str]]) -> list[list[Any]]:
    return [
        [e.event_id for e, _ in pairs],
        [e.stream_id for e, _ in pairs],
        [e.version for e, _ in pairs],
        [e.type for e, _ in pairs],
        [e.schema_version for e, _ in pairs],
        [p for _, p in pairs],
        [e.occurred_at for e, _ in pairs],
    ]


def _recorded(row: Any) -> RecordedEvent:
    return RecordedEvent(
        event_id=row["event_id"],
        stream_id=row["stream_id"],
        version=row["version"],
        type=row["type"],
        schema_version=row["schema_version"],
        payload=row["payload"],
        occurred_at=row["occurred_at"],
        position=row["position"],
        recorded_at=row["recorded_at"],
    )


async def _keep_session(conn: Any) -> None:
    """Release a pooled connection without asyncpg's reset query (one round trip per acquire saved).

    Nothing here leaves session state on a pooled connection: no SET, LISTEN or cursors, stream locks
    are transaction-scoped, and the projection runner releases its session lock or drops the
    connection. asyncpg still rolls back a transaction left open before calling this.
    """


async def _init_connection(conn: Any) -> None:
    await conn.set_type_codec("jsonb", encoder=dump_payload, decoder=json.loads, schema="pg_catalog")


class EventStore:
    """Event store over an asyncpg pool. Create with :meth:`open`, release with :meth:`close`."""

    def __init__(self, pool: Any) -> None:
        self._pool = pool

    @classmethod
    async def open(
        cls, dsn: str, *, min_size: int = 1, max_size: int = 10, migrate: bool = True
    ) -> EventStore:
        """Create the pool (with a jsonb codec, so payloads read back as dicts), migrating first if asked."""
        if migrate:
            await schema.migrate(dsn)
        pool = await asyncpg.create_pool(
            dsn, min_size=min_size, max_size=max_size, init=_init_connection, reset=_keep_session
        )
        return cls(pool)

    @property
    def pool(self) -> Any:
        """The underlying asyncpg pool, for components that share the database (e.g. an outbox)."""
        return self._pool

    async def close(self) -> None:
        """Close the pool, waiting for connections in use to be released."""
        await self._pool.close()

    async def __aenter__(self) -> EventStore:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def append(self, stream_id: str, expected_version: int, events: Sequence[NewEvent]) -> AppendResult:
        """Append ``events`` (versions ``expected_version + 1 ...``) to one stream, idempotently.

        Raises :class:`VersionConflict` when the stream is behind ``expected_version``,
        :class:`EventMismatch` when it is ahead and holds other events at the batch's versions,
        :class:`DuplicateEventId` when an event id is already used elsewhere, and ``ValueError`` for
        a malformed batch (before touching the database).
        """
        (result,) = await self.append_batches([(stream_id, expected_version, events)])
        return result

    async def append_batches(
        self, batches: Sequence[tuple[str, int, Sequence[NewEvent]]]
    ) -> list[AppendResult]:
        """Append to several streams in ONE transaction: all batches are recorded or none is.

        Each batch follows :meth:`append`'s rules; a stream may appear only once. Results are in the
        order of ``batches``.
        """
        checked = [_validate(stream_id, expected, events) for stream_id, expected, events in batches]
        stream_ids = [b.stream_id for b in checked]
        if len(set(stream_ids)) != len(stream_ids):
            raise ValueError("append_batches: a stream may appear only once; merge its batches")
        event_ids = [e.event_id for b in checked for e in b.events]
        if len(set(event_ids)) != len(event_ids):
            raise ValueError("append_batches: an event id appears in more than one batch")
        if not checked:
            return []

        async with self._pool.acquire() as conn:
            try:
                if await self._append_expected(conn, checked):
                    return [
                        AppendResult(b.stream_id, len(b.events), 0, b.expected_version + len(b.events))
                        for b in checked
                    ]
                async with conn.transaction(isolation="read_committed"):
                    return await self._append_locked(conn, checked)
            except asyncpg.UniqueViolationError as exc:
                # An event id reused from elsewhere, or (unreachable while every writer goes through
                # this class and so holds the stream lock) a writer that bypassed the lock.
                explained = await self._explain_unique_violation(conn, checked, exc)
                if explained is None:
                    raise
                raise explained from exc

    @staticmethod
    async def _append_expected(conn: Any, batches: list[_Batch]) -> bool:
        """The common case in one round trip (migration 0022): every stream is where the writer
        expected it and everything is inserted, or nothing is written and False sends the caller to
        the slow path (idempotent retry or conflict)."""
        pairs = [(e, p) for b in batches for e, p in zip(b.events, b.payloads, strict=True)]
        mismatched = await conn.fetch(
            _APPEND_SQL,
            [b.stream_id for b in batches],
            [b.expected_version for b in batches],
            *_columns(pairs),
        )
        return not mismatched

    async def _append_locked(self, conn: Any, batches: list[_Batch]) -> list[AppendResult]:
        rows = await conn.fetch(_LOCK_SQL, [b.stream_id for b in batches])
        current: dict[str, int] = {r["locked_stream_id"]: r["current_version"] for r in rows}

        to_compare: list[tuple[NewEvent, str]] = []
        to_insert: list[tuple[NewEvent, str]] = []
        results: list[AppendResult] = []
        for b in batches:
            actual = current[b.stream_id]
            if actual < b.expected_version:
                raise VersionConflict(b.stream_id, b.expected_version, actual)
            present = min(actual - b.expected_version, len(b.events))
            pairs = list(zip(b.events, b.payloads, strict=True))
            to_compare.extend(pairs[:present])
            to_insert.extend(pairs[present:])
            results.append(
                AppendResult(
                    stream_id=b.stream_id,
                    recorded=len(b.events) - present,
                    already_present=present,
                    version=max(actual, b.expected_version + len(b.events)),
                )
            )

        if to_compare:
            await self._check_present(conn, batches, current, to_compare)
        if to_insert:
            await conn.execute(_INSERT_SQL, *_columns(to_insert))
        return results

    @staticmethod
    async def _check_present(
        conn: Any, batches: list[_Batch], current: dict[str, int], pairs: list[tuple[NewEvent, str]]
    ) -> None:
        """Raise EventMismatch unless every event at an already-recorded version equals the stored one."""
        rows = await conn.fetch(_COMPARE_SQL, *_columns(pairs)[:6])
        # The stored stream has no gaps below its version and we only compare versions up to it, so
        # every event has exactly one stored counterpart; a missing one would be a broken invariant.
        if len(rows) != len(pairs):
            raise RuntimeError("event store invariant broken: a stream has a gap below its version")
        expected_by_stream = {b.stream_id: b.expected_version for b in batches}
        for row in rows:
            differences = [f for f in _FIELDS if not row[f"same_{f}"]]
            if differences:
                stream_id = row["stream_id"]
                raise EventMismatch(
                    stream_id,
                    expected_by_stream[stream_id],
                    current[stream_id],
                    row["version"],
                    differences,
                )

    @staticmethod
    async def _explain_unique_violation(conn: Any, batches: list[_Batch], exc: Any) -> EventStoreError | None:
        if exc.constraint_name == "events_event_id_key":
            ids = [e.event_id for b in batches for e in b.events]
            row = await conn.fetchrow(
                "SELECT event_id, stream_id, version FROM events WHERE event_id = ANY($1::uuid[])"
                " ORDER BY position LIMIT 1",
                ids,
            )
            if row is not None:
                return DuplicateEventId(row["event_id"], row["stream_id"], row["version"])
        elif exc.constraint_name == "events_stream_version_key":
            versions = await conn.fetch(
                "SELECT s, COALESCE((SELECT max(version) FROM events WHERE stream_id = s), 0) AS v"
                " FROM unnest($1::text[]) AS s",
                [b.stream_id for b in batches],
            )
            actual = {r["s"]: r["v"] for r in versions}
            for b in batches:
                if actual[b.stream_id] != b.expected_version:
                    return VersionConflict(b.stream_id, b.expected_version, actual[b.stream_id])
        return None

    async def read_stream(
        self, stream_id: str, from_version: int = 1, limit: int | None = None
    ) -> list[RecordedEvent]:
        """Events of one stream from ``from_version`` on, in version order ([] for an unknown stream);
        at most ``limit`` of them when given (page through long streams)."""
        rows = await self._pool.fetch(
            f"SELECT {_COLUMNS} FROM events WHERE stream_id = $1 AND version >= $2 ORDER BY version LIMIT $3",
            stream_id,
            from_version,
            limit,
        )
        return [_recorded(r) for r in rows]

    async def read_all(self, after_position: int = 0, limit: int = 1000) -> list[RecordedEvent]:
        """Up to ``limit`` events after ``after_position`` in position order (keyset paging).

        Pass the last returned event's ``position`` as the next ``after_position``. Positions have gaps
        (rolled-back appends consume identity values). While writers to *different* streams are in
        flight, a lower position can commit after a higher one, so a reader tailing the live head may
        step past it; see the package docs.
        """
        if limit < 1:
            raise ValueError(f"limit must be >= 1, got {limit}")
        rows = await self._pool.fetch(
            f"SELECT {_COLUMNS} FROM events WHERE position > $1 ORDER BY position LIMIT $2",
            after_position,
            limit,
        )
        return [_recorded(r) for r in rows]

    async def stream_version(self, stream_id: str) -> int:
        """The stream's last version; 0 when it does not exist."""
        version = await self._pool.fetchval(
            "SELECT COALESCE(max(version), 0) FROM events WHERE stream_id = $1", stream_id
        )
        return int(version)

    async def head_position(self) -> int:
        """The highest recorded position; 0 for an empty store."""
        position = await self._pool.fetchval("SELECT COALESCE(max(position), 0) FROM events")
        return int(position)
