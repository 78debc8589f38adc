"""A real browser (Debian's chromium, driven by Playwright; no browser download) on the running portal.

Set TANDEM_PORTAL_SCREENSHOTS=docs/portal to (re)write the README's screenshots there; otherwise they
go to a temporary folder.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from activities.record import load_stream
from domain.notifications import notices_for
from domain.pairing import (
    LogSession,
    PairingState,
    SessionStatus,
    Stage,
    evolve,
    initial_pairing,
    pairing_stream,
)
from portal.links import link_for_notice
from tests.portal.conftest import GOALS, PortalPairing

pytestmark = pytest.mark.stack
NewPairing = Callable[..., Awaitable[PortalPairing]]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
PHONE = {"width": 390, "height": 844}

if not Path(CHROMIUM).exists():
    pytest.skip(
        "no chromium binary (Debian package 'chromium'); the browser test needs it", allow_module_level=True
    )


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    target = os.environ.get("TANDEM_PORTAL_SCREENSHOTS")
    path = Path(target) if target else tmp_path
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield chromium
        finally:
            await chromium.close()


async def _received_link(pairing: PortalPairing, side: str, action: str) -> str:
    """The link the latest notice asking ``side`` for ``action`` carries: the notices are the
    workflow's own (decided from the recorded events), the link is built as notifications build it."""
    events = await load_stream(pairing.store, pairing_stream(pairing.pairing_id))
    state: PairingState = initial_pairing(pairing.pairing_id)
    found = None
    for event in events:
        state = evolve(state, event)
        for notice in notices_for(state, event):
            if notice.recipient == side and notice.action == action:
                found = notice
    assert found is not None, f"no notice asks the {side} for {action}"
    link = link_for_notice(pairing.settings, found)
    assert link is not None
    return link


async def _wait_for_checkin(pairing: PortalPairing, side: str) -> list[dict[str, object]]:
    for _ in range(200):
        found = await pairing.checkins(side)
        if found:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError("the check-in never reached the event store")


async def test_a_checkin_from_a_notice_link_lands_in_the_pairings_events(
    browser: Any, new_pairing: NewPairing, shots: Path
) -> None:
    pairing = await new_pairing(goals=True)
    await pairing.driver.to_next_alarm("checkin_request")
    await pairing.synced()
    link = await _received_link(pairing, "mentor", "log_session")

    page = await browser.new_page(viewport=PHONE)
    await page.goto(link)
    assert await page.title() == "Check in for your session · Tandem"
    # labels are tied to their fields: the page is filled in by label, as assistive technology reads it
    await page.get_by_label("We met").check()
    await page.get_by_label("Rating from 1 to 5").fill("9")
    await page.get_by_label("Topics you talked about (one per line, optional)").fill(
        "Generative AI\nGen Z at work"
    )
    await page.get_by_label("Private note (optional)").fill("Ask about the budget next time")
    await page.get_by_role("button", name="Send my check-in").click()
    assert await page.locator("#rating-error").inner_text() == "ratings go from 1 to 5, not 9"
    assert await page.get_by_role("alert").is_visible()
    await page.screenshot(path=str(shots / "checkin-error.png"), full_page=True)
    assert await pairing.checkins("mentor") == []

    await page.get_by_label("We met").check()  # what was typed is kept; the bad value is corrected
    assert (
        await page.get_by_label("Private note (optional)").input_value() == "Ask about the budget next time"
    )
    await page.get_by_label("Rating from 1 to 5").fill("5")
    same_form = await page.locator("input[name=form_id]").input_value()
    await page.get_by_role("button", name="Send my check-in").click()
    assert await page.get_by_role("heading", level=1).inner_text() == "Thank you"

    checkins = await _wait_for_checkin(pairing, "mentor")
    assert len(checkins) == 1 and checkins[0]["rating"] == 5
    assert checkins[0]["topics"] == ["Generative AI", "Gen Z at work"]
    assert "SessionHeld" in await pairing.types()

    # the back button and "resend the form": the browser posts the same form again; still one check-in
    resent = await page.request.post(
        link, form={"form_id": same_form, "status": "held", "rating": "5", "topics": "Generative AI"}
    )
    assert resent.status == 200 and "Thank you" in await resent.text()
    await page.goto(link)
    assert await page.get_by_role("heading", level=1).inner_text() == "Already recorded"
    await pairing.synced()
    assert len(await pairing.checkins("mentor")) == 1

    # the same link, tampered, in the browser: a plain refusal page
    await page.goto(link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB"))
    assert await page.get_by_role("heading", level=1).inner_text() == "This link is not valid"
    await page.close()


async def test_every_form_in_the_browser_at_phone_width(
    browser: Any, new_pairing: NewPairing, shots: Path
) -> None:
    pairing = await new_pairing()
    page = await browser.new_page(viewport=PHONE)

    async def shoot(name: str) -> None:
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"{name}: the page scrolls sideways at phone width ({width}px)"
        await page.screenshot(path=str(shots / f"{name}.png"), full_page=True)

    async def sent(button: str) -> None:
        await page.get_by_role("button", name=button).click()
        heading = await page.get_by_role("heading", level=1).inner_text()
        assert heading == "Thank you", await page.content()

    for side in ("mentor", "mentee"):
        await page.goto(await _received_link(pairing, side, "propose_goals"))
        for i, goal in enumerate(GOALS):
            await page.locator(f"#goal-{i}-title").fill(goal.title)
            await page.locator(f"#goal-{i}-signal").fill(goal.signal)
        if side == "mentor":
            await shoot("goals")
        await sent("Send my goals")
    await pairing.synced()
    for side in ("mentor", "mentee"):
        await page.goto(await _received_link(pairing, side, "agree_goals"))
        for goal in GOALS:
            assert await page.get_by_label(goal.title, exact=False).is_checked()
        if side == "mentee":
            await shoot("agree-goals")
        await sent("Agree to these goals")
    assert (await pairing.synced()).stage is Stage.SESSIONS

    await pairing.driver.to_next_alarm("checkin_request")
    await pairing.synced()
    await page.goto(await _received_link(pairing, "mentee", "log_session"))
    await shoot("checkin")
    await pairing.driver.act("log_session", LogSession(side="mentor", status=SessionStatus.HELD, rating=4))
    await pairing.synced()

    await page.goto(await _received_link(pairing, "mentee", "fit_check"))
    await shoot("fit-check")
    await page.get_by_label("I am happy to continue with Ava").check()
    await sent("Send my answer")

    await pairing.advance_until("the midpoint review", lambda s: s.stage is Stage.MIDPOINT_REVIEW)
    for side in ("mentor", "mentee"):
        await page.goto(await _received_link(pairing, side, "midpoint"))
        await page.locator("#relationship").get_by_label("4").check()
        await page.locator("#psychological_safety").get_by_label("5").check()
        await page.get_by_label(GOALS[0].title).fill("60")
        await page.get_by_label(GOALS[1].title).fill("45")
        if side == "mentor":
            await shoot("midpoint")
        await sent("Send my review")

    await pairing.advance_until("closeout", lambda s: s.stage is Stage.CLOSEOUT)
    await page.goto(await _received_link(pairing, "mentee", "closeout"))
    await page.get_by_label(GOALS[0].title).fill("90")
    await page.get_by_label(GOALS[1].title).fill("70")
    await page.locator("#satisfaction").get_by_label("5").check()
    await page.get_by_label("How likely are you to recommend").fill("9")
    await page.get_by_label("What do you take away?").fill(
        "Feedback culture is different for younger colleagues"
    )
    await shoot("closeout")
    await sent("Send my survey")
    assert (await pairing.synced()).closeout["mentee"].takeaways.startswith("Feedback culture")

    from datetime import UTC, datetime, timedelta

    from portal.links import link_for

    feedback = link_for(
        pairing.settings,
        pairing.participant("mentee"),
        pairing.pairing_id,
        "feedback",
        datetime.now(UTC) + timedelta(days=7),
    )
    await page.goto(feedback)
    await page.locator("#usefulness").get_by_label("5").check()
    await page.locator("#safe_to_speak").get_by_label("4").check()
    await page.get_by_label("Anything the program team should hear?").fill("Pair more finance leaders")
    await shoot("feedback")
    await page.get_by_role("button", name="Send anonymously").click()
    assert await page.get_by_role("heading", level=1).inner_text() == "Thank you"
    await page.close()
