"""`starter.py simulate` and `starter.py demo`: a whole program on a throw-away embedded stack.

Starts PostgreSQL and a Temporal dev server on free ports, a worker in this process, and runs the
program with seeded simulated participants under time skipping: six months in seconds. Prints the
proposed pairings, (live) each pairing's stages as they happen, and a summary; then stops everything
it started. Nothing touches the operator's real stack.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

from activities.models import PairingSpec
from eventstore import EventStore
from localstack.stack import LocalStack
from tandem import operations
from tandem.settings import Settings
from tandem.temporal import connect
from tandem.watch import follow

if TYPE_CHECKING:
    from tandem.mailsink import MailSink
from workflows.program import ProgramSummary


async def run(
    program: Path,
    roster: Path,
    seed: int,
    console: Console,
    *,
    live: bool = True,
    pairings: Path | None = None,
    report_dir: Path | None = None,
    mail_sink: Path | None = None,
) -> ProgramSummary:
    inputs = operations.load_inputs(program, roster)
    for directory in (d for d in (report_dir, mail_sink) if d is not None):
        _writable(directory)  # before anything starts, not after a whole program has run
    sink = None
    if mail_sink is not None:
        from tandem.mailsink import MailSink

        sink = MailSink(mail_sink)
        inputs = _send_to(inputs, sink.host, sink.port)
    proposal, specs = operations.plan(
        inputs, operations.load_pairings(pairings, inputs) if pairings else None
    )
    console.print(
        f"[bold]{inputs.config.name}[/bold] ({inputs.config.id}): {len(inputs.participants)} people, "
        f"{len(specs)} pairings, {len(proposal.unmatched)} unmatched"
    )
    shown = 12
    for pair in proposal.pairs[:shown]:
        console.print(
            f"  {pair.mentor.name} ({pair.mentor.department}, mentor) × {pair.mentee.name} "
            f"({pair.mentee.title}, mentee): {'; '.join(pair.reasons[:2]) or 'compatible'}",
            highlight=False,
        )
    if len(proposal.pairs) > shown:
        console.print(f"  … and {len(proposal.pairs) - shown} more pairings")
    for person, reason in proposal.unmatched[:shown]:
        console.print(f"  unmatched: {person.name}: {reason}", highlight=False)
    stack = LocalStack.ephemeral()
    started = time.monotonic()
    with console.status("starting PostgreSQL and the Temporal dev server…"):
        addresses = await asyncio.to_thread(stack.start)
    try:
        console.print(
            f"stack up in {time.monotonic() - started:.1f}s (Temporal {addresses.temporal_address}, "
            f"PostgreSQL {addresses.database_url})"
        )
        settings = stack.settings("tandem-simulation")
        if sink is not None:
            sink.start()
        return await _run_program(settings, inputs, specs, seed, console, live, report_dir, sink)
    finally:
        if sink is not None:
            sink.stop()
        with console.status("stopping the stack…"):
            await asyncio.to_thread(stack.stop)


async def _run_program(
    settings: Settings,
    inputs: operations.Inputs,
    specs: list[PairingSpec],
    seed: int,
    console: Console,
    live: bool,
    report_dir: Path | None = None,
    sink: MailSink | None = None,
) -> ProgramSummary:
    from worker import running_worker

    client = await connect(settings)
    store = await EventStore.open(settings.database_url, migrate=True)
    try:
        people = {p.participant_id: p for p in inputs.participants}
        label = _labeller(inputs.config.id, {pid: p.name for pid, p in people.items()})
        planned = {spec.pairing_id for spec in specs}
        async with running_worker(settings, client, simulating=True):
            version = await operations.enrol(store, inputs, specs)
            after = await store.head_position()
            handle = await operations.start_program(
                client, settings.task_queue, inputs, specs, version, simulation_seed=seed, time_skipping=True
            )
            console.print(f"program workflow {handle.id} started; simulated participants, time skipping on\n")
            started = time.monotonic()
            result_task = asyncio.ensure_future(handle.result())
            if live:
                await follow(store, console, label, planned, done=result_task.done, after=after)
            else:
                with console.status(f"simulating {len(specs)} pairings…"):
                    await asyncio.wait([result_task])
            summary = await result_task
            _print_summary(console, summary, time.monotonic() - started)
            if sink is not None:
                await _drain_outbox(store, console)
        if report_dir is not None:
            await write_report(store, inputs.config.id, report_dir, console)
        if sink is not None:
            _print_mail(sink, console)
        return summary
    finally:
        await store.close()


async def write_report(store: EventStore, program_id: str, directory: Path, console: Console) -> list[Path]:
    """The program's impact report as HTML (charts) and JSON in ``directory``, and its scorecard printed.

    The throw-away stack goes away with the demo; the report files stay for the user to open.
    """
    import json

    from tandem.report import render_html, report_for, to_dict
    from tandem.report.export import display, display_target, verdict
    from tandem.report.html import LABELS, STATUS_TEXT

    report = await report_for(store.pool, program_id)
    html, data = directory / f"{program_id}.html", directory / f"{program_id}.json"
    files = {
        html: render_html(report),
        data: json.dumps(to_dict(report), indent=2, ensure_ascii=False) + "\n",
    }
    await asyncio.to_thread(_save, files)
    table = Table(title=f"Impact report of {program_id} (events up to position {report.position})")
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_column("target")
    table.add_column("verdict")
    for metric in report.metrics:
        table.add_row(
            LABELS.get(metric.name, metric.name),
            display(metric.unit, metric.value) if metric.status == "measured" else STATUS_TEXT[metric.status],
            ", ".join(display_target(metric.unit, t) for t in metric.targets) or "-",
            verdict(metric),
        )
    console.print(table)
    console.print(f"report: {html} (open in a browser) and {data}", highlight=False)
    return [html, data]


def _send_to(inputs: operations.Inputs, host: str, port: int) -> operations.Inputs:
    """The program as given, its notifications sent by email to the sink (plain SMTP on loopback)."""
    settings = inputs.config.notifications
    email = settings.email.model_copy(update={"host": host, "port": port, "security": "none"})
    notifications = settings.model_copy(update={"channel": "email", "email": email})
    config = inputs.config.model_copy(update={"notifications": notifications})
    return operations.Inputs(config=config, participants=inputs.participants)


async def _drain_outbox(store: EventStore, console: Console, limit: float = 120.0) -> None:
    """Wait until the worker's dispatcher has sent every notification that is due."""
    deadline = time.monotonic() + limit
    with console.status("sending the last notifications…"):
        while time.monotonic() < deadline:
            pending = await store.pool.fetchval(
                "SELECT count(*) FROM notifications WHERE delivered_at IS NULL AND failed_at IS NULL"
                " AND (held_until IS NULL OR held_until <= now())"
            )
            if not pending:
                return
            await asyncio.sleep(0.5)
    console.print(f"[yellow]{pending} notifications still unsent after {limit:.0f}s[/yellow]")


def _print_mail(sink: MailSink, console: Console) -> None:
    invitations = [ics for item in sink.received for ics in item.invitations]
    console.print(
        f"mail: {len(sink.received)} messages with {len(invitations)} calendar invitations in "
        f"{sink.directory}/ (open the .eml files in a mail client)",
        highlight=False,
    )
    for item in sink.received[:3]:
        console.print(f"  {item.path.name}: {item.subject} → {item.to}", highlight=False)


class OutputDirectoryError(OSError):
    """An output directory the run was given cannot be created or written."""


def _writable(directory: Path) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
        probe = directory / ".tandem-write-check"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise OutputDirectoryError(f"cannot write to {directory}: {exc.strerror or exc}") from None


def _save(files: dict[Path, str]) -> None:
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def _labeller(program_id: str, names: dict[str, str]) -> Callable[[str], str]:
    """'mentor × mentee' for any pairing id of the program, rematches included (ids name both)."""

    def label(pairing_id: str) -> str:
        mentee_id, _, mentor_id = pairing_id.removeprefix(program_id + ".").partition(".")
        if mentee_id in names and mentor_id in names:
            return f"{names[mentor_id]} × {names[mentee_id]}"
        return pairing_id

    return label


def _print_summary(console: Console, summary: ProgramSummary, seconds: float) -> None:
    table = Table(title=f"Program {summary.program_id}: finished in {seconds:.1f}s of wall time")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_row("pairings", str(summary.pairings))
    table.add_row("closed", str(summary.closed))
    for outcome, count in summary.outcomes.items():
        table.add_row(f"  {outcome}", str(count))
    table.add_row("  of which rematches", str(summary.rematches))
    table.add_row("mentees left without a new mentor", str(summary.unmatched_after_rematch))
    table.add_row("ever at risk", str(summary.at_risk_ever))
    table.add_row("goals overdue at close", str(summary.goals_overdue))
    table.add_row("sessions held", str(summary.held_sessions))
    console.print(table)
