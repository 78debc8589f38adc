"""Through real HTTP: the check-in form, its refusals, double submits, and the links' attacks."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta

import httpx
import pytest

from tests.portal.conftest import MENTEE_EMAIL, MENTOR_EMAIL, PortalPairing, form_id

pytestmark = pytest.mark.stack
NewPairing = Callable[..., Awaitable[PortalPairing]]


async def _session_due(pairing: PortalPairing) -> int:
    """Move the pairing's clock to its first session's check-in request; return the session number."""
    alarm = await pairing.driver.to_next_alarm("checkin_request")
    await pairing.synced()
    assert alarm.ref is not None
    return alarm.ref


def _plain_refusal(response: httpx.Response, status: int, words: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert words in response.text
    for leak in ("Traceback", "Exception", 'File "', "line "):
        assert leak not in response.text


async def test_a_held_checkin_lands_once_however_often_it_is_sent(
    http: httpx.AsyncClient, new_pairing: NewPairing
) -> None:
    pairing = await new_pairing(goals=True)
    session = await _session_due(pairing)
    url = pairing.link("mentor", "log_session", ref=session)

    page = await http.get(url)
    assert page.status_code == 200
    for label in (
        '<label for="status-held">',
        '<label for="rating-input">',
        '<label for="topics">',
        '<label for="private_note">',
    ):
        assert label in page.text
    assert "Morgan" in page.text  # the partner by first name ...
    assert (
        MENTEE_EMAIL not in page.text and "Chief Financial Officer" not in page.text
    )  # ... and nothing more
    assert page.headers["referrer-policy"] == "no-referrer" and page.headers["cache-control"] == "no-store"

    fid = form_id(page.text)
    body = {
        "form_id": fid,
        "status": "held",
        "rating": "4",
        "topics": "AI tools\nTikTok",
        "private_note": "nervous at first",
    }
    # a double click: the same rendered form twice at once, then the back button and send again
    first, second = await asyncio.gather(http.post(url, data=body), http.post(url, data=body))
    third = await http.post(url, data=body)
    for response in (first, second, third):
        assert response.status_code == 200, response.text
        assert "Thank you" in response.text or "Already recorded" in response.text
        assert "nervous at first" not in response.text
    await pairing.synced()
    checkins = await pairing.checkins("mentor")
    assert len(checkins) == 1
    assert checkins[0]["rating"] == 4 and checkins[0]["topics"] == ["AI tools", "TikTok"]
    assert (await pairing.types()).count("SessionHeld") == 1

    # a freshly rendered form (new form id) is refused by the domain: shown as already recorded
    again = await http.get(url)
    _plain_refusal(again, 410, "Already recorded")
    replayed = await http.post(url, data={**body, "form_id": "x" * 24})
    assert replayed.status_code == 200 and "Already recorded" in replayed.text
    assert len(await pairing.checkins("mentor")) == 1

    # the author sees their own private note on their next check-in page (a link without a session)
    own = await http.get(pairing.link("mentor", "log_session"))
    assert own.status_code == 200 and "Session 1: nervous at first" in own.text
    # the partner's own check-in page never shows the mentor's private note
    partner = await http.get(pairing.link("mentee", "log_session", ref=session))
    assert partner.status_code == 200 and "nervous at first" not in partner.text
    assert MENTOR_EMAIL not in partner.text


async def test_bad_values_come_back_next_to_their_field_and_nothing_is_recorded(
    http: httpx.AsyncClient, new_pairing: NewPairing
) -> None:
    pairing = await new_pairing(goals=True)
    session = await _session_due(pairing)
    url = pairing.link("mentee", "log_session", ref=session)
    fid = form_id((await http.get(url)).text)
    before = (await pairing.synced()).version

    cases = [
        # (posted fields, the field whose error is shown, words of the message)
        (
            {"status": "held", "rating": "7"},
            "rating",
            "ratings go from 1 to 5, not 7",
        ),  # the workflow validator
        ({"status": "held", "rating": "lots"}, "rating", "Enter a whole number."),  # pydantic
        ({"status": "held"}, "rating", "a held session needs a rating"),
        ({"status": "missed", "rating": "3"}, "rating", "a missed session has no rating"),
        ({"rating": "3"}, "status", "Choose held, missed or rescheduled."),
        (
            {"status": "rescheduled", "rescheduled_to": "next tuesday"},
            "rescheduled_to",
            "Enter a date and time",
        ),
        ({"status": "rescheduled", "rescheduled_to": "2001-01-01T10:00"}, "rescheduled_to", "future time"),
        ({"status": "held", "rating": "3", "private_note": "x" * 2001}, "private_note", "at most 2000"),
    ]
    for fields, name, words in cases:
        response = await http.post(url, data={"form_id": fid, **fields})
        assert response.status_code == 422, (fields, response.text)
        assert f'id="{name}-error"' in response.text, (fields, response.text)
        error = response.text.split(f'id="{name}-error">', 1)[1].split("</p>", 1)[0]
        assert words in error, (fields, error)
        assert "Nothing was recorded yet." in response.text
        if "private_note" not in fields:
            assert (
                f'value="{fields.get("rating", "")}"' in response.text or "rating" not in fields
            )  # kept as typed
    assert (await pairing.synced()).version == before
    assert await pairing.checkins("mentee") == []

    # the same form, now correct, goes through
    ok = await http.post(url, data={"form_id": fid, "status": "missed"})
    assert ok.status_code == 200 and "Thank you" in ok.text
    await pairing.synced()
    assert [c["status"] for c in await pairing.checkins("mentee")] == ["missed"]


async def test_links_refuse_tampering_expiry_other_pairings_and_other_people(
    http: httpx.AsyncClient, new_pairing: NewPairing, portal_url: str
) -> None:
    one = await new_pairing(goals=True)
    other = await new_pairing()
    session = await _session_due(one)
    good = one.link("mentor", "log_session", ref=session)
    token = good.rsplit("/", 1)[1]
    key_id, payload, signature = token.split(".")

    def flip(text: str, at: int) -> str:
        return text[:at] + ("A" if text[at] != "A" else "B") + text[at + 1 :]

    other_token = other.link("mentor", "log_session").rsplit("/", 1)[1]
    attacks = {
        "payload changed": f"{key_id}.{flip(payload, 5)}.{signature}",
        "signature changed": f"{key_id}.{payload}.{flip(signature, 3)}",
        "signature removed": f"{key_id}.{payload}.",
        "unknown key id": f"zz.{payload}.{signature}",
        "other key id": f"k2.{payload}.{signature}",
        "payload of another link": f"{key_id}.{other_token.split('.')[1]}.{signature}",
        "not a token": "hello",
        "too long": "k1." + "A" * 5000 + ".x",
        "base64 junk": f"{key_id}.%%%%.{signature}",
        "extra part": f"{token}.x",
    }
    for name, bad in attacks.items():
        for method in ("GET", "POST"):
            response = await http.request(
                method, f"{portal_url}/a/{bad}", data={"status": "held", "rating": "5"}
            )
            assert response.status_code in (403, 404), (name, method, response.status_code)
            if response.status_code == 403:
                _plain_refusal(response, 403, "This link is not valid")

    expired = one.link("mentor", "log_session", ref=session, valid=timedelta(seconds=-1))
    _plain_refusal(await http.get(expired), 403, "This link has expired")
    _plain_refusal(
        await http.post(expired, data={"status": "held", "rating": "5"}), 403, "This link has expired"
    )

    # a valid signature, but the person is not in this pairing (a link for another pairing's mentor)
    from datetime import UTC, datetime

    from portal.links import link_for

    stranger = link_for(
        one.settings,
        other.participant("mentor"),
        one.pairing_id,
        "log_session",
        datetime.now(UTC) + timedelta(days=1),
    )
    _plain_refusal(await http.get(stranger), 403, "It does not belong to this pairing")
    _plain_refusal(await http.post(stranger, data={"status": "held", "rating": "5"}), 403, "not belong")
    unknown = link_for(
        one.settings, "p000000000000", "no-such-pairing", "fit_check", datetime.now(UTC) + timedelta(days=1)
    )
    _plain_refusal(await http.get(unknown), 403, "This link is not valid")

    assert await one.checkins("mentor") == [] and await other.checkins("mentor") == []
    # the untouched link still works
    assert (await http.get(good)).status_code == 200


async def test_a_closed_pairing_takes_nothing(http: httpx.AsyncClient, new_pairing: NewPairing) -> None:
    from domain.pairing import Withdraw

    pairing = await new_pairing(goals=True)
    session = await _session_due(pairing)
    url = pairing.link("mentor", "log_session", ref=session)
    fid = form_id((await http.get(url)).text)
    await pairing.driver.act("withdraw", Withdraw(side="mentee", reason="moved on"))
    await pairing.synced()
    _plain_refusal(await http.get(url), 410, "This pairing is closed")
    response = await http.post(url, data={"form_id": fid, "status": "held", "rating": "4"})
    assert response.status_code in (409, 422), response.text
    assert "closed" in response.text and "Traceback" not in response.text
    assert await pairing.checkins("mentor") == []


async def test_plain_pages_for_everything_else(http: httpx.AsyncClient, portal_url: str) -> None:
    home = await http.get(f"{portal_url}/")
    assert home.status_code == 200 and "<main" in home.text
    missing = await http.get(f"{portal_url}/admin")
    assert missing.status_code == 404 and "Traceback" not in missing.text
    wrong = await http.put(f"{portal_url}/a/whatever")
    assert wrong.status_code in (404, 405) and "Traceback" not in wrong.text
    css = await http.get(f"{portal_url}/portal.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
