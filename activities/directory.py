"""Participants' contact details, looked up in the roster stream (never carried by workflows)."""

from __future__ import annotations

from activities.record import load_stream
from domain.roster import Participant, replay_roster, roster_stream
from eventstore import EventStore


class Directory:
    """Who a participant id is, per program; cached, re-read when an id is not known yet (a late
    enrolment), so the event store stays the only source."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self._people: dict[str, dict[str, Participant]] = {}

    async def lookup(self, program_id: str, participant_id: str | None) -> Participant | None:
        if participant_id is None:
            return None
        people = self._people.get(program_id)
        if people is None or participant_id not in people:
            events = await load_stream(self.store, roster_stream(program_id))
            people = dict(replay_roster(program_id, events).participants)
            self._people[program_id] = people
        return people.get(participant_id)
