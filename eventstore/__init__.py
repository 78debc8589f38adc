"""Append-only PostgreSQL event store (asyncpg).

Every event belongs to a stream and has a version (1, 2, ... with no gap) in it, and a global
``position`` (increasing, with gaps) across all streams. Appends are optimistic and idempotent: a
writer states the version it expects the stream to be at, and re-appending an already recorded batch
is reported as ``already_present`` rather than failing, so activities can be retried safely.

Known limitation of ``read_all``: positions are assigned at insert time and transactions commit in
any order, so while appends to different streams are in flight a reader at the live head can see
position N+1 before N commits and page past N. Projections that tail the head should re-read a
short window behind their checkpoint (or wait until no append is in flight) to catch such stragglers.
"""

from eventstore.schema import migrate
from eventstore.store import (
    AppendResult,
    DuplicateEventId,
    EventMismatch,
    EventStore,
    EventStoreError,
    NewEvent,
    RecordedEvent,
    VersionConflict,
)

__all__ = [
    "AppendResult",
    "DuplicateEventId",
    "EventMismatch",
    "EventStore",
    "EventStoreError",
    "NewEvent",
    "RecordedEvent",
    "VersionConflict",
    "migrate",
]
