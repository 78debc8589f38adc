"""The codec server: lets authorised operators read encrypted payloads in the Temporal UI.

Speaks Temporal's remote-codec protocol: ``POST .../encode`` and ``POST .../decode`` take and return
``{"payloads": [...]}``, each payload in protobuf JSON (metadata values and data base64). Only the last
path segment decides the operation, so the server may be mounted under any prefix.

Who may call it:
- a caller with ``Authorization: Bearer <token>`` (the Temporal UI with "Pass access token" behind an
  identity provider, scripts, the temporal CLI's ``--codec-auth``), or
- a browser that signed in once at ``/login`` with the same token: an HttpOnly, SameSite=Strict
  cookie, sent by the UI when "Include cross-origin credentials" is on (the dev server's UI has no
  identity provider, so it has no access token to pass).

Browsers only see answers for the configured UI origins (CORS); every other origin gets no
``Access-Control-Allow-*`` header. Tokens are compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import os
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads

from tandem.codec import CodecKeyError, EncryptionCodec, load_keys
from tandem.settings import Settings

COOKIE = "tandem-codec"
MAX_BODY_BYTES = 8 * 1024 * 1024  # a page of history's payloads; larger requests are refused (413)
MIN_TOKEN_CHARS = 16
ALLOWED_HEADERS = "Authorization, Content-Type, X-Namespace"


class CodecServerError(RuntimeError):
    """A codec-server configuration problem, said in one line."""


# -- the token ------------------------------------------------------------------------------------


def generate_token_file(path: Path) -> Path:
    """Create a token file readable by its owner only (``make up`` does this on its first start)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_urlsafe(32) + "\n")
    return path


def load_token(settings: Settings) -> str:
    """The bearer token: ``TANDEM_CODEC_TOKEN``, else the file ``TANDEM_CODEC_TOKEN_FILE``
    (default ``<state dir>/codec-token``)."""
    token = settings.codec_token
    source = "TANDEM_CODEC_TOKEN"
    if token is None:
        path = settings.token_file
        source = str(path)
        try:
            token = path.read_text().strip()
        except FileNotFoundError:
            raise CodecServerError(
                f"no codec-server token: set TANDEM_CODEC_TOKEN or TANDEM_CODEC_TOKEN_FILE "
                f"({path} does not exist; `make up` creates it on its first start)"
            ) from None
        except OSError as exc:
            raise CodecServerError(f"cannot read the codec-server token from {path}: {exc}") from None
    if len(token) < MIN_TOKEN_CHARS or any(c.isspace() or not c.isprintable() for c in token):
        raise CodecServerError(
            f"the codec-server token from {source} must be at least {MIN_TOKEN_CHARS} printable "
            "characters without spaces"
        )
    return token


# -- the application ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Access:
    token: str
    origins: frozenset[str]

    @property
    def session(self) -> str:
        """The cookie value of a signed-in browser: derived from the token, not the token itself."""
        return hmac.new(self.token.encode(), b"tandem codec-server session", hashlib.sha256).hexdigest()

    def allows(self, request: web.Request) -> bool:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and given:
            return hmac.compare_digest(given.strip().encode(), self.token.encode())
        cookie = request.cookies.get(COOKIE, "")
        return bool(cookie) and hmac.compare_digest(cookie.encode(), self.session.encode())


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def create_app(codec: EncryptionCodec, token: str, origins: Sequence[str]) -> web.Application:
    access = Access(token=token, origins=frozenset(o.rstrip("/") for o in origins))

    @web.middleware
    async def cors(request: web.Request, handler: Handler) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        allowed = origin is not None and origin in access.origins
        if request.method == "OPTIONS":  # preflight: no credentials are sent, none are needed
            response: web.StreamResponse = web.Response(status=204 if allowed else 403)
            if allowed:
                response.headers["Access-Control-Allow-Methods"] = "POST, OPTIONS"
                response.headers["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
                response.headers["Access-Control-Max-Age"] = "600"
        else:
            try:
                response = await handler(request)
            except web.HTTPException as exc:
                response = exc
        if allowed:
            response.headers["Access-Control-Allow-Origin"] = origin or ""
            response.headers["Access-Control-Allow-Credentials"] = "true"
        response.headers["Vary"] = "Origin"
        return response

    async def convert(request: web.Request) -> web.Response:
        operation = request.match_info["operation"]
        if not access.allows(request):
            return _error(401, "a valid bearer token or a signed-in session is required", bearer=True)
        try:
            body = await request.read()
            message = json_format.Parse(body.decode("utf-8"), Payloads())
        except web.HTTPRequestEntityTooLarge:
            return _error(413, f"request body over {MAX_BODY_BYTES} bytes")
        except (UnicodeDecodeError, json_format.ParseError) as exc:
            return _error(400, f"body is not Payloads JSON ({{'payloads': [...]}}): {exc}")
        try:
            if operation == "encode":
                converted = await codec.encode(list(message.payloads))
            else:
                converted = await codec.decode(list(message.payloads))
        except CodecKeyError as exc:
            return _error(422, str(exc))
        except Exception:  # cryptography's InvalidTag carries no message; say what it means
            return _error(422, "a payload failed authentication (tampered, or sealed with another key)")
        return web.json_response(json_format.MessageToDict(Payloads(payloads=converted)))

    async def login_form(request: web.Request) -> web.Response:
        return _page("Sign in to read payloads in the Temporal UI", _FORM)

    async def login(request: web.Request) -> web.Response:
        form = await request.post()
        given = str(form.get("token", "")).strip()
        if not hmac.compare_digest(given.encode(), access.token.encode()):
            return _page("Wrong token", _FORM, status=401)
        response = _page(
            "Signed in",
            "<p>The Temporal UI can now decode payloads: in its codec server settings, turn on "
            "<em>Include cross-origin credentials</em>.</p>",
        )
        response.set_cookie(COOKIE, access.session, httponly=True, samesite="Strict", path="/")
        return response

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application(middlewares=[cors], client_max_size=MAX_BODY_BYTES)
    app.router.add_post(r"/{prefix:(?:.*/)?}{operation:encode|decode}", convert)
    app.router.add_get("/login", login_form)
    app.router.add_post("/login", login)
    app.router.add_get("/healthz", health)
    return app


def _error(status: int, message: str, *, bearer: bool = False) -> web.Response:
    response = web.json_response({"error": message}, status=status)
    if bearer:
        response.headers["WWW-Authenticate"] = 'Bearer realm="tandem codec server"'
    return response


_FORM = (
    '<form method="post" action="/login"><label>Codec-server token '
    '<input type="password" name="token" autocomplete="off" required></label> '
    '<button type="submit">Sign in</button></form>'
)


def _page(title: str, body: str, status: int = 200) -> web.Response:
    text = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head>"
        f"<body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )
    response = web.Response(text=text, content_type="text/html", status=status)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    return response


# -- running it -----------------------------------------------------------------------------------


def app_for(settings: Settings) -> web.Application:
    codec = EncryptionCodec(load_keys(settings.codec_keys, settings.key_file))
    return create_app(codec, load_token(settings), settings.ui_origins)


async def start(settings: Settings) -> web.AppRunner:
    """Start serving on ``settings.codec_address``; stop with ``await runner.cleanup()``."""
    runner = web.AppRunner(app_for(settings), access_log=None)
    await runner.setup()
    host, _, port = settings.codec_address.rpartition(":")
    try:
        await web.TCPSite(runner, host, int(port)).start()
    except OSError as exc:
        await runner.cleanup()
        raise CodecServerError(
            f"the codec server cannot listen on {settings.codec_address} ({exc.strerror}); "
            "set TANDEM_CODEC_ADDRESS to a free host:port"
        ) from None
    return runner


def describe(settings: Settings) -> str:
    origins = ", ".join(settings.ui_origins)
    return (
        f"codec server http://{settings.codec_address} (UI origins {origins}; "
        f"token in {'TANDEM_CODEC_TOKEN' if settings.codec_token else settings.token_file}; "
        f"sign in at http://{settings.codec_address}/login)"
    )
