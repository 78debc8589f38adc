"""Notification channels: each turns a rendered :class:`Message` into one delivery, or says why not.

A channel raises :class:`PermanentFailure` when sending again cannot help (an address the server
refuses, a webhook answering 4xx) and :class:`TransientFailure` when it may (server down, timeout,
5xx); the outbox retries only the latter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


class DeliveryFailure(Exception):
    """A send that did not happen; ``str()`` is the operator-facing reason (no personal data)."""


class PermanentFailure(DeliveryFailure):
    pass


class TransientFailure(DeliveryFailure):
    pass


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    content_type: str  # e.g. 'text/calendar; method=REQUEST'


@dataclass(frozen=True)
class Message:
    """One notice, rendered for one person. ``key`` is the outbox key: stable across retries."""

    key: str
    to_address: str  # email address, or '' for channels that address nobody in particular
    to_name: str
    subject: str
    summary: str  # one line, for logs and the console
    text: str
    html: str = ""
    attachments: tuple[Attachment, ...] = field(default_factory=tuple)
    link: str = ""  # the participant's portal link for the action asked, if any (never in shared chats)


class Channel(Protocol):
    name: str

    async def send(self, message: Message) -> None: ...
