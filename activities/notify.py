"""Delivering notices: queue them in the outbox once per key, or let simulated people act on them.

Real channels (console, email, webhook) are sent by the outbox's dispatcher (see
:mod:`activities.outbox`): the publish activity only queues, so a slow or failing channel delays the
message, never the pairing. ``simulated`` (used by ``simulate`` and the demo) is recorded as
delivered at once: the simulated people act on it inside the pairing workflow (pairings started before
that change: in :meth:`Notifier.simulate_participants`).
"""

from __future__ import annotations

import asyncpg
from temporalio import activity
from temporalio.client import Client, WorkflowUpdateFailedError

from activities.models import DeliveryBatch, DeliveryReport
from activities.outbox import Outbox
from activities.record import load_stream
from domain import simulation
from domain.notifications import Notice
from domain.pairing import pairing_stream, replay
from eventstore import EventStore

# Every key of the batch, once (a key twice in one INSERT ... ON CONFLICT is an error). A key delivered
# before comes back with attempts above 1: simulated rows are delivered as they are inserted, and a
# program's channel does not change, so no queued, unsent row of a real channel shares a key with them.
# The statement does not read the table it writes. The earlier one also looked up which keys had been
# delivered before: a worker's connection caches a statement's plan after a few runs, and in a fresh
# stack (a simulation, the demo) it did so while the table was nearly empty, so it kept scanning the
# whole table as it grew, 3.7 ms a call at first and 40 ms after 1,000 calls (bench/deliver.py).
_DELIVER_SIMULATED = """
INSERT INTO notifications
    (key, program_id, pairing_id, recipient, participant_id, template, channel, attempts, delivered_at)
SELECT DISTINCT ON (key) key, program_id, pairing_id, recipient, participant_id, template, $7, 1, now()
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
    AS t(key, program_id, pairing_id, recipient, participant_id, template)
ORDER BY key
ON CONFLICT (key) DO UPDATE SET attempts = notifications.attempts + 1,
    delivered_at = coalesce(notifications.delivered_at, EXCLUDED.delivered_at)
RETURNING attempts = 1 AS first
"""


class Notifier:
    def __init__(self, store: EventStore, pool: asyncpg.Pool, client: Client) -> None:
        self.store = store
        self.pool = pool
        self.client = client
        self.outbox = Outbox(store)

    async def _deliver_simulated(self, notices: list[Notice], channel: str) -> int:
        """Record notices to simulated people as delivered, in one statement; returns how many had
        not been delivered before (a retried publish delivers nothing twice). One round trip per
        batch, not two per notice: a simulated program is bounded by what its round trips cost."""
        if not notices:
            return 0
        fields = [
            (n.key, n.program_id, n.pairing_id, n.recipient, n.participant_id, n.template) for n in notices
        ]
        columns = [list(column) for column in zip(*fields, strict=True)]
        rows = await self.pool.fetch(_DELIVER_SIMULATED, *columns, channel)
        return sum(1 for row in rows if row["first"])

    async def deliver(self, batch: DeliveryBatch) -> DeliveryReport:
        """Queue each notice not queued before (simulated ones are only logged as delivered)."""
        if batch.simulation_seed is None:
            queued = await self.outbox.enqueue(batch.notices, batch.channel)
            return DeliveryReport(delivered=queued, skipped_duplicates=len(batch.notices) - queued)
        sending = await self.outbox.sending_channel(batch.notices[0].program_id) if batch.notices else None
        if sending is not None:
            # A simulated program whose file names a real channel (a rehearsal against a mail sink):
            # the messages go out as they would for real people, who are simulated all the same.
            queued = await self.outbox.enqueue(batch.notices, sending)
            return DeliveryReport(delivered=queued, skipped_duplicates=len(batch.notices) - queued)
        delivered = await self._deliver_simulated(batch.notices, batch.channel)
        return DeliveryReport(delivered=delivered, skipped_duplicates=len(batch.notices) - delivered)

    @activity.defn(name="simulate_participants")
    async def simulate_participants(self, batch: DeliveryBatch) -> DeliveryReport:
        """Simulated people read their notices and act through the workflow's Updates.

        Only pairings started before the "simulate-in-workflow" patch call this (their histories must
        replay); newer ones let simulated people act inside the workflow, without the round trips.

        They see the pairing as the event store has it (the workflow published just before calling
        this), which costs no round trip to Temporal. Safe to retry: an action already taken shows in
        the state and is not taken again, and the workflow refuses duplicates anyway.
        """
        assert batch.simulation_seed is not None
        handle = self.client.get_workflow_handle(batch.workflow_id)
        done = refused = 0
        actionable = [n for n in batch.notices if n.action is not None and n.recipient != "operator"]
        if not actionable:
            return DeliveryReport(delivered=0, skipped_duplicates=0)
        pairing_id = actionable[0].pairing_id
        state = replay(pairing_id, await load_stream(self.store, pairing_stream(pairing_id)))
        for notice in actionable:
            for command in simulation.respond(batch.simulation_seed, notice, state):
                try:
                    await handle.execute_update(command.type, command)  # type: ignore[attr-defined]
                    done += 1
                except WorkflowUpdateFailedError:
                    refused += 1  # a simulated person can be wrong too; the workflow said no, nothing changed
        return DeliveryReport(
            delivered=len(batch.notices),
            skipped_duplicates=0,
            simulated_actions=done,
            rejected_actions=refused,
        )

    @activity.defn(name="deliver_notices")
    async def deliver_notices(self, batch: DeliveryBatch) -> DeliveryReport:
        return await self.deliver(batch)
