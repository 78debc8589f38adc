"""The codec server over real HTTP: decodes real history payloads for a token holder only, answers the
UI's origin only, and refuses bodies it cannot read."""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from temporalio.client import Client
from temporalio.worker import Worker

from domain.pairing import AddNote, Goal, ProposeGoals
from localstack.processes import free_port
from tandem import codec_server
from tandem.codec import ENCODING
from tandem.settings import Settings
from tests.workflows.helpers import new_pairing_input, start_pairing
from workflows.pairing import ActionResult

UI_ORIGIN = "http://127.0.0.1:8233"
ENCRYPTED = base64.b64encode(ENCODING).decode()


@dataclass(frozen=True)
class Server:
    url: str
    token: str


@pytest.fixture(scope="module")
async def server(settings: Settings) -> AsyncIterator[Server]:
    token = secrets.token_urlsafe(24)
    mine = settings.model_copy(
        update={
            "codec_address": f"127.0.0.1:{free_port()}",
            "codec_token": token,
            "codec_origins": (UI_ORIGIN,),
        }
    )
    runner = await codec_server.start(mine)
    try:
        yield Server(mine.codec_url, token)
    finally:
        await runner.cleanup()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def encrypted_payloads(node: Any) -> Iterator[dict[str, Any]]:
    """Every payload sealed by our codec in a history (as the history's protobuf JSON)."""
    if isinstance(node, dict):
        if node.get("metadata", {}).get("encoding") == ENCRYPTED and "data" in node:
            yield node
        for value in node.values():
            yield from encrypted_payloads(value)
    elif isinstance(node, list):
        for value in node:
            yield from encrypted_payloads(value)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Origin": UI_ORIGIN, "X-Namespace": "default"}


async def test_decode_of_a_real_history_payload_returns_the_plaintext(
    client: Client, worker: Worker, server: Server, http: aiohttp.ClientSession
) -> None:
    note = f"Mentee asked to be reached at ada.{secrets.token_hex(3)}@example.com"
    goal = f"Run a blameless retro {secrets.token_hex(3)}"
    handle, _ = await start_pairing(client, worker.task_queue, new_pairing_input(), skip=False)
    try:
        goals = (Goal(title=goal, signal="two retros"),)
        await handle.execute_update(
            "propose_goals", ProposeGoals(side="mentor", goals=goals), result_type=ActionResult
        )
        await handle.execute_update(
            "add_note", AddNote(author="operator", text=note), result_type=ActionResult
        )
        raw = (await handle.fetch_history()).to_json()
    finally:
        await handle.terminate("test finished")
    assert note not in raw and goal not in raw
    sealed = list(encrypted_payloads(json.loads(raw)))
    assert len(sealed) >= 3  # the input and both Updates' arguments at least

    async with http.post(
        f"{server.url}/decode", json={"payloads": sealed}, headers=bearer(server.token)
    ) as r:
        assert r.status == 200, await r.text()
        assert r.headers["Access-Control-Allow-Origin"] == UI_ORIGIN
        decoded = (await r.json())["payloads"]
    assert len(decoded) == len(sealed)
    texts = [base64.b64decode(p.get("data", "")).decode() for p in decoded]
    assert all(p["metadata"]["encoding"] != ENCRYPTED for p in decoded)
    assert any(note in t for t in texts) and any(goal in t for t in texts)


async def test_encode_then_decode_round_trips(server: Server, http: aiohttp.ClientSession) -> None:
    plain = {"metadata": {"encoding": base64.b64encode(b"json/plain").decode()}, "data": "eyJhIjoxfQ=="}
    async with http.post(
        f"{server.url}/encode", json={"payloads": [plain]}, headers=bearer(server.token)
    ) as r:
        assert r.status == 200
        (sealed,) = (await r.json())["payloads"]
    assert sealed["metadata"]["encoding"] == ENCRYPTED and sealed["data"] != plain["data"]
    # only the last path segment names the operation (the protocol lets servers mount anywhere)
    async with http.post(
        f"{server.url}/default/decode", json={"payloads": [sealed]}, headers=bearer(server.token)
    ) as r:
        assert (await r.json())["payloads"] == [plain]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token-of-some-length"},
        {"Authorization": "Bearer "},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Cookie": f"{codec_server.COOKIE}=forged"},
    ],
    ids=["no-token", "wrong-token", "empty-token", "basic-auth", "forged-cookie"],
)
async def test_without_the_token_the_answer_is_401(
    server: Server, http: aiohttp.ClientSession, headers: dict[str, str]
) -> None:
    for operation in ("decode", "encode"):
        async with http.post(
            f"{server.url}/{operation}", json={"payloads": []}, headers={"Origin": UI_ORIGIN, **headers}
        ) as r:
            assert r.status == 401
            assert r.headers["WWW-Authenticate"].startswith("Bearer")
            assert "payloads" not in await r.json()


async def test_a_wrong_token_of_the_same_length_is_refused(
    server: Server, http: aiohttp.ClientSession
) -> None:
    wrong = server.token[:-1] + ("A" if server.token[-1] != "A" else "B")
    async with http.post(f"{server.url}/decode", json={"payloads": []}, headers=bearer(wrong)) as r:
        assert r.status == 401


async def test_cors_answers_the_ui_origin_only(server: Server, http: aiohttp.ClientSession) -> None:
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type,x-namespace",
    }
    async with http.options(f"{server.url}/decode", headers={"Origin": UI_ORIGIN, **preflight}) as r:
        assert r.status == 204  # a preflight carries no credentials and needs none
        assert r.headers["Access-Control-Allow-Origin"] == UI_ORIGIN
        assert "Authorization" in r.headers["Access-Control-Allow-Headers"]
        assert "X-Namespace" in r.headers["Access-Control-Allow-Headers"]
        assert "POST" in r.headers["Access-Control-Allow-Methods"]
    for origin in ("http://evil.example", "http://127.0.0.1:9999", "null"):
        async with http.options(f"{server.url}/decode", headers={"Origin": origin, **preflight}) as r:
            assert r.status == 403
            assert not any(h.lower().startswith("access-control-allow") for h in r.headers)
        # even with the right token, a browser on another origin gets no permission to read the answer
        headers = {**bearer(server.token), "Origin": origin}
        async with http.post(f"{server.url}/decode", json={"payloads": []}, headers=headers) as r:
            assert "Access-Control-Allow-Origin" not in r.headers
            assert "Access-Control-Allow-Credentials" not in r.headers


async def test_a_browser_signs_in_once_and_the_ui_sends_the_cookie(server: Server) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
        async with browser.post(f"{server.url}/login", data={"token": "not-the-token"}) as r:
            assert r.status == 401
        async with browser.post(f"{server.url}/decode", json={"payloads": []}) as r:
            assert r.status == 401
        async with browser.post(f"{server.url}/login", data={"token": server.token}) as r:
            assert r.status == 200
            cookie = r.cookies[codec_server.COOKIE]
            assert cookie["httponly"] and cookie["samesite"] == "Strict"
            assert server.token not in cookie.value  # the cookie is derived from the token, not it
        async with browser.post(
            f"{server.url}/decode", json={"payloads": []}, headers={"Origin": UI_ORIGIN}
        ) as r:
            assert r.status == 200
            assert r.headers["Access-Control-Allow-Credentials"] == "true"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"not json", 400),
        (b'{"payloads": "not a list"}', 400),
        (b'{"payloadz": []}', 400),
        (b'{"payloads": [{"metadata": {"encoding": "' + ENCRYPTED.encode() + b'"}, "data": "AAAA"}]}', 422),
        (b"\xff\xfe", 400),
    ],
    ids=["not-json", "wrong-shape", "unknown-field", "not-our-ciphertext", "not-utf8"],
)
async def test_unreadable_bodies_get_a_clear_error(
    server: Server, http: aiohttp.ClientSession, body: bytes, status: int
) -> None:
    headers = {**bearer(server.token), "Content-Type": "application/json"}
    async with http.post(f"{server.url}/decode", data=body, headers=headers) as r:
        assert r.status == status
        assert (await r.json())["error"]


async def test_oversized_bodies_are_refused(server: Server, http: aiohttp.ClientSession) -> None:
    body = b'{"payloads": [{"data": "' + b"A" * (codec_server.MAX_BODY_BYTES + 4) + b'"}]}'
    async with http.post(f"{server.url}/decode", data=body, headers=bearer(server.token)) as r:
        assert r.status == 413


def test_token_loading(tmp_path: Any) -> None:
    base = Settings(state_dir=tmp_path)
    with pytest.raises(codec_server.CodecServerError, match="no codec-server token"):
        codec_server.load_token(base)
    path = codec_server.generate_token_file(base.token_file)
    assert path.stat().st_mode & 0o077 == 0  # owner only
    assert len(codec_server.load_token(base)) >= codec_server.MIN_TOKEN_CHARS
    with pytest.raises(codec_server.CodecServerError, match="at least"):
        codec_server.load_token(base.model_copy(update={"codec_token": "short"}))
    env = Settings.from_env({"TANDEM_CODEC_ORIGINS": " http://a:1 , ,http://b:2", "TANDEM_UI_PORT": "9"})
    assert env.ui_origins == ("http://a:1", "http://b:2")
    assert Settings.from_env({"TANDEM_UI_PORT": "9"}).ui_origins == ("http://127.0.0.1:9",)
