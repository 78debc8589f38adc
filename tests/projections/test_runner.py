"""The projection runner: checkpoints, catch-up, rebuild equality, and events that commit late."""

from __future__ import annotations

import asyncio
import gc
import json
import random
import uuid
from datetime import UTC, datetime

import pytest

from activities.record import to_new_event
from domain.events import Event
from domain.pairing import PairingProposed
from domain.pairing import pairing_stream as stream_of
from eventstore import EventStore, NewEvent
from eventstore.projections import ProjectionRunner, kept_up
from tandem.report import read_models
from tests.projections.conftest import new_store, read_model_tables
from tests.report.fixture import PRIVATE, TOPIC, fixture_program

NOW = datetime(2027, 1, 4, tzinfo=UTC)


def proposed(pairing_id: str, program_id: str = "rm-x", stream_id: str | None = None) -> NewEvent:
    payload = PairingProposed(pairing_id=pairing_id, program_id=program_id, mentor_id="pa", mentee_id="pb")
    return NewEvent(
        event_id=uuid.uuid4(),
        stream_id=stream_id or stream_of(pairing_id),
        version=1,
        type=payload.TYPE,
        schema_version=payload.SCHEMA_VERSION,
        payload=payload.model_dump(mode="json"),
        occurred_at=NOW,
    )


async def _append_in_chunks(
    store: EventStore, events: list[Event], rng: random.Random, runner: ProjectionRunner
) -> int:
    """Append stream by stream in random chunks, catching up after some of them; returns catch-ups run."""
    by_stream: dict[str, list[Event]] = {}
    for event in events:
        by_stream.setdefault(event.stream_id, []).append(event)
    cursors = {s: 0 for s in by_stream}
    runs = 0
    while cursors:
        stream = rng.choice(sorted(cursors))
        start = cursors[stream]
        chunk = by_stream[stream][start : start + rng.randint(1, 7)]
        await store.append(stream, start, [to_new_event(e) for e in chunk])
        cursors[stream] = start + len(chunk)
        if cursors[stream] == len(by_stream[stream]):
            del cursors[stream]
        if rng.random() < 0.3:
            await runner.catch_up()
            runs += 1
    return runs


async def test_first_catch_up_builds_everything_then_nothing_is_new(es: EventStore) -> None:
    await fixture_program().append(es)
    runner = read_models.runner(es.pool)
    assert await runner.checkpoint() is None
    first = await runner.catch_up()
    head = await es.head_position()
    assert first.rebuilt and first.position == head
    assert (
        first.events == 186
    )  # every event of a type the read models read (ReminderDue & co. are not fetched)
    checkpoint = await runner.checkpoint()
    assert checkpoint is not None and checkpoint.position == head and checkpoint.events == 186
    assert checkpoint.snapshot  # the snapshot it read with: what the next run starts from
    again = await runner.catch_up()
    assert (again.events, again.position, again.rebuilt) == (0, head, False)
    assert (await read_model_tables(es.pool))["rm_pairing"]


async def test_incremental_catch_ups_and_a_rebuild_produce_identical_tables(es: EventStore) -> None:
    runner = read_models.runner(es.pool, page_size=17)  # small pages: many page boundaries too
    runs = await _append_in_chunks(es, fixture_program().events, random.Random(6), runner)
    await runner.catch_up()
    assert runs > 10
    incremental = await read_model_tables(es.pool)
    rebuilt = await runner.rebuild()
    assert rebuilt.rebuilt and rebuilt.position == await es.head_position()
    assert await read_model_tables(es.pool) == incremental
    assert len(incremental["rm_session"]) == 23 and len(incremental["rm_pairing"]) == 8


async def test_the_same_events_in_another_commit_order_give_the_same_tables(
    es: EventStore, pg_dsn: str
) -> None:
    """A second database fed in another interleaving, caught up in one go: identical tables."""
    built = fixture_program()
    runner = read_models.runner(es.pool)
    await _append_in_chunks(es, built.events, random.Random(1), runner)
    await runner.catch_up()
    first = await read_model_tables(es.pool, positions=False)

    async with new_store(pg_dsn) as other:
        await built.append(other)
        await read_models.runner(other.pool).catch_up()
        assert await read_model_tables(other.pool, positions=False) == first


async def test_an_append_that_commits_late_is_not_skipped(es: EventStore) -> None:
    """T1 takes a position, T2 takes a higher one and commits first: the run after T2 must not step
    past T1's position for good, as a position-only checkpoint would."""
    runner = read_models.runner(es.pool)
    await runner.catch_up()
    late = await es.pool.acquire()
    try:
        tx = late.transaction()
        await tx.start()
        event = proposed("late")
        await late.execute(
            "INSERT INTO events (event_id, stream_id, version, type, schema_version, payload, occurred_at)"
            " VALUES ($1, $2, 1, $3, 1, $4::text::jsonb, $5)",
            event.event_id,
            event.stream_id,
            event.type,
            json.dumps(event.payload),
            event.occurred_at,
        )
        late_position = await late.fetchval("SELECT max(position) FROM events")
        await es.append(stream_of("early"), 0, [proposed("early")])  # commits while T1 is open
        result = await runner.catch_up()
        assert result.events == 1 and result.position > late_position  # past T1's position already
        ids = {r["pairing_id"] for r in await es.pool.fetch("SELECT pairing_id FROM rm_pairing")}
        assert ids == {"early"}
        await tx.commit()
    finally:
        await es.pool.release(late)
    result = await runner.catch_up()
    assert result.events == 1
    ids = {r["pairing_id"] for r in await es.pool.fetch("SELECT pairing_id FROM rm_pairing")}
    assert ids == {"early", "late"}
    assert (await runner.catch_up()).events == 0


async def test_concurrent_writers_and_catch_ups_lose_nothing_and_apply_nothing_twice(es: EventStore) -> None:
    built = fixture_program()
    by_stream: dict[str, list[Event]] = {}
    for event in built.events:
        by_stream.setdefault(event.stream_id, []).append(event)
    runner = read_models.runner(es.pool, page_size=13)
    other = read_models.runner(es.pool)  # a second process's runner on the same checkpoint
    done = asyncio.Event()

    async def writer(streams: list[str], seed: int) -> None:
        rng = random.Random(seed)
        for stream in streams:
            events, at = by_stream[stream], 0
            while at < len(events):
                chunk = events[at : at + rng.randint(1, 5)]
                await es.append(stream, at, [to_new_event(e) for e in chunk])
                at += len(chunk)
                await asyncio.sleep(0)

    async def catcher(r: ProjectionRunner) -> int:
        runs = 0
        while not done.is_set():
            await r.catch_up()
            runs += 1
            await asyncio.sleep(0.001)
        return runs

    streams = sorted(by_stream)
    catchers = [asyncio.create_task(catcher(runner)), asyncio.create_task(catcher(other))]
    await asyncio.gather(*(writer(streams[k::3], k) for k in range(3)))
    done.set()
    runs = await asyncio.gather(*catchers)
    await runner.catch_up()
    assert sum(runs) > 2
    live = await read_model_tables(es.pool)
    await runner.rebuild()
    assert await read_model_tables(es.pool) == live


async def test_read_models_hold_no_names_emails_notes_topics_or_takeaway_text(es: EventStore) -> None:
    built = fixture_program()
    await built.append(es)
    await read_models.runner(es.pool).catch_up()
    dump = json.dumps(await read_model_tables(es.pool)).lower()
    assert PRIVATE.lower() not in dump and TOPIC.lower() not in dump
    for person in built.people:
        assert person.email.lower() not in dump
        assert person.name.lower() not in dump
    assert "feedback culture is different" not in dump  # a takeaway's text; only its terms are counted


async def test_events_of_other_streams_and_malformed_events_do_not_stop_the_read_models(
    es: EventStore,
) -> None:
    base = dict(schema_version=1, occurred_at=NOW)
    await es.append(
        "mentorship-1",
        0,
        [
            NewEvent(
                event_id=uuid.uuid4(),
                stream_id="mentorship-1",
                version=1,
                type="SessionHeld",
                payload={"at": "x"},
                **base,
            )
        ],
    )
    await es.append(
        "pairing-broken",
        0,
        [
            NewEvent(
                event_id=uuid.uuid4(),
                stream_id="pairing-broken",
                version=1,
                type="PairingProposed",
                payload={"unexpected": True},
                **base,
            )
        ],
    )
    await es.append(stream_of("fine"), 0, [proposed("fine")])
    result = await read_models.runner(es.pool).catch_up()
    assert result.events == 3  # all three read; the first is not Tandem's, the second is skipped
    rows = await es.pool.fetch("SELECT pairing_id, program_id FROM rm_pairing ORDER BY 1")
    assert [(r["pairing_id"], r["program_id"]) for r in rows] == [("broken", None), ("fine", "rm-x")]
    assert await es.pool.fetchval("SELECT count(*) FROM rm_session") == 0


async def test_every_event_records_the_transaction_that_wrote_it(es: EventStore) -> None:
    await es.append("s-1", 0, [proposed("a", stream_id="s-1")])
    await es.append_batches([(stream_of("b"), 0, [proposed("b")]), (stream_of("c"), 0, [proposed("c")])])
    rows = await es.pool.fetch("SELECT stream_id, xact_id::text::bigint AS x FROM events ORDER BY position")
    xids = [r["x"] for r in rows]
    assert None not in xids
    assert xids[1] == xids[2] and xids[0] != xids[1]  # one id per transaction


async def test_the_worker_task_keeps_the_read_models_caught_up_and_stops_cleanly(es: EventStore) -> None:
    runner = read_models.runner(es.pool)
    async with kept_up(runner, 0.05) as task:
        await es.append(stream_of("w"), 0, [proposed("w")])
        for _ in range(200):
            checkpoint = await runner.checkpoint()
            if checkpoint is not None and checkpoint.position == await es.head_position():
                break
            await asyncio.sleep(0.02)
        else:
            raise AssertionError("the background task did not catch up")
        assert not task.done()
    assert task.done() and task.cancelled()


async def test_a_failing_run_is_retried_and_does_not_kill_the_task(es: EventStore) -> None:
    runner = ProjectionRunner(es.pool, [read_models.ReadModels()], name="broken")
    await es.pool.execute("ALTER TABLE rm_pairing RENAME TO rm_pairing_away")
    try:
        async with kept_up(runner, 0.02) as task:
            await es.append(stream_of("r"), 0, [proposed("r")])
            await asyncio.sleep(0.2)
            assert not task.done()  # runs failed (no table) and are retried
            assert await runner.checkpoint() is None
            await es.pool.execute("ALTER TABLE rm_pairing_away RENAME TO rm_pairing")
            for _ in range(200):
                if await runner.checkpoint() is not None:
                    break
                await asyncio.sleep(0.02)
            assert await runner.checkpoint() is not None
    finally:
        await es.pool.execute("ALTER TABLE IF EXISTS rm_pairing_away RENAME TO rm_pairing")
    assert await es.pool.fetchval("SELECT count(*) FROM rm_pairing") == 1


class _WatchesTheCollector:
    """A projection that notes whether Python's cyclic collector ran-enabled while it applied events."""

    tables: tuple[str, ...] = ()
    event_types = None

    def __init__(self) -> None:
        self.seen: list[bool] = []

    def session(self, conn: object, *, empty: bool) -> _WatchesTheCollector:
        return self

    async def apply(self, events: object) -> None:
        self.seen.append(gc.isenabled())

    async def finish(self) -> None:
        self.seen.append(gc.isenabled())


async def test_runs_keep_the_collector_out_and_give_it_back_as_it_was(es: EventStore) -> None:
    await es.append(stream_of("gc-1"), 0, [proposed("gc-1")])
    watcher = _WatchesTheCollector()
    runner = ProjectionRunner(es.pool, [watcher], name=f"gc-{uuid.uuid4().hex[:6]}")
    assert gc.isenabled()
    await runner.rebuild()
    assert watcher.seen and not any(watcher.seen)  # paused while the run applied and wrote
    assert gc.isenabled()  # and back afterwards
    # two overlapping runs: the collector comes back only when the last one ends
    other = ProjectionRunner(es.pool, [_WatchesTheCollector()], name=f"gc-{uuid.uuid4().hex[:6]}")
    await asyncio.gather(runner.rebuild(), other.rebuild())
    assert gc.isenabled()
    gc.disable()  # a process that runs without the collector keeps it that way
    try:
        await runner.catch_up()
        assert not gc.isenabled()
    finally:
        gc.enable()


async def test_a_rebuild_reads_ahead_on_a_second_connection_and_a_failed_read_changes_nothing(
    es: EventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    await fixture_program().append(es)
    runner = read_models.runner(es.pool, page_size=25)  # several pages
    await runner.catch_up()
    before = await read_model_tables(es.pool)
    checkpoint = await runner.checkpoint()

    readers: list[object] = []
    original = ProjectionRunner._read

    async def failing_read(self: ProjectionRunner, conn: object, remembered: str | None):  # type: ignore[no-untyped-def]
        readers.append(conn)
        pages = 0
        async for rows in original(self, conn, remembered):
            pages += 1
            if pages == 3:
                raise ConnectionResetError("the reader's connection dropped")
            yield rows

    monkeypatch.setattr(ProjectionRunner, "_read", failing_read)
    with pytest.raises(ConnectionResetError):
        await runner.rebuild()
    assert len(readers) == 1  # the pages came through one reader
    # the rebuild's transaction rolled back: the old tables and checkpoint are intact
    assert await read_model_tables(es.pool) == before
    assert await runner.checkpoint() == checkpoint
    monkeypatch.setattr(ProjectionRunner, "_read", original)
    rebuilt = await runner.rebuild()  # and the pool is fine: a rebuild afterwards gives the same tables
    assert rebuilt.rebuilt and await read_model_tables(es.pool) == before
