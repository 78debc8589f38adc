"""Simulated deliveries on long-lived connections: the statement the worker runs, side by side with
the one it replaced, which looked up earlier deliveries in the table it was writing.

    .venv/bin/python -m bench.deliver                  # 4 connections x 1,000 calls of 15 notices each
    .venv/bin/python -m bench.deliver --calls 2000 --connections 2

Each connection runs one statement ``--calls`` times in a row, as the worker's pooled connections do;
the report gives milliseconds per call over the first and the last tenth of the calls, for both
statements. Each starts on an empty table, as in a fresh stack (a simulation, the demo, CI): a plan
that the connection caches then, while a scan of the whole table is cheapest, is kept as the table
grows, and a statement that reads the table it writes gets dearer with every call; its last/first
ratio shows it. The two statements run interleaved per round, so a noisy neighbour slows both alike.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg

from activities.notify import _DELIVER_SIMULATED

# The statement before bench/deliver.py's finding: the same insert, plus a lookup of which keys had
# been delivered before, in the table it writes.
READS_WHAT_IT_WRITES = """
WITH batch AS (
    SELECT DISTINCT ON (key) *
    FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
        AS t(key, program_id, pairing_id, recipient, participant_id, template)
    ORDER BY key
), before AS (
    SELECT key FROM notifications WHERE key = ANY($1::text[]) AND delivered_at IS NOT NULL
)
INSERT INTO notifications
    (key, program_id, pairing_id, recipient, participant_id, template, channel, attempts, delivered_at)
SELECT key, program_id, pairing_id, recipient, participant_id, template, $7, 1, now() FROM batch
ON CONFLICT (key) DO UPDATE SET attempts = notifications.attempts + 1,
    delivered_at = coalesce(notifications.delivered_at, EXCLUDED.delivered_at)
RETURNING key, key IN (SELECT key FROM before) AS before
"""

STATEMENTS = {"ours": _DELIVER_SIMULATED, "reads_what_it_writes": READS_WHAT_IT_WRITES}
NOTICES_PER_CALL = 15  # about a simulated publish's


def _columns(program_id: str) -> list[list[str]]:
    pairing = f"{program_id}.{uuid.uuid4().hex[:12]}"
    keys = [f"{uuid.uuid4()}:mentor" for _ in range(NOTICES_PER_CALL)]
    n = len(keys)
    return [keys, [program_id] * n, [pairing] * n, ["mentor"] * n, ["m-1"] * n, ["session_reminder"] * n]


async def _one_connection(dsn: str, sql: str, calls: int) -> list[float]:
    conn = await asyncpg.connect(dsn)
    try:
        times = []
        program_id = f"bench-{uuid.uuid4().hex[:8]}"
        for _ in range(calls):
            columns = _columns(program_id)
            started = time.perf_counter()
            await conn.fetch(sql, *columns, "simulated")
            times.append(time.perf_counter() - started)
        return times
    finally:
        await conn.close()


async def run(dsn: str, calls: int, connections: int, rounds: int) -> dict[str, Any]:
    tenth = max(1, calls // 10)
    figures: dict[str, dict[str, list[float]]] = {
        name: {"first_ms": [], "last_ms": []} for name in STATEMENTS
    }
    for _ in range(rounds):
        for name, sql in STATEMENTS.items():
            await _empty(dsn)  # as in a fresh stack: the connections plan on an empty table
            per_connection = await asyncio.gather(
                *(_one_connection(dsn, sql, calls) for _ in range(connections))
            )
            first = [t for times in per_connection for t in times[:tenth]]
            last = [t for times in per_connection for t in times[-tenth:]]
            figures[name]["first_ms"].append(1000 * statistics.median(first))
            figures[name]["last_ms"].append(1000 * statistics.median(last))
    result: dict[str, Any] = {"calls_per_connection": calls, "connections": connections, "rounds": rounds}
    for name, f in figures.items():
        first, last = statistics.median(f["first_ms"]), statistics.median(f["last_ms"])
        result[name] = {
            "first_ms": round(first, 3),
            "last_ms": round(last, 3),
            "last_over_first": round(last / first, 2),
        }
    result["last_ms_old_over_ours"] = round(
        result["reads_what_it_writes"]["last_ms"] / result["ours"]["last_ms"], 2
    )
    return result


async def _empty(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("TRUNCATE notifications")
    finally:
        await conn.close()


async def _migrated_then_run(dsn: str, calls: int, connections: int, rounds: int) -> dict[str, Any]:
    from eventstore import EventStore

    await (await EventStore.open(dsn, migrate=True)).close()  # the schema the worker runs on
    return await run(dsn, calls, connections, rounds)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=1000, help="calls per connection (default 1,000)")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--output", type=Path, help="also write the JSON report to this file")
    args = parser.parse_args()
    for name in ("calls", "connections", "rounds"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1, got {getattr(args, name)}")
    if args.calls < 10:
        parser.error(f"--calls must be at least 10 (first and last tenth), got {args.calls}")
    if args.output is not None and not args.output.parent.is_dir():
        parser.error(f"--output: folder {args.output.parent} does not exist")

    from localstack.postgres import EmbeddedPostgres
    from localstack.processes import free_port

    tmp = Path(tempfile.mkdtemp(prefix="tandem-bench-"))
    tmp.chmod(0o755)  # the server may run as its own user
    pg = EmbeddedPostgres(data_dir=tmp / "pg", host="127.0.0.1", port=free_port(), log_path=tmp / "pg.log")
    pg.start()
    try:
        dsn = pg.dsn()
        result = json.dumps(
            asyncio.run(_migrated_then_run(dsn, args.calls, args.connections, args.rounds)), indent=1
        )
    finally:
        pg.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    print(result)
    if args.output is not None:
        args.output.write_text(result + "\n")


if __name__ == "__main__":
    main()
