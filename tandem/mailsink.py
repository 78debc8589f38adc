"""A local SMTP sink for `starter.py demo --mail-sink DIR`: see the program's mail as participants would.

An aiosmtpd server on loopback accepts every message and writes it to ``DIR`` as an ``.eml`` file
(open it in any mail client), with each calendar invitation beside it as an ``.ics`` file. Nothing
leaves the machine.
"""

from __future__ import annotations

import email
import email.policy
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from localstack.processes import free_port


@dataclass
class Received:
    path: Path
    subject: str
    to: str
    invitations: list[Path] = field(default_factory=list)


class MailSink:
    """Start with :meth:`start`, stop with :meth:`stop`; ``received`` lists what arrived, in order."""

    def __init__(self, directory: Path, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.directory = directory
        self.host = host
        self.port = port or free_port(host)
        self.received: list[Received] = []
        self._controller = Controller(self, hostname=host, port=self.port)

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        number = len(self.received) + 1
        subject = str(message.get("Subject", "")).strip()
        stem = f"{number:04d}-{_slug(subject)}"
        path = self.directory / f"{stem}.eml"
        path.write_bytes(envelope.content)
        item = Received(path=path, subject=subject, to=str(message.get("To", "")))
        for part in message.walk():
            if part.get_content_type() == "text/calendar":
                ics = self.directory / f"{stem}-{len(item.invitations) + 1}.ics"
                ics.write_bytes(part.get_payload(decode=True) or b"")
                item.invitations.append(ics)
        self.received.append(item)
        return "250 Message accepted for delivery"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:50] or "message"
