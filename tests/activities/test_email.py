"""The email channel against a real SMTP server on loopback: readable mail, valid invitations."""

from __future__ import annotations

import os
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

from icalendar import Calendar

from activities.channels.smtp import message_id
from activities.outbox import Outbox
from domain.pairing import SessionStatus
from domain.preferences import parse_quiet_hours
from eventstore import EventStore
from tests.activities.conftest import Clock, SmtpSink, seed_program
from tests.domain.pairing_helpers import T0


def email_settings(sink: SmtpSink) -> dict[str, object]:
    return {
        "channel": "email",
        "email": {"host": "127.0.0.1", "port": sink.port, "sender": "tandem@example.org"},
        "retry": {"initial_seconds": 1, "max_seconds": 2},
    }


def keep(mail: EmailMessage, name: str) -> None:
    """With TANDEM_TEST_MAIL_DIR set, keep a received message for a human to read."""
    folder = os.environ.get("TANDEM_TEST_MAIL_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        (Path(folder) / name).write_bytes(mail.as_bytes())


def invitation_of(mail) -> Calendar:  # type: ignore[no-untyped-def]
    parts = [p for p in mail.iter_attachments() if p.get_content_type() == "text/calendar"]
    assert len(parts) == 1, [p.get_content_type() for p in mail.iter_attachments()]
    return Calendar.from_ical(parts[0].get_content())


async def test_session_reminder_arrives_with_a_valid_invitation_and_a_reschedule_updates_it(
    outbox_store: EventStore, smtp_sink: SmtpSink
) -> None:
    program = await seed_program(outbox_store, email_settings(smtp_sink))
    clock = Clock(T0)
    outbox = Outbox(outbox_store, clock=clock)
    d = program.driver
    d.agree()
    d.run_until(d.state.sessions[0].at - timedelta(hours=1))  # the session reminder fires on the way
    notices = await program.publish(outbox)
    reminder = next(n for n in notices if n.template == "session_reminder" and n.recipient == "mentor")
    clock.now = d.now
    await outbox.dispatch_due()

    [mail] = smtp_sink.with_id(message_id(reminder.key))
    assert mail["To"] == "Ana <ana@example.org>"
    assert mail["Subject"] == "[Pilot] Session reminder"
    text = mail.get_body(("plain",)).get_content()
    assert "Hello Ana," in text and "Session 1:" in text and "(Europe/Berlin)" in text
    assert "<p>Hello Ana,</p>" in mail.get_body(("html",)).get_content()
    cal = invitation_of(mail)
    assert cal["METHOD"] == "REQUEST"
    [event] = cal.walk("VEVENT")
    [zone] = cal.walk("VTIMEZONE")
    assert str(zone["TZID"]) == "Europe/Berlin"
    start = event.decoded("DTSTART")
    assert str(start.tzinfo) == "Europe/Berlin" and start == d.state.sessions[0].at
    uid, sequence = str(event["UID"]), int(event["SEQUENCE"])
    assert uid == f"session-1.{program.pairing_id}@tandem"

    # the mentee's copy is in New York time, same UID
    mentee_mail = smtp_sink.with_id(message_id(reminder.key.replace(":mentor", ":mentee")))
    [mentee_event] = invitation_of(mentee_mail[0]).walk("VEVENT")
    assert str(mentee_event.decoded("DTSTART").tzinfo) == "America/New_York"
    assert str(mentee_event["UID"]) == uid

    # rescheduled: the same UID with a higher SEQUENCE, at the new time
    d.to_session(1)
    moved = d.now + timedelta(days=2)
    d.checkin("mentor", SessionStatus.RESCHEDULED, rescheduled_to=moved)
    notices = await program.publish(outbox)
    moved_notice = next(n for n in notices if n.template == "session_rescheduled" and n.recipient == "mentor")
    clock.now = d.now
    await outbox.dispatch_due()
    [update] = smtp_sink.with_id(message_id(moved_notice.key))
    [event2] = invitation_of(update).walk("VEVENT")
    assert str(event2["UID"]) == uid
    assert int(event2["SEQUENCE"]) > sequence
    assert event2.decoded("DTSTART") == moved

    keep(mail, "reminder.eml")
    keep(update, "rescheduled.eml")

    # publishing and dispatching again (a retried or replayed activity) sends nothing more
    before = len(smtp_sink.messages)
    assert await outbox.enqueue(notices, "email") == 0
    assert await outbox.dispatch_due() == 0
    assert len(smtp_sink.messages) == before


async def test_withdrawal_cancels_future_sessions(outbox_store: EventStore, smtp_sink: SmtpSink) -> None:
    from domain.pairing import Withdraw

    program = await seed_program(outbox_store, email_settings(smtp_sink))
    outbox = Outbox(outbox_store, clock=Clock(T0))
    d = program.driver
    d.agree()
    d.hold_session()
    d.do(Withdraw(side="mentee", reason="left the company"))
    notices = await program.publish(outbox)
    outbox.clock = Clock(d.now)
    await outbox.dispatch_due()
    closed = next(n for n in notices if n.template == "closed" and n.recipient == "mentor")
    [mail] = smtp_sink.with_id(message_id(closed.key))
    cal = invitation_of(mail)
    assert cal["METHOD"] == "CANCEL"
    [event] = cal.walk("VEVENT")
    assert str(event["UID"]) == f"session-2.{program.pairing_id}@tandem"
    assert str(event["STATUS"]) == "CANCELLED" and int(event["SEQUENCE"]) == 1
    assert "left the company" not in mail.get_body(("plain",)).get_content()  # the reason stays private


async def test_refused_address_is_permanent_and_not_retried(
    outbox_store: EventStore, smtp_sink: SmtpSink
) -> None:
    program = await seed_program(outbox_store, email_settings(smtp_sink))
    smtp_sink.refuse.add("ana@example.org")
    clock = Clock(T0)
    outbox = Outbox(outbox_store, clock=clock)
    notices = await program.publish(outbox)  # welcome to both
    await outbox.dispatch_due()
    clock.now = T0 + timedelta(hours=1)
    assert await outbox.dispatch_due() == 0  # nothing retried
    row = await outbox_store.pool.fetchrow(
        "SELECT failed_at, last_error, attempts FROM notifications WHERE key = $1",
        next(n.key for n in notices if n.recipient == "mentor"),
    )
    assert row["failed_at"] is not None and row["attempts"] == 1
    assert row["last_error"] == "recipient refused by the mail server (550)"
    assert [m["To"] for m in smtp_sink.messages] == ["Bob <bob@example.org>"]


async def test_quiet_hours_hold_a_notice_until_they_end(
    outbox_store: EventStore, smtp_sink: SmtpSink
) -> None:
    # T0 is Monday 09:00 UTC = 10:00 in Berlin; quiet 09:30-12:00 Berlin time holds Ana's welcome
    program = await seed_program(
        outbox_store, email_settings(smtp_sink), mentor_quiet=parse_quiet_hours("09:30-12:00")
    )
    clock = Clock(T0)
    outbox = Outbox(outbox_store, clock=clock)
    await program.publish(outbox)
    await outbox.dispatch_due()
    assert [m["To"] for m in smtp_sink.messages] == ["Bob <bob@example.org>"]
    clock.now = T0 + timedelta(minutes=59)  # 10:59 Berlin: still quiet
    assert await outbox.dispatch_due() == 0
    clock.now = T0 + timedelta(hours=2)  # 11:00 UTC = 12:00 Berlin: quiet hours over
    await outbox.dispatch_due()
    assert [m["To"] for m in smtp_sink.messages] == ["Bob <bob@example.org>", "Ana <ana@example.org>"]


async def test_mail_server_down_delays_and_then_delivers_once(
    outbox_store: EventStore, smtp_sink: SmtpSink
) -> None:
    program = await seed_program(outbox_store, email_settings(smtp_sink))
    clock = Clock(T0)
    outbox = Outbox(outbox_store, clock=clock)
    await program.publish(outbox)
    smtp_sink.controller.stop()
    await outbox.dispatch_due()  # connection refused: transient
    row = await outbox_store.pool.fetchrow(
        "SELECT count(*) AS n, max(last_error) AS error FROM notifications "
        "WHERE program_id = $1 AND delivered_at IS NULL AND failed_at IS NULL",
        program.config.id,
    )
    assert row["n"] == 2 and "unreachable" in row["error"]
    smtp_sink.start()
    assert await outbox.dispatch_due() == 0  # backing off
    clock.now = T0 + timedelta(seconds=3)
    await outbox.dispatch_due()
    assert sorted(m["To"] for m in smtp_sink.messages) == ["Ana <ana@example.org>", "Bob <bob@example.org>"]


async def test_a_notice_asking_for_an_action_carries_the_participants_portal_link(
    outbox_store: EventStore, smtp_sink: SmtpSink
) -> None:
    import base64

    from portal.links import portal_keys
    from portal.tokens import verify
    from tandem.settings import Settings

    keys = {"TANDEM_PORTAL_KEYS": "k1:" + base64.b64encode(b"k" * 32).decode(), "TANDEM_PORTAL_PORT": "9911"}
    program = await seed_program(outbox_store, email_settings(smtp_sink))
    clock = Clock(T0)
    outbox = Outbox(outbox_store, clock=clock, environ=keys)
    d = program.driver
    d.agree()
    d.run_until(d.state.sessions[0].at + timedelta(hours=1))  # the check-in request fires
    notices = await program.publish(outbox)
    ask = next(n for n in notices if n.action == "log_session" and n.recipient == "mentor")
    clock.now = d.now
    await outbox.dispatch_due()

    [mail] = smtp_sink.with_id(message_id(ask.key))
    text = mail.get_body(("plain",)).get_content()
    link = next(line.split(": ", 1)[1] for line in text.splitlines() if line.startswith("Open your form: "))
    assert link.startswith("http://127.0.0.1:9911/a/")
    assert f'<a href="{link}">' in mail.get_body(("html",)).get_content()
    grant = verify(portal_keys(Settings.from_env(keys)), link.rsplit("/", 1)[1], d.now)
    assert (grant.participant_id, grant.pairing_id, grant.action, grant.ref) == (
        ask.participant_id,
        program.pairing_id,
        "log_session",
        ask.ref,
    )
    # rendered again the same day (a resend after a crash), the message and its link are identical
    again, _ = await outbox._prepare(ask, "email", None)
    assert again.link == link
    # a notice that asks nothing carries no link
    told = next(n for n in notices if n.action is None and n.participant_id is not None)
    plain, _ = await outbox._prepare(told, "email", None)
    assert plain.link == "" and "Open your form" not in plain.text
