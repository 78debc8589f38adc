"""What every command shares: the typer app, consoles, options and how failures exit.

Exit codes: 0 success, 1 operational failure (server unreachable, program exists), 2 bad input.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from domain.validation import InvalidInput

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Tandem: reverse-mentorship programs on Temporal.",
)
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

ProgramOpt = Annotated[Path, typer.Option("--program", help="program file (YAML)")]
RosterOpt = Annotated[Path, typer.Option("--roster", help="roster (CSV)")]
PairingsOpt = Annotated[
    Path | None,
    typer.Option(
        "--pairings",
        help="pairings (CSV: mentor_email,mentee_email,score,reasons) to use instead of the proposal",
    ),
]
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def fail_input(exc: InvalidInput) -> typer.Exit:
    for problem in exc.problems:
        err.print(str(problem), highlight=False, markup=False)
    err.print(f"{len(exc.problems)} problem(s); nothing was started", style="bold red")
    return typer.Exit(code=2)


def fail(message: str) -> typer.Exit:
    err.print(f"error: {message}", style="bold red", highlight=False, markup=False)
    return typer.Exit(code=1)
