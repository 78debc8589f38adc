"""`starter.py act PAIRING_ID ACTION ...`: an operator acts on a pairing, or on a participant's behalf.

Each action is sent as the pairing workflow's Update of the same meaning; the workflow's validator
runs the domain rules first, so a refused action prints the rule it broke, exits 2, and changes
nothing. Participants themselves act through the portal; this is the operator's tool.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any

import typer
from pydantic import BaseModel, ValidationError
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from domain.durations import DurationError, IsoDuration
from domain.pairing import (
    AddNote,
    AgreeGoals,
    AnswerFitCheck,
    Extend,
    Goal,
    LogSession,
    MidpointDecision,
    OverrideMidpoint,
    Pause,
    ProposeGoals,
    Rematch,
    Resume,
    SessionStatus,
    SubmitCloseout,
    SubmitMidpoint,
    Withdraw,
)
from tandem.cli.common import app, err, fail, out
from tandem.codec import CodecKeyError
from tandem.settings import Settings
from workflows.pairing import ActionResult, workflow_id_for

act_app = typer.Typer(
    no_args_is_help=True, help="Act on one pairing (operator, or on a participant's behalf)."
)
app.add_typer(act_app, name="act")

Side = Annotated[str, typer.Option("--side", help="mentor or mentee")]
GoalOpt = Annotated[
    list[str], typer.Option("--goal", help='"title :: measurable signal" (repeat for several goals)')
]


class _Closed(Exception):
    pass


class _Target(BaseModel):
    pairing_id: str


@act_app.callback()
def _pairing(
    ctx: typer.Context, pairing_id: Annotated[str, typer.Argument(help="pairing id or workflow id")]
) -> None:
    ctx.obj = _Target(pairing_id=pairing_id.removeprefix("pairing-"))


def _side(value: str) -> str:
    if value not in ("mentor", "mentee"):
        raise typer.BadParameter(f"side must be mentor or mentee, not {value!r}", param_hint="--side")
    return value


def _goals(values: list[str]) -> tuple[Goal, ...]:
    goals = []
    for text in values:
        title, sep, signal = text.partition("::")
        if not sep or not title.strip() or not signal.strip():
            raise typer.BadParameter(
                f'{text!r}: write a goal as "title :: measurable signal"', param_hint="--goal"
            )
        goals.append(Goal(title=title.strip(), signal=signal.strip()))
    return tuple(goals)


def _percentages(text: str, name: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise typer.BadParameter(
            f"{text!r}: give whole percentages separated by commas, e.g. 40,70", param_hint=name
        ) from None


def _send(ctx: typer.Context, update: str, build: Any) -> None:
    """Build the command (its own checks first), send it as an Update, print what happened."""
    target: _Target = ctx.obj
    try:
        command = build()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'value'}: {e['msg']}" for e in exc.errors()
        )
        err.print(f"rejected: {problems}", highlight=False, markup=False)
        raise typer.Exit(code=2) from None
    settings = Settings.from_env()

    async def go() -> ActionResult:
        from tandem.temporal import connect

        client = await connect(settings)
        handle = client.get_workflow_handle(workflow_id_for(target.pairing_id))
        try:
            return await handle.execute_update(update, command, result_type=ActionResult)
        except RPCError as exc:
            if exc.status is not RPCStatusCode.NOT_FOUND:
                raise
            try:
                await handle.describe()  # it exists, so it has finished: a closed pairing accepts nothing
            except RPCError:
                raise exc from None
            raise _Closed() from None

    try:
        result = asyncio.run(go())
    except _Closed:
        err.print(
            f"rejected: pairing {target.pairing_id} is closed; it accepts nothing; nothing was recorded",
            highlight=False,
            markup=False,
        )
        raise typer.Exit(code=2) from None
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        rule = ""
        if isinstance(cause, ApplicationError) and cause.details and isinstance(cause.details[0], dict):
            rule = f" (rule: {cause.details[0].get('rule')})"
        message = cause.message if isinstance(cause, ApplicationError) else str(cause or exc)
        err.print(f"rejected: {message}{rule}; nothing was recorded", highlight=False, markup=False)
        raise typer.Exit(code=2) from None
    except RPCError as exc:
        if exc.status is RPCStatusCode.NOT_FOUND:
            raise fail(f"no running pairing {target.pairing_id!r}") from None
        raise fail(f"cannot reach Temporal at {settings.temporal_address}: {exc}") from None
    except CodecKeyError as exc:
        raise fail(str(exc)) from None
    except OSError as exc:
        raise fail(f"cannot reach Temporal at {settings.temporal_address}: {exc}") from None
    out.print(
        f"accepted: {', '.join(result.events) or 'no change'} "
        f"(stage {result.stage}, version {result.version})",
        highlight=False,
    )


@act_app.command("submit-goals")
def submit_goals(ctx: typer.Context, side: Side, goal: GoalOpt) -> None:
    """Propose 1-5 goals for one side."""
    _send(ctx, "propose_goals", lambda: ProposeGoals(side=_side(side), goals=_goals(goal)))  # type: ignore[arg-type]


@act_app.command("agree-goals")
def agree_goals(ctx: typer.Context, side: Side, goal: GoalOpt) -> None:
    """Agree to this exact goal list for one side; agreed once both sides agree to the same list."""
    _send(ctx, "agree_goals", lambda: AgreeGoals(side=_side(side), goals=_goals(goal)))  # type: ignore[arg-type]


@act_app.command("log-session")
def log_session(
    ctx: typer.Context,
    side: Side,
    status: Annotated[SessionStatus, typer.Option(help="held, missed or rescheduled")],
    rating: Annotated[int | None, typer.Option(help="1-5, for a held session")] = None,
    session: Annotated[int | None, typer.Option(help="session number (default: the one due)")] = None,
    topic: Annotated[list[str] | None, typer.Option(help="topic discussed (repeatable)")] = None,
    note: Annotated[str, typer.Option(help="private note: its author only will ever see it")] = "",
    to: Annotated[
        datetime | None, typer.Option(help="new time of a rescheduled session (ISO 8601, with offset)")
    ] = None,
) -> None:
    """Check in for a session: held (with a rating), missed, or rescheduled (with a new time)."""
    _send(
        ctx,
        "log_session",
        lambda: LogSession(
            side=_side(side),
            status=status,
            rating=rating,
            session=session,  # type: ignore[arg-type]
            topics=tuple(topic or ()),
            private_note=note,
            rescheduled_to=to,
        ),
    )


@act_app.command("fit-check")
def fit_check(
    ctx: typer.Context,
    side: Side,
    wants_new_partner: Annotated[bool, typer.Option("--wants-new-partner/--happy")] = False,
) -> None:
    """Answer the confidential fit check."""
    _send(
        ctx, "answer_fit_check", lambda: AnswerFitCheck(side=_side(side), wants_new_partner=wants_new_partner)
    )  # type: ignore[arg-type]


@act_app.command("midpoint")
def midpoint(
    ctx: typer.Context,
    side: Side,
    relationship: Annotated[int, typer.Option(help="1-5")],
    safety: Annotated[int, typer.Option(help="psychological safety, 1-5")],
    progress: Annotated[str, typer.Option(help="progress per agreed goal in %, e.g. 40,70")],
) -> None:
    """Submit one side's midpoint review."""
    _send(
        ctx,
        "submit_midpoint",
        lambda: SubmitMidpoint(
            side=_side(side),
            relationship=relationship,
            psychological_safety=safety,  # type: ignore[arg-type]
            progress=_percentages(progress, "--progress"),
        ),
    )


@act_app.command("override-midpoint")
def override_midpoint(
    ctx: typer.Context,
    decision: Annotated[MidpointDecision, typer.Option(help="continue, rematch or end_early")],
    reason: Annotated[str, typer.Option(help="why the operator overrides the rule")],
) -> None:
    """Operator: override the proposed midpoint decision within the override window."""
    _send(ctx, "override_midpoint", lambda: OverrideMidpoint(decision=decision, reason=reason))


@act_app.command("closeout")
def closeout(
    ctx: typer.Context,
    side: Side,
    attainment: Annotated[str, typer.Option(help="attainment per agreed goal in %, e.g. 80,60")],
    recommend: Annotated[int, typer.Option(help="would recommend, 0-10")],
    satisfaction: Annotated[int, typer.Option(help="1-5")],
    takeaways: Annotated[str, typer.Option(help="free text")] = "",
) -> None:
    """Submit one side's closeout survey."""
    _send(
        ctx,
        "submit_closeout",
        lambda: SubmitCloseout(
            side=_side(side),
            attainment=_percentages(attainment, "--attainment"),  # type: ignore[arg-type]
            would_recommend=recommend,
            satisfaction=satisfaction,
            takeaways=takeaways,
        ),
    )


@act_app.command("pause")
def pause(ctx: typer.Context, reason: Annotated[str, typer.Option(help="why")] = "") -> None:
    """Pause the pairing: no reminders, no deadlines until resumed."""
    _send(ctx, "pause", lambda: Pause(reason=reason))


@act_app.command("resume")
def resume(ctx: typer.Context) -> None:
    """Resume a paused pairing; every pending deadline moves by the length of the pause."""
    _send(ctx, "resume", Resume)


@act_app.command("extend")
def extend(ctx: typer.Context, by: Annotated[str, typer.Option(help="ISO-8601 duration, e.g. P1M")]) -> None:
    """Extend the pairing's end date."""
    try:
        duration = IsoDuration.parse(by)
    except DurationError as exc:
        raise typer.BadParameter(str(exc), param_hint="--by") from None
    _send(ctx, "extend", lambda: Extend(by=duration))


@act_app.command("withdraw")
def withdraw(ctx: typer.Context, side: Side, reason: Annotated[str, typer.Option(help="why")] = "") -> None:
    """Withdraw one side; the pairing closes as withdrawn."""
    _send(ctx, "withdraw", lambda: Withdraw(side=_side(side), reason=reason))  # type: ignore[arg-type]


@act_app.command("note")
def note(
    ctx: typer.Context,
    text: Annotated[str, typer.Option(help="the note")],
    author: Annotated[str, typer.Option(help="operator, mentor or mentee")] = "operator",
) -> None:
    """Add a note to the pairing's record."""
    if author not in ("operator", "mentor", "mentee"):
        raise typer.BadParameter(
            f"author must be operator, mentor or mentee, not {author!r}", param_hint="--author"
        )
    _send(ctx, "add_note", lambda: AddNote(author=author, text=text))  # type: ignore[arg-type]


@act_app.command("rematch")
def rematch(ctx: typer.Context, reason: Annotated[str, typer.Option(help="why")] = "") -> None:
    """Operator: close this pairing so the mentee can be paired with someone else."""
    _send(ctx, "rematch", lambda: Rematch(reason=reason))
