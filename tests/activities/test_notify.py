"""Delivering notices to simulated people: recorded as delivered once per key, in one statement."""

from __future__ import annotations

import uuid

from temporalio.client import Client

from activities.models import DeliveryBatch
from activities.notify import Notifier
from domain.notifications import Notice
from eventstore import EventStore


def notices(program_id: str, count: int) -> list[Notice]:
    return [
        Notice(
            key=f"{program_id}-event-{n}:{recipient}",
            program_id=program_id,
            pairing_id=f"{program_id}.mentee.mentor",
            recipient=recipient,
            participant_id=None if recipient == "operator" else f"{recipient}-id",
            template="session_reminder",
            summary="a session tomorrow",
        )
        for n in range(count)
        for recipient in ("mentor", "mentee", "operator")
    ]


def batch(program_id: str, items: list[Notice]) -> DeliveryBatch:
    return DeliveryBatch(
        workflow_id=f"pairing-{program_id}", channel="simulated", notices=items, simulation_seed=7
    )


async def test_simulated_notices_are_delivered_once_per_key(store: EventStore, client: Client) -> None:
    program_id = f"notify-{uuid.uuid4().hex[:8]}"
    notifier = Notifier(store, store.pool, client)
    first = notices(program_id, 4)

    report = await notifier.deliver(batch(program_id, first))
    assert (report.delivered, report.skipped_duplicates) == (12, 0)

    # a retried publish: the same keys plus one new notice; only the new one is delivered
    again = first + notices(f"{program_id}-more", 1)[:1]
    report = await notifier.deliver(batch(program_id, again))
    assert (report.delivered, report.skipped_duplicates) == (1, 12)

    rows = await store.pool.fetch(
        "SELECT key, recipient, participant_id, template, channel, attempts, delivered_at"
        " FROM notifications WHERE program_id = $1 ORDER BY key",
        program_id,
    )
    assert len(rows) == 12
    assert all(r["delivered_at"] is not None and r["attempts"] == 2 for r in rows)
    assert {r["channel"] for r in rows} == {"simulated"}
    by_key = {r["key"]: r for r in rows}
    one = first[1]
    assert (by_key[one.key]["recipient"], by_key[one.key]["participant_id"]) == ("mentee", "mentee-id")
    assert by_key[first[2].key]["participant_id"] is None


async def test_a_key_twice_in_one_batch_is_delivered_once(store: EventStore, client: Client) -> None:
    program_id = f"notify-{uuid.uuid4().hex[:8]}"
    notifier = Notifier(store, store.pool, client)
    one = notices(program_id, 1)[0]

    report = await notifier.deliver(batch(program_id, [one, one]))

    assert (report.delivered, report.skipped_duplicates) == (1, 1)
    count = await store.pool.fetchval("SELECT count(*) FROM notifications WHERE key = $1", one.key)
    assert count == 1


async def test_an_empty_batch_touches_nothing(store: EventStore, client: Client) -> None:
    report = await Notifier(store, store.pool, client).deliver(batch("notify-empty", []))
    assert (report.delivered, report.skipped_duplicates) == (0, 0)
