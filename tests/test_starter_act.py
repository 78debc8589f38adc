"""`starter.py act`: operator actions on a running pairing, accepted or refused with the rule."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.worker import Worker

from domain.pairing import Stage
from tandem.settings import Settings
from tests.test_starter import run_cli
from tests.workflows.helpers import new_pairing_input, start_pairing
from workflows.pairing import PairingWorkflow

GOAL = "Run a meeting without taking control :: mentor rates it 4/5 or better"


async def test_act_drives_a_pairing_and_refusals_change_nothing(
    client: Client, worker: Worker, settings: Settings
) -> None:
    inp = new_pairing_input()
    handle, _ = await start_pairing(client, worker.task_queue, inp, skip=False)
    pid = inp.pairing_id

    async def act(*args: str) -> tuple[int, str, str]:
        return await run_cli("act", pid, *args, settings=settings)

    try:
        code, out, err = await act("submit-goals", "--side", "mentor", "--goal", GOAL)
        assert code == 0 and "accepted: GoalsProposed" in out, err
        code, _, err = await act("agree-goals", "--side", "mentee", "--goal", GOAL)
        assert code == 2 and "both sides propose goals" in err and "rule: goals-not-proposed" in err
        code, _, err = await act("log-session", "--side", "mentor", "--status", "held", "--rating", "7")
        assert code == 2 and "rejected" in err
        code, _, err = await act("submit-goals", "--side", "mentee", "--goal", "no signal here")
        assert code == 2 and "measurable" in err

        before = await handle.query(PairingWorkflow.query_state)
        code, out, _ = await act("pause", "--reason", "parental leave")
        assert code == 0 and "PairingPaused" in out
        code, _, err = await act("submit-goals", "--side", "mentee", "--goal", GOAL)
        assert code == 2 and "paused" in err
        code, _, err = await act("extend", "--by", "P1X")
        assert code == 2 and "ISO-8601" in err
        code, out, _ = await act("extend", "--by", "P1M")
        assert code == 0 and "PairingExtended" in out
        code, out, _ = await act("resume")
        assert code == 0 and "PairingResumed" in out
        code, out, _ = await act("note", "--text", "met the sponsor")
        assert code == 0 and "NoteAdded" in out

        after = await handle.query(PairingWorkflow.query_state)
        assert after.stage is Stage.GOAL_SETTING and after.notes == 1
        assert after.ends_at is not None and before.ends_at is not None and after.ends_at > before.ends_at
        assert "mentee" not in after.proposed_goals  # refused actions left no trace

        code, out, _ = await act("withdraw", "--side", "mentee", "--reason", "left the company")
        assert code == 0 and "PairingClosed" in out
        code, _, err = await act("note", "--text", "too late")
        assert code == 2 and "closed" in err
    finally:
        if (await handle.describe()).status.name == "RUNNING":  # type: ignore[union-attr]
            await handle.terminate("test finished")


async def test_act_on_unknown_pairing(settings: Settings) -> None:
    code, _, err = await run_cli("act", "no-such-pairing", "resume", settings=settings)
    assert code == 1 and "no running pairing 'no-such-pairing'" in err
