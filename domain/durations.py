"""ISO-8601 durations with calendar-aware arithmetic (``P6M`` is six calendar months, not 180 days)."""

from __future__ import annotations

import calendar
import re
from datetime import datetime, timedelta
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, WithJsonSchema

_PATTERN = re.compile(
    r"^P(?!$)(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$"
)
_MAX_PART = 100_000


class DurationError(ValueError):
    """Raised for text that is not an ISO-8601 duration we accept."""


class IsoDuration(BaseModel):
    """A non-negative ISO-8601 duration; months and years are calendar units."""

    model_config = ConfigDict(frozen=True)

    years: int = Field(0, ge=0)
    months: int = Field(0, ge=0)
    weeks: int = Field(0, ge=0)
    days: int = Field(0, ge=0)
    hours: int = Field(0, ge=0)
    minutes: int = Field(0, ge=0)
    seconds: int = Field(0, ge=0)

    @classmethod
    def parse(cls, text: str) -> IsoDuration:
        if not isinstance(text, str):
            raise DurationError(f"expected an ISO-8601 duration such as P2W, got {text!r}")
        match = _PATTERN.match(text.strip().upper())
        if match is None:
            raise DurationError(f"{text!r} is not an ISO-8601 duration (examples: P6M, P2W, P3D, PT12H)")
        parts = {k: int(v) for k, v in match.groupdict().items() if v is not None}
        if any(v > _MAX_PART for v in parts.values()):
            raise DurationError(f"{text!r} is unreasonably long")
        return cls(**parts)

    def __str__(self) -> str:
        date = "".join(
            f"{v}{u}"
            for v, u in ((self.years, "Y"), (self.months, "M"), (self.weeks, "W"), (self.days, "D"))
            if v
        )
        time = "".join(
            f"{v}{u}" for v, u in ((self.hours, "H"), (self.minutes, "M"), (self.seconds, "S")) if v
        )
        if not date and not time:
            return "PT0S"
        return "P" + date + ("T" + time if time else "")

    @property
    def is_zero(self) -> bool:
        return not any(
            (self.years, self.months, self.weeks, self.days, self.hours, self.minutes, self.seconds)
        )

    def fixed_part(self) -> timedelta:
        """The part without calendar units (weeks and below)."""
        return timedelta(
            weeks=self.weeks, days=self.days, hours=self.hours, minutes=self.minutes, seconds=self.seconds
        )

    def add_to(self, moment: datetime) -> datetime:
        """Calendar addition: months first (clamping the day, 31 Jan + P1M = 28/29 Feb), then the rest."""
        total_months = moment.month - 1 + self.months + 12 * self.years
        year = moment.year + total_months // 12
        month = total_months % 12 + 1
        day = min(moment.day, calendar.monthrange(year, month)[1])
        return moment.replace(year=year, month=month, day=day) + self.fixed_part()

    def subtract_from(self, moment: datetime) -> datetime:
        total_months = moment.month - 1 - self.months - 12 * self.years
        year = moment.year + total_months // 12
        month = total_months % 12 + 1
        day = min(moment.day, calendar.monthrange(year, month)[1])
        return moment.replace(year=year, month=month, day=day) - self.fixed_part()

    def approx(self) -> timedelta:
        """Length with a 30-day month and a 365-day year, for comparisons and fractions only."""
        return timedelta(days=365 * self.years + 30 * self.months) + self.fixed_part()


def _coerce(value: Any) -> Any:
    if isinstance(value, IsoDuration):
        return value
    if isinstance(value, str):
        return IsoDuration.parse(value)
    if isinstance(value, dict):
        return value
    raise DurationError(f"expected an ISO-8601 duration such as P2W, got {value!r}")


Duration = Annotated[
    IsoDuration,
    BeforeValidator(_coerce),
    PlainSerializer(str, return_type=str),
    WithJsonSchema({"type": "string", "format": "duration"}),
]
"""Field type: accepts ``"P2W"`` text, serialises back to text."""
