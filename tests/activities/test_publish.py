"""The publish activity's report to the program (the recording and delivery halves are tested with
the store and the outbox).

The "workflow is closing" window of a program that continues as new cannot be opened on demand (it
lasts while the server holds a rejected continue-as-new and the worker replays), so those tests
signal a scripted stand-in for the client that answers as the server does in that window."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from structlog.testing import capture_logs
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import ActivityEnvironment

import activities.publish as publish
from activities.models import PairingStatus, ProgramReport
from activities.publish import report_to_program

CLOSING = "workflow operation can not be applied because workflow is closing"


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


class ScriptedProgram:
    """Answers each signal with the next scripted error, then accepts; records what it accepted."""

    def __init__(self, errors: list[RPCError]) -> None:
        self.errors = errors
        self.attempts = 0
        self.accepted: list[Any] = []

    def get_workflow_handle(self, workflow_id: str) -> ScriptedProgram:
        return self

    async def signal(self, name: str, arg: Any) -> None:
        self.attempts += 1
        if self.errors:
            raise self.errors.pop(0)
        self.accepted.append((name, arg))


def _report() -> ProgramReport:
    return ProgramReport(
        workflow_id="program-closing",
        status=PairingStatus(pairing_id="p.a.b", mentee_id="a", mentor_id="b", stage="closed"),
    )


def _refusal(message: str = CLOSING) -> RPCError:
    return RPCError(message, RPCStatusCode.RESOURCE_EXHAUSTED, b"")


async def test_a_closing_program_is_signalled_again_once_its_next_run_takes_signals(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(publish, "CLOSING_WAIT", 0.01)
    program = ScriptedProgram([_refusal(), _refusal(), _refusal()])

    await ActivityEnvironment(client=program).run(report_to_program, _report())  # type: ignore[arg-type]

    assert program.attempts == 4
    assert program.accepted == [("pairing_changed", _report().status)]


async def test_a_program_closing_for_too_long_fails_the_activity(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past the patience the activity fails, and its own retries take over (nothing is lost)."""
    monkeypatch.setattr(publish, "CLOSING_WAIT", 0.01)
    monkeypatch.setattr(publish, "CLOSING_PATIENCE", 0.05)
    program = ScriptedProgram([_refusal() for _ in range(1_000)])

    with pytest.raises(RPCError, match="closing"):
        await ActivityEnvironment(client=program).run(report_to_program, _report())  # type: ignore[arg-type]
    assert 2 <= program.attempts < 1_000 and not program.accepted


async def test_other_refusals_fail_the_activity_at_once() -> None:
    program = ScriptedProgram([_refusal("namespace rate limit exceeded")])

    with pytest.raises(RPCError, match="rate limit"):
        await ActivityEnvironment(client=program).run(report_to_program, _report())  # type: ignore[arg-type]
    assert program.attempts == 1
