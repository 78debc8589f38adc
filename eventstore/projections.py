"""Projections: read models fed from the event log, caught up from a stored checkpoint, rebuildable.

A :class:`ProjectionRunner` owns one checkpoint (a row of ``projection_checkpoints``) and feeds the
events recorded since it to its projections, in position order, in one REPEATABLE READ transaction
that also writes the read models and the new checkpoint: the read models and the checkpoint always
move together, so a crash loses nothing and applies nothing twice.

What the checkpoint remembers, and why not only a position
----------------------------------------------------------
Positions are taken at INSERT time but transactions commit in any order, so a reader at the head may
see position N+1 while N is still in flight; remembering "done up to N+1" would skip N forever. The
runner therefore remembers the *snapshot* its last run read with (``pg_current_snapshot()``), and
every event row carries the id of the transaction that wrote it (``events.xact_id``, migration 0020).
The next run reads exactly the rows that are visible now and were not visible in the remembered
snapshot (``NOT pg_visible_in_snapshot(xact_id, remembered)``): each committed append becomes visible
in exactly one interval between two runs, whatever position it got and whenever it commits. The rows
to look at are found through ``xact_id >= pg_snapshot_xmin(remembered)`` (an index), so a run costs
what is new, not the log's length. The highest position applied is stored as well, for lag and for
people, but it is not what decides what to read.

Order: within one run events are applied in position order. Across runs a late-committing append
can be applied after events with higher positions; that never reorders a stream (a stream's next
append waits for the previous one to commit, see 0002), and projections here only rely on the order
within a stream.

One runner at a time: a run takes a session-level advisory lock *before* its transaction starts, so
its snapshot is taken after the previous holder committed its checkpoint.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import AsyncIterator, Collection, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import orjson

__all__ = [
    "Checkpoint",
    "ProjectedEvent",
    "Projection",
    "ProjectionRunner",
    "ProjectionSession",
    "RunResult",
    "kept_up",
]

log = logging.getLogger(__name__)

# Two-int4 advisory-lock keys: a class of its own, apart from the migration lock and the stream locks.
_LOCK_CLASS = 0x54414E44  # "TAND"
_LOCK_PREFIX = 0x50520000  # "PR" + a hash of the runner's name


@dataclass(frozen=True, slots=True)
class ProjectedEvent:
    """An event as projections see it: the stored row with its payload decoded."""

    position: int
    stream_id: str
    version: int
    type: str
    schema_version: int
    payload: dict[str, Any]
    occurred_at: datetime


class ProjectionSession(Protocol):
    """One run's view of a projection: pages of events in, then one ``finish`` to write them."""

    async def apply(self, events: Sequence[ProjectedEvent]) -> None: ...

    async def finish(self) -> None: ...


class Projection(Protocol):
    """A read model: the tables it owns and how it turns events into rows."""

    @property
    def tables(self) -> Sequence[str]:
        """Tables emptied by a rebuild."""
        ...

    @property
    def event_types(self) -> Collection[str] | None:
        """The event types it reads (``None``: all); others are never fetched for it."""
        ...

    def session(self, conn: Any, *, empty: bool) -> ProjectionSession:
        """Start a run on ``conn`` (inside the runner's transaction). ``empty``: the tables are known
        to be empty (a rebuild), so there is nothing to load before applying."""
        ...


@dataclass(frozen=True)
class Checkpoint:
    name: str
    position: int
    snapshot: str | None
    events: int
    updated_at: datetime | None


@dataclass(frozen=True)
class RunResult:
    """What one run did: events applied, checkpoint position after it, wall time, whether it rebuilt."""

    events: int
    position: int
    seconds: float
    rebuilt: bool

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


_SELECT = "SELECT position, stream_id, version, type, schema_version, payload::text AS payload, occurred_at"
_FROM_START = f"{_SELECT} FROM events WHERE position > $1 AND ($2::text[] IS NULL OR type = ANY($2)) "
_SINCE = (
    f"{_SELECT} FROM events WHERE xact_id >= pg_snapshot_xmin($4::text::pg_snapshot)"
    " AND NOT pg_visible_in_snapshot(xact_id, $4::text::pg_snapshot)"
    " AND position > $1 AND ($2::text[] IS NULL OR type = ANY($2)) "
)
_ORDER = "ORDER BY position LIMIT $3"


class ProjectionRunner:
    """Feeds ``projections`` from the event log under the checkpoint called ``name``."""

    def __init__(
        self, pool: Any, projections: Sequence[Projection], *, name: str, page_size: int = 5000
    ) -> None:
        if page_size < 1:
            raise ValueError(f"page_size must be >= 1, got {page_size}")
        self._pool = pool
        self._projections = list(projections)
        self.name = name
        self.page_size = page_size
        wanted: set[str] = set()
        self._types: list[str] | None = None
        for projection in self._projections:
            types = projection.event_types
            if types is None:
                break
            wanted.update(types)
        else:
            self._types = sorted(wanted)
        self._lock_key = _LOCK_PREFIX | (_stable_hash(name) & 0xFFFF)

    @property
    def tables(self) -> list[str]:
        return [t for p in self._projections for t in p.tables]

    async def checkpoint(self) -> Checkpoint | None:
        row = await self._pool.fetchrow(
            "SELECT name, position, snapshot::text AS snapshot, events, updated_at"
            " FROM projection_checkpoints WHERE name = $1",
            self.name,
        )
        return None if row is None else Checkpoint(**dict(row))

    async def catch_up(self) -> RunResult:
        """Apply every event committed since the last run (from the start when there was none)."""
        return await self._run(rebuild=False)

    async def rebuild(self) -> RunResult:
        """Empty the read models and apply the whole log again, in one transaction: readers see the
        old tables until the new ones are complete."""
        return await self._run(rebuild=True)

    async def run_forever(self, interval: float) -> None:
        """Catch up every ``interval`` seconds until cancelled; a failed run is logged and retried."""
        while True:
            try:
                result = await self.catch_up()
                if result.events:
                    log.info(
                        "projections %s: %d events applied up to position %d in %.2fs",
                        self.name,
                        result.events,
                        result.position,
                        result.seconds,
                    )
            except asyncio.CancelledError:
                raise
            except Exception:  # the database may be down for a while: keep the worker up and retry
                log.exception("projections %s: catch-up failed; retrying in %.1fs", self.name, interval)
            await asyncio.sleep(interval)

    async def _run(self, *, rebuild: bool) -> RunResult:
        started = time.perf_counter()
        with _collector_paused():
            return await self._locked_run(rebuild, started)

    async def _locked_run(self, rebuild: bool, started: float) -> RunResult:
        async with self._pool.acquire() as conn:
            await conn.execute("SELECT pg_advisory_lock($1, $2)", _LOCK_CLASS, self._lock_key)
            try:
                async with conn.transaction(isolation="repeatable_read"):
                    applied, position, rebuilt = await self._in_transaction(conn, rebuild)
            finally:
                try:
                    await conn.execute("SELECT pg_advisory_unlock($1, $2)", _LOCK_CLASS, self._lock_key)
                except BaseException:
                    conn.terminate()  # never back into the pool holding the session lock
                    raise
        return RunResult(applied, position, time.perf_counter() - started, rebuilt)

    async def _in_transaction(self, conn: Any, rebuild: bool) -> tuple[int, int, bool]:
        # The first statement fixes the transaction's snapshot: after the lock, so it sees the
        # checkpoint the previous run committed.
        row = await conn.fetchrow(
            "SELECT position, snapshot::text AS snapshot, events, pg_current_snapshot()::text AS now"
            " FROM (SELECT 1) AS one LEFT JOIN projection_checkpoints ON name = $1",
            self.name,
        )
        snapshot_now: str = row["now"]
        remembered: str | None = row["snapshot"]
        position: int = row["position"] or 0
        total: int = row["events"] or 0
        if rebuild or row["position"] is None:  # no checkpoint yet: build from the start
            rebuild = True
            remembered, position, total = None, 0, 0
            if self.tables:
                await conn.execute(f"TRUNCATE {', '.join(self.tables)}")
        sessions = [p.session(conn, empty=rebuild) for p in self._projections]
        applied = 0
        loads = orjson.loads  # a third of a rebuild's time went to json.loads
        async with self._pages(conn, remembered, prefetch=rebuild) as pages:
            async for rows in pages:
                events = [
                    ProjectedEvent(r[0], r[1], r[2], r[3], r[4], loads(r[5]), r[6])
                    for r in rows  # positional: a Record's items by index are the cheapest access
                ]
                for session in sessions:
                    await session.apply(events)
                applied += len(events)
                position = max(position, events[-1].position)
        for session in sessions:
            await session.finish()
        await conn.execute(
            "INSERT INTO projection_checkpoints (name, position, snapshot, events, updated_at)"
            " VALUES ($1, $2, $3::text::pg_snapshot, $4, now())"
            " ON CONFLICT (name) DO UPDATE SET position = EXCLUDED.position, snapshot = EXCLUDED.snapshot,"
            " events = EXCLUDED.events, updated_at = EXCLUDED.updated_at",
            self.name,
            position,
            snapshot_now,
            total + applied,
        )
        return applied, position, rebuild

    async def _read(self, conn: Any, remembered: str | None) -> AsyncIterator[list[Any]]:
        """The events to apply, a page at a time, in position order."""
        after = 0
        while True:
            if remembered is None:
                rows = await conn.fetch(_FROM_START + _ORDER, after, self._types, self.page_size)
            else:
                rows = await conn.fetch(_SINCE + _ORDER, after, self._types, self.page_size, remembered)
            if rows:
                yield rows
                after = rows[-1][0]
            if len(rows) < self.page_size:
                return

    @asynccontextmanager
    async def _pages(
        self, conn: Any, remembered: str | None, *, prefetch: bool
    ) -> AsyncIterator[AsyncIterator[list[Any]]]:
        """Pages read on ``conn``, or, with ``prefetch`` (a rebuild: many pages), read ahead on a second
        connection that shares this transaction's exported snapshot: PostgreSQL finds and sends the
        next page on the other core while this one is applied. Same rows, same order."""
        if not prefetch or self._pool.get_max_size() < 2:
            yield self._read(conn, remembered)
            return
        snapshot = await conn.fetchval("SELECT pg_export_snapshot()")
        async with (
            self._pool.acquire() as reader,
            reader.transaction(isolation="repeatable_read", readonly=True),
        ):
            await reader.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
            ahead: asyncio.Queue[list[Any] | BaseException | None] = asyncio.Queue(maxsize=2)

            async def produce() -> None:
                try:
                    async for rows in self._read(reader, remembered):
                        await ahead.put(rows)
                    await ahead.put(None)
                except BaseException as exc:  # handed to the consumer, which raises it
                    await ahead.put(exc)
                    raise

            async def consume() -> AsyncIterator[list[Any]]:
                while True:
                    item = await ahead.get()
                    if item is None:
                        return
                    if isinstance(item, BaseException):
                        raise item
                    yield item

            task = asyncio.create_task(produce(), name=f"projections-{self.name}-reader")
            try:
                yield consume()
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)


class _CollectorPause:
    """Keep Python's cyclic garbage collector out of projection runs.

    A run creates a few objects per event (rows, decoded payloads) and keeps most of them until it
    writes: every few hundred allocations the collector walks them all again, and its full
    collections walk the whole process. Measured on a rebuild: a third of the wall time. What a run
    allocates holds no reference cycles, so reference counting frees it all the same. Runs may
    overlap (several runners in one worker): the collector comes back, as it was before the first
    one, when the last one ends.
    """

    def __init__(self) -> None:
        self.runs = 0
        self.was_enabled = False

    @contextmanager
    def __call__(self) -> Iterator[None]:
        if self.runs == 0:
            self.was_enabled = gc.isenabled()
            gc.disable()
        self.runs += 1
        try:
            yield
        finally:
            self.runs -= 1
            if self.runs == 0 and self.was_enabled:
                gc.enable()


_collector_paused = _CollectorPause()


def _stable_hash(text: str) -> int:
    """A hash that is the same in every process (``hash()`` of a str is salted per process)."""
    value = 0
    for byte in text.encode("utf-8"):
        value = (value * 31 + byte) & 0xFFFFFFFF
    return value


@asynccontextmanager
async def kept_up(runner: ProjectionRunner, interval: float) -> AsyncIterator[asyncio.Task[None]]:
    """Run ``runner.run_forever(interval)`` in the background for the duration of the block."""
    task = asyncio.create_task(runner.run_forever(interval), name=f"projections-{runner.name}")
    try:
        yield task
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
