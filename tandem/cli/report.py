"""Impact report commands: build a program's report, import HR's leavers, rebuild the read models.

    python starter.py report rm-pilot-2027 --format html --out report.html [--baseline rm-pilot-2026]
    python starter.py import-leavers leavers.csv --program rm-pilot-2027 [--as-of 2028-01-31]
    python starter.py rebuild-projections

All three work on the event store (DATABASE_URL) alone: no Temporal server is needed.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from datetime import UTC, date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import asyncpg  # type: ignore[import-untyped]
import typer
from rich.table import Table

from activities.record import load_stream, to_new_event
from domain.leavers import LeaversDecision, decide_leavers, leavers_state
from domain.leavers_file import parse_leavers
from domain.program import program_stream
from domain.roster import replay_roster, roster_stream
from domain.validation import InvalidInput, Problem
from eventstore import EventStore, VersionConflict
from tandem.cli.common import app, err, fail, out
from tandem.settings import Settings


class Format(StrEnum):
    HTML = "html"
    JSON = "json"
    CSV = "csv"


def _bad_input(exc: InvalidInput) -> typer.Exit:
    for problem in exc.problems:
        err.print(str(problem), highlight=False, markup=False)
    err.print(f"{len(exc.problems)} problem(s); nothing was recorded", style="bold red")
    return typer.Exit(code=2)


def _unreachable(settings: Settings, exc: BaseException) -> typer.Exit:
    return fail(f"cannot reach PostgreSQL at {settings.database_url}: {exc}")


def _write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (a reader never sees half a report); ``-`` is stdout."""
    if str(path) == "-":
        out.file.write(text)
        out.file.flush()
        return
    path = path.expanduser()
    directory = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@app.command()
def report(
    program_id: str,
    out_file: Annotated[Path, typer.Option("--out", help="file to write (- for standard output)")],
    fmt: Annotated[Format, typer.Option("--format", help="html (with charts), json or csv")] = Format.HTML,
    baseline: Annotated[
        str | None, typer.Option("--baseline", help="another program to compare with (a baseline cohort)")
    ] = None,
) -> None:
    """Write a program's impact report: every metric against its targets, with charts (HTML)."""
    from tandem.report import UnknownProgram, render_html, report_for, to_csv, to_dict

    settings = Settings.from_env()

    async def build() -> Any:
        store = await EventStore.open(settings.database_url, migrate=True, max_size=2)
        try:
            return await report_for(store.pool, program_id, baseline_id=baseline)
        finally:
            await store.close()

    try:
        result = asyncio.run(build())
    except UnknownProgram as exc:
        raise fail(str(exc)) from None
    except (OSError, RuntimeError, asyncpg.PostgresError) as exc:
        raise _unreachable(settings, exc) from None
    if fmt is Format.HTML:
        text = render_html(result)
    elif fmt is Format.JSON:
        import json

        text = json.dumps(to_dict(result), indent=2, ensure_ascii=False) + "\n"
    else:
        text = to_csv(result)
    try:
        _write(out_file, text)
    except OSError as exc:
        raise fail(f"cannot write {out_file}: {exc}") from None
    if str(out_file) != "-":
        with_targets = [m for m in result.metrics if m.targets]
        met = sum(1 for m in with_targets if m.met is True)
        missed = sum(1 for m in with_targets if m.met is False)
        err.print(
            f"wrote {out_file} ({fmt.value}): program {program_id}, {len(result.metrics)} metrics, "
            f"{len(with_targets)} with targets ({met} met, {missed} not met), events up to position "
            f"{result.position}",
            highlight=False,
        )


def _as_of(text: str | None) -> date:
    today = datetime.now(UTC).date()
    if text is None:
        return today
    try:
        value = date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            [Problem("--as-of", 1, 1, f"{text!r} is not a date in the form YYYY-MM-DD")]
        ) from None
    if value > today:
        raise InvalidInput([Problem("--as-of", 1, 1, f"{value} is in the future; the extract cannot be")])
    return value


@app.command("import-leavers")
def import_leavers(
    leavers_file: Annotated[Path, typer.Argument(help="HR's leavers extract (CSV: email,left_on)")],
    program_id: Annotated[str, typer.Option("--program", help="the program whose participants to match")],
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="the extract's date, YYYY-MM-DD (default: today)")
    ] = None,
) -> None:
    """Record which participants left the company (for retention at 3/6/12 months). Idempotent."""
    from tandem import operations

    problems: list[Problem] = []
    try:
        extract_date = _as_of(as_of)
        text = operations.read_text(leavers_file, problems)
        if text is None:
            raise InvalidInput(problems)
        leavers = parse_leavers(text, str(leavers_file), as_of=extract_date)
    except InvalidInput as exc:
        raise _bad_input(exc) from None
    settings = Settings.from_env()

    async def record() -> LeaversDecision:
        store = await EventStore.open(settings.database_url, migrate=True, max_size=2)
        try:
            if await store.stream_version(program_stream(program_id)) == 0:
                raise LookupError(f"no program {program_id!r} in the event store")
            for attempt in range(5):
                events = await load_stream(store, roster_stream(program_id))
                roster = replay_roster(program_id, events)
                decision = decide_leavers(
                    roster, leavers_state(events), leavers, extract_date, datetime.now(UTC)
                )
                if not decision.events:
                    return decision
                try:
                    await store.append(
                        roster.stream_id, roster.version, [to_new_event(e) for e in decision.events]
                    )
                    return decision
                except VersionConflict:
                    if attempt == 4:
                        raise
            raise AssertionError("unreachable")
        finally:
            await store.close()

    try:
        decision = asyncio.run(record())
    except LookupError as exc:
        raise fail(str(exc)) from None
    except VersionConflict as exc:
        raise fail(f"the roster kept changing while recording: {exc}") from None
    except (OSError, RuntimeError, asyncpg.PostgresError) as exc:
        raise _unreachable(settings, exc) from None
    table = Table(title=f"Leavers as of {extract_date} for program {program_id}")
    table.add_column("rows")
    table.add_column("count", justify="right")
    table.add_row("in the file", str(len(leavers)))
    table.add_row("participants of the program", str(decision.participants))
    table.add_row("  leaving dates recorded now", str(decision.recorded))
    table.add_row("  already recorded", str(decision.unchanged))
    table.add_row("not in this program (ignored)", str(decision.outside))
    out.print(table)
    if not decision.events:
        out.print("nothing new: this extract was already recorded", highlight=False)


@app.command("rebuild-projections")
def rebuild_projections() -> None:
    """Empty the read models and rebuild them from the first event (reports read them)."""
    from tandem.report import read_models

    settings = Settings.from_env()

    async def rebuild() -> tuple[Any, dict[str, int]]:
        store = await EventStore.open(settings.database_url, migrate=True, max_size=2)
        try:
            result = await read_models.runner(store.pool).rebuild()
            counts = {
                t: int(await store.pool.fetchval(f"SELECT count(*) FROM {t}")) for t in read_models.TABLES
            }
            return result, counts
        finally:
            await store.close()

    try:
        result, counts = asyncio.run(rebuild())
    except (OSError, RuntimeError, asyncpg.PostgresError) as exc:
        raise _unreachable(settings, exc) from None
    out.print(
        f"rebuilt the read models from position 0: {result.events} events applied up to position "
        f"{result.position} in {result.seconds:.2f}s ({result.events_per_second:,.0f} events/s)",
        highlight=False,
    )
    for table_name, count in counts.items():
        out.print(f"  {table_name}: {count} rows", highlight=False)
