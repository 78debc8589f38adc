"""Delivering notices: look the person up, send through the program's channel, once per key.

Channels here: ``console`` (the local stack's default: one readable line per notice on the worker's
output) and ``simulated`` (seeded simulated participants answer the notice with Temporal Updates,
used by ``simulate`` and the demo). Delivery is recorded in the ``notifications`` outbox table: a
notice whose key is already delivered is skipped, so retries and replays do not repeat messages.
"""

from __future__ import annotations

import sys

import asyncpg
from temporalio import activity
from temporalio.client import Client, WorkflowUpdateFailedError

from activities.models import DeliveryBatch, DeliveryReport
from activities.record import load_stream
from domain import simulation
from domain.notifications import Notice
from domain.pairing import pairing_stream, replay
from domain.roster import Participant, replay_roster, roster_stream
from eventstore import EventStore


class Directory:
    """Participant contact details, read from the roster stream and cached per program."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self._cache: dict[str, dict[str, Participant]] = {}

    async def lookup(self, program_id: str, participant_id: str) -> Participant | None:
        people = self._cache.get(program_id)
        if people is None or participant_id not in people:
            events = await load_stream(self.store, roster_stream(program_id))
            people = dict(replay_roster(program_id, events).participants)
            self._cache[program_id] = people
        return people.get(participant_id)


class Notifier:
    def __init__(self, store: EventStore, pool: asyncpg.Pool, client: Client) -> None:
        self.store = store
        self.pool = pool
        self.client = client
        self.directory = Directory(store)

    async def _claim(self, notice: Notice, channel: str) -> bool:
        """Insert the outbox row; False when this key was already delivered."""
        row = await self.pool.fetchrow(
            """
            INSERT INTO notifications
                (key, program_id, pairing_id, recipient, participant_id, template, channel, attempts)
            VALUES ($1, $2, $3, $4, $5, $6, $7, 1)
            ON CONFLICT (key) DO UPDATE SET attempts = notifications.attempts + 1
            RETURNING delivered_at
            """,
            notice.key,
            notice.program_id,
            notice.pairing_id,
            notice.recipient,
            notice.participant_id,
            notice.template,
            channel,
        )
        return row is not None and row["delivered_at"] is None

    async def _mark_delivered(self, notice: Notice) -> None:
        await self.pool.execute("UPDATE notifications SET delivered_at = now() WHERE key = $1", notice.key)

    async def deliver(self, batch: DeliveryBatch) -> DeliveryReport:
        """Send each notice not yet delivered. Simulated notices are only logged in the outbox here:
        the simulated people act on them in :meth:`simulate_participants`."""
        delivered = skipped = 0
        for notice in batch.notices:
            if not await self._claim(notice, batch.channel):
                skipped += 1
                continue
            if batch.simulation_seed is None:
                await self._console(notice)
            await self._mark_delivered(notice)
            delivered += 1
        return DeliveryReport(delivered=delivered, skipped_duplicates=skipped)

    async def _console(self, notice: Notice) -> None:
        if notice.participant_id is None:
            to = "operator"
        else:
            person = await self.directory.lookup(notice.program_id, notice.participant_id)
            to = f"{notice.recipient} {person.name} <{person.email}>" if person else notice.recipient
        action = f" [action: {notice.action}]" if notice.action else ""
        print(f"notify {to} | {notice.pairing_id} | {notice.summary}{action}", file=sys.stdout, flush=True)

    @activity.defn(name="simulate_participants")
    async def simulate_participants(self, batch: DeliveryBatch) -> DeliveryReport:
        """Simulated people read their notices and act through the workflow's Updates.

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
