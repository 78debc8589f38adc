"""Real servers on loopback for the notification channels, and a program seeded in a real store.

``SmtpSink`` is an aiosmtpd server that keeps what it accepts. Like a real mail server it takes
responsibility for a message only when it answers 250 after DATA: ``hold`` delays that answer, and a
message whose client vanished meanwhile is not kept (the client never learnt it was accepted).
``HttpSink`` is a stdlib HTTP server answering a scripted list of status codes.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from activities.models import RecordBatch
from activities.outbox import Outbox
from activities.record import Recorder
from domain.events import Event
from domain.notifications import Notice, notices_for
from domain.pairing import PairingState, PairingTerms, ProposePairing, StartPairing, evolve, initial_pairing
from domain.preferences import QuietHours
from domain.program import CreateProgram, ProgramConfig, decide_program, initial_program
from domain.roster import (
    EnrollParticipant,
    Participant,
    Role,
    decide_roster,
    evolve_roster,
    initial_roster,
    participant_id_for,
)
from eventstore import EventStore
from localstack.processes import free_port
from tests.conftest import create_database
from tests.domain.pairing_helpers import T0
from tests.domain.pairing_helpers import Driver as DomainDriver


class SmtpSink:
    def __init__(self) -> None:
        self.port = free_port()
        self.messages: list[EmailMessage] = []
        self.refuse: set[str] = set()  # recipients answered 550
        self.hold = threading.Event()  # set: delay the answer to DATA until released
        self.in_data = threading.Event()
        self.dropped = 0
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    def start(self) -> None:
        """(Re)start on the same port: a stopped controller cannot be started again."""
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address in self.refuse:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.in_data.set()
        try:
            while self.hold.is_set():  # noqa: ASYNC110 (a threading.Event, set from the test's thread)
                await asyncio.sleep(0.02)
            await asyncio.sleep(0.05)  # let a vanished client's close reach us
        except asyncio.CancelledError:  # aiosmtpd cancels the handler when the client disconnects
            self.dropped += 1  # the client never saw 250, so the message is not ours
            raise
        if server.transport is None or server.transport.is_closing():
            self.dropped += 1
            return "451 4.3.0 client gone"
        mail = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(mail, EmailMessage)
        self.messages.append(mail)
        return "250 2.0.0 accepted"

    def with_id(self, message_id: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["Message-ID"] == message_id]


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink()
    sink.start()
    try:
        yield sink
    finally:
        sink.hold.clear()
        sink.controller.stop()


@dataclass
class HttpSink:
    answers: list[int]
    requests: list[tuple[dict[str, str], dict[str, Any]]] = field(default_factory=list)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/tandem"


@pytest.fixture
def http_sink() -> Iterator[HttpSink]:
    sink = HttpSink(answers=[])

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            sink.requests.append((dict(self.headers), body))
            code = sink.answers.pop(0) if sink.answers else 200
            self.send_response(code)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    sink.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield sink
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
async def outbox_dsn(pg_dsn: str) -> str:
    """A database of its own: the dispatcher sends every due row, so no other test's rows may be there."""
    return await create_database(pg_dsn, f"outbox_{uuid.uuid4().hex[:8]}")


@pytest.fixture(scope="module")
async def outbox_store(outbox_dsn: str) -> AsyncIterator[EventStore]:
    store = await EventStore.open(outbox_dsn, migrate=False)
    yield store
    await store.close()


class Clock:
    def __init__(self, now: Any) -> None:
        self.now = now

    def __call__(self) -> Any:
        return self.now


@dataclass
class Program:
    """A seeded program with one pairing, played by the domain driver and published like the workflow."""

    store: EventStore
    config: ProgramConfig
    mentor: Participant
    mentee: Participant
    driver: DomainDriver
    published: PairingState
    recorded: int = 0

    @property
    def pairing_id(self) -> str:
        return self.driver.state.pairing_id

    async def publish(self, outbox: Outbox, channel: str | None = None) -> list[Notice]:
        """Record the driver's new events and queue their notices, as the publish activity does."""
        new: list[Event] = self.driver.events[self.recorded :]
        if not new:
            return []
        await Recorder(self.store).append(
            RecordBatch(stream_id=self.driver.state.stream_id, expected_version=self.recorded, events=new)
        )
        notices: list[Notice] = []
        for event in new:
            self.published = evolve(self.published, event)
            notices.extend(notices_for(self.published, event))
        self.recorded += len(new)
        await outbox.enqueue(notices, channel or self.config.notifications.channel.value)
        return notices


def person(program_id: str, email: str, role: Role, zone: str, **extra: Any) -> Participant:
    return Participant(
        participant_id=participant_id_for(program_id, email),
        email=email,
        name=email.split("@")[0].title(),
        role=role,
        title="CFO" if role is Role.MENTEE else "Analyst",
        department="Finance" if role is Role.MENTEE else "Data",
        level=9 if role is Role.MENTEE else 2,
        communication_style="direct",
        timezone=zone,
        **extra,
    )


async def seed_program(
    store: EventStore,
    notifications: dict[str, Any],
    *,
    mentor_quiet: QuietHours | None = None,
    mentor_via: str | None = None,
) -> Program:
    program_id = f"rm-{uuid.uuid4().hex[:10]}"
    config = ProgramConfig.model_validate({"id": program_id, "name": "Pilot", "notifications": notifications})
    recorder = Recorder(store)
    events = decide_program(initial_program(program_id), CreateProgram(config=config), T0)
    await recorder.append(RecordBatch(stream_id=f"program-{program_id}", expected_version=0, events=events))
    mentor = person(
        program_id,
        "ana@example.org",
        Role.MENTOR,
        "Europe/Berlin",
        quiet_hours=mentor_quiet,
        notify_via=mentor_via,
    )
    mentee = person(program_id, "bob@example.org", Role.MENTEE, "America/New_York")
    roster = initial_roster(program_id)
    for p in (mentor, mentee):
        for e in decide_roster(roster, EnrollParticipant(participant=p), T0):
            await recorder.append(
                RecordBatch(stream_id=roster.stream_id, expected_version=roster.version, events=[e])
            )
            roster = evolve_roster(roster, e)
    driver = DomainDriver(started=False, pairing_id=f"{program_id}.{uuid.uuid4().hex[:6]}")
    driver.do(
        ProposePairing(
            pairing_id=driver.state.pairing_id,
            program_id=program_id,
            mentor_id=mentor.participant_id,
            mentee_id=mentee.participant_id,
        )
    )
    driver.do(StartPairing(terms=PairingTerms.from_program(config)))
    return Program(
        store=store,
        config=config,
        mentor=mentor,
        mentee=mentee,
        driver=driver,
        published=initial_pairing(driver.state.pairing_id),
    )


def wait_for(condition: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)
