"""Program commands: validate the files, start a program, see its status."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from domain.matching import Proposal
from domain.pairings_file import check_pairings_shape
from domain.validation import InvalidInput, Problem
from tandem import operations
from tandem.cli.common import PairingsOpt, ProgramOpt, RosterOpt, app, err, fail, fail_input, out
from tandem.codec import CodecKeyError
from tandem.settings import Settings


def _load(program: Path, roster: Path, pairings: Path | None) -> tuple[operations.Inputs, Proposal | None]:
    """Load the files; raise InvalidInput with every problem of all of them at once."""
    try:
        inputs = operations.load_inputs(program, roster)
    except InvalidInput as exc:
        if pairings is None:
            raise
        # The pairings cannot be checked against a broken roster or program; their own shape can.
        shape: list[Problem] = []
        text = operations.read_text(pairings, shape, operations.MAX_PAIRINGS_BYTES, "pairings file")
        if text is not None:
            shape.extend(check_pairings_shape(text, str(pairings)))
        raise InvalidInput([*exc.problems, *shape]) from None
    if pairings is None:
        return inputs, None
    return inputs, operations.load_pairings(pairings, inputs)


@app.command()
def validate(program: ProgramOpt, roster: RosterOpt, pairings: PairingsOpt = None) -> None:
    """Check a program file and a roster (and a pairings file) without starting anything."""
    try:
        inputs, proposal = _load(program, roster, pairings)
    except InvalidInput as exc:
        raise fail_input(exc) from None
    mentors = sum(1 for p in inputs.participants if p.role.value == "mentor")
    paired = ""
    if proposal is not None:
        paired = f", {len(proposal.pairs)} pairs and {len(proposal.unmatched)} unpaired mentees in {pairings}"
    out.print(
        f"valid: program {inputs.config.id} ({inputs.config.name}), {len(inputs.participants)} participants "
        f"({mentors} mentors, {len(inputs.participants) - mentors} mentees), "
        f"{len(inputs.config.targets)} targets{paired}",
        highlight=False,
    )


@app.command()
def start(
    program: ProgramOpt,
    roster: RosterOpt,
    simulate: Annotated[
        int | None, typer.Option(help="simulate participants with this seed (and skip time)")
    ] = None,
    pairings: PairingsOpt = None,
) -> None:
    """Validate the files, record the program and roster, and start the program workflow."""
    try:
        inputs, given = _load(program, roster, pairings)
    except InvalidInput as exc:
        raise fail_input(exc) from None
    proposal, specs = operations.plan(inputs, given)
    for person, reason in proposal.unmatched:
        err.print(f"unmatched: {person.email}: {reason}", highlight=False)
    settings = Settings.from_env()

    async def go() -> str:
        from eventstore import EventStore
        from tandem.temporal import connect

        client = await connect(settings)
        store = await EventStore.open(settings.database_url, migrate=True)
        try:
            version = await operations.enrol(store, inputs, specs)
            handle = await operations.start_program(
                client,
                settings.task_queue,
                inputs,
                specs,
                version,
                simulation_seed=simulate,
                time_skipping=simulate is not None,
            )
            return handle.id
        finally:
            await store.close()

    try:
        workflow_id = asyncio.run(go())
    except (operations.ProgramExists, CodecKeyError) as exc:
        raise fail(str(exc)) from None
    except (OSError, RuntimeError) as exc:
        raise fail(f"cannot reach Temporal at {settings.temporal_address} or PostgreSQL: {exc}") from None
    out.print(
        f"started {workflow_id}: {len(specs)} pairings. Watch it in the Temporal UI with the query "
        f'ProgramId="{inputs.config.id}", or run: python starter.py status {inputs.config.id}',
        highlight=False,
    )


@app.command()
def status(
    program_id: str, as_json: Annotated[bool, typer.Option("--json", help="machine-readable")] = False
) -> None:
    """Counts of a program's pairings: by stage, at risk, goals overdue, outcomes."""
    settings = Settings.from_env()
    from tandem.status import program_status

    try:
        report = asyncio.run(program_status(settings, program_id))
    except (LookupError, CodecKeyError) as exc:
        raise fail(str(exc)) from None
    except (OSError, RuntimeError) as exc:
        raise fail(f"cannot reach Temporal at {settings.temporal_address}: {exc}") from None
    if as_json:
        out.print_json(json.dumps(report))
        return
    table = Table(title=f"Program {program_id}: {report['program_status']}")
    table.add_column("stage")
    table.add_column("pairings", justify="right")
    for stage, count in report["by_stage"].items():
        table.add_row(stage, str(count))
    table.add_row("at risk", str(report["at_risk"]))
    if "goals_overdue" in report:
        table.add_row("goals overdue", str(report["goals_overdue"]))
    for outcome, count in report.get("outcomes", {}).items():
        table.add_row(f"closed: {outcome}", str(count))
    table.add_row("total", str(report["pairings"]))
    if "missed_sessions" in report:
        table.add_row("sessions held / missed", f"{report['held_sessions']} / {report['missed_sessions']}")
    table.caption = f"source: {report['source']}"
    out.print(table)
    _print_notifications(report.get("notifications", {}))


def _print_notifications(notes: dict[str, Any]) -> None:
    """Delivery counts, and every permanent failure the operator must act on."""
    if "error" in notes:
        out.print(f"notifications: {notes['error']}")
        return
    if not notes:
        return
    out.print(
        f"notifications: {notes['delivered']} delivered, {notes['pending']} pending "
        f"({notes['retrying']} retrying), {notes['failed']} failed permanently"
    )
    if notes["failures"]:
        table = Table(title="Delivery failures (fix the address or channel; these are not retried)")
        for column in ("pairing", "to", "notice", "channel", "reason", "failed at"):
            table.add_column(column)
        for f in notes["failures"]:
            table.add_row(
                f["pairing_id"], f["recipient"], f["template"], f["channel"], f["reason"], f["failed_at"]
            )
        out.print(table)
