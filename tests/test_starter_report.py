"""`starter.py import-leavers`, `report` and `rebuild-projections` as an operator runs them."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from eventstore import EventStore
from tandem.settings import Settings
from tests.conftest import create_database
from tests.projections.conftest import read_model_tables
from tests.report.fixture import build_program, fixture_scripts
from tests.test_starter import run_cli

START = datetime(2025, 1, 6, 9, tzinfo=UTC)  # in the past, so that HR extracts can reach 12 months
PROGRAM = "rm-cli"


@pytest.fixture(scope="module")
async def db(pg_dsn: str) -> AsyncIterator[tuple[Settings, EventStore]]:
    dsn = await create_database(pg_dsn, f"cli_{uuid.uuid4().hex[:8]}")
    store = await EventStore.open(dsn, migrate=False)
    built = build_program(PROGRAM, "CLI pilot", fixture_scripts(), start=START)
    await built.append(store)
    try:
        yield Settings(database_url=dsn), store
    finally:
        await store.close()


async def test_import_leavers_reports_every_problem_and_records_nothing(
    db: tuple[Settings, EventStore], tmp_path: Path
) -> None:
    settings, store = db
    before = await store.stream_version(f"roster-{PROGRAM}")
    bad = tmp_path / "leavers.csv"
    bad.write_text("email,left_on\nnope,2025-02-30\nmentee.number2@example.com,2026-02-01\n")
    code, _, err = await run_cli("import-leavers", str(bad), "--program", PROGRAM, "--as-of", "2026-01-31",
                                 settings=settings)  # fmt: skip
    assert code == 2, err
    assert f"{bad}:2:1: email 'nope' is not an email address" in err
    assert f"{bad}:2:2: left_on '2025-02-30' is not a calendar date" in err
    assert f"{bad}:3:2: left_on 2026-02-01 is after the extract's as-of date 2026-01-31" in err
    assert "3 problem(s); nothing was recorded" in err
    code, _, err = await run_cli("import-leavers", str(bad), "--program", PROGRAM, "--as-of", "2999-01-01",
                                 settings=settings)  # fmt: skip
    assert code == 2 and "in the future" in err
    code, _, err = await run_cli("import-leavers", str(tmp_path / "missing.csv"), "--program", PROGRAM,
                                 settings=settings)  # fmt: skip
    assert code == 2 and "missing.csv:1:1: file not found" in err
    assert await store.stream_version(f"roster-{PROGRAM}") == before


async def test_import_leavers_then_report_in_three_formats_then_rebuild(
    db: tuple[Settings, EventStore], tmp_path: Path
) -> None:
    settings, store = db
    leavers = tmp_path / "leavers.csv"
    leavers.write_text(
        "email,left_on,name\n"
        "margaret.hughes@example.com,2025-03-01,Margaret Hughes\n"  # before 3 months (2025-04-06)
        "someone.else@example.com,2025-03-01,Not In The Program\n"
    )
    args = ("import-leavers", str(leavers), "--program", PROGRAM, "--as-of", "2026-02-01")
    code, out, err = await run_cli(*args, settings=settings)
    assert code == 0, err
    assert "participants of the program" in out and "not in this program (ignored)" in out
    code, out, err = await run_cli(*args, settings=settings)
    assert code == 0 and "nothing new" in out, err
    roster = [e.type for e in await store.read_stream(f"roster-{PROGRAM}")]
    assert roster.count("ParticipantLeftCompany") == 1 and roster.count("LeaversImported") == 1

    files = {fmt: tmp_path / f"report.{fmt}" for fmt in ("html", "json", "csv")}
    for fmt, path in files.items():
        code, _, err = await run_cli(
            "report", PROGRAM, "--format", fmt, "--out", str(path), settings=settings
        )
        assert code == 0, err
        assert f"wrote {path} ({fmt})" in err
    data = json.loads(files["json"].read_text())
    metrics = {m["name"]: m for m in data["metrics"]}
    assert metrics["retention_3m"]["value"] == pytest.approx(15 / 16)
    assert metrics["session_completion"]["value"] == pytest.approx(17 / 21)
    assert data["program"]["hr_as_of"] == "2026-02-01"
    html = files["html"].read_text()
    assert html.startswith("<!DOCTYPE html>") and 'id="metric-retention_12m"' in html and "<svg" in html
    rows = list(csv.DictReader(io.StringIO(files["csv"].read_text())))
    assert {r["key"] for r in rows if r["section"] == "metric"} == set(metrics)

    code, out, err = await run_cli("report", "rm-nope", "--out", str(tmp_path / "x.html"), settings=settings)
    assert code == 1 and "no program 'rm-nope'" in err
    assert not (tmp_path / "x.html").exists()

    before = await read_model_tables(store.pool)
    code, out, err = await run_cli("rebuild-projections", settings=settings)
    assert code == 0, err
    assert "rebuilt the read models from position 0" in out and "rm_pairing: 8 rows" in out
    assert await read_model_tables(store.pool) == before


async def test_import_leavers_for_an_unknown_program_exits_1(
    db: tuple[Settings, EventStore], tmp_path: Path
) -> None:
    settings, _ = db
    leavers = tmp_path / "leavers.csv"
    leavers.write_text("email,left_on\n")
    code, _, err = await run_cli("import-leavers", str(leavers), "--program", "rm-nope", settings=settings)
    assert code == 1 and "no program 'rm-nope'" in err
