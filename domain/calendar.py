"""Calendar identity of sessions: stable UIDs and sequence numbers, folded from pairing events.

A calendar client keeps one entry per UID and replaces it when a message carries a higher
SEQUENCE. So each session gets one UID for its whole life; every change to it (rescheduled, shifted
by a pause, cancelled with its pairing) raises the sequence. Invitations sent for the same state
carry the same sequence, so a repeated message updates nothing and duplicates nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from pydantic import AwareDatetime, BaseModel, ConfigDict

from domain.events import Event
from domain.pairing import (
    PairingClosed,
    PairingResumed,
    SessionHeld,
    SessionMissed,
    SessionRescheduled,
    SessionScheduled,
)

# which notices carry which invitations (by template name)
_ONE_SESSION = frozenset({"session_reminder", "session_rescheduled"})
_ALL_PENDING = frozenset({"goals_agreed", "resumed", "extended"})
_CANCELS = frozenset({"closed"})
CALENDAR_TEMPLATES = _ONE_SESSION | _ALL_PENDING | _CANCELS  # notices that may carry invitations


class CalendarEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    session: int
    uid: str
    sequence: int = 0
    start: AwareDatetime
    resolved: bool = False  # held or missed: in the past, never changed again
    cancelled: bool = False


def session_uid(pairing_id: str, session: int) -> str:
    return f"session-{session}.{pairing_id}@tandem"


def session_calendar(pairing_id: str, events: Iterable[Event]) -> dict[int, CalendarEntry]:
    """Session number -> its calendar entry after ``events`` (a pairing stream, or a prefix of it)."""
    entries: dict[int, CalendarEntry] = {}

    def change(number: int, **update: object) -> None:
        entry = entries.get(number)
        if entry is not None:
            entries[number] = entry.model_copy(update={"sequence": entry.sequence + 1, **update})

    for event in events:
        p = event.payload
        match p:
            case SessionScheduled():
                entries[p.session] = CalendarEntry(
                    session=p.session, uid=session_uid(pairing_id, p.session), start=p.at
                )
            case SessionRescheduled():
                change(p.session, start=p.to_at)
            case SessionHeld() | SessionMissed():
                entry = entries.get(p.session)
                if entry is not None:
                    entries[p.session] = entry.model_copy(update={"resolved": True})
            case PairingResumed():
                shift = timedelta(seconds=p.paused_seconds)
                for entry in list(entries.values()):
                    if _open(entry) and shift:
                        change(entry.session, start=entry.start + shift)
            case PairingClosed():
                for entry in list(entries.values()):
                    if _open(entry):
                        change(entry.session, cancelled=True)
    return entries


def _open(entry: CalendarEntry) -> bool:
    return not entry.resolved and not entry.cancelled


def invitations_for(template: str, ref: int | None, entries: dict[int, CalendarEntry]) -> list[CalendarEntry]:
    """The calendar entries a notice carries: the session it is about, every open session when the
    plan changed, or the cancellations when the pairing closed."""
    if template in _ONE_SESSION:
        entry = entries.get(ref) if ref is not None else None
        return [entry] if entry is not None and _open(entry) else []
    if template in _ALL_PENDING:
        return [e for e in entries.values() if _open(e)]
    if template in _CANCELS:
        return [e for e in entries.values() if e.cancelled]
    return []
