"""Participant notification preferences: which channel, and quiet hours in their own time zone.

Pure: the caller passes the participant's ``tzinfo`` (built from the roster's IANA name) and the
current time, so the rule "a notice due in quiet hours goes out when they end" is testable without a
clock or the time-zone database.
"""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta, tzinfo

from pydantic import BaseModel, ConfigDict, model_validator

_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


class QuietHours(BaseModel):
    """A daily local window with no notifications, e.g. 22:00-07:00 (it may cross midnight)."""

    model_config = ConfigDict(frozen=True)

    start: time
    end: time

    @model_validator(mode="after")
    def _not_empty(self) -> QuietHours:
        if self.start == self.end:
            raise ValueError("quiet hours must not start and end at the same time")
        return self

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"

    def contains(self, local: time) -> bool:
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end  # crosses midnight


def parse_quiet_hours(text: str) -> QuietHours:
    """``"22:00-07:00"`` -> QuietHours; ValueError with the expected shape otherwise."""
    parts = text.strip().split("-")
    matches = [_HHMM.match(p.strip()) for p in parts] if len(parts) == 2 else []
    if len(matches) != 2 or not all(matches):
        raise ValueError(f"quiet hours {text!r} must look like 22:00-07:00 (local HH:MM-HH:MM)")
    start, end = (time(int(m.group(1)), int(m.group(2))) for m in matches if m is not None)
    if start == end:
        raise ValueError(f"quiet hours {text!r} start and end at the same time")
    return QuietHours(start=start, end=end)


def send_at(quiet: QuietHours | None, zone: tzinfo, now: datetime) -> datetime:
    """When a notice due ``now`` may go out: ``now``, or the end of the quiet hours it falls in.

    The end is a local wall-clock time, so it follows daylight-saving changes of ``zone``; the result
    is in UTC like ``now``'s instant.
    """
    if now.tzinfo is None:
        raise ValueError("now must be time-zone aware")
    if quiet is None:
        return now
    local = now.astimezone(zone)
    if not quiet.contains(local.time().replace(tzinfo=None)):
        return now
    day = local.date()
    if quiet.start > quiet.end and local.time().replace(tzinfo=None) >= quiet.start:
        day = day + timedelta(days=1)  # in the evening part of an overnight window: ends tomorrow
    end = datetime.combine(day, quiet.end, tzinfo=zone)
    # a wall-clock end inside a DST gap or fold: normalising through UTC picks the real instant
    return end.astimezone(now.tzinfo).astimezone(now.tzinfo)
