"""Stack commands: simulate and demo on a throw-away stack, and `up` for operators."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Annotated

import typer

from domain.validation import InvalidInput
from localstack.errors import StackError
from tandem import logs
from tandem.cli.common import EXAMPLES, PairingsOpt, ProgramOpt, RosterOpt, app, fail, fail_input, out
from tandem.settings import Settings


def _simulate(
    program: Path,
    roster: Path,
    seed: int,
    live: bool,
    pairings: Path | None = None,
    report_dir: Path | None = None,
    mail_sink: Path | None = None,
) -> None:
    from tandem.simulate import run

    logs.configure("console", level="WARNING")
    try:
        summary = asyncio.run(
            run(
                program,
                roster,
                seed,
                out,
                live=live,
                pairings=pairings,
                report_dir=report_dir,
                mail_sink=mail_sink,
            )
        )
    except InvalidInput as exc:
        raise fail_input(exc) from None
    except StackError as exc:
        raise fail(str(exc)) from None
    if summary.closed != summary.pairings:
        raise fail(f"only {summary.closed} of {summary.pairings} pairings closed")


ReportDirOpt = Annotated[
    Path | None, typer.Option("--report-dir", help="also write the impact report (HTML and JSON) here")
]
MailSinkOpt = Annotated[
    Path | None,
    typer.Option(
        "--mail-sink",
        help="send the notifications by email to a local SMTP sink that saves them here (.eml, .ics)",
    ),
]


@app.command()
def simulate(
    program: ProgramOpt,
    roster: RosterOpt,
    seed: Annotated[int, typer.Option(help="seed of the simulated participants' behaviours")] = 1,
    pairings: PairingsOpt = None,
    live: Annotated[bool, typer.Option(help="print every pairing's stage changes as they happen")] = False,
    report_dir: ReportDirOpt = None,
    mail_sink: MailSinkOpt = None,
) -> None:
    """Run a program with simulated participants under time skipping, on a throw-away stack."""
    _simulate(program, roster, seed, live, pairings, report_dir, mail_sink)


@app.command()
def demo(
    program: Annotated[Path, typer.Option(help="program file")] = EXAMPLES / "program.yaml",
    roster: Annotated[Path, typer.Option(help="roster")] = EXAMPLES / "roster.csv",
    seed: Annotated[int, typer.Option(help="seed of the simulated participants")] = 7,
    report_dir: Annotated[
        Path, typer.Option("--report-dir", help="where the impact report (HTML and JSON) is written")
    ] = Path("reports"),
    mail_sink: MailSinkOpt = None,
) -> None:
    """The example program end to end, stage by stage, then its impact report (what `make demo` runs)."""
    _simulate(program, roster, seed, live=True, report_dir=report_dir, mail_sink=mail_sink)


@app.command()
def up() -> None:
    """Run the local stack (Temporal server + UI, PostgreSQL) and one worker until Ctrl-C."""
    from localstack.stack import LocalStack
    from portal.server import run_with_portal
    from worker import serve

    settings = Settings.from_env()
    logs.configure(settings.log_format)
    stack = LocalStack.persistent(
        settings.state_dir, settings.temporal_address, settings.database_url, settings.ui_port
    )
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        with out.status("starting PostgreSQL and the Temporal dev server…"):
            addresses = stack.start()
        out.print(
            f"Temporal {addresses.temporal_address} · UI {addresses.ui_url} · "
            f"PostgreSQL {addresses.database_url} · state in {settings.state_dir}/\n"
            f"worker on task queue {settings.task_queue}; participant portal {settings.portal_base_url}; "
            "Ctrl-C stops all",
            highlight=False,
        )
        asyncio.run(run_with_portal(settings, serve(settings)))
    except StackError as exc:
        raise fail(str(exc)) from None
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop()
        out.print("stopped")
