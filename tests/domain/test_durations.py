"""ISO-8601 durations: parsing, printing, calendar arithmetic and the ``Duration`` field type."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from domain.durations import Duration, DurationError, IsoDuration


def at(y: int, m: int, d: int, h: int = 9) -> datetime:
    return datetime(y, m, d, h, tzinfo=UTC)


# -- parsing and printing ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("P6M", IsoDuration(months=6)),
        ("P2W", IsoDuration(weeks=2)),
        ("P3D", IsoDuration(days=3)),
        ("PT12H", IsoDuration(hours=12)),
        ("PT30M", IsoDuration(minutes=30)),
        ("P1M", IsoDuration(months=1)),
        ("P1Y2M3W4DT5H6M7S", IsoDuration(years=1, months=2, weeks=3, days=4, hours=5, minutes=6, seconds=7)),
        ("p1dt12h", IsoDuration(days=1, hours=12)),
        ("  P2W  ", IsoDuration(weeks=2)),
        ("P0D", IsoDuration()),
    ],
)
def test_parse_accepts_iso_durations(text: str, expected: IsoDuration) -> None:
    assert IsoDuration.parse(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "P", "PT", "6M", "P1.5D", "-P1D", "P-1D", "P1D2M", "P1WT", "P2W ago", "PT1D", "P1H", "1 week"],
)
def test_parse_refuses_anything_else_with_examples(text: str) -> None:
    with pytest.raises(DurationError, match="is not an ISO-8601 duration"):
        IsoDuration.parse(text)


def test_parse_refuses_non_text() -> None:
    with pytest.raises(DurationError, match="expected an ISO-8601 duration such as P2W, got 14"):
        IsoDuration.parse(14)  # type: ignore[arg-type]


def test_parse_refuses_unreasonably_long_parts() -> None:
    assert IsoDuration.parse("P100000D").days == 100_000
    with pytest.raises(DurationError, match="unreasonably long"):
        IsoDuration.parse("P100001D")


@pytest.mark.parametrize(
    ("period", "iso_form"),
    [
        (IsoDuration(months=6), "P6M"),
        (IsoDuration(years=1, days=2), "P1Y2D"),
        (IsoDuration(hours=1, seconds=5), "PT1H5S"),
        (IsoDuration(weeks=1, minutes=30), "P1WT30M"),
        (IsoDuration(), "PT0S"),
    ],
)
def test_str_prints_the_shortest_iso_form(period: IsoDuration, iso_form: str) -> None:
    """Text formatting of a program-file period (no clock is read): it prints short and parses back."""
    assert str(period) == iso_form
    assert IsoDuration.parse(iso_form) == period


def test_is_zero() -> None:
    assert IsoDuration().is_zero and IsoDuration.parse("PT0S").is_zero and IsoDuration.parse("P0Y0M").is_zero
    assert not IsoDuration(seconds=1).is_zero and not IsoDuration(years=1).is_zero


def test_negative_parts_are_refused() -> None:
    """A duration is never negative: one built from parts (e.g. JSON ``{"days": -3}``) is refused too,
    otherwise it could be recorded in an event as ``P-3D``, which no longer parses on load."""
    with pytest.raises(ValidationError):
        IsoDuration(days=-3)
    with pytest.raises(ValidationError):
        IsoDuration.model_validate({"months": -1})


parts = st.integers(min_value=0, max_value=400)


@settings(max_examples=150)
@given(parts, parts, parts, parts, parts, parts, parts)
def test_text_round_trips(y: int, mo: int, w: int, d: int, h: int, mi: int, s: int) -> None:
    duration = IsoDuration(years=y, months=mo, weeks=w, days=d, hours=h, minutes=mi, seconds=s)
    assert IsoDuration.parse(str(duration)) == duration


# -- calendar arithmetic ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "text", "end"),
    [
        (at(2027, 1, 31), "P1M", at(2027, 2, 28)),
        (at(2028, 1, 31), "P1M", at(2028, 2, 29)),
        (at(2027, 1, 4), "P6M", at(2027, 7, 4)),
        (at(2027, 8, 31), "P6M", at(2028, 2, 29)),
        (at(2027, 11, 15), "P2M", at(2028, 1, 15)),
        (at(2027, 12, 1), "P1M", at(2028, 1, 1)),
        (at(2028, 2, 29), "P1Y", at(2029, 2, 28)),
        (at(2027, 1, 4), "P2W", at(2027, 1, 18)),
        (at(2027, 1, 31), "P1M1D", at(2027, 3, 1)),
        (at(2027, 1, 1), "PT36H", at(2027, 1, 2, 21)),
        (at(2027, 1, 1), "P1Y13M", at(2029, 2, 1)),
    ],
)
def test_add_to_adds_calendar_months_then_the_rest(start: datetime, text: str, end: datetime) -> None:
    assert IsoDuration.parse(text).add_to(start) == end


@pytest.mark.parametrize(
    ("start", "text", "end"),
    [
        (at(2027, 3, 31), "P1M", at(2027, 2, 28)),
        (at(2028, 3, 31), "P1M", at(2028, 2, 29)),
        (at(2027, 1, 15), "P1M", at(2026, 12, 15)),
        (at(2027, 1, 25), "P1W", at(2027, 1, 18)),
        (at(2027, 1, 25), "P2D", at(2027, 1, 23)),
        (at(2027, 1, 1), "PT12H", at(2026, 12, 31, 21)),
        (at(2029, 2, 28), "P1Y", at(2028, 2, 28)),
        (at(2027, 7, 4), "P14M", at(2026, 5, 4)),
    ],
)
def test_subtract_from_goes_back_by_calendar_months(start: datetime, text: str, end: datetime) -> None:
    assert IsoDuration.parse(text).subtract_from(start) == end


def test_time_zone_is_kept() -> None:
    start = at(2027, 1, 31)
    assert IsoDuration.parse("P1M").add_to(start).tzinfo is UTC


@settings(max_examples=150)
@given(
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.just(UTC)),
    st.integers(0, 60),
    st.integers(0, 500),
    st.integers(0, 100_000),
)
def test_fixed_parts_subtract_back_and_whole_durations_move_forward(
    moment: datetime, months: int, days: int, seconds: int
) -> None:
    fixed = IsoDuration(days=days, seconds=seconds)
    assert fixed.subtract_from(fixed.add_to(moment)) == moment
    assert fixed.add_to(moment) - moment == fixed.fixed_part() == fixed.approx()
    whole = IsoDuration(months=months, days=days, seconds=seconds)
    assert whole.add_to(moment) >= moment >= whole.subtract_from(moment)


def test_fixed_part_and_approx() -> None:
    d = IsoDuration.parse("P1Y2M3W4DT5H6M7S")
    assert d.fixed_part() == timedelta(weeks=3, days=4, hours=5, minutes=6, seconds=7)
    assert d.approx() == timedelta(days=365 + 60) + d.fixed_part()


# -- the Duration field type -----------------------------------------------------------------------------


class Settings(BaseModel):
    every: Duration


def test_the_field_accepts_text_durations_and_parts() -> None:
    assert Settings(every="P2W").every == IsoDuration(weeks=2)  # type: ignore[arg-type]
    assert Settings(every=IsoDuration(days=3)).every == IsoDuration(days=3)
    assert Settings.model_validate({"every": {"days": 3}}).every == IsoDuration(days=3)


def test_the_field_serialises_back_to_text() -> None:
    s = Settings(every="P1M2W")  # type: ignore[arg-type]
    assert s.model_dump() == {"every": "P1M2W"}
    assert s.model_dump_json() == '{"every":"P1M2W"}'
    assert Settings.model_validate_json(s.model_dump_json()) == s
    assert Settings.model_json_schema()["properties"]["every"] == {"type": "string", "format": "duration"}


@pytest.mark.parametrize("value", [14, 2.5, None, ["P2W"], "two weeks"])
def test_the_field_refuses_other_values_clearly(value: object) -> None:
    with pytest.raises(ValidationError, match="ISO-8601 duration"):
        Settings.model_validate({"every": value})
