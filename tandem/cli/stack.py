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
    from tandem.simulate import OutputDirectoryError, run

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
    except (StackError, OutputDirectoryError) as exc:
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
    """Run the local stack (Temporal + UI, PostgreSQL), the codec server and a worker until Ctrl-C."""
    from localstack.stack import LocalStack
    from tandem import codec_server

    settings = Settings.from_env()
    logs.configure(settings.log_format)
    if settings.codec_token is None and not settings.token_file.exists():
        codec_server.generate_token_file(settings.token_file)  # outside the repo: the state directory
    stack = LocalStack.persistent(
        settings.state_dir,
        settings.temporal_address,
        settings.database_url,
        settings.ui_port,
        ui_codec_endpoint=settings.codec_url,
    )
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        with out.status("starting PostgreSQL and the Temporal dev server…"):
            addresses = stack.start()
        out.print(
            f"Temporal {addresses.temporal_address} · UI {addresses.ui_url} · "
            f"PostgreSQL {addresses.database_url} · state in {settings.state_dir}/\n"
            f"{codec_server.describe(settings)}\n"
            f"worker on task queue {settings.task_queue}; participant portal {settings.portal_base_url}; "
            "Ctrl-C stops all",
            highlight=False,
        )
        asyncio.run(_serve_all(settings))
    except (StackError, codec_server.CodecServerError) as exc:
        raise fail(str(exc)) from None
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop()
        out.print("stopped")


async def _serve_all(settings: Settings) -> None:
    """The worker, with the codec server and the participant portal beside it in one event loop."""
    from portal.server import run_with_portal
    from tandem import codec_server
    from worker import serve

    runner = await codec_server.start(settings)
    try:
        await run_with_portal(settings, serve(settings))
    finally:
        await runner.cleanup()


@app.command("codec-server")
def codec_server_command() -> None:
    """Run the codec server alone (the Temporal UI decodes payloads through it) until Ctrl-C.

    Listens on TANDEM_CODEC_ADDRESS (127.0.0.1:8234); answers browsers from TANDEM_CODEC_ORIGINS (the
    UI's origin); bearer token from TANDEM_CODEC_TOKEN or the file TANDEM_CODEC_TOKEN_FILE.
    """
    from tandem import codec_server
    from tandem.codec import CodecKeyError

    settings = Settings.from_env()
    logs.configure(settings.log_format)

    async def run() -> None:
        runner = await codec_server.start(settings)
        out.print(codec_server.describe(settings) + "; Ctrl-C stops it", highlight=False)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        try:
            await stop.wait()
        finally:
            await runner.cleanup()

    try:
        asyncio.run(run())
    except (codec_server.CodecServerError, CodecKeyError) as exc:
        raise fail(str(exc)) from None
