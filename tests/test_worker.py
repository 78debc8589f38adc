"""The worker's workflow runner: unsandboxed by default, the SDK's sandbox on request, and the
workflows still pass the sandbox end to end (the guard that stands in for it in production)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from domain.program import ProgramConfig
from domain.roster import Role
from eventstore import EventStore
from tandem import operations
from tandem.settings import Settings, SettingsError
from tests.workflows.helpers import person
from worker import (
    MAX_CONCURRENT_ACTIVITIES,
    SIMULATION_STICKY_TIMEOUT,
    STICKY_TIMEOUT,
    build_worker,
    running_worker,
    workflow_runner,
)

ROOT = Path(__file__).resolve().parents[1]


def test_sandbox_setting_reads_on_and_off_and_refuses_anything_else() -> None:
    assert Settings.from_env({}).workflow_sandbox is False
    assert Settings.from_env({"TANDEM_WORKFLOW_SANDBOX": "on"}).workflow_sandbox is True
    assert Settings.from_env({"TANDEM_WORKFLOW_SANDBOX": " TRUE "}).workflow_sandbox is True
    assert Settings.from_env({"TANDEM_WORKFLOW_SANDBOX": "off"}).workflow_sandbox is False
    with pytest.raises(SettingsError, match=r"TANDEM_WORKFLOW_SANDBOX='maybe': say on or off"):
        Settings.from_env({"TANDEM_WORKFLOW_SANDBOX": "maybe"})


def test_runner_follows_the_setting() -> None:
    assert isinstance(workflow_runner(False), UnsandboxedWorkflowRunner)
    assert isinstance(workflow_runner(True), SandboxedWorkflowRunner)


async def test_a_simulating_worker_keeps_its_workflow_tasks_longer(
    client: Client, settings: Settings
) -> None:
    """Under time skipping a 1,000-pairing simulation queued tasks for more than the SDK's 10 s; a
    worker that runs a simulation waits longer before its tasks go elsewhere as full-history replays,
    an ordinary worker keeps the SDK's value (a crashed worker's workflows move on after 10 s)."""
    assert SIMULATION_STICKY_TIMEOUT > STICKY_TIMEOUT
    mine = settings.model_copy(update={"task_queue": f"sticky-{uuid.uuid4().hex[:6]}"})
    async with running_worker(mine, client, simulating=True) as simulating:
        assert simulating.config()["sticky_queue_schedule_to_start_timeout"] == SIMULATION_STICKY_TIMEOUT
        assert isinstance(simulating.config()["workflow_runner"], UnsandboxedWorkflowRunner)
        assert simulating.config()["max_concurrent_activities"] == MAX_CONCURRENT_ACTIVITIES
    async with running_worker(mine, client) as ordinary:
        assert ordinary.config()["sticky_queue_schedule_to_start_timeout"] == STICKY_TIMEOUT


@pytest.mark.parametrize("command", [["worker.py"], ["starter.py", "status", "some-program"]])
def test_worker_and_starter_refuse_a_bad_setting_before_connecting(command: list[str]) -> None:
    env = {"PATH": "/usr/bin:/bin", "TANDEM_WORKFLOW_SANDBOX": "sometimes"}
    done = subprocess.run(
        [sys.executable, *command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2, done.stderr
    assert "bad setting: TANDEM_WORKFLOW_SANDBOX='sometimes': say on or off" in done.stderr
    assert "Traceback" not in done.stderr


async def test_a_program_runs_to_closure_on_a_sandboxed_worker(client: Client, store: EventStore) -> None:
    """Production runs unsandboxed (worker.py says why); this run is the sandbox's check on every
    path a simulated program takes: a workflow that read the clock, drew randomness or did I/O would
    fail its tasks here and the program would not close."""
    program_id = f"sandboxed-{uuid.uuid4().hex[:8]}"
    people = [person(program_id, n, role) for n in range(4) for role in (Role.MENTOR, Role.MENTEE)]
    inputs = operations.Inputs(config=ProgramConfig(id=program_id, name="sandboxed"), participants=people)
    _, specs = operations.plan(inputs)
    version = await operations.enrol(store, inputs, specs)
    queue = f"tandem-sandboxed-{uuid.uuid4().hex[:6]}"
    async with build_worker(client, store, queue, sandboxed=True):
        handle = await operations.start_program(
            client, queue, inputs, specs, version, simulation_seed=5, time_skipping=True
        )
        async with asyncio.timeout(300):  # a task failing in the sandbox retries forever; fail instead
            summary = await handle.result()
    assert summary.pairings == summary.closed == len(specs) + summary.rematches
    assert sum(summary.outcomes.values()) == summary.pairings
