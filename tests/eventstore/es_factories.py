"""Builders for test events (a distinct module name, so it cannot shadow another test dir's helper)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from eventstore import NewEvent

T0 = datetime(2025, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)


def new_events(
    stream_id: str,
    first_version: int,
    count: int,
    *,
    type: str = "Noted",
    payload: dict[str, Any] | None = None,
) -> list[NewEvent]:
    """``count`` events for ``stream_id`` with versions ``first_version ...`` and fresh ids."""
    return [
        NewEvent(
            event_id=uuid.uuid4(),
            stream_id=stream_id,
            version=v,
            type=type,
            schema_version=1,
            payload=payload if payload is not None else {"n": v, "stream": stream_id},
            occurred_at=T0,
        )
        for v in range(first_version, first_version + count)
    ]


def unique_stream(prefix: str = "s") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"
