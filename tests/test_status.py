"""Program status: the session figures come from the event store, not the program's lagging count."""

from __future__ import annotations

import uuid

from eventstore import EventStore
from tandem.settings import Settings
from tandem.status import session_counts
from tests.report.fixture import fixture_program


async def test_session_counts_are_the_event_stores(settings: Settings, store: EventStore) -> None:
    program = fixture_program(f"rm-status-{uuid.uuid4().hex[:8]}")
    await program.append(store)
    held = sum(1 for e in program.events if e.type == "SessionHeld")
    missed = sum(1 for e in program.events if e.type == "SessionMissed")
    assert held and missed
    assert await session_counts(settings, program.program_id) == (held, missed)
    assert await session_counts(settings, "no-such-program") == (0, 0)


async def test_session_counts_without_a_reachable_store(settings: Settings) -> None:
    down = settings.model_copy(update={"database_url": "postgresql://postgres@127.0.0.1:1/none"})
    assert await session_counts(down, "any") is None
