"""The notification outbox: notices are queued by key, then a dispatcher sends the due ones.

Why a queue and not a send inside the publish activity: a mail server that is down, a webhook that
answers 500 or a participant's quiet hours must delay the *message*, never the pairing workflow. So
the publish activity (a local activity of the workflow) only inserts rows, and the dispatcher, a
loop inside every worker, sends them with backoff.

Delivery guarantee, precisely:
* Queueing is exactly-once per key (``event_id:recipient``, both deterministic): a retried or replayed
  publish inserts nothing new.
* Each row is leased (committed) before its send, so two workers never send it at the same time; a
  row is marked delivered after the channel accepted it (SMTP 250 after DATA, HTTP 2xx).
* A worker killed before the channel accepted the message leaves the row leased but undelivered:
  after the lease expires another worker sends it. Nothing is lost; the receiver saw no complete
  message, so nothing is duplicated.
* The one window for a duplicate is a crash after the channel accepted and before the "delivered"
  commit (milliseconds). Then the message is sent again *with the same Message-ID, the same
  invitation UID and SEQUENCE and the same Idempotency-Key*, so mail and calendar clients (and
  webhook receivers that honour the key) treat it as the same message. This is at-least-once
  delivery with idempotent content; exactly-once is impossible over SMTP or HTTP.
* Transient failures retry with doubling delays, forever; permanent ones (a refused address, a
  webhook 4xx) are marked failed, logged, and shown to the operator in ``status`` and the report.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from activities.channels import Channel, Message, PermanentFailure, TransientFailure
from activities.channels.console import ConsoleChannel
from activities.channels.smtp import SmtpChannel
from activities.channels.webhook import WebhookChannel
from activities.directory import Directory
from activities.invitations import invitation
from activities.messages import render
from activities.record import load_stream
from domain.calendar import CALENDAR_TEMPLATES, CalendarEntry, invitations_for, session_calendar
from domain.events import Event
from domain.notifications import Notice
from domain.pairing import pairing_stream
from domain.preferences import send_at
from domain.program import NotificationSettings, ProgramConfig, program_stream, replay_program
from domain.roster import Participant
from eventstore import EventStore
from portal.links import link_for_notice
from tandem import logs
from tandem.settings import Settings

DEFAULT_LEASE_SECONDS = 300.0  # longer than any channel's timeout (at most 120 s each way)
CONFIG_TTL = timedelta(seconds=30)

_QUEUE = """
INSERT INTO notifications
    (key, program_id, pairing_id, recipient, participant_id, template, channel, event_id, notice)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                     $8::text[], $9::jsonb[])
ON CONFLICT (key) DO UPDATE SET notice = EXCLUDED.notice, event_id = EXCLUDED.event_id
    WHERE notifications.notice IS NULL AND notifications.delivered_at IS NULL
RETURNING key
"""

_CLAIM = """
UPDATE notifications SET lease_until = $1::timestamptz + make_interval(secs => $3)
WHERE key IN (
    SELECT key FROM notifications
    WHERE delivered_at IS NULL AND failed_at IS NULL AND notice IS NOT NULL
      AND next_attempt_at <= $1 AND (lease_until IS NULL OR lease_until <= $1)
    ORDER BY next_attempt_at, created_at, key
    LIMIT $2
    FOR UPDATE SKIP LOCKED
)
RETURNING key, channel, attempts, notice, event_id
"""


class Outbox:
    def __init__(
        self,
        store: EventStore,
        *,
        environ: Mapping[str, str] | None = None,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        batch_size: int = 20,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.pool = store.pool
        self.environ = os.environ if environ is None else environ
        self.lease_seconds = lease_seconds
        self.batch_size = batch_size
        self.clock = clock
        self.log = logs.get("outbox")
        self.portal_settings = Settings.from_env(dict(self.environ))
        self._configs: dict[str, tuple[datetime, ProgramConfig | None]] = {}
        self.directory = Directory(store)

    # -- queueing (called by the publish activity) ------------------------------------------------

    async def enqueue(self, notices: list[Notice], channel: str) -> int:
        """Queue notices not queued before; returns how many are new (0 on a retry or replay)."""
        if not notices:
            return 0
        columns: list[list[Any]] = [[] for _ in range(9)]
        for n in notices:
            values = (
                n.key,
                n.program_id,
                n.pairing_id,
                n.recipient,
                n.participant_id,
                n.template,
                channel,
                n.key.rsplit(":", 1)[0],
                n.model_dump(mode="json"),
            )
            for column, value in zip(columns, values, strict=True):
                column.append(value)
        rows = await self.pool.fetch(_QUEUE, *columns)
        return len(rows)

    # -- dispatching ------------------------------------------------------------------------------

    async def dispatch_due(self) -> int:
        """Send every row due now (in batches); returns how many rows were handled."""
        handled = 0
        while True:
            rows = await self.pool.fetch(_CLAIM, self.clock(), self.batch_size, self.lease_seconds)
            if not rows:
                return handled
            for row in rows:
                await self._handle(row)
            handled += len(rows)

    async def run_forever(self, interval: float) -> None:
        while True:
            try:
                await self.dispatch_due()
            except asyncio.CancelledError:
                raise
            except Exception:  # the database may be down: try again later, lose nothing
                self.log.exception("outbox pass failed; retrying")
            await asyncio.sleep(interval)

    @asynccontextmanager
    async def running(self, interval: float = 1.0) -> AsyncIterator[asyncio.Task[None]]:
        task = asyncio.create_task(self.run_forever(interval), name="notification-outbox")
        try:
            yield task
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _handle(self, row: Any) -> None:
        key = row["key"]
        notice = Notice.model_validate(row["notice"])
        try:
            message, channel = await self._prepare(notice, row["channel"], row["event_id"])
        except _Deferred as deferred:
            await self.pool.execute(
                "UPDATE notifications SET next_attempt_at = $2, held_until = $2, lease_until = NULL "
                "WHERE key = $1",
                key,
                deferred.until,
            )
            self.log.info("notification held for quiet hours", key=key, until=deferred.until.isoformat())
            return
        try:
            await channel.send(message)
        except PermanentFailure as err:
            await self.pool.execute(
                "UPDATE notifications SET failed_at = $2, last_error = $3, sent_via = $4, "
                "lease_until = NULL, attempts = attempts + 1 WHERE key = $1",
                key,
                self.clock(),
                str(err),
                channel.name,
            )
            self.log.error(
                "notification failed permanently",
                key=key,
                program_id=notice.program_id,
                pairing_id=notice.pairing_id,
                recipient=notice.recipient,
                channel=channel.name,
                reason=str(err),
            )
        except Exception as err:  # TransientFailure, or a bug: retry later either way, never drop
            reason = str(err) if isinstance(err, TransientFailure) else f"unexpected {type(err).__name__}"
            settings = (await self._config(notice.program_id) or _DEFAULTS).notifications.retry
            delay = min(settings.initial_seconds * 2 ** min(row["attempts"], 30), settings.max_seconds)
            await self.pool.execute(
                "UPDATE notifications SET next_attempt_at = $2, last_error = $3, lease_until = NULL, "
                "attempts = attempts + 1 WHERE key = $1",
                key,
                self.clock() + timedelta(seconds=delay),
                reason,
            )
            self.log.warning(
                "notification delayed", key=key, channel=channel.name, reason=reason, retry_in=delay
            )
        else:
            await self.pool.execute(
                "UPDATE notifications SET delivered_at = $2, sent_via = $3, lease_until = NULL, "
                "last_error = NULL, attempts = attempts + 1 WHERE key = $1",
                key,
                self.clock(),
                channel.name,
            )

    async def _prepare(
        self, notice: Notice, channel_name: str, event_id: str | None
    ) -> tuple[Message, Channel]:
        config = await self._config(notice.program_id)
        settings = config.notifications if config else NotificationSettings()
        program = config.name if config else notice.program_id
        person = await self._person(notice.program_id, notice.participant_id)
        now = self.clock()
        if person is not None:
            if person.notify_via:
                channel_name = person.notify_via
            release = send_at(person.quiet_hours, ZoneInfo(person.timezone), now)
            if release > now:
                raise _Deferred(release)
            name, address, zone = person.name, person.email, person.timezone
        else:
            name, address, zone = "Program operator", settings.email.operator, "UTC"
            if channel_name == "email" and not address:
                channel_name = "console"
        if channel_name not in ("email", "webhook"):
            channel_name = "console"
        sessions: list[CalendarEntry] = []
        stamp = now
        if person is not None and notice.template in CALENDAR_TEMPLATES and event_id:
            events = await self._events_until(notice.pairing_id, event_id)
            if events:
                stamp = events[-1].occurred_at
                sessions = invitations_for(
                    notice.template, notice.ref, session_calendar(notice.pairing_id, events)
                )
        link = self._link(notice, now) if person is not None and channel_name != "webhook" else ""
        rendered = render(
            notice,
            name=name,
            zone=zone,
            program=program,
            sessions=sessions,
            minutes=settings.session_minutes,
            link=link,
        )
        attachments = ()
        if channel_name == "email" and person is not None:
            attachments = tuple(
                invitation(
                    entry,
                    zone=zone,
                    minutes=settings.session_minutes,
                    title=f"Reverse mentoring session {entry.session} ({program})",
                    description=notice.summary,
                    organizer=settings.email.sender,
                    attendee=address,
                    attendee_name=name,
                    stamp=stamp,
                )
                for entry in sessions
            )
        message = Message(
            key=notice.key,
            to_address=address if channel_name == "email" else "",
            to_name=name,
            subject=rendered.subject,
            summary=notice.summary,
            text=rendered.chat if channel_name == "webhook" else rendered.text,
            html=rendered.html if channel_name == "email" else "",
            attachments=attachments,
            link=link,
        )
        return message, self._channel(channel_name, settings)

    def _link(self, notice: Notice, now: datetime) -> str:
        """The participant's portal link for what the notice asks (not in webhook chats: they are
        shared rooms). Issued as of the start of the day, so a resend within the day is identical."""
        day = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        try:
            return link_for_notice(self.portal_settings, notice, day) or ""
        except (OSError, ValueError) as exc:  # no portal key can be read or made: send without a link
            self.log.warning("portal link unavailable", key=notice.key, error=str(exc))
            return ""

    def _channel(self, name: str, settings: NotificationSettings) -> Channel:
        if name == "email":
            return SmtpChannel(settings.email, self.environ)
        if name == "webhook":
            hook = settings.webhook
            return WebhookChannel(self.environ.get(hook.url_env), hook.url_env, hook.timeout_seconds)
        return ConsoleChannel()

    # -- lookups (cached; the event store is the source) -----------------------------------------

    async def sending_channel(self, program_id: str) -> str | None:
        """The program's channel when it sends for real (email or webhook), else None."""
        config = await self._config(program_id)
        channel = config.notifications.channel.value if config else None
        return channel if channel in ("email", "webhook") else None

    async def _config(self, program_id: str) -> ProgramConfig | None:
        cached = self._configs.get(program_id)
        now = self.clock()
        if cached is not None and cached[0] > now:
            return cached[1]
        events = await load_stream(self.store, program_stream(program_id))
        config = replay_program(program_id, events).config
        self._configs[program_id] = (now + CONFIG_TTL, config)
        return config

    async def _person(self, program_id: str, participant_id: str | None) -> Participant | None:
        return await self.directory.lookup(program_id, participant_id)

    async def _events_until(self, pairing_id: str, event_id: str) -> list[Event]:
        events = await load_stream(self.store, pairing_stream(pairing_id))
        for index, event in enumerate(events):
            if event.event_id == event_id:
                return events[: index + 1]
        return []


class _Deferred(Exception):
    def __init__(self, until: datetime) -> None:
        super().__init__(until.isoformat())
        self.until = until


_DEFAULTS = ProgramConfig(id="defaults", name="defaults")
