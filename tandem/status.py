"""Program status from Temporal: the program workflow's state and its pairings' search attributes."""

from __future__ import annotations

from typing import Any

from temporalio.client import WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from tandem.settings import Settings
from tandem.temporal import connect
from workflows import search
from workflows.program import program_workflow_id

STAGES = ("proposed", "goal_setting", "sessions", "midpoint_review", "closeout", "closed")


async def program_status(settings: Settings, program_id: str) -> dict[str, Any]:
    client = await connect(settings)
    handle = client.get_workflow_handle(program_workflow_id(program_id))
    try:
        description = await handle.describe()
    except RPCError as exc:
        if exc.status is RPCStatusCode.NOT_FOUND:
            raise LookupError(f"no program {program_id!r} on {settings.temporal_address}") from None
        raise
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
    status = description.status.name.lower() if description.status else "unknown"
    return {
        "program_id": program_id,
        "program_status": status if description.status is not WorkflowExecutionStatus.RUNNING else "running",
        "pairings": total,
        "by_stage": by_stage,
        "at_risk": at_risk,
        "outcomes": outcomes,
    }
