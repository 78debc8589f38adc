"""Replay every recorded history under tests/histories/ with today's workflow code.

A change to workflow logic that alters the command sequence without ``workflow.patched`` (or a new
workflow type) makes these replays fail with a non-determinism error. Regenerate the corpus with
`make histories` only for deliberate, versioned changes.
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer, UnsandboxedWorkflowRunner

from worker import WORKFLOWS

HISTORIES = sorted((Path(__file__).resolve().parents[1] / "histories").glob("*.json"))


def _load(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(path.stem, json.loads(path.read_text()))


def test_corpus_is_present() -> None:
    names = {p.stem for p in HISTORIES}
    assert {"pairing_completed", "pairing_withdrawn", "pairing_mismatched", "program_two_pairings"} <= names
    # both branches of the "publish-after-commit" patch: local-activity histories and regular-activity ones
    assert {"pairing_completed_after_commit", "pairing_flaky_after_commit"} <= names
    # both branches of "simulate-in-workflow": simulated people acting through Updates, and in the workflow
    assert {"pairing_flaky_after_commit", "pairing_flaky_simulated_here"} <= names
    # both branches of "report-by-publish": a program's pairing signalling it, and reporting by publish
    assert {"pairing_in_program_signalled", "pairing_in_program_reported"} <= names
    # both branches of "rematch-in-batches": closes acted upon one by one, and in batches
    assert {"program_rematches_one_by_one", "program_rematches_batched"} <= names
    # both signals a program takes: one report each (pairing_changed), and coalesced (pairings_changed)
    assert {"program_rematches_batched", "program_rematches_coalesced"} <= names
    # both branches of "start-in-chunks": 100 children started per task, and chunks of START_CHUNK
    assert {"program_plan_from_store", "program_started_in_chunks"} <= names
    # both branches of "program-local-calls": the program's store calls as regular and local activities
    assert {"program_started_in_chunks", "program_started_locally"} <= names
    assert {"program_rematches_coalesced", "program_rematches_local"} <= names
    # pairings before and since "pairing-v2" (the four patches above taken under one)
    assert {"pairing_flaky_simulated_here", "pairing_flaky_v2", "pairing_in_program_reported"} <= names
    assert {"pairing_operator_paths_after_commit", "pairing_operator_paths_v2"} <= names
    # pairings before and since revision 3 (REVISION: V2_PATCH's logic without its marker)
    assert {"pairing_flaky_v2", "pairing_flaky_v3", "pairing_in_program_v2", "pairing_in_program_v3"} <= names
    assert {"pairing_operator_paths_v2", "pairing_operator_paths_v3"} <= names
    # and since revision 4 (the close shown in the task that completes the pairing)
    assert {"pairing_flaky_v3", "pairing_flaky_v4", "pairing_in_program_v3", "pairing_in_program_v4"} <= names
    assert {"pairing_operator_paths_v3", "pairing_operator_paths_v4"} <= names
    # every scenario of the recorder (today's versions) has its history in the corpus
    from tests.histories.record import SCENARIOS

    assert names >= SCENARIOS


def _signal_names(name: str) -> set[str]:
    history = _load(next(p for p in HISTORIES if p.stem == name))
    return {
        e.workflow_execution_signaled_event_attributes.signal_name
        for e in history.events
        if e.HasField("workflow_execution_signaled_event_attributes")
    }


def test_the_program_histories_hold_both_kinds_of_report() -> None:
    """So that replaying them exercises both signal handlers, not just the names of the files."""
    assert _signal_names("program_rematches_batched") == {"pairing_changed"}
    assert _signal_names("program_rematches_coalesced") == {"pairings_changed"}


def test_recording_an_unknown_scenario_is_refused_before_anything_starts() -> None:
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-m", "tests.histories.record", "pairing_completed_v2", "no_such_path"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1, done
    assert "unknown scenario(s): no_such_path" in done.stderr and "pairing_completed_v2" in done.stderr


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_recorded_history_replays(path: Path) -> None:
    replayer = Replayer(workflows=WORKFLOWS, data_converter=pydantic_data_converter)
    result = await replayer.replay_workflow(_load(path), raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{path.name}: {result.replay_failure}"


async def _fails_to_replay(name: str) -> None:
    """Replay history ``name`` with today's (monkeypatched) classes and expect non-determinism.
    Unsandboxed, so that the replay runs the patched class (the sandbox re-imports modules afresh)."""
    replayer = Replayer(
        workflows=WORKFLOWS,
        data_converter=pydantic_data_converter,
        workflow_runner=UnsandboxedWorkflowRunner(),
    )
    path = next(p for p in HISTORIES if p.stem == name)
    result = await replayer.replay_workflow(_load(path), raise_on_replay_failure=False)
    assert result.replay_failure is not None
    assert "nondetermin" in str(result.replay_failure).lower()


def _patch_taken(monkeypatch: pytest.MonkeyPatch, patch_id: str, taken: bool) -> None:
    """Workflow code that answers ``workflow.patched(patch_id)`` with ``taken``, whatever the history
    says: code that ignores a patch (False), or that assumes every run took it (True)."""
    from temporalio import workflow

    real = workflow.patched
    monkeypatch.setattr(workflow, "patched", lambda p: taken if p == patch_id else real(p))


async def test_replay_catches_an_unpatched_change(monkeypatch: pytest.MonkeyPatch) -> None:
    """Prove the corpus has teeth: a workflow that publishes in a different order must fail replay."""
    import workflows.pairing as module

    original = module.PairingWorkflow._publish

    async def publish_twice(self: module.PairingWorkflow) -> None:  # one extra activity per flush
        await original(self)
        if self.state.version > 3:
            await module.workflow.execute_activity(
                "record_events",
                module.RecordBatch(
                    stream_id=self.state.stream_id, expected_version=self.state.version, events=[]
                ),
                start_to_close_timeout=module.PUBLISH_TIMEOUT,
            )

    monkeypatch.setattr(module.PairingWorkflow, "_publish", publish_twice)
    await _fails_to_replay("pairing_completed")


async def test_replay_tells_the_two_simulation_branches_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    """The "simulate-in-workflow" histories pin the new branch: code that ignored the patch (simulated
    people through an activity again) must fail to replay them."""
    import workflows.pairing as module

    monkeypatch.setattr(module.PairingWorkflow, "_simulates_in_workflow", lambda self: False)
    await _fails_to_replay("pairing_flaky_simulated_here")


async def test_replay_tells_the_two_report_branches_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    """A pairing that reports by publish must not replay with code that ignores "report-by-publish"
    (signalling the program itself again), and the old history must not replay with code that always
    takes the new branch."""
    _patch_taken(monkeypatch, "report-by-publish", False)
    await _fails_to_replay("pairing_in_program_reported")
    _patch_taken(monkeypatch, "report-by-publish", True)
    await _fails_to_replay("pairing_in_program_signalled")


async def test_replay_tells_v2_pairings_from_earlier_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    """A v2 pairing must not replay with code that consults the four earlier patches (it has none of
    their markers), and an earlier pairing must not replay with code that assumes v2."""
    from workflows.pairing import V2_PATCH

    _patch_taken(monkeypatch, V2_PATCH, False)
    await _fails_to_replay("pairing_flaky_v2")
    _patch_taken(monkeypatch, V2_PATCH, True)
    await _fails_to_replay("pairing_completed_memo")


def _read_as_revision(monkeypatch: pytest.MonkeyPatch, revision: int) -> None:
    """Workflow code that takes every pairing's input for ``revision``, whatever it says."""
    import workflows.pairing as module

    real = module.PairingWorkflow.__init__

    @functools.wraps(real)  # with the SDK's mark of a @workflow.init: it then passes the input
    def init(self: module.PairingWorkflow, inp: module.PairingInput) -> None:
        real(self, inp.model_copy(update={"revision": revision}))

    monkeypatch.setattr(module.PairingWorkflow, "__init__", init)


async def test_replay_tells_revision_3_pairings_from_revision_2_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    """Revision 3 comes with the input, not a patch: a revision-3 pairing must not replay with code
    that reads it as revision 2 (it consults V2_PATCH, finds no marker and takes the older branches).
    The other way round cannot fail, and need not: revision 3 runs revision 2's logic, and the replay
    skips the V2_PATCH marker and the memo writes that the code no longer asks for."""
    _read_as_revision(monkeypatch, 2)
    await _fails_to_replay("pairing_flaky_v3")
    await _fails_to_replay("pairing_in_program_v3")
    await _fails_to_replay("pairing_operator_paths_v3")


async def test_replay_tells_the_two_rematch_branches_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    """Programs that acted on closes one by one replay only without "rematch-in-batches", and the
    batched ones only with it."""
    import workflows.program as module

    monkeypatch.setattr(module.ProgramWorkflow, "_closes_in_batches", lambda self: False)
    await _fails_to_replay("program_rematches_batched")
    monkeypatch.setattr(module.ProgramWorkflow, "_closes_in_batches", lambda self: True)
    await _fails_to_replay("program_rematches_one_by_one")


async def test_replay_tells_the_two_start_branches_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    """A program that started its children in chunks must not replay with code that starts a whole
    page of the plan at once (the branch of programs started before "start-in-chunks")."""
    _patch_taken(monkeypatch, "start-in-chunks", False)
    await _fails_to_replay("program_started_in_chunks")


def _calls(name: str) -> list[tuple[str, str]]:
    from tests.workflows.helpers import activities_called

    return activities_called(_load(next(p for p in HISTORIES if p.stem == name)).events)


def test_the_program_histories_call_the_store_both_ways() -> None:
    """So that replaying them exercises both branches of "program-local-calls"."""
    store_calls = {"load_plan", "withdraw_participants", "propose_rematches"}
    for regular, local in (
        ("program_started_in_chunks", "program_started_locally"),
        ("program_rematches_coalesced", "program_rematches_local"),
    ):
        before = {c for c in _calls(regular) if c[0] in store_calls}
        since = {c for c in _calls(local) if c[0] in store_calls}
        assert before and {kind for _, kind in before} == {"regular"}
        assert {name for name, _ in since} == {name for name, _ in before}
        assert {kind for _, kind in since} == {"local"}


async def test_replay_tells_the_two_store_call_branches_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    """A program that called the store in local activities must not replay with code that calls it
    in regular ones, nor the other way round."""
    _patch_taken(monkeypatch, "program-local-calls", False)
    await _fails_to_replay("program_started_locally")
    await _fails_to_replay("program_rematches_local")
    _patch_taken(monkeypatch, "program-local-calls", True)
    await _fails_to_replay("program_started_in_chunks")
    await _fails_to_replay("program_rematches_coalesced")


async def test_replay_tells_revision_4_pairings_from_revision_3_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    """Revision 4 shows the close in the pairing's last task, revision 3 before its last publish."""
    _read_as_revision(monkeypatch, 3)
    await _fails_to_replay("pairing_flaky_v4")
    await _fails_to_replay("pairing_in_program_v4")
    await _fails_to_replay("pairing_operator_paths_v4")


async def test_replay_tells_revision_3_pairings_from_revision_4_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    _read_as_revision(monkeypatch, 4)
    await _fails_to_replay("pairing_flaky_v3")
    await _fails_to_replay("pairing_in_program_v3")
    await _fails_to_replay("pairing_operator_paths_v3")
