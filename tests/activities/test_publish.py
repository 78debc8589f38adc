"""The publish activity's report to the program (the recording and delivery halves are tested with
the store and the outbox)."""

from __future__ import annotations

import uuid

from structlog.testing import capture_logs
from temporalio.client import Client
from temporalio.testing import ActivityEnvironment

from activities.models import PairingStatus, ProgramReport
from activities.publish import report_to_program


async def test_a_report_to_a_program_that_no_longer_runs_is_logged_not_retried(client: Client) -> None:
    """An operator may terminate a program: its pairings must still record and go on."""
    report = ProgramReport(
        workflow_id=f"program-gone-{uuid.uuid4().hex[:8]}",
        status=PairingStatus(pairing_id="p.a.b", mentee_id="a", mentor_id="b", stage="sessions"),
    )
    with capture_logs() as logs:
        await ActivityEnvironment(client=client).run(report_to_program, report)
    gone = [e for e in logs if e["event"] == "program_gone"]
    assert gone and gone[0]["program_workflow_id"] == report.workflow_id
    assert gone[0]["pairing_id"] == "p.a.b"
