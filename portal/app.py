"""The participant portal: ``/a/<token>`` shows one form, and a POST to the same address acts.

Every request starts with the token: a bad signature, an unknown key or a malformed token is a plain
403 page; an expired one too. The token's participant must be the mentor or the mentee of the
token's pairing (read from the event store), else 403. The form is then parsed into the domain
command and sent as the pairing workflow's Update, whose validator runs the domain's ``decide``:
a refusal comes back on the same page next to its field, and nothing is recorded.

Exactly one effect per submit: each rendered form carries a fresh id that becomes the Update's id, so
Temporal runs a repeated POST of the same form (double click, back button and resend) once and
answers the repeat with the first result; a second, freshly rendered form is refused by the domain
as a duplicate, which the portal shows as "already recorded".

No page shows another participant's contact details: the partner appears by first name only. No
page shows a private note, a fit-check answer or feedback after it was sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from starlette.applications import Starlette
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from activities.directory import Directory
from activities.record import load_stream, to_new_event
from domain.errors import DomainError, DuplicateSubmission
from domain.feedback import GiveFeedback, decide_feedback, feedback_stream, replay_feedback
from domain.pairing import PairingState, SessionCheckedIn, Stage, pairing_stream, replay
from eventstore import EventStore, VersionConflict
from portal.forms import FORMS, OPEN_STAGES, ActionForm, Context, FormErrors
from portal.links import portal_keys
from portal.tokens import ExpiredToken, Grant, TokenError, verify
from tandem import logs
from tandem.settings import Settings
from workflows.pairing import ActionResult, workflow_id_for

HERE = Path(__file__).parent
TEMPLATES = Jinja2Templates(directory=str(HERE / "templates"))
FORM_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
UPDATE_TIMEOUT = timedelta(seconds=20)
MAX_FORM_BYTES = 64 * 1024
SECURITY_HEADERS = {
    # the token is in the address: never send it on as a Referer, never cache the page
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'"
    ),
}
log = logs.get("portal")


class Refused(Exception):
    """Stop and show a plain page with this status and sentence."""

    def __init__(self, status: int, heading: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.heading = heading
        self.message = message


class Portal:
    def __init__(self, settings: Settings, store: EventStore | None, client: Client | None) -> None:
        self.settings = settings
        self.store = store
        self.client = client
        self.directory: Directory | None = Directory(store) if store else None
        self._own: list[Any] = []

    async def open(self) -> None:
        if self.store is None:
            self.store = await EventStore.open(self.settings.database_url, migrate=False)
            self.directory = Directory(self.store)
            self._own.append(self.store)
        if self.client is None:
            from tandem.temporal import connect

            self.client = await connect(self.settings)
        portal_keys(self.settings)  # fail at start, not on the first visitor, if keys are unusable

    async def close(self) -> None:
        for owned in self._own:
            await owned.close()

    # -- the request steps ------------------------------------------------------------------------

    def grant(self, token: str) -> Grant:
        try:
            return verify(portal_keys(self.settings), token, datetime.now(UTC))
        except ExpiredToken:
            raise Refused(403, "This link has expired", "Ask the program team for a new link.") from None
        except TokenError:
            raise Refused(403, "This link is not valid", "Check that you opened the whole link.") from None

    async def context(self, grant: Grant) -> tuple[Context, dict[str, Any]]:
        assert self.store is not None and self.directory is not None
        events = await load_stream(self.store, pairing_stream(grant.pairing_id))
        state = replay(grant.pairing_id, events)
        side = state.side_of(grant.participant_id) if state.version else None
        if side is None:
            raise Refused(403, "This link is not valid", "It does not belong to this pairing.")
        me = await self.directory.lookup(state.program_id, grant.participant_id)
        other_id = state.mentee_id if side == "mentor" else state.mentor_id
        partner = await self.directory.lookup(state.program_id, other_id)
        people = {
            "me": _first_name(me.name) if me else None,
            # the partner by first name only: no email, no title, nothing the program did not give
            "partner": _first_name(partner.name) if partner else "your partner",
        }
        # private notes: the author's own, and only on the author's own check-in page
        notes = (
            [
                (e.payload.session, e.payload.private_note)
                for e in events
                if isinstance(e.payload, SessionCheckedIn)
                and e.payload.side == side
                and e.payload.private_note
            ]
            if grant.action == "log_session"
            else []
        )
        ctx = Context(state=state, side=side, timezone=me.timezone if me else "UTC", my_notes=notes)
        return ctx, people

    async def feedback_state(self, program_id: str) -> Any:
        assert self.store is not None
        return replay_feedback(program_id, await load_stream(self.store, feedback_stream(program_id)))

    def respondent(self, ctx: Context, grant: Grant) -> str:
        from portal.tokens import respondent_key

        return respondent_key(portal_keys(self.settings), ctx.state.program_id, grant.participant_id)

    async def already_done(self, form: ActionForm, ctx: Context, grant: Grant) -> str | None:
        if form.action == "feedback":
            state = await self.feedback_state(ctx.state.program_id)
            if self.respondent(ctx, grant) in state.respondents:
                return "Your feedback on the program is recorded. Thank you."
            return None
        return form.done(ctx, grant.ref)

    # -- acting -----------------------------------------------------------------------------------

    async def send_update(self, form: ActionForm, command: BaseModel, update_id: str, pairing: str) -> str:
        assert self.client is not None
        handle = self.client.get_workflow_handle(workflow_id_for(pairing))
        try:
            result = await handle.execute_update(
                form.update, command, id=update_id, result_type=ActionResult, rpc_timeout=UPDATE_TIMEOUT
            )
        except RPCError as exc:
            if exc.status is RPCStatusCode.NOT_FOUND:
                raise Refused(
                    409, "This pairing is closed", "It accepts nothing more; nothing was recorded."
                ) from None
            raise
        log.info("portal update", update=form.update, events=result.events, version=result.version)
        return "Your answer is recorded."

    async def record_feedback(self, command: GiveFeedback, program_id: str) -> None:
        assert self.store is not None
        # the day only: a precise time could be matched with who opened a link when
        day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        for _ in range(5):
            state = await self.feedback_state(program_id)
            events = decide_feedback(state, command, day)
            try:
                await self.store.append(state.stream_id, state.version, [to_new_event(e) for e in events])
                return
            except VersionConflict:
                await asyncio.sleep(0.01)  # somebody else answered meanwhile: decide again
        raise RuntimeError("feedback stream too busy")


def _first_name(name: str) -> str:
    return name.split()[0] if name.split() else name


def _page(request: Request, template: str, status: int = 200, **context: Any) -> Response:
    response = TEMPLATES.TemplateResponse(request, template, context, status_code=status)
    response.headers.update(SECURITY_HEADERS)
    return response


def _refusal(request: Request, refused: Refused) -> Response:
    return _page(request, "message.html", refused.status, heading=refused.heading, message=refused.message)


def _flat(form: FormData) -> tuple[dict[str, str], dict[str, list[str]]]:
    fields: dict[str, str] = {}
    lists: dict[str, list[str]] = {}
    for key, value in form.multi_items():
        if not isinstance(value, str):
            continue  # no uploads here
        fields.setdefault(key, value)
        lists.setdefault(key, []).append(value)
    return fields, lists


def _domain_error(cause: BaseException | None) -> tuple[str, str, str]:
    """(kind, rule, message) of a refused Update."""
    if isinstance(cause, ApplicationError):
        details = cause.details[0] if cause.details and isinstance(cause.details[0], dict) else {}
        return cause.type or "", str(details.get("rule", "")), cause.message
    return "", "", "The pairing could not take this right now."


async def show(request: Request) -> Response:
    portal: Portal = request.app.state.portal
    try:
        grant = portal.grant(request.path_params["token"])
        form = FORMS[grant.action]
        ctx, people = await portal.context(grant)
        done = await portal.already_done(form, ctx, grant)
        if done:
            return _page(
                request, "done.html", 410, heading="Already recorded", message=done, title=form.title
            )
        _check_open(form, ctx.state)
        return _render(request, form, ctx, people, grant)
    except Refused as refused:
        return _refusal(request, refused)


def _check_open(form: ActionForm, state: PairingState) -> None:
    if state.stage is Stage.CLOSED and form.action != "feedback":
        raise Refused(410, "This pairing is closed", "It accepts nothing more. Thank you for taking part.")
    if state.stage not in OPEN_STAGES[form.action]:
        stage = state.stage.value.replace("_", " ")
        raise Refused(
            409, f"{form.title}: not open now", f"Your pairing is in {stage}; this form is not open."
        )


def _render(
    request: Request,
    form: ActionForm,
    ctx: Context,
    people: dict[str, Any],
    grant: Grant,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    lists: dict[str, list[str]] | None = None,
) -> Response:
    return _page(
        request,
        form.template,
        status,
        title=form.title,
        action_url=str(request.url.path),
        form_id=secrets.token_urlsafe(18),
        side=ctx.side,
        people=people,
        errors=errors or {},
        values=values or {},
        lists=lists or {},
        expires=grant.expires.strftime("%d %B %Y"),
        **form.view(ctx, grant.ref),
    )


async def act(request: Request) -> Response:
    portal: Portal = request.app.state.portal
    try:
        grant = portal.grant(request.path_params["token"])
        form = FORMS[grant.action]
        if int(request.headers.get("content-length") or 0) > MAX_FORM_BYTES:
            raise Refused(413, "Too much text", "Please shorten your answers and send again.")
        fields, lists = _flat(await request.form(max_files=0, max_fields=100))
        ctx, people = await portal.context(grant)
        ctx.lists = lists
        form_id = fields.get("form_id", "")
        if not FORM_ID.match(form_id):
            form_id = secrets.token_urlsafe(18)
        if form.action == "feedback":
            fields["_respondent"] = portal.respondent(ctx, grant)
        try:
            command = form.parse(fields, ctx, grant.ref)
        except FormErrors as problems:
            return _render(
                request,
                form,
                ctx,
                people,
                grant,
                status=422,
                errors=problems.errors,
                values=fields,
                lists=lists,
            )
        try:
            if isinstance(command, GiveFeedback):
                await portal.record_feedback(command, ctx.state.program_id)
                message = "Your feedback is recorded, without your name. Thank you."
            else:
                update_id = f"portal-{grant.nonce}-{form_id}"
                message = await portal.send_update(form, command, update_id, grant.pairing_id)
        except WorkflowUpdateFailedError as exc:
            kind, rule, text = _domain_error(exc.cause)
            if kind == DuplicateSubmission.__name__:
                return _page(
                    request, "done.html", 200, heading="Already recorded", message=text, title=form.title
                )
            name = form.field_for(rule, text)
            return _render(
                request, form, ctx, people, grant, status=422, errors={name: text}, values=fields, lists=lists
            )
        except DuplicateSubmission as dup:
            return _page(
                request, "done.html", 200, heading="Already recorded", message=dup.message, title=form.title
            )
        except DomainError as err:
            name = form.field_for(err.rule, err.message)
            return _render(
                request,
                form,
                ctx,
                people,
                grant,
                status=422,
                errors={name: err.message},
                values=fields,
                lists=lists,
            )
        log.info("portal action", action=form.action, pairing_id=grant.pairing_id, side=ctx.side)
        return _page(request, "done.html", 200, heading="Thank you", message=message, title=form.title)
    except Refused as refused:
        return _refusal(request, refused)


async def home(request: Request) -> Response:
    return _page(
        request,
        "message.html",
        heading="Tandem participant portal",
        message="Open the link from your message to answer. Each link is yours alone: do not forward it.",
    )


async def health(request: Request) -> Response:
    return PlainTextResponse("ok")


async def stylesheet(request: Request) -> Response:
    return FileResponse(
        HERE / "static" / "portal.css", media_type="text/css", headers={"Cache-Control": "max-age=3600"}
    )


async def _not_found(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 404
    heading = "Not found" if status == 404 else "Not allowed"
    return _page(request, "message.html", status, heading=heading, message="There is nothing here.")


async def _server_error(request: Request, exc: Exception) -> Response:
    log.error("portal error", error=type(exc).__name__, path_kind=request.url.path.split("/")[1:2])
    return _page(
        request,
        "message.html",
        500,
        heading="Something went wrong",
        message="Your answer may not have been recorded. Please try again in a few minutes.",
    )


def create_app(
    settings: Settings, *, store: EventStore | None = None, client: Client | None = None
) -> Starlette:
    """The portal app. Given a store and a client it uses them; else it opens its own on startup."""
    portal = Portal(settings, store, client)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await portal.open()
        try:
            yield
        finally:
            await portal.close()

    app = Starlette(
        debug=False,
        routes=[
            Route("/", home),
            Route("/healthz", health),
            Route("/portal.css", stylesheet),
            Route("/a/{token}", show, methods=["GET"]),
            Route("/a/{token}", act, methods=["POST"]),
        ],
        exception_handlers={404: _not_found, 405: _not_found, 500: _server_error, Exception: _server_error},
        lifespan=lifespan,
    )
    app.state.portal = portal
    return app
