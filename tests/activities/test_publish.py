"""The publish activity's report to the program (the recording and delivery halves are tested with
the store and the outbox): coalesced per program, and never acknowledged before the program has it.

The "workflow is closing" window of a program that continues as new cannot be opened on demand (it
lasts while the server holds a rejected continue-as-new and the worker replays), so those tests
signal a scripted stand-in for the client that answers as the server does in that window."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from structlog.testing import capture_logs
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import ActivityEnvironment

import activities.publish as publish
from activities.models import PairingStatus, ProgramReport
from activities.publish import ProgramReports

CLOSING = "workflow operation can not be applied because workflow is closing"


async def test_a_report_to_a_program_that_no_longer_runs_is_logged_not_retried(client: Client) -> None:
    """An operator may terminate a program: its pairings must still record and go on."""
    report = ProgramReport(
        workflow_id=f"program-gone-{uuid.uuid4().hex[:8]}",
        status=PairingStatus(pairing_id="p.a.b", mentee_id="a", mentor_id="b", stage="sessions"),
    )
    with capture_logs() as logs:
        await ActivityEnvironment(client=client).run(ProgramReports().send, report)
    gone = [e for e in logs if e["event"] == "program_gone"]
    assert gone and gone[0]["program_workflow_id"] == report.workflow_id
    assert gone[0]["pairing_ids"] == ["p.a.b"]


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


def _report(pairing_id: str = "p.a.b", workflow_id: str = "program-closing") -> ProgramReport:
    return ProgramReport(
        workflow_id=workflow_id,
        status=PairingStatus(pairing_id=pairing_id, mentee_id="a", mentor_id="b", stage="closed"),
    )


def _refusal(message: str = CLOSING) -> RPCError:
    return RPCError(message, RPCStatusCode.RESOURCE_EXHAUSTED, b"")


async def test_a_closing_program_is_signalled_again_once_its_next_run_takes_signals(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(publish, "CLOSING_WAIT", 0.01)
    program = ScriptedProgram([_refusal(), _refusal(), _refusal()])

    await ActivityEnvironment(client=program).run(ProgramReports().send, _report())  # type: ignore[arg-type]

    assert program.attempts == 4
    assert program.accepted == [("pairings_changed", [_report().status])]


async def test_a_program_closing_for_too_long_fails_the_activity(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past the patience the activity fails, and its own retries take over (nothing is lost)."""
    monkeypatch.setattr(publish, "CLOSING_WAIT", 0.01)
    monkeypatch.setattr(publish, "CLOSING_PATIENCE", 0.05)
    program = ScriptedProgram([_refusal() for _ in range(1_000)])

    with pytest.raises(RPCError, match="closing"):
        await ActivityEnvironment(client=program).run(ProgramReports().send, _report())  # type: ignore[arg-type]
    assert 2 <= program.attempts < 1_000 and not program.accepted


async def test_other_refusals_fail_the_activity_at_once() -> None:
    program = ScriptedProgram([_refusal("namespace rate limit exceeded")])

    with pytest.raises(RPCError, match="rate limit"):
        await ActivityEnvironment(client=program).run(ProgramReports().send, _report())  # type: ignore[arg-type]
    assert program.attempts == 1


class GatedProgram(ScriptedProgram):
    """Holds each signal until the test opens the gate: reports sent meanwhile must queue."""

    def __init__(self, errors: list[RPCError]) -> None:
        super().__init__(errors)
        self.gate = asyncio.Event()
        self.in_flight = asyncio.Event()
        self.names: list[str] = []

    def get_workflow_handle(self, workflow_id: str) -> GatedProgram:
        self.names.append(workflow_id)
        return self

    async def signal(self, name: str, arg: Any) -> None:
        self.in_flight.set()
        await self.gate.wait()
        await super().signal(name, arg)


async def test_reports_sent_while_a_signal_is_in_flight_go_in_one_signal() -> None:
    program = GatedProgram([])
    reports = ProgramReports()
    env = ActivityEnvironment(client=program)  # type: ignore[arg-type]
    first = asyncio.create_task(env.run(reports.send, _report("p.0")))
    await program.in_flight.wait()
    rest = [asyncio.create_task(env.run(reports.send, _report(f"p.{n}"))) for n in range(1, 6)]
    await asyncio.sleep(0.01)
    assert not any(task.done() for task in (first, *rest))  # nobody returns before the program has it
    program.gate.set()
    await asyncio.gather(first, *rest)

    sent = [[status.pairing_id for status in arg] for _, arg in program.accepted]
    assert sent == [["p.0"], ["p.1", "p.2", "p.3", "p.4", "p.5"]]
    assert program.attempts == 2


async def _second_report_behind_a_signal(
    program: GatedProgram,
) -> tuple[ProgramReports, asyncio.Task[None], asyncio.Task[None]]:
    """Report p.0 in a signal held at the program's gate, and p.1 queued behind it for the next."""
    reports = ProgramReports()
    env = ActivityEnvironment(client=program)  # type: ignore[arg-type]
    first = asyncio.create_task(env.run(reports.send, _report("p.0")))
    await program.in_flight.wait()
    second = asyncio.create_task(env.run(reports.send, _report("p.1")))
    await asyncio.sleep(0.01)  # lets p.1 reach the queue; nothing here is timed
    return reports, first, second


async def test_a_failed_signal_fails_every_report_it_carried_and_no_other() -> None:
    program = GatedProgram([_refusal("namespace rate limit exceeded")])
    _, first, second = await _second_report_behind_a_signal(program)
    program.gate.set()

    with pytest.raises(RPCError, match="rate limit"):
        await first
    await second  # went in the next signal, which the program accepted
    assert [[s.pairing_id for s in arg] for _, arg in program.accepted] == [["p.1"]]


async def test_reports_to_different_programs_are_not_mixed() -> None:
    program = GatedProgram([])
    program.gate.set()
    reports = ProgramReports()
    env = ActivityEnvironment(client=program)  # type: ignore[arg-type]
    await asyncio.gather(
        env.run(reports.send, _report("p.0", "program-a")),
        env.run(reports.send, _report("p.1", "program-b")),
    )
    assert sorted(program.names) == ["program-a", "program-b"]
    assert sorted(len(arg) for _, arg in program.accepted) == [1, 1]


async def test_reports_waiting_on_a_stopped_sender_are_cancelled_not_left_hanging() -> None:
    """The worker going away stops the sender: each publish waiting on it ends (and is retried by
    Temporal), rather than waiting for a signal that will never be sent."""
    program = GatedProgram([])
    reports, first, second = await _second_report_behind_a_signal(program)
    for sender in list(reports._senders):
        sender.cancel()
    for task in (first, second):
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=5)
    assert not program.accepted


async def test_a_report_to_a_quiet_program_goes_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing else is coming: waiting for company would only delay the pairing (the last pairings of
    a simulation, a real program's occasional report)."""
    monkeypatch.setattr(publish, "REPORT_LINGER", 60.0)
    program = ScriptedProgram([])
    env = ActivityEnvironment(client=program)  # type: ignore[arg-type]

    await asyncio.wait_for(env.run(ProgramReports().send, _report("p.0")), timeout=5)

    assert [[s.pairing_id for s in arg] for _, arg in program.accepted] == [["p.0"]]


async def test_reports_right_after_a_signal_wait_to_go_together(monkeypatch: pytest.MonkeyPatch) -> None:
    """A busy program: reports that follow a signal within the linger share the next signal."""
    monkeypatch.setattr(publish, "REPORT_LINGER", 0.5)
    program = ScriptedProgram([])
    reports = ProgramReports()
    env = ActivityEnvironment(client=program)  # type: ignore[arg-type]

    await env.run(reports.send, _report("p.0"))
    second = asyncio.create_task(env.run(reports.send, _report("p.1")))
    await asyncio.sleep(0.05)  # well inside the linger, and long enough for an eager sender to go
    third = asyncio.create_task(env.run(reports.send, _report("p.2")))
    await asyncio.gather(second, third)

    assert [[s.pairing_id for s in arg] for _, arg in program.accepted] == [["p.0"], ["p.1", "p.2"]]


def test_a_report_waits_only_for_the_rest_of_the_linger(monkeypatch: pytest.MonkeyPatch) -> None:
    """At most one signal per linger, but no report waits longer than that: one that comes 0.4 s
    after the last signal of a 0.5 s linger waits 0.1 s, not another 0.5 s."""
    monkeypatch.setattr(publish, "REPORT_LINGER", 0.5)
    assert publish._linger_left(None, 100.0) == 0.0  # never signalled: at once
    assert publish._linger_left(100.0, 100.4) == pytest.approx(0.1)
    assert publish._linger_left(100.0, 100.0) == pytest.approx(0.5)
    assert publish._linger_left(100.0, 100.5) == 0.0
    assert publish._linger_left(100.0, 130.0) == 0.0  # a quiet program: at once
