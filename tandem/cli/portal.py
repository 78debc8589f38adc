"""`starter.py portal`: serve the participant portal; make a link; rotate its key; read feedback.

python starter.py portal                                  # serve until Ctrl-C
python starter.py portal link PAIRING_ID --side mentor --action log_session [--session 2]
python starter.py portal rotate-key                       # new links use a new key; old ones keep working
python starter.py portal feedback PROGRAM_ID              # anonymous feedback, aggregated (5 or more)
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer

from tandem import logs
from tandem.cli.common import app, fail, out
from tandem.settings import Settings

portal_app = typer.Typer(help="The participant portal: signed links to small web forms.")
app.add_typer(portal_app, name="portal")


@portal_app.callback(invoke_without_command=True)
def portal(ctx: typer.Context) -> None:
    """Serve the portal (TANDEM_PORTAL_HOST/PORT; links use TANDEM_PORTAL_URL) until Ctrl-C."""
    if ctx.invoked_subcommand is not None:
        return
    from portal.server import serve_portal
    from portal.tokens import PortalKeyError

    settings = Settings.from_env()
    logs.configure(settings.log_format)
    out.print(
        f"portal on http://{settings.portal_host}:{settings.portal_port} · "
        f"links as {settings.portal_base_url}/a/…",
        highlight=False,
    )
    try:
        asyncio.run(serve_portal(settings))
    except PortalKeyError as exc:
        raise fail(str(exc)) from None
    except KeyboardInterrupt:
        pass


@portal_app.command("link")
def link(
    pairing_id: Annotated[str, typer.Argument(help="pairing id or workflow id")],
    action: Annotated[
        str,
        typer.Option(help="propose_goals, agree_goals, log_session, fit_check, midpoint, closeout, feedback"),
    ],
    side: Annotated[str | None, typer.Option(help="mentor or mentee (looked up in the event store)")] = None,
    participant: Annotated[str | None, typer.Option(help="participant id, instead of --side")] = None,
    session: Annotated[int | None, typer.Option(help="session number, for log_session")] = None,
    days: Annotated[
        float | None, typer.Option(help="valid for this many days (default TANDEM_PORTAL_LINK_DAYS)")
    ] = None,
) -> None:
    """Print a signed link for one participant of a pairing (e.g. to resend a lost message)."""
    from portal.links import link_for
    from portal.tokens import ACTIONS

    settings = Settings.from_env()
    pairing_id = pairing_id.removeprefix("pairing-")
    if action not in ACTIONS:
        raise typer.BadParameter(f"one of {', '.join(ACTIONS)}", param_hint="--action")
    if (side is None) == (participant is None):
        raise typer.BadParameter("give --side or --participant", param_hint="--side")
    if participant is None:
        if side not in ("mentor", "mentee"):
            raise typer.BadParameter("mentor or mentee", param_hint="--side")
        try:
            participant = asyncio.run(_participant_of(settings, pairing_id, side))
        except LookupError as exc:
            raise fail(str(exc)) from None
        except OSError as exc:
            raise fail(f"cannot reach PostgreSQL: {exc}") from None
    expires = datetime.now(UTC) + timedelta(days=days if days is not None else settings.portal_link_days)
    out.print(
        link_for(settings, participant, pairing_id, action, expires, ref=session),
        highlight=False,
        soft_wrap=True,
    )


async def _participant_of(settings: Settings, pairing_id: str, side: str) -> str:
    from activities.record import load_stream
    from domain.pairing import pairing_stream, replay
    from eventstore import EventStore

    async with await EventStore.open(settings.database_url, migrate=False) as store:
        state = replay(pairing_id, await load_stream(store, pairing_stream(pairing_id)))
    if state.version == 0:
        raise LookupError(f"no pairing {pairing_id!r} in the event store")
    return state.mentor_id if side == "mentor" else state.mentee_id


@portal_app.command("rotate-key")
def rotate_key() -> None:
    """Add a new signing key to the key file: new links use it, links already sent keep working."""
    from portal.tokens import generate_key_file, rotate_key_file

    settings = Settings.from_env()
    if settings.portal_keys:
        raise fail("keys come from TANDEM_PORTAL_KEYS: add the new key there (id:base64key, newest last)")
    path = settings.portal_key_path
    if not path.exists():
        generate_key_file(path)
    key_id = rotate_key_file(path)
    out.print(
        f"new portal key {key_id} in {path}; remove an old key only after its links expired", highlight=False
    )


@portal_app.command("feedback")
def feedback(
    program_id: str,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable")] = False,
) -> None:
    """Anonymous program feedback, as totals only and only from 5 answers on."""
    from dataclasses import asdict

    from activities.record import load_stream
    from domain.feedback import feedback_stream, replay_feedback, summarize_feedback
    from eventstore import EventStore

    settings = Settings.from_env()

    async def go() -> object:
        async with await EventStore.open(settings.database_url, migrate=False) as store:
            return replay_feedback(program_id, await load_stream(store, feedback_stream(program_id)))

    try:
        summary = summarize_feedback(asyncio.run(go()))  # type: ignore[arg-type]
    except OSError as exc:
        raise fail(f"cannot reach PostgreSQL: {exc}") from None
    if as_json:
        out.print_json(json.dumps({"program_id": program_id, **asdict(summary)}))
        return
    if summary.withheld:
        out.print(
            f"{summary.responses} answer(s); feedback is shown from {summary.min_responses} answers on",
            highlight=False,
        )
        return
    out.print(f"{summary.responses} answers", highlight=False)
    out.print(f"usefulness (1-5): mean {summary.usefulness_mean}, counts {summary.usefulness_counts}")
    out.print(
        f"safe to speak (1-5): mean {summary.safe_to_speak_mean}, counts {summary.safe_to_speak_counts}"
    )
    for comment in summary.comments:
        out.print(f"- {comment}", highlight=False, markup=False)
