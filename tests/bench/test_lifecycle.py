"""The lifecycle benchmark's own instruments (the benchmark itself runs from bench/, not in CI)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from bench.lifecycle import CpuMeter, Servers
from tandem.settings import Settings
from tests.conftest import dev_server


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_cpu_meter_reads_a_process_cpu_from_proc() -> None:
    """Pointed at this very process, the /proc reading must agree with Python's own CPU clock: wrong
    fields of /proc/PID/stat (or a wrong clock tick) would not."""
    meter = CpuMeter(os.getpid())
    mark = meter.read()
    busy_until = time.process_time() + 0.3
    while time.process_time() < busy_until:
        pass
    from_proc, from_python = meter.since(mark)
    assert from_python >= 0.3
    assert abs(from_proc - from_python) <= 0.1, (from_proc, from_python)


def test_cpu_meter_without_a_server_reports_zero_for_it() -> None:
    assert CpuMeter(None).since(CpuMeter(None).read())[0] == 0.0


@pytest.mark.parametrize("args", [["--rounds", "0"], ["--pairings", "-3"]])
def test_bad_counts_are_refused_before_any_server_starts(args: list[str]) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "bench.lifecycle", *args], capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 2
    assert f"{args[0]} must be at least 1, got {args[1]}" in run.stderr


def test_an_output_file_in_a_missing_folder_is_refused_before_any_server_starts(tmp_path: Path) -> None:
    """Found at the end of a 45-minute run, the missing folder would cost the whole report."""
    target = tmp_path / "no-such-folder" / "out.json"
    run = subprocess.run(
        [sys.executable, "-m", "bench.lifecycle", "--output", str(target)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2
    assert f"--output: folder {target.parent} does not exist" in run.stderr


async def _exists(client: Client, workflow_id: str) -> bool:
    try:
        await client.get_workflow_handle(workflow_id).describe()
    except RPCError as err:
        if err.status is RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True


async def test_every_phase_runs_on_a_server_that_has_run_nothing(settings: Settings, tmp_path: Path) -> None:
    """A workflow left by one phase is unknown to the next, and the CPU meter follows the new server:
    otherwise a later phase would again pay for the histories of an earlier one."""
    server = dev_server(tmp_path / "temporal.log")
    server.start()
    try:
        servers = Servers(server, settings.model_copy(update={"temporal_address": server.address}))
        first = server.child.process
        assert first is not None
        async with servers.fresh() as (client, cpu):
            assert cpu.server_pid == first.pid  # the first phase uses the server the stack started
            await client.start_workflow("LeftBehind", id="left-behind", task_queue="nobody-polls")
            assert await _exists(client, "left-behind")
        async with servers.fresh() as (client, cpu):
            assert first.poll() is not None  # the first server is gone
            assert cpu.server_pid not in (None, first.pid)
            assert not await _exists(client, "left-behind")
    finally:
        server.stop()
