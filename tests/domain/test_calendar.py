"""Session calendar identity: one UID per session for life, a higher sequence for every change."""

from __future__ import annotations

from domain.calendar import invitations_for, session_calendar, session_uid
from domain.pairing import SessionStatus, Withdraw
from tests.domain.pairing_helpers import PAIRING_ID, Driver, days


def test_scheduled_session_gets_a_stable_uid_and_sequence_zero() -> None:
    d = Driver()
    d.agree()
    entries = session_calendar(PAIRING_ID, d.events)
    assert list(entries) == [1]
    assert entries[1].uid == session_uid(PAIRING_ID, 1)
    assert entries[1].sequence == 0
    assert invitations_for("goals_agreed", None, entries) == [entries[1]]


def test_reschedule_keeps_the_uid_and_raises_the_sequence() -> None:
    d = Driver()
    d.agree()
    before = session_calendar(PAIRING_ID, d.events)[1]
    d.to_session(1)
    moved_to = d.now + days(2)
    d.checkin("mentor", SessionStatus.RESCHEDULED, rescheduled_to=moved_to)
    after = session_calendar(PAIRING_ID, d.events)[1]
    assert after.uid == before.uid
    assert after.sequence == before.sequence + 1
    assert after.start == moved_to
    assert invitations_for("session_rescheduled", 1, {1: after}) == [after]
    # a prefix of the stream gives the entry as it was then: a replayed notice says the same thing
    assert session_calendar(PAIRING_ID, d.events[: len(d.events) - 2])[1] == before


def test_closing_cancels_open_sessions_only() -> None:
    d = Driver()
    d.agree()
    d.hold_session()  # session 1 held, session 2 scheduled
    d.do(Withdraw(side="mentee", reason="moved on"))
    entries = session_calendar(PAIRING_ID, d.events)
    assert entries[1].resolved and not entries[1].cancelled and entries[1].sequence == 0
    assert entries[2].cancelled and entries[2].sequence == 1
    assert invitations_for("closed", None, entries) == [entries[2]]
    assert invitations_for("session_reminder", 2, entries) == []  # never re-invite a cancelled one


def test_notices_without_sessions_carry_nothing() -> None:
    d = Driver()
    entries = session_calendar(PAIRING_ID, d.events)
    assert entries == {}
    assert invitations_for("welcome", None, entries) == []
