"""The local stack's channel: one readable line per notice on the worker's standard output."""

from __future__ import annotations

from activities.channels import Message


class ConsoleChannel:
    name = "console"

    async def send(self, message: Message) -> None:
        to = f"{message.to_name} <{message.to_address}>" if message.to_address else message.to_name
        invites = f" [+{len(message.attachments)} invitation(s)]" if message.attachments else ""
        link = f" | open: {message.link}" if message.link else ""
        print(f"notify {to} | {message.summary}{invites}{link}", flush=True)
