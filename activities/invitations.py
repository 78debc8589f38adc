"""Session invitations as iCalendar (RFC 5545/5546) objects, one per session.

Times are written in the participant's own time zone (with its VTIMEZONE), so their calendar shows
the local hour. UID and SEQUENCE come from :mod:`domain.calendar`: the same session always has the
same UID, a change raises the sequence, a cancelled pairing sends METHOD:CANCEL. DTSTAMP is the time of
the event that caused the notice, so a repeated send produces a byte-identical invitation.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, vCalAddress, vText

from activities.channels import Attachment
from domain.calendar import CalendarEntry


def invitation(
    entry: CalendarEntry,
    *,
    zone: str,
    minutes: int,
    title: str,
    description: str,
    organizer: str,
    attendee: str,
    attendee_name: str,
    stamp: datetime,
) -> Attachment:
    method = "CANCEL" if entry.cancelled else "REQUEST"
    cal = Calendar()
    cal.add("prodid", "-//Tandem//Reverse mentoring//EN")
    cal.add("version", "2.0")
    cal.add("method", method)
    event = Event()
    tz = ZoneInfo(zone)
    start = entry.start.astimezone(tz)
    event.add("uid", entry.uid)
    event.add("sequence", entry.sequence)
    event.add("dtstamp", stamp)
    event.add("dtstart", start)
    event.add("dtend", start + timedelta(minutes=minutes))
    event.add("summary", title)
    event.add("description", description)
    event.add("status", "CANCELLED" if entry.cancelled else "CONFIRMED")
    org = vCalAddress(f"mailto:{organizer}")
    org.params["cn"] = vText("Tandem")
    event.add("organizer", org)
    who = vCalAddress(f"mailto:{attendee}")
    who.params["cn"] = vText(attendee_name)
    who.params["role"] = vText("REQ-PARTICIPANT")
    who.params["rsvp"] = vText("FALSE")
    event.add("attendee", who)
    cal.add_component(event)
    # the zone's rules around the session only: the default (1970-2038) makes every invitation ~4 kB
    cal.add_missing_timezones(
        first_date=(start - timedelta(days=400)).date(), last_date=(start + timedelta(days=400)).date()
    )
    return Attachment(
        filename=f"session-{entry.session}.ics",
        content=cal.to_ical(),
        content_type=f"text/calendar; method={method}; charset=UTF-8",
    )
