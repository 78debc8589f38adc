"""Follow a program's events in the event store and print each pairing's stage changes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from rich.console import Console

from eventstore import EventStore, RecordedEvent

STAGE_EVENTS = {
    "PairingStarted": "goal setting",
    "GoalsAgreed": "sessions",
    "GoalDeadlinePassed": "goal deadline passed (operator alerted)",
    "AtRiskFlagged": "AT RISK",
    "AtRiskCleared": "at risk cleared",
    "MidpointReviewOpened": "midpoint review",
    "MidpointDecided": "midpoint decided",
    "CloseoutOpened": "closeout",
    "PairingClosed": "closed",
    "PairingPaused": "paused",
    "PairingResumed": "resumed",
}


def describe(event: RecordedEvent, name_of: Callable[[str], str], planned: set[str]) -> str | None:
    label = STAGE_EVENTS.get(event.type)
    if label is None or not event.stream_id.startswith("pairing-"):
        return None
    pairing_id = event.stream_id.removeprefix("pairing-")
    who = name_of(pairing_id)
    if event.type == "PairingStarted" and pairing_id not in planned:
        who += " (rematch)"
    extra = ""
    if event.type == "MidpointDecided":
        extra = f": {event.payload.get('decision')}" + (
            " (operator override)" if event.payload.get("overridden") else ""
        )
    elif event.type == "PairingClosed":
        extra = f": {event.payload.get('outcome')}"
    elif event.type == "AtRiskFlagged":
        extra = f" ({event.payload.get('reason')})"
    return f"{event.occurred_at:%Y-%m-%d}  {who:<44} → {label}{extra}"


async def follow(
    store: EventStore,
    console: Console,
    name_of: Callable[[str], str],
    planned: set[str],
    done: Callable[[], bool],
    after: int = 0,
    interval: float = 0.25,
) -> int:
    """Print stage changes until ``done()``; returns the number of events seen."""
    position = after
    seen = 0
    while True:
        finished = done()
        while True:
            batch = await store.read_all(after_position=position, limit=1000)
            if not batch:
                break
            for event in batch:
                position = event.position
                seen += 1
                line = describe(event, name_of, planned)
                if line:
                    console.print(line, highlight=False)
        if finished:
            return seen
        await asyncio.sleep(interval)
