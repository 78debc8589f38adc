"""The garbage collector's settings for a worker: applied while it runs, given back after, nested
tunings leave the outer one in place."""

from __future__ import annotations

import gc
import uuid

from temporalio.client import Client

from tandem import collector
from tandem.settings import Settings
from worker import running_worker


def test_tuning_sets_the_thresholds_freezes_and_gives_both_back() -> None:
    before, frozen = gc.get_threshold(), gc.get_freeze_count()
    assert before != collector.THRESHOLDS  # else this test could not see the change
    with collector.tuned():
        assert gc.get_threshold() == collector.THRESHOLDS
        assert gc.get_freeze_count() > frozen  # what lived on entry is out of every collection
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_a_nested_tuning_leaves_the_outer_one_in_place() -> None:
    before = gc.get_threshold()
    with collector.tuned():
        frozen = gc.get_freeze_count()
        with collector.tuned():
            assert gc.get_freeze_count() == frozen  # nothing frozen twice
        assert gc.get_threshold() == collector.THRESHOLDS
        assert gc.get_freeze_count() == frozen
    assert gc.get_threshold() == before


def test_overlapping_tunings_give_the_settings_back_when_the_last_ends() -> None:
    """Two workers run by concurrent tasks may stop in the order they started."""
    before = gc.get_threshold()
    first, second = collector.tuned(), collector.tuned()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert gc.get_threshold() == collector.THRESHOLDS  # the second still runs
    second.__exit__(None, None, None)
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_settings_come_back_when_the_tuned_block_fails() -> None:
    before = gc.get_threshold()
    try:
        with collector.tuned():
            raise RuntimeError("the worker died")
    except RuntimeError:
        pass
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


async def test_a_running_worker_runs_with_the_collector_tuned(client: Client, settings: Settings) -> None:
    before = gc.get_threshold()
    mine = settings.model_copy(update={"task_queue": f"gc-{uuid.uuid4().hex[:6]}"})
    async with running_worker(mine, client):
        assert gc.get_threshold() == collector.THRESHOLDS
        assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == before
