"""`starter.py demo` as `make demo` runs it: its own throw-away stack, live stages, summary, report."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

from tests.test_starter import run_cli


class _Ids(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.ids.update(value for name, value in attrs if name == "id" and value)


async def test_demo_runs_the_example_program_and_writes_its_impact_report(tmp_path: Path) -> None:
    code, out, err = await run_cli("demo", "--report-dir", str(tmp_path / "reports"), limit=300)
    assert code == 0, err + out
    assert "→ closed: completed" in out  # live stage changes
    assert "Program rm-pilot-2027: finished" in out  # the summary
    assert "Impact report of rm-pilot-2027" in out and "Session completion" in out

    data = json.loads((tmp_path / "reports" / "rm-pilot-2027.json").read_text())
    metrics = {m["name"]: m for m in data["metrics"]}
    completion = metrics["session_completion"]
    assert completion["status"] == "measured" and 0 < completion["value"] <= 1
    assert completion["n"] > 0

    html = (tmp_path / "reports" / "rm-pilot-2027.html").read_text()
    parser = _Ids()
    parser.feed(html)
    assert {f"metric-{name}" for name in metrics} <= parser.ids
    assert html.count("<svg") >= 4  # sessions over time, attainment, satisfaction, funnel
    assert "@" not in html  # no email address of any participant
