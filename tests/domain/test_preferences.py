"""Quiet hours: a notice due inside them goes out when they end, in the participant's own zone."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from domain.preferences import QuietHours, parse_quiet_hours, send_at
from domain.roster_file import parse_roster

BERLIN = ZoneInfo("Europe/Berlin")
NIGHT = QuietHours(start=time(22), end=time(7))


def test_parse() -> None:
    assert parse_quiet_hours(" 22:00-07:30 ") == QuietHours(start=time(22), end=time(7, 30))
    for bad in ("22-7", "25:00-07:00", "22:00", "22:00-22:00", "x"):
        with pytest.raises(ValueError, match="quiet hours"):
            parse_quiet_hours(bad)


def test_outside_quiet_hours_is_now() -> None:
    now = datetime(2027, 1, 11, 12, 0, tzinfo=UTC)  # 13:00 in Berlin
    assert send_at(NIGHT, BERLIN, now) == now
    assert send_at(None, BERLIN, now) == now


def test_evening_waits_until_next_morning_local() -> None:
    now = datetime(2027, 1, 11, 22, 30, tzinfo=UTC)  # 23:30 in Berlin (UTC+1)
    assert send_at(NIGHT, BERLIN, now) == datetime(2027, 1, 12, 6, 0, tzinfo=UTC)


def test_early_morning_waits_until_the_end_the_same_day() -> None:
    now = datetime(2027, 7, 12, 1, 0, tzinfo=UTC)  # 03:00 in Berlin (UTC+2, summer)
    assert send_at(NIGHT, BERLIN, now) == datetime(2027, 7, 12, 5, 0, tzinfo=UTC)


def test_daytime_window() -> None:
    lunch = QuietHours(start=time(12), end=time(13))
    tokyo = ZoneInfo("Asia/Tokyo")
    now = datetime(2027, 3, 1, 3, 15, tzinfo=UTC)  # 12:15 in Tokyo
    assert send_at(lunch, tokyo, now) == datetime(2027, 3, 1, 4, 0, tzinfo=UTC)


def test_roster_columns_are_optional_and_checked() -> None:
    head = (
        "email,name,role,title,department,level,manager_email,skills_offered,skills_wanted,"
        "communication_style,timezone,notify_via,quiet_hours\n"
    )
    rows = (
        "a@x.org,Ann,mentor,Analyst,Ops,2,,genai,finance,direct,Europe/Berlin,email,22:00-07:00\n"
        "b@x.org,Bob,mentee,CFO,Finance,9,,finance,genai,direct,Europe/Berlin,,\n"
    )
    people = parse_roster(
        head + rows, "r.csv", program_id="rm-x", known_timezones=frozenset({"Europe/Berlin"})
    )
    assert people[0].notify_via == "email" and people[0].quiet_hours == NIGHT
    assert people[1].notify_via is None and people[1].quiet_hours is None
    bad = rows.replace("email,22:00-07:00", "pigeon,late")
    with pytest.raises(Exception) as info:
        parse_roster(head + bad, "r.csv", program_id="rm-x", known_timezones=frozenset({"Europe/Berlin"}))
    text = str(info.value)
    assert "r.csv:2:12: notify_via 'pigeon' must be one of email, webhook, console or empty" in text
    assert "r.csv:2:13: quiet hours 'late' must look like 22:00-07:00" in text
