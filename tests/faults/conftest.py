"""Fault tests (marker ``faults``): real worker processes killed, a real PostgreSQL stopped. They run in
the normal suite; ``make chaos`` runs only them and prints the figures as a table."""

from __future__ import annotations

import pytest

from tests.faults.harness import RESULTS


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/faults/" in item.nodeid.replace("\\", "/"):
            item.add_marker(pytest.mark.faults)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not RESULTS:
        return
    write = terminalreporter.write_line
    header = (
        "scenario",
        "faults",
        "programs",
        "completed",
        "expected",
        "found",
        "lost",
        "duplicated",
        "secs",
    )
    rows = [
        (
            r.scenario,
            r.faults,
            r.programs,
            r.completed,
            r.expected,
            r.found,
            r.lost,
            r.duplicated,
            f"{r.seconds:.0f}",
        )
        for r in RESULTS
    ]
    total = (
        "total",
        sum(r.faults for r in RESULTS),
        sum(r.programs for r in RESULTS),
        sum(r.completed for r in RESULTS),
        sum(r.expected for r in RESULTS),
        sum(r.found for r in RESULTS),
        sum(r.lost for r in RESULTS),
        sum(r.duplicated for r in RESULTS),
        f"{sum(r.seconds for r in RESULTS):.0f}",
    )
    table = [header, *rows, total]
    widths = [max(len(str(row[i])) for row in table) for i in range(len(header))]
    terminalreporter.section("chaos: faults injected, nothing lost, nothing duplicated")
    for n, row in enumerate(table):
        if n in (1, len(table) - 1):
            write("  ".join("-" * w for w in widths))
        write(
            "  ".join(
                str(v).rjust(w) if i else str(v).ljust(w)
                for i, (v, w) in enumerate(zip(row, widths, strict=True))
            )
        )
