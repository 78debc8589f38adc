"""The lifecycle benchmark's own instruments (the benchmark itself runs from bench/, not in CI)."""

from __future__ import annotations

import os
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
