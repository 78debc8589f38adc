"""Concurrent writers: per-stream serialisation makes races deterministic, without gaps or duplicates."""

from __future__ import annotations

import asyncio
import random

import asyncpg  # type: ignore[import-untyped]

from eventstore import AppendResult, EventMismatch, EventStore, VersionConflict
from tests.eventstore.es_factories import new_events


async def _assert_gapless(store: EventStore, stream_id: str, length: int) -> None:
    stored = await store.read_stream(stream_id)
    assert [e.version for e in stored] == list(range(1, length + 1))
    assert len({e.event_id for e in stored}) == length


async def test_two_concurrent_appenders_one_wins_the_other_gets_a_typed_conflict(store: EventStore) -> None:
    for round_ in range(20):
        stream = f"race-{round_}"
        first, second = new_events(stream, 1, 3), new_events(stream, 1, 3)
        outcomes = await asyncio.gather(
            store.append(stream, 0, first), store.append(stream, 0, second), return_exceptions=True
        )
        wins = [o for o in outcomes if isinstance(o, AppendResult)]
        losses = [o for o in outcomes if isinstance(o, BaseException)]
        assert len(wins) == 1 and len(losses) == 1, outcomes
        assert wins[0] == AppendResult(stream, 3, 0, 3)
        assert isinstance(losses[0], EventMismatch)  # a VersionConflict: the stream moved on
        winner = first if outcomes[0] is wins[0] else second
        assert [e.event_id for e in await store.read_stream(stream)] == [e.event_id for e in winner]


async def test_concurrent_retries_of_the_same_batch_both_succeed_once_recorded(store: EventStore) -> None:
    batch = new_events("same", 1, 4)
    outcomes = await asyncio.gather(store.append("same", 0, batch), store.append("same", 0, batch))
    assert sorted((o.recorded, o.already_present) for o in outcomes) == [(0, 4), (4, 0)]
    await _assert_gapless(store, "same", 4)


async def _waiting_on_advisory_locks(conn: asyncpg.Connection) -> int:
    count: int = await conn.fetchval(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
    )
    return count


async def test_writers_queued_on_the_stream_lock_see_the_winners_commit(
    store: EventStore, fresh_dsn: str
) -> None:
    """Holds the stream's lock so that three writers certainly wait, then releases it.

    Each queued writer must read the version only after getting the lock; one reading a stale
    snapshot would try to insert and hit the unique constraint instead of a typed outcome.
    """
    holder = await asyncpg.connect(fresh_dsn)
    try:
        tx = holder.transaction()
        await tx.start()
        await holder.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", "held")
        batches = [new_events("held", 1, 2) for _ in range(3)]
        tasks = [asyncio.create_task(store.append("held", 0, b)) for b in batches[:2]]
        tasks.append(asyncio.create_task(store.append("held", 0, batches[0])))  # a retry of the 1st
        for _ in range(200):
            if await _waiting_on_advisory_locks(holder) == 3:
                break
            await asyncio.sleep(0.01)
        assert await _waiting_on_advisory_locks(holder) == 3
        assert not any(t.done() for t in tasks)
        await tx.commit()
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        await holder.close()

    stored = [e.event_id for e in await store.read_stream("held")]
    winner = next(i for i, b in enumerate(batches) if [e.event_id for e in b] == stored)
    for i, outcome in enumerate(outcomes):
        batch_index = 0 if i == 2 else i
        if batch_index == winner:
            assert isinstance(outcome, AppendResult), outcome
            assert outcome.recorded + outcome.already_present == 2
        else:
            assert isinstance(outcome, EventMismatch), outcome
    await _assert_gapless(store, "held", 2)


async def test_many_writers_retrying_on_conflict_leave_a_gapless_stream(fresh_dsn: str) -> None:
    store = await EventStore.open(fresh_dsn, max_size=8)
    appended = 0

    async def writer(seed: int) -> None:
        nonlocal appended
        rng = random.Random(seed)
        done = 0
        while done < 15:
            version = await store.stream_version("hot")
            size = rng.randint(1, 3)
            try:
                await store.append("hot", version, new_events("hot", version + 1, size))
            except VersionConflict:
                continue
            done += 1
            appended += size

    try:
        await asyncio.gather(*(writer(seed) for seed in range(6)))
        await _assert_gapless(store, "hot", appended)
    finally:
        await store.close()


async def test_multi_stream_writers_in_opposite_orders_do_not_deadlock(fresh_dsn: str) -> None:
    store = await EventStore.open(fresh_dsn, max_size=4)
    counts = {"x": 0, "y": 0}

    async def writer(order: tuple[str, str]) -> None:
        done = 0
        while done < 20:
            versions = {s: await store.stream_version(s) for s in order}
            try:
                await store.append_batches(
                    [(s, versions[s], new_events(s, versions[s] + 1, 1)) for s in order]
                )
            except VersionConflict:
                continue
            done += 1
            for s in order:
                counts[s] += 1

    try:
        await asyncio.gather(writer(("x", "y")), writer(("y", "x")), writer(("x", "y")))
        await _assert_gapless(store, "x", counts["x"])
        await _assert_gapless(store, "y", counts["y"])
        assert counts == {"x": 60, "y": 60}
    finally:
        await store.close()
