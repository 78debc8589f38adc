"""Program scale: one program with N pairings (default 5,000) through a short lifecycle under time
skipping: does the program workflow start them all, count them, continue-as-new and close?

    .venv/bin/python -m bench.program_scale --pairings 5000
    .venv/bin/python -m bench.program_scale --pairings 500 --program examples/program.yaml   # 6 months

By default the pairing lifecycle is shortened (one month, one session) so the run measures the
program's orchestration at scale rather than months of timers; ``--program`` runs the schedule of a
program file instead (the example: six months, fortnightly sessions). Prints wall time, pairings/s,
the program's runs (continue-as-new count) and the largest history of those runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from pathlib import Path

from temporalio.client import Client

from bench.lifecycle import roster
from domain.durations import IsoDuration
from domain.program import CloseoutSettings, MidpointSettings, ProgramConfig, ScheduleSettings
from eventstore import EventStore
from localstack.stack import LocalStack
from tandem import operations
from tandem.settings import Settings
from tandem.temporal import connect


def short_program(program_id: str) -> ProgramConfig:
    d = IsoDuration.parse
    return ProgramConfig(
        id=program_id,
        name="scale",
        schedule=ScheduleSettings(
            duration=d("P1M"),
            session_cadence=d("P2W"),
            first_session_after=d("P1W"),
            goal_setting_deadline=d("P1W"),
            goal_reminders=(),
            session_reminder=d("P1D"),
            checkin_window=d("P2D"),
        ),
        midpoint=MidpointSettings(window=d("P2D"), override_window=d("P1D")),
        closeout=CloseoutSettings(window=d("P3D"), reminder=d("P1D")),
    )


async def runs(client: Client, workflow_id: str) -> list[int]:
    lengths = []
    async for execution in client.list_workflows(f'WorkflowId = "{workflow_id}"'):
        lengths.append(execution.history_length or 0)
    return lengths


async def progress(client: Client, workflow_id: str, seconds: float) -> None:
    from workflows.program import ProgramWorkflow

    try:
        now = await client.get_workflow_handle(workflow_id).query(ProgramWorkflow.query_summary)
    except Exception as exc:  # a query can fail while the program continues as new: skip a line
        print(f"  {seconds:6.0f}s  (no summary: {type(exc).__name__})", file=sys.stderr, flush=True)
        return
    print(
        f"  {seconds:6.0f}s  {now.closed:>5} of {now.pairings} pairings closed, {now.rematches} rematches",
        file=sys.stderr,
        flush=True,
    )


async def bench(
    settings: Settings, pairs: int, seed: int, template: ProgramConfig | None = None
) -> dict[str, object]:
    from worker import running_worker

    client = await connect(settings)
    store = await EventStore.open(settings.database_url, migrate=False)
    try:
        async with running_worker(settings, client):
            program_id = f"scale-{uuid.uuid4().hex[:6]}"
            config = (
                short_program(program_id)
                if template is None
                else template.model_copy(update={"id": program_id, "targets": ()})
            )
            inputs = operations.Inputs(config=config, participants=roster(program_id, pairs))
            started = time.perf_counter()
            _, specs = operations.plan(inputs)
            planned = time.perf_counter()
            version = await operations.enrol(store, inputs, specs)
            handle = await operations.start_program(
                client, settings.task_queue, inputs, specs, version, simulation_seed=seed, time_skipping=True
            )
            result = asyncio.ensure_future(handle.result())
            while not result.done():
                await asyncio.wait([result], timeout=30)
                if not result.done():
                    await progress(client, handle.id, time.perf_counter() - planned)
            summary = await result
            finished = time.perf_counter()
            assert summary.closed == summary.pairings, summary
            lengths = await runs(client, handle.id)
    finally:
        await store.close()
    return {
        "pairings_planned": pairs,
        "pairings_run": summary.pairings,
        "outcomes": summary.outcomes,
        "matching_s": round(planned - started, 2),
        "program_s": round(finished - planned, 1),
        "pairings_per_s": round(summary.pairings / (finished - planned), 2),
        "program_runs": len(lengths),
        "largest_program_history": max(lengths) if lengths else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pairings", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--program", type=Path, help="a program file whose schedule to run (default: short)")
    args = parser.parse_args()
    template = None
    if args.program:
        from domain.program_file import parse_program

        template = parse_program(args.program.read_text(encoding="utf-8"), str(args.program))
    stack = LocalStack.ephemeral()
    stack.start()
    try:
        result = asyncio.run(bench(stack.settings("bench-scale"), args.pairings, args.seed, template))
        print(json.dumps(result, indent=1))
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
