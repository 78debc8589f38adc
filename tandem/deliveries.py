"""What happened to a program's notifications, for the operator: counts and permanent failures.

Read from the outbox table. Only ids, roles, template names and the channel's reason are shown: never
an address or a name (the reason texts are written without personal data, see activities.channels).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

MAX_LISTED = 50


@dataclass(frozen=True)
class DeliveryFailure:
    pairing_id: str
    recipient: str  # mentor, mentee or operator
    template: str
    channel: str
    reason: str
    failed_at: datetime


@dataclass(frozen=True)
class Deliveries:
    delivered: int
    pending: int  # queued, held for quiet hours, or waiting to retry
    retrying: int  # pending after at least one failed attempt
    failed: int
    failures: tuple[DeliveryFailure, ...]  # the most recent, at most MAX_LISTED


async def deliveries(conn: Any, program_id: str) -> Deliveries:
    """``conn``: an asyncpg connection or pool."""
    counts = await conn.fetchrow(
        """
        SELECT count(*) FILTER (WHERE delivered_at IS NOT NULL) AS delivered,
               count(*) FILTER (WHERE delivered_at IS NULL AND failed_at IS NULL) AS pending,
               count(*) FILTER (WHERE delivered_at IS NULL AND failed_at IS NULL AND last_error IS NOT NULL)
                   AS retrying,
               count(*) FILTER (WHERE failed_at IS NOT NULL) AS failed
        FROM notifications WHERE program_id = $1
        """,
        program_id,
    )
    rows = await conn.fetch(
        "SELECT pairing_id, recipient, template, coalesce(sent_via, channel) AS channel, last_error,"
        " failed_at"
        " FROM notifications WHERE program_id = $1 AND failed_at IS NOT NULL"
        " ORDER BY failed_at DESC, key LIMIT $2",
        program_id,
        MAX_LISTED,
    )
    return Deliveries(
        delivered=counts["delivered"],
        pending=counts["pending"],
        retrying=counts["retrying"],
        failed=counts["failed"],
        failures=tuple(
            DeliveryFailure(
                pairing_id=r["pairing_id"],
                recipient=r["recipient"],
                template=r["template"],
                channel=r["channel"],
                reason=r["last_error"] or "",
                failed_at=r["failed_at"],
            )
            for r in rows
        ),
    )
