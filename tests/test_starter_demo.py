"""`starter.py demo` as `make demo` runs it: its own throw-away stack, live stages, summary, report."""

from __future__ import annotations

import email
import email.policy
import json
from html.parser import HTMLParser
from pathlib import Path

import icalendar

from tests.test_starter import run_cli


class _Ids(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.ids.update(value for name, value in attrs if name == "id" and value)


async def test_demo_runs_the_example_program_and_writes_its_impact_report(tmp_path: Path) -> None:
    mail = tmp_path / "mail"
    code, out, err = await run_cli(
        "demo", "--report-dir", str(tmp_path / "reports"), "--mail-sink", str(mail), limit=300
    )
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

    # --mail-sink: every notification went out by email to the local sink, once, readable, with
    # calendar invitations that a calendar accepts (one UID per session, updates by SEQUENCE)
    messages = [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default) for p in mail.glob("*.eml")
    ]
    assert len(messages) > 100 and f"mail: {len(messages)} messages" in out
    ids = [m["Message-ID"] for m in messages]
    assert len(set(ids)) == len(ids), "a notification was sent twice"
    assert all("@" in m["To"] for m in messages)
    # a long subject may be folded onto the next line, which leaves a leading space when parsed
    assert all(m["Subject"].strip().startswith("[Reverse mentoring pilot 2027]") for m in messages)
    assert all(m.get_body(preferencelist=("plain",)).get_content().startswith("Hello ") for m in messages)
    uids: dict[str, set[int]] = {}
    for path in mail.glob("*.ics"):
        calendar = icalendar.Calendar.from_ical(path.read_bytes())
        for event in calendar.walk("VEVENT"):
            uids.setdefault(str(event["UID"]), set()).add(int(event["SEQUENCE"]))
    assert uids, "no calendar invitation arrived"
    assert all(uid.startswith("session-") and uid.endswith("@tandem") for uid in uids)


async def test_an_unwritable_output_directory_is_one_clear_line_before_anything_runs(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    for option in ("--mail-sink", "--report-dir"):
        code, out, err = await run_cli("demo", option, str(blocker / "sub"), limit=60)
        assert code == 1, out + err
        assert f"cannot write to {blocker / 'sub'}" in err and "Traceback" not in err + out
        assert "stack up" not in out  # refused before the stack started
