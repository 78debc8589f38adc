"""Program status: the program workflow's live counts, or Temporal's visibility store without a worker."""

from __future__ import annotations

from dataclasses import asdict
from datetime import timedelta
from typing import Any

import asyncpg
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from eventstore import EventStore
from tandem.deliveries import deliveries
from tandem.report import read_models
from tandem.settings import Settings
from tandem.temporal import connect
from workflows import search
from workflows.program import STAGES, ProgramSummary, ProgramWorkflow, program_workflow_id


async def program_status(settings: Settings, program_id: str) -> dict[str, Any]:
    client = await connect(settings)
    handle = client.get_workflow_handle(program_workflow_id(program_id))
    try:
        description = await handle.describe()
    except RPCError as exc:
        if exc.status is RPCStatusCode.NOT_FOUND:
            raise LookupError(f"no program {program_id!r} on {settings.temporal_address}") from None
        raise
    running = description.status is WorkflowExecutionStatus.RUNNING
    status = "running" if running else (description.status.name.lower() if description.status else "unknown")
    try:
        summary: ProgramSummary = await handle.query(ProgramWorkflow.query_summary, rpc_timeout=_timeout())
        source = "program workflow"
        report = summary.model_dump(exclude={"stage"})
    except RPCError:
        source = "visibility (no worker answered the query)"
        report = await _from_visibility(client, program_id)
    result = {"program_id": program_id, "program_status": status, "source": source, **report}
    sessions = await session_counts(settings, program_id)
    if sessions is not None:
        # pairings tell the program about stage changes, not about every held session (a signal per
        # session would cost a server round trip each): the event store has the exact figures
        result["held_sessions"], result["missed_sessions"] = sessions
    result["notifications"] = await _notifications(settings, program_id)
    return result


async def session_counts(settings: Settings, program_id: str) -> tuple[int, int] | None:
    """Held and missed sessions of the program from the read models, caught up first (None when the
    event store cannot be reached)."""
    try:
        store = await EventStore.open(settings.database_url, migrate=False, min_size=1, max_size=2)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return None
    try:
        await read_models.runner(store.pool).catch_up()
        row = await store.pool.fetchrow(
            "SELECT COALESCE(sum(held), 0) AS held, COALESCE(sum(missed), 0) AS missed"
            " FROM rm_pairing WHERE program_id = $1",
            program_id,
        )
        return int(row["held"]), int(row["missed"])
    finally:
        await store.close()


async def _notifications(settings: Settings, program_id: str) -> dict[str, Any]:
    """Delivery counts and permanent failures from the outbox; an error text when the store is down."""
    try:
        conn = await asyncpg.connect(settings.database_url, timeout=10)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        return {"error": f"event store unreachable: {type(exc).__name__}"}
    try:
        summary = await deliveries(conn, program_id)
    finally:
        await conn.close()
    out = asdict(summary)
    out["failures"] = [{**f, "failed_at": f["failed_at"].isoformat()} for f in out["failures"]]
    return out


def _timeout() -> timedelta:
    return timedelta(seconds=10)


async def _from_visibility(client: Client, program_id: str) -> dict[str, Any]:
    by_stage = dict.fromkeys(STAGES, 0)
    at_risk = total = 0
    outcomes: dict[str, int] = {}
    query = f'ProgramId = "{program_id}" AND WorkflowType = "PairingWorkflow"'
    async for execution in client.list_workflows(query):
        attrs = execution.typed_search_attributes
        stage = attrs.get(search.PAIRING_STAGE) or "proposed"
        by_stage[stage] = by_stage.get(stage, 0) + 1
        at_risk += 1 if attrs.get(search.AT_RISK) else 0
        outcome = attrs.get(search.OUTCOME)
        if outcome:
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
        total += 1
    return {"pairings": total, "by_stage": by_stage, "at_risk": at_risk, "outcomes": outcomes}
