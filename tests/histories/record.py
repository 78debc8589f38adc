"""Record workflow histories for the replay corpus: `make histories` (or `... record NAME ...`).

Each scenario runs against a throw-away embedded stack with simulated participants under time
skipping, and its history is written as JSON next to this file. Commit the files: CI replays them
with today's workflow code, so a change that breaks determinism fails the build. Keep histories of
older workflow versions (recorded before a `workflow.patched` change): they prove the old branch
still replays. Record new scenarios under new names rather than overwriting old ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError

from activities.models import PairingSpec
from domain.program import ProgramConfig
from domain.roster import Participant, Role, participant_id_for
from domain.simulation import Behaviour
from eventstore import EventStore
from localstack.stack import LocalStack
from tandem import operations
from tandem.settings import Settings
from tests.workflows.helpers import new_pairing_input, seed_for, start_pairing
from workflows.pairing import workflow_id_for
from workflows.program import START_CHUNK

HERE = Path(__file__).resolve().parent
# by hand: deadline, pause, extend, ...; pairing_operator_paths_after_commit is the version before V2_PATCH,
# pairing_operator_paths_v2 the one before revision 3, pairing_operator_paths_v3 the one before revision 4
DRIVEN_SCENARIO = "pairing_operator_paths_v4"
# A program of more pairings than one start chunk: "program_two_pairings" is the first version (inline
# plan), "program_plan_from_store" read its plan from the store and started 100 children per task,
# "program_started_in_chunks" read it in a regular activity (before "program-local-calls").
PROGRAM_SCENARIO = "program_started_locally"
PROGRAM_PAIRINGS = START_CHUNK + 5
# One pairing of that program, as its child: it reports to the program through its publish activity
# ("report-by-publish"); pairing_in_program_signalled is the version that sent its own signals, and
# pairing_in_program_reported the one before V2_PATCH, pairing_in_program_v2 the one before revision 3,
# pairing_in_program_v3 the one before revision 4.
PROGRAM_PAIRING_SCENARIO = "pairing_in_program_v4"
# A program driven through a rematch, a mentor's withdrawal and a mentee's: program_rematches_one_by_one
# acted on each close in turn (the first version), program_rematches_batched on every waiting close at
# once ("rematch-in-batches"), with one signal per report; program_rematches_coalesced receives the
# reports coalesced by the worker (signal pairings_changed, several reports each); program_rematches_local
# calls the store in local activities ("program-local-calls").
REMATCH_SCENARIO = "program_rematches_local"
# The scenarios record today's workflow versions. Histories of earlier versions stay in the corpus
# and are never re-recorded: pairing_<path>.json (first version), pairing_<path>_memo.json (with the
# "pairing-memo" patch, still publishing in a local activity); the _after_commit ones publish in a
# regular activity once the decision is committed ("publish-after-commit"), and their simulated
# people still act through an activity sending Updates; in the _simulated_here ones they act inside
# the workflow ("simulate-in-workflow"). The _v2 ones took all four of those changes under one patch
# (V2_PATCH in workflows/pairing.py); the _v3 ones are revision 3 (REVISION in workflows/pairing.py):
# the same logic without the patch's marker, and the memo written at the start and the close only;
# the _v4 ones are revision 4: the close shown in the task that completes the pairing.
PAIRING_SCENARIOS: dict[str, Behaviour] = {
    "pairing_completed_v4": "diligent",
    "pairing_flaky_v4": "flaky",
    "pairing_withdrawn_v4": "drops_out",
    "pairing_mismatched_v4": "mismatched",
}
# what `record NAME ...` accepts, and what test_replay expects in the corpus
SCENARIOS = {
    *PAIRING_SCENARIOS,
    DRIVEN_SCENARIO,
    REMATCH_SCENARIO,
    PROGRAM_SCENARIO,
    PROGRAM_PAIRING_SCENARIO,
}


async def _operator_paths(client: Client, task_queue: str) -> object:
    """A pairing driven by hand through the paths simulated people never take: the goal deadline
    passes (escalation), goals agreed late, a missed and a held session, a note, a pause across a
    long gap, resume, an extension, then the mentee withdraws."""
    from domain.durations import IsoDuration
    from domain.pairing import AddNote, Extend, Goal, LogSession, Pause, Resume, SessionStatus, Withdraw
    from tests.workflows.helpers import Driver

    handle, skipper = await start_pairing(client, task_queue, new_pairing_input(), skip=False)
    d = Driver(handle, skipper)
    await d.to_next_alarm("goal_deadline")
    await d.agree_goals((Goal(title="Co-host a town hall Q&A", signal="held before the midpoint"),))
    await d.to_next_alarm("checkin_request")
    await d.act("log_session", LogSession(side="mentor", status=SessionStatus.MISSED))
    await d.to_next_alarm("checkin_request")
    await d.act("log_session", LogSession(side="mentee", status=SessionStatus.HELD, rating=4))
    await d.act("add_note", AddNote(author="operator", text="agreed to swap roles for one meeting"))
    await d.act("pause", Pause(reason="sabbatical"))
    await d.advance(timedelta(days=45))
    await d.act("resume", Resume())
    await d.act("extend", Extend(by=IsoDuration.parse("P1M")))
    await d.act("withdraw", Withdraw(side="mentee", reason="moved to another company"))
    await handle.result()
    return await handle.fetch_history()


async def _program_with_rematches(client: Client, task_queue: str, settings: Settings) -> object:
    """One mentee, three mentors: the first pairing is rematched by an Update, the second mentor
    withdraws, then the mentee withdraws from the third pairing, which closes the program."""
    from domain.pairing import Rematch, Withdraw
    from workflows.pairing import ActionResult

    program_id = "history-rematches"
    people = [
        _person(program_id, "m1@example.com", Role.MENTOR, 1),
        _person(program_id, "m2@example.com", Role.MENTOR, 2),
        _person(program_id, "m3@example.com", Role.MENTOR, 3),
        _person(program_id, "e1@example.com", Role.MENTEE, 8),
    ]
    inputs = operations.Inputs(config=ProgramConfig(id=program_id, name="rematches"), participants=people)
    _, specs = operations.plan(inputs)
    store = await EventStore.open(settings.database_url, migrate=False)
    try:
        version = await operations.enrol(store, inputs, specs, datetime.now(UTC))
    finally:
        await store.close()
    program = await operations.start_program(client, task_queue, inputs, specs, version)
    mentee = people[3].participant_id

    async def pairing(n: int) -> str:
        """The id of the program's n-th pairing, once it runs."""
        for _ in range(600):
            for mentor in people[:3]:
                workflow_id = workflow_id_for(f"{program_id}.{mentee}.{mentor.participant_id}")
                if workflow_id in done:
                    continue
                with contextlib.suppress(RPCError):
                    await client.get_workflow_handle(workflow_id).describe()
                    done.add(workflow_id)
                    return workflow_id
            await asyncio.sleep(0.1)
        raise RuntimeError(f"pairing {n} of {program_id} never started")

    done: set[str] = set()
    steps = [Rematch(reason="fit check"), Withdraw(side="mentor", reason="moved team")]
    steps.append(Withdraw(side="mentee", reason="left"))
    for n, step in enumerate(steps, start=1):
        handle = client.get_workflow_handle(await pairing(n))
        update = "rematch" if isinstance(step, Rematch) else "withdraw"
        await handle.execute_update(update, step, result_type=ActionResult)
    await program.result()
    return await program.fetch_history()


def _person(program_id: str, email: str, role: Role, level: int) -> Participant:
    return Participant(
        participant_id=participant_id_for(program_id, email),
        email=email,
        name=email.split("@")[0],
        role=role,
        title="t",
        department="d",
        level=level,
        communication_style="direct",
        timezone="Europe/London",
    )


async def record_all(settings: Settings, only: set[str] | None = None) -> list[Path]:
    from worker import running_worker

    # Plaintext on purpose: the corpus holds simulated data only, and replaying it must not need a key.
    client = await Client.connect(settings.temporal_address, data_converter=pydantic_data_converter)
    written: list[Path] = []
    async with running_worker(settings, client) as worker:
        for name, behaviour in PAIRING_SCENARIOS.items():
            if only and name not in only:
                continue
            inp = new_pairing_input(simulation_seed=0)
            inp = inp.model_copy(update={"simulation_seed": seed_for(inp.pairing_id, behaviour)})
            handle, _ = await start_pairing(client, worker.task_queue, inp, skip=True)
            await handle.result()
            written.append(await _save(name, await handle.fetch_history()))

        if not only or DRIVEN_SCENARIO in only:
            written.append(await _save(DRIVEN_SCENARIO, await _operator_paths(client, worker.task_queue)))

        if not only or REMATCH_SCENARIO in only:
            history = await _program_with_rematches(client, worker.task_queue, settings)
            written.append(await _save(REMATCH_SCENARIO, history))

        if only and not only & {PROGRAM_SCENARIO, PROGRAM_PAIRING_SCENARIO}:
            return written
        program_id = "history-program"
        config = ProgramConfig(id=program_id, name="recorded program")
        people = [
            _person(program_id, f"{role.value}{n}@example.com", role, 2 if role is Role.MENTOR else 7)
            for n in range(PROGRAM_PAIRINGS)
            for role in (Role.MENTOR, Role.MENTEE)
        ]
        inputs = operations.Inputs(config=config, participants=people)
        specs = [
            PairingSpec(
                pairing_id=f"{program_id}.{people[2 * n + 1].participant_id}.{people[2 * n].participant_id}",
                mentor_id=people[2 * n].participant_id,
                mentee_id=people[2 * n + 1].participant_id,
            )
            for n in range(PROGRAM_PAIRINGS)
        ]
        store = await EventStore.open(settings.database_url, migrate=False)
        try:
            version = await operations.enrol(store, inputs, specs, datetime.now(UTC))
        finally:
            await store.close()
        handle = await operations.start_program(
            client, worker.task_queue, inputs, specs, version, simulation_seed=3, time_skipping=True
        )
        await handle.result()
        if not only or PROGRAM_SCENARIO in only:
            written.append(await _save(PROGRAM_SCENARIO, await handle.fetch_history()))
        if not only or PROGRAM_PAIRING_SCENARIO in only:
            child = client.get_workflow_handle(workflow_id_for(specs[0].pairing_id))
            written.append(await _save(PROGRAM_PAIRING_SCENARIO, await child.fetch_history()))
    return written


async def _save(name: str, history: object) -> Path:
    path = HERE / f"{name}.json"
    data = json.loads(history.to_json())  # type: ignore[attr-defined]
    path.write_text(json.dumps(data, indent=1) + "\n")
    return path


def main() -> None:
    only = set(sys.argv[1:]) or None
    unknown = sorted((only or set()) - SCENARIOS)
    if unknown:
        sys.exit(f"unknown scenario(s): {', '.join(unknown)}; known: {', '.join(sorted(SCENARIOS))}")
    stack = LocalStack.ephemeral()
    stack.start()
    try:
        settings = stack.settings("tandem-histories")
        for path in asyncio.run(record_all(settings, only)):
            print(f"wrote {path.relative_to(HERE.parents[1])} ({path.stat().st_size // 1024} KiB)")
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
