"""The event store side by side with its ceiling and with the `eventsourcing` library, on one PostgreSQL.

    pip install -e '.[bench]'                      # the eventsourcing library (psycopg 3) for the comparison
    .venv/bin/python -m bench.eventstore           # 20,000 events per writer and batch size, 3 rounds
    .venv/bin/python -m bench.eventstore --events 5000 --rounds 1 --rebuild-programs 50 --json out.json

Append, one writer appending batches of 1, 10 and 100 events to one stream at a time (streams of 100
events, as a pairing's), each batch a transaction, three ways:

- ``ours``: ``EventStore.append`` (advisory stream lock, expected-version check, idempotency check,
  one INSERT ... SELECT FROM unnest round trip, the append-only trigger and the transaction-id column);
- ``copy``: the ceiling: asyncpg ``copy_records_to_table`` of the same rows, one COPY per batch in its
  own transaction, into a table with the same columns, identity, keys and indexes (``LIKE events
  INCLUDING ALL``) and no checks at all;
- ``eventsourcing``: the library's ``PostgresApplicationRecorder.insert_events`` (the recorder with a
  global notification id, as our position) with text originator ids and the same JSON as bytes.

The three run interleaved in every round (ours, copy, eventsourcing, then the next round), so a noisy
neighbour slows all of them alike; the figures are medians over rounds and the ratios are the stable
part. Rebuild: the read models of the impact report rebuilt from position 0 (``rebuild-projections``)
over many copies of the hand-checked report fixture program (real events of every kind), in events/s.

Targets (issue 6): batched append >= 50 % of the COPY rate, >= 3x eventsourcing; rebuild >= 100,000 events/s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import asyncpg

from domain.events import event_id_for
from eventstore import EventStore, NewEvent

BATCHES = (1, 10, 100)
STREAM_LENGTH = 100  # events per stream, as a pairing's over six months
T0 = datetime(2027, 1, 4, 9, tzinfo=UTC)
# A held session as the workflow records it: the size and shape of the commonest event.
PAYLOAD: dict[str, Any] = {
    "session": 3,
    "at": "2027-02-01T09:00:00Z",
    "reported_by": "mentor",
    "rating": 4,
    "private_note_digest": "9f2b6c1e0d4a7f3b",
    "topics": ["genai", "stakeholder updates"],
}


@dataclass
class Row:
    event_id: uuid.UUID
    stream_id: str
    version: int
    type: str
    payload: dict[str, Any]
    text: str
    occurred_at: datetime


def rows_for(run: str, count: int) -> list[Row]:
    """``count`` events in streams of STREAM_LENGTH, ids unique to this run."""
    out = []
    text = json.dumps(PAYLOAD, separators=(",", ":"))
    for n in range(count):
        stream = f"pairing-bench-{run}.s{n // STREAM_LENGTH:06d}"
        version = n % STREAM_LENGTH + 1
        out.append(
            Row(
                event_id=uuid.UUID(event_id_for(stream, version)),
                stream_id=stream,
                version=version,
                type="SessionHeld",
                payload=PAYLOAD,
                text=text,
                occurred_at=T0 + timedelta(minutes=n),
            )
        )
    return out


def batched(rows: Sequence[Row], size: int) -> list[list[Row]]:
    """Batches of ``size`` that never cross a stream (STREAM_LENGTH is a multiple of every size)."""
    return [list(rows[i : i + size]) for i in range(0, len(rows), size)]


# -- the three writers ------------------------------------------------------------------------------
# Each takes the batches of one writer (its own streams) and appends them one transaction at a time.


async def write_ours(store: EventStore, batches: list[list[Row]]) -> None:
    for batch in batches:
        first = batch[0]
        await store.append(
            first.stream_id,
            first.version - 1,
            [
                NewEvent(r.event_id, r.stream_id, r.version, r.type, 1, r.payload, r.occurred_at)
                for r in batch
            ],
        )


COPY_COLUMNS = ("event_id", "stream_id", "version", "type", "schema_version", "payload", "occurred_at")


async def write_copy(pool: Any, batches: list[list[Row]]) -> None:
    async with pool.acquire() as conn:
        for batch in batches:
            async with conn.transaction():
                await conn.copy_records_to_table(
                    "bench_copy_events",
                    records=[
                        (r.event_id, r.stream_id, r.version, r.type, 1, r.text, r.occurred_at) for r in batch
                    ],
                    columns=COPY_COLUMNS,
                )


class EventsourcingWriter:
    """The eventsourcing library's application recorder (synchronous, psycopg 3), run in threads."""

    def __init__(self, dsn: str, connections: int) -> None:
        try:
            from eventsourcing.persistence import StoredEvent
            from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
        except ImportError:
            sys.exit("bench.eventstore needs the eventsourcing library: pip install -e '.[bench]'")
        url = urlparse(dsn)
        self.datastore = PostgresDatastore(
            dbname=url.path.lstrip("/"),
            host=url.hostname or "127.0.0.1",
            port=url.port or 5432,
            user=url.username or "postgres",
            password=url.password or "",
            originator_id_type="text",
            pool_size=connections,
        )
        self.recorder = PostgresApplicationRecorder(self.datastore, events_table_name="bench_es_events")
        self.recorder.create_table()
        self.stored_event: Callable[..., Any] = StoredEvent

    def write(self, batches: list[list[Row]]) -> None:
        make = self.stored_event
        for batch in batches:
            self.recorder.insert_events(
                [make(r.stream_id, r.version, "tandem.domain:SessionHeld", r.text.encode()) for r in batch]
            )

    def close(self) -> None:
        self.datastore.close()


WRITERS = ("ours", "copy", "eventsourcing")


# -- append ------------------------------------------------------------------------------------------


def split(batches: list[list[Row]], writers: int) -> list[list[list[Row]]]:
    """Deal whole streams out to ``writers`` (a stream is only ever appended to by one writer)."""
    by_stream: dict[str, list[list[Row]]] = {}
    for batch in batches:
        by_stream.setdefault(batch[0].stream_id, []).append(batch)
    shares: list[list[list[Row]]] = [[] for _ in range(writers)]
    for n, stream_batches in enumerate(by_stream.values()):
        shares[n % writers].extend(stream_batches)
    return [share for share in shares if share]


def count_for(events: int, size: int) -> int:
    return events if size > 1 else max(events // 4, STREAM_LENGTH)  # single-event appends are slow


async def bench_append(dsn: str, events: int, rounds: int, concurrency: Sequence[int]) -> dict[str, Any]:
    top = max(concurrency)
    store = await EventStore.open(dsn, migrate=True, min_size=top, max_size=top)
    pool = await asyncpg.create_pool(dsn, min_size=top, max_size=top)
    await pool.execute("CREATE TABLE IF NOT EXISTS bench_copy_events (LIKE events INCLUDING ALL)")
    es = EventsourcingWriter(dsn, top)
    rates: dict[str, list[float]] = {}
    try:
        for round_no in range(rounds):
            for writers in concurrency:
                for size in BATCHES:
                    count = count_for(events, size)
                    for writer in WRITERS:
                        rows = rows_for(f"{writer}-{round_no}-{writers}-{size}", count)
                        shares = split(batched(rows, size), writers)
                        started = time.perf_counter()
                        if writer == "ours":
                            await asyncio.gather(*(write_ours(store, share) for share in shares))
                        elif writer == "copy":
                            await asyncio.gather(*(write_copy(pool, share) for share in shares))
                        else:
                            await asyncio.gather(*(asyncio.to_thread(es.write, share) for share in shares))
                        rate = count / (time.perf_counter() - started)
                        rates.setdefault(f"{writer}/{writers}/{size}", []).append(rate)
                        print(
                            f"  round {round_no + 1} writers {writers:>2} batch {size:>3} {writer:<13}"
                            f" {rate:>9,.0f} events/s",
                            flush=True,
                        )
        found = await pool.fetchval("SELECT count(*) FROM events WHERE stream_id LIKE 'pairing-bench-ours-%'")
        expected = sum(count_for(events, size) for size in BATCHES) * rounds * len(concurrency)
        assert found == expected, f"ours recorded {found} events, expected {expected}"
    finally:
        es.close()
        await pool.close()
        await store.close()
    return {"rates": rates, "medians": {key: statistics.median(r) for key, r in rates.items()}}


# -- rebuild -----------------------------------------------------------------------------------------


def fixture_rows(programs: int) -> list[tuple[Any, ...]]:
    """Rows of ``programs`` copies of the report's fixture program, renamed, with their own event ids."""
    from tests.report.fixture import fixture_program

    template = fixture_program("rm-bench-template")
    out = []
    for n in range(programs):
        program_id = f"rm-bench-{n:05d}"
        for event in template.events:
            stream = event.stream_id.replace("rm-bench-template", program_id)
            text = json.dumps(event.payload_json()).replace("rm-bench-template", program_id)
            out.append(
                (
                    uuid.UUID(event_id_for(stream, event.version)),
                    stream,
                    event.version,
                    event.type,
                    event.schema_version,
                    text,
                    event.occurred_at,
                )
            )
    return out


async def bench_rebuild(dsn: str, programs: int, rounds: int) -> dict[str, Any]:
    from tandem.report import read_models

    store = await EventStore.open(dsn, migrate=True, max_size=2)
    try:
        rows = fixture_rows(programs)
        conn = await asyncpg.connect(dsn)  # asyncpg's own (binary) jsonb codec takes the JSON text
        try:
            await conn.copy_records_to_table("events", records=rows, columns=COPY_COLUMNS)
        finally:
            await conn.close()
        total = await store.pool.fetchval("SELECT count(*) FROM events")
        runner = read_models.runner(store.pool)
        seconds = []
        for n in range(rounds):
            started = time.perf_counter()
            result = await runner.rebuild()
            seconds.append(time.perf_counter() - started)
            print(
                f"  rebuild {n + 1}: {total:,} events in the log ({result.events:,} of read-model types)"
                f" in {seconds[-1]:.2f}s = {total / seconds[-1]:,.0f} events/s",
                flush=True,
            )
            applied = result.events  # the events of the types the read models use (most of the log)
        pairings = await store.pool.fetchval("SELECT count(*) FROM rm_pairing")
        per_program = sum(1 for s in {r[1] for r in rows} if s.startswith("pairing-")) // programs
        assert pairings == programs * per_program, (pairings, programs, per_program)
    finally:
        await store.close()
    best = statistics.median(seconds)
    return {
        "programs": programs,
        "events": total,
        "applied": applied,
        "applied_per_second": applied / best,
        "fixture_events": len(rows),
        "pairings": pairings,
        "seconds": seconds,
        "events_per_second": total / best,
    }


# -- main --------------------------------------------------------------------------------------------


async def fresh_database(dsn: str, name: str) -> str:
    """A new, empty database beside ``dsn``'s (dropped first if a previous run left it)."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return urlparse(dsn)._replace(path=f"/{name}").geturl()


async def run(
    dsn: str, events: int, rounds: int, programs: int, concurrency: Sequence[int]
) -> dict[str, Any]:
    print(f"append: {events:,} events per run (a quarter for batch 1), {rounds} rounds")
    append = await bench_append(await fresh_database(dsn, "tandem_bench_append"), events, rounds, concurrency)
    print(f"rebuild: {programs} copies of the report fixture program")
    rebuild = await bench_rebuild(await fresh_database(dsn, "tandem_bench_rebuild"), programs, max(rounds, 1))
    return {"append": append, "rebuild": rebuild}


def report(result: dict[str, Any], concurrency: Sequence[int]) -> list[str]:
    med = result["append"]["medians"]
    lines = [
        "",
        f"{'writers':>7} {'batch':>5} {'ours ev/s':>11} {'COPY ev/s':>11} {'eventsourcing':>14}"
        f" {'ours/COPY':>10} {'ours/es':>8}",
    ]
    batched_ok = es_ok = True
    beyond_copy: list[str] = []  # where 3x the library is faster than raw COPY itself: out of reach
    for writers in concurrency:
        for size in BATCHES:
            ours, copy, es = (med[f"{w}/{writers}/{size}"] for w in WRITERS)
            lines.append(
                f"{writers:>7} {size:>5} {ours:>11,.0f} {copy:>11,.0f} {es:>14,.0f}"
                f" {ours / copy:>9.0%} {ours / es:>7.1f}x"
            )
            if size > 1:
                batched_ok &= ours >= 0.5 * copy
                if 3 * es > copy:
                    beyond_copy.append(f"{writers}x{size}")
                else:
                    es_ok &= ours >= 3 * es
    rb = result["rebuild"]
    lines.append(
        f"rebuild: {rb['events']:,} events in the log, {rb['events_per_second']:,.0f} events/s "
        f"({rb['applied_per_second']:,.0f}/s of the {rb['applied']:,} the read models apply), median"
    )
    verdict = {True: "met", False: "NOT met"}
    lines.append(
        f"targets (batches of 10 and 100, every concurrency): >= 50 % of COPY: {verdict[batched_ok]}; "
        f">= 3x eventsourcing: {verdict[es_ok]}"
        + (
            f" (not counted: {', '.join(beyond_copy)}, where 3x the library exceeds raw COPY)"
            if beyond_copy
            else ""
        )
        + "; "
        f"rebuild >= 100,000 events/s: {verdict[rb['events_per_second'] >= 100_000]}"
    )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000, help="events per writer and batch size")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rebuild-programs", type=int, default=400, help="copies of the fixture program")
    parser.add_argument(
        "--writers",
        type=int,
        nargs="+",
        default=[1, 8],
        help="concurrent writers (a worker records many pairings)",
    )
    parser.add_argument("--dsn", help="an existing PostgreSQL database (default: a throw-away embedded one)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    if args.events < STREAM_LENGTH or args.events % STREAM_LENGTH:
        parser.error(f"--events must be a positive multiple of {STREAM_LENGTH}")

    if args.dsn:
        result = asyncio.run(run(args.dsn, args.events, args.rounds, args.rebuild_programs, args.writers))
    else:
        from localstack.postgres import EmbeddedPostgres
        from localstack.processes import free_port

        with tempfile.TemporaryDirectory(prefix="tandem-bench-") as tmp:
            pg = EmbeddedPostgres(
                data_dir=Path(tmp) / "pg", host="127.0.0.1", port=free_port(), log_path=Path(tmp) / "pg.log"
            )
            pg.start()
            try:
                result = asyncio.run(
                    run(pg.dsn(), args.events, args.rounds, args.rebuild_programs, args.writers)
                )
            finally:
                pg.stop()
    for line in report(result, args.writers):
        print(line)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
