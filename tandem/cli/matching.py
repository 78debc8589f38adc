"""The ``match`` command: propose pairings for a roster, explain them, and write the pairings file.

    python starter.py match --program P.yaml --roster R.csv --out pairings.csv [--seed N] [--at 2027-01-15]

Writes ``mentor_email,mentee_email,score,reasons`` (reasons ``;``-separated), exactly what
``starter.py start --pairings`` and ``validate --pairings`` read back, so an operator can review and edit
the proposal before starting. Prints the summary: matched and unmatched mentees (with reasons), mean and
minimum score, side by side with the greedy baseline. Bad input exits 2 with every problem located
(``FILE:LINE:COL: message``) and writes nothing; an existing ``--out`` is kept unless ``--force``.

Time zones: the matcher is pure and cannot read the time-zone database, so each zone's UTC offset is
taken here at noon UTC of ``--at`` (default: today) and passed in.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from domain.errors import DomainError
from domain.matching import Proposal, pairings_csv, prepare
from domain.validation import InvalidInput, Problem
from tandem import operations
from tandem.cli.common import ProgramOpt, RosterOpt, app, err, out

PROGRESS_FROM_BYTES = 150_000  # a roster this large (about 1,000 rows) gets a progress bar by default
STAGES = ("parse", "score", "solve", "explain")


def _bad_input(problems: list[Problem] | tuple[Problem, ...]) -> typer.Exit:
    for problem in InvalidInput(problems).problems:
        err.print(str(problem), highlight=False, markup=False)
    err.print(f"{len(problems)} problem(s); nothing was written", style="bold red")
    return typer.Exit(code=2)


def _reference(at: str | None) -> datetime:
    if at is None:
        return datetime.combine(datetime.now(UTC).date(), time(12), tzinfo=UTC)
    return datetime.combine(date.fromisoformat(at), time(12), tzinfo=UTC)


class _Stages:
    """A rich progress bar with one line per stage (on stderr; nothing when disabled)."""

    def __init__(self, progress: Progress | None) -> None:
        self.progress = progress
        self.tasks: dict[str, TaskID] = {}
        if progress is not None:
            for stage in STAGES:
                self.tasks[stage] = progress.add_task(stage, total=None, start=False)

    def __call__(self, stage: str, done: int, total: int) -> None:
        if self.progress is None:
            return
        task = self.tasks[stage]
        self.progress.start_task(task)
        self.progress.update(task, completed=done, total=total)


@contextmanager
def _progress(enabled: bool) -> Iterator[_Stages]:
    if not enabled:
        yield _Stages(None)
        return
    progress = Progress(
        TextColumn("{task.description:<8}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )
    with progress:
        yield _Stages(progress)


def _write(path: Path, text: str, *, force: bool) -> None:
    """Write atomically; without ``force`` never replace a file (exclusive create)."""
    if not force:
        with path.open("x", encoding="utf-8", newline="") as handle:
            handle.write(text)
        return
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _figures(proposal: Proposal, mentees: int) -> dict[str, Any]:
    return {
        "matched": len(proposal.pairs),
        "mentees": mentees,
        "unmatched": len(proposal.unmatched),
        "total_score": proposal.total_score,
        "mean_score": proposal.mean_score,
        "min_score": proposal.min_score,
    }


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


@app.command()
def match(
    program: ProgramOpt,
    roster: RosterOpt,
    out_path: Annotated[Path, typer.Option("--out", help="pairings file to write (CSV)")],
    seed: Annotated[
        int | None, typer.Option(help="serendipity seed (default: matching.seed of the program file)")
    ] = None,
    at: Annotated[
        str | None,
        typer.Option(help="date (YYYY-MM-DD) whose noon UTC fixes each time zone's offset (default: today)"),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="overwrite --out if it exists")] = False,
    show_progress: Annotated[
        bool | None,
        typer.Option("--progress/--no-progress", help="progress bar (default: on for large rosters)"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the summary as JSON")] = False,
) -> None:
    """Propose the optimal pairings (explained), compare them with the greedy baseline, write them."""
    problems: list[Problem] = []
    if out_path.exists() and not force:
        problems.append(Problem(str(out_path), 1, 1, "file exists; pass --force to overwrite it"))
    elif not out_path.parent.is_dir():
        problems.append(Problem(str(out_path), 1, 1, f"directory {out_path.parent} does not exist"))
    try:
        reference = _reference(at)
    except ValueError:
        problems.append(Problem("--at", 1, 1, f"{at!r} is not a date (expected YYYY-MM-DD)"))
        reference = _reference(None)
    if problems:
        raise _bad_input(problems)
    try:
        large = roster.stat().st_size >= PROGRESS_FROM_BYTES
    except OSError:
        large = False
    with _progress(show_progress if show_progress is not None else large) as stages:
        stages("parse", 0, 1)
        try:
            inputs = operations.load_inputs(program, roster)
        except InvalidInput as exc:
            raise _bad_input(exc.problems) from None
        stages("parse", 1, 1)
        config = inputs.config
        if seed is not None:
            matching = config.matching.model_copy(update={"seed": seed})
            config = config.model_copy(update={"matching": matching})
        offsets = operations.utc_offsets(inputs.participants, reference)
        try:
            prepared = prepare(config, inputs.participants, offsets=offsets, progress=stages)
        except DomainError as exc:
            raise _bad_input([Problem(str(roster), 1, 1, exc.message)]) from None
        optimal = prepared.propose("optimal")
        prepared.progress = None
        greedy = prepared.propose("greedy", explain=False)
    text = pairings_csv(optimal)
    try:
        _write(out_path, text, force=force)
    except FileExistsError:
        raise _bad_input(
            [Problem(str(out_path), 1, 1, "file exists; pass --force to overwrite it")]
        ) from None
    mentees = len(optimal.pairs) + len(optimal.unmatched)
    summary = {
        "program": config.id,
        "seed": config.matching.seed,
        "offsets_at": reference.isoformat(),
        "out": str(out_path),
        "optimal": _figures(optimal, mentees),
        "greedy": _figures(greedy, mentees),
        "unmatched": [{"email": p.email, "reason": reason} for p, reason in optimal.unmatched],
        "notes": list(optimal.notes),
    }
    if as_json:
        out.print_json(json.dumps(summary))
        return
    _print_summary(summary)


def _print_summary(summary: dict[str, Any]) -> None:
    optimal, greedy = summary["optimal"], summary["greedy"]
    table = Table(
        title=escape(
            f"Pairings for {summary['program']} (seed {summary['seed']}, "
            f"UTC offsets at {summary['offsets_at'][:10]})"
        )
    )
    table.add_column("")
    table.add_column("optimal", justify="right")
    table.add_column("greedy baseline", justify="right")
    table.add_row(
        "matched",
        f"{optimal['matched']} of {optimal['mentees']}",
        f"{greedy['matched']} of {greedy['mentees']}",
    )
    table.add_row("unmatched", str(optimal["unmatched"]), str(greedy["unmatched"]))
    table.add_row("total score", _number(optimal["total_score"]), _number(greedy["total_score"]))
    table.add_row("mean score", _number(optimal["mean_score"]), _number(greedy["mean_score"]))
    table.add_row("min score", _number(optimal["min_score"]), _number(greedy["min_score"]))
    out.print(table)
    if summary["unmatched"]:
        unmatched = Table(title="Unmatched mentees")
        unmatched.add_column("mentee")
        unmatched.add_column("reason")
        for row in summary["unmatched"]:
            unmatched.add_row(escape(row["email"]), escape(row["reason"]))
        out.print(unmatched)
    for note in summary["notes"]:
        out.print(f"note: {note}", highlight=False, markup=False)
    out.print(f"wrote {summary['out']}: {optimal['matched']} pairs", highlight=False, markup=False)
