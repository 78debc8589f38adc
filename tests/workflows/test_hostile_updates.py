"""Hostile Update payloads against a real pairing: each refused with a message naming the field; the
pairing's state and event list unchanged, and it still accepts a good Update afterwards."""

from __future__ import annotations

from typing import Any

import pytest
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.worker import Worker

from tests.workflows.helpers import new_pairing_input, start_pairing
from workflows.pairing import ActionResult, PairingWorkflow

HOSTILE: list[tuple[str, Any, str]] = [
    ("add_note", {"author": "operator", "text": "bell\x07"}, "control character U+0007"),
    ("add_note", {"author": "operator", "text": "x" * 5000}, "at most 2000 characters"),
    ("add_note", {"author": "root", "text": "hi"}, "author"),
    ("add_note", {"author": "operator", "text": "hi", "admin": True}, "admin"),
    ("add_note", ["not", "an", "object"], "AddNote"),
    ("propose_goals", {"side": "mentor", "goals": [{"title": "t\x00", "signal": "s"}]}, "goal 1 title"),
    ("propose_goals", {"side": "mentor", "goals": "all of them"}, "goals"),
    ("log_session", {"side": "mentor", "status": "held", "rating": "7"}, ""),
    ("submit_midpoint", {"side": "mentor", "relationship": 10**30}, ""),
]


async def test_hostile_update_payloads_are_refused_and_change_nothing(client: Client, worker: Worker) -> None:
    handle, _ = await start_pairing(client, worker.task_queue, new_pairing_input(), skip=False)
    try:
        before = await handle.query(PairingWorkflow.query_state)
        events = await handle.query(PairingWorkflow.query_events)
        for name, payload, expected in HOSTILE:
            with pytest.raises(WorkflowUpdateFailedError) as caught:
                await handle.execute_update(name, payload, result_type=ActionResult)
            message = _chain(caught.value)
            assert expected in message, (name, message)
        assert await handle.query(PairingWorkflow.query_state) == before
        assert await handle.query(PairingWorkflow.query_events) == events
        good = {"author": "operator", "text": "all fine\nsecond line"}
        result = await handle.execute_update("add_note", good, result_type=ActionResult)
        assert result.accepted and result.version == before.version + 1
    finally:
        await handle.terminate("test finished")


def _chain(error: BaseException) -> str:
    parts = []
    cause: BaseException | None = error
    while cause is not None:
        parts.append(f"{type(cause).__name__}: {cause}")
        cause = getattr(cause, "cause", None) or cause.__cause__
    return " <- ".join(parts)
