"""Every other form through real HTTP: its happy path, a bad value, and its link used up afterwards."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
import pytest

from activities.record import load_stream
from domain.feedback import feedback_stream, replay_feedback, summarize_feedback
from domain.pairing import LogSession, SessionStatus, Stage
from tests.portal.conftest import GOALS, PortalPairing, form_id

pytestmark = pytest.mark.stack
NewPairing = Callable[..., Awaitable[PortalPairing]]


def _error(html: str, name: str) -> str:
    assert f'id="{name}-error"' in html, html
    return html.split(f'id="{name}-error">', 1)[1].split("</p>", 1)[0]


async def _post(http: httpx.AsyncClient, url: str, **fields: str | list[str]) -> httpx.Response:
    page = await http.get(url)
    assert page.status_code == 200, page.text
    return await http.post(url, data={"form_id": form_id(page.text), **fields})


async def test_goals_are_proposed_and_agreed_through_the_portal(
    http: httpx.AsyncClient, new_pairing: NewPairing
) -> None:
    pairing = await new_pairing()
    mentor = pairing.link("mentor", "propose_goals")

    # a goal without its signal, and a goal listed twice: both refused, nothing recorded
    bad = await _post(http, mentor, **{"goal-0-title": "Learn TikTok"})
    assert bad.status_code == 422 and "Please fill this in." in _error(bad.text, "goal-0-signal")
    twice = await _post(
        http,
        mentor,
        **{"goal-0-title": "A", "goal-0-signal": "b", "goal-2-title": "a", "goal-2-signal": "B"},
    )
    assert twice.status_code == 422 and "the same goal is listed twice" in _error(twice.text, "goals")
    assert "GoalsProposed" not in await pairing.types()

    for side in ("mentor", "mentee"):
        fields = {}
        for i, goal in enumerate(GOALS):
            fields[f"goal-{i}-title"] = goal.title
            fields[f"goal-{i}-signal"] = goal.signal
        ok = await _post(http, pairing.link(side, "propose_goals"), **fields)
        assert ok.status_code == 200 and "Thank you" in ok.text, ok.text
    await pairing.synced()

    agree = pairing.link("mentor", "agree_goals")
    page = await http.get(agree)
    assert page.status_code == 200 and GOALS[0].title in page.text and 'type="checkbox"' in page.text
    values = [v.split('"', 1)[0] for v in page.text.split('name="goal" value="')[1:]]
    assert len(values) == 2  # both sides proposed the same two goals: listed once each
    none = await http.post(agree, data={"form_id": form_id(page.text)})
    assert none.status_code == 422 and "1 to 5 goals, not 0" in _error(none.text, "goals")
    forged = await http.post(agree, data={"form_id": form_id(page.text), "goal": "bm90IGEgZ29hbA=="})
    assert forged.status_code == 422
    for side in ("mentor", "mentee"):
        ok = await _post(http, pairing.link(side, "agree_goals"), goal=values)
        assert ok.status_code == 200 and "Thank you" in ok.text, ok.text
    state = await pairing.synced()
    assert state.stage is Stage.SESSIONS and [g.title for g in state.goals] == [g.title for g in GOALS]
    used = await http.get(agree)
    assert used.status_code == 410 and "Your goals are agreed." in used.text


async def test_fit_check_is_confidential_and_answered_once(
    http: httpx.AsyncClient, new_pairing: NewPairing
) -> None:
    pairing = await new_pairing(goals=True)
    url = pairing.link("mentee", "fit_check")
    early = await http.get(url)
    assert early.status_code == 200  # the form shows; the workflow decides whether it is open
    not_open = await http.post(url, data={"form_id": form_id(early.text), "wants_new_partner": "yes"})
    assert not_open.status_code == 422 and "opens after the first held session" in not_open.text

    await pairing.driver.to_next_alarm("checkin_request")
    await pairing.driver.act("log_session", LogSession(side="mentor", status=SessionStatus.HELD, rating=4))
    await pairing.synced()
    page = await http.get(url)
    assert "with Ava." in page.text and "will never see your answer" in page.text
    missing = await http.post(url, data={"form_id": form_id(page.text)})
    assert missing.status_code == 422 and "Choose one" in _error(missing.text, "wants_new_partner")
    ok = await http.post(url, data={"form_id": form_id(page.text), "wants_new_partner": "yes"})
    assert ok.status_code == 200 and "Thank you" in ok.text
    state = await pairing.synced()
    assert state.fit_check == {"mentee": True}
    assert (await http.get(url)).status_code == 410
    # the partner's own fit-check page says nothing of it
    partner = await http.get(pairing.link("mentor", "fit_check"))
    assert partner.status_code == 200 and "new partner" in partner.text  # the question, not the answer
    assert "already" not in partner.text.lower()


async def test_midpoint_and_closeout_surveys(http: httpx.AsyncClient, new_pairing: NewPairing) -> None:
    pairing = await new_pairing(goals=True)
    await pairing.advance_until("the midpoint review", lambda s: s.stage is Stage.MIDPOINT_REVIEW)
    await pairing.synced()
    url = pairing.link("mentor", "midpoint")
    page = await http.get(url)
    assert page.status_code == 200 and all(g.title in page.text for g in GOALS)
    bad = await http.post(
        url,
        data={
            "form_id": form_id(page.text),
            "relationship": "4",
            "psychological_safety": "9",
            "progress-0": "50",
            "progress-1": "150",
        },
    )
    assert bad.status_code == 422
    assert "psychological_safety is rated from 1 to 5, not 9" in _error(bad.text, "psychological_safety")
    for side in ("mentor", "mentee"):
        ok = await _post(
            http,
            pairing.link(side, "midpoint"),
            relationship="4",
            psychological_safety="5",
            **{"progress-0": "60", "progress-1": "40"},
        )
        assert ok.status_code == 200 and "Thank you" in ok.text, ok.text
    assert (await http.get(url)).status_code == 410

    await pairing.advance_until("the midpoint decision", lambda s: s.midpoint_decision is not None)
    await pairing.advance_until("closeout", lambda s: s.stage is Stage.CLOSEOUT)
    state = await pairing.synced()
    assert state.stage is Stage.CLOSEOUT
    url = pairing.link("mentee", "closeout")
    page = await http.get(url)
    bad = await http.post(
        url,
        data={
            "form_id": form_id(page.text),
            "attainment-0": "80",
            "attainment-1": "70",
            "satisfaction": "5",
            "would_recommend": "11",
        },
    )
    assert bad.status_code == 422 and "not 11" in _error(bad.text, "would_recommend")
    short = await http.post(
        url,
        data={
            "form_id": form_id(page.text),
            "attainment-0": "80",
            "satisfaction": "5",
            "would_recommend": "9",
        },
    )
    assert short.status_code == 422 and "Please fill this in." in _error(short.text, "attainment-1")
    ok = await http.post(
        url,
        data={
            "form_id": form_id(page.text),
            "attainment-0": "80",
            "attainment-1": "70",
            "satisfaction": "5",
            "would_recommend": "9",
            "takeaways": "Generative AI at work",
        },
    )
    assert ok.status_code == 200 and "Thank you" in ok.text
    state = await pairing.synced()
    assert state.closeout["mentee"].would_recommend == 9
    assert (await http.get(url)).status_code == 410


async def test_program_feedback_is_anonymous_once_per_person_and_aggregated_from_five(
    http: httpx.AsyncClient, new_pairing: NewPairing
) -> None:
    pairing = await new_pairing()
    url = pairing.link("mentor", "feedback")
    bad = await _post(http, url, usefulness="0", safe_to_speak="4")
    assert bad.status_code == 422 and "usefulness is rated from 1 to 5, not 0" in _error(
        bad.text, "usefulness"
    )
    missing = await _post(http, url, usefulness="3")
    assert missing.status_code == 422 and "Please fill this in." in _error(missing.text, "safe_to_speak")
    ok = await _post(http, url, usefulness="4", safe_to_speak="3", comment="More time with the CFO")
    assert ok.status_code == 200 and "without your name" in ok.text
    assert (await http.get(url)).status_code == 410  # the same person cannot answer twice ...
    fresh = await http.post(url, data={"form_id": "y" * 20, "usefulness": "1", "safe_to_speak": "1"})
    assert fresh.status_code == 200 and "Already recorded" in fresh.text  # ... even with a new link's form

    program_id = pairing.inp.program_id
    events = await load_stream(pairing.store, feedback_stream(program_id))
    assert len(events) == 1
    stored = events[0].model_dump_json()
    for identifying in (pairing.participant("mentor"), pairing.participant("mentee"), "mentor", "Ava"):
        assert identifying not in stored
    assert events[0].occurred_at.hour == 0 and events[0].occurred_at.minute == 0  # the day only
    summary = summarize_feedback(replay_feedback(program_id, events))
    assert summary.withheld and summary.usefulness_mean is None and summary.comments == ()

    partner = await _post(http, pairing.link("mentee", "feedback"), usefulness="5", safe_to_speak="5")
    assert partner.status_code == 200
    events = await load_stream(pairing.store, feedback_stream(program_id))
    assert len({e.payload.respondent for e in events}) == 2  # type: ignore[attr-defined]
