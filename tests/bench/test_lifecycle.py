"""The lifecycle benchmark's own instruments (the benchmark itself runs from bench/, not in CI)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from bench.lifecycle import CpuMeter


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
