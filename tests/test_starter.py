"""The operator CLI as a user runs it: real processes, real servers, good and bad input."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from pathlib import Path

import pytest
from temporalio.worker import Worker

from eventstore import EventStore
from tandem.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


async def run_cli(*args: str, settings: Settings | None = None, limit: float = 120) -> tuple[int, str, str]:
    env = dict(os.environ)
    if settings is not None:
        env.update(
            TEMPORAL_ADDRESS=settings.temporal_address,
            DATABASE_URL=settings.database_url,
            TANDEM_TASK_QUEUE=settings.task_queue,
            TANDEM_CODEC_KEY_FILE=str(settings.key_file),
        )
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "starter.py"),
        *args,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), limit)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def _program_copy(tmp_path: Path, program_id: str) -> Path:
    text = (EXAMPLES / "program.yaml").read_text().replace("rm-pilot-2027", program_id)
    path = tmp_path / "program.yaml"
    path.write_text(text)
    return path


async def test_validate_accepts_the_examples() -> None:
    code, out, err = await run_cli(
        "validate", "--program", str(EXAMPLES / "program.yaml"), "--roster", str(EXAMPLES / "roster.csv")
    )
    assert code == 0, err
    assert "valid: program rm-pilot-2027" in out and "12 participants" in out


async def test_validate_reports_every_problem_located_and_exits_2(tmp_path: Path) -> None:
    program = tmp_path / "p.yaml"
    program.write_text("id: Bad Id\nname: x\nschedule:\n  session_cadence: P2X\n  cadense: P1W\n")
    roster = tmp_path / "r.csv"
    header = (EXAMPLES / "roster.csv").read_text().splitlines()[0]
    row = {column: "x" for column in header.split(",")}
    row.update(
        email="not-an-email", role="boss", level="2", manager_email="", timezone="Mars/Base", capacity="1"
    )
    roster.write_text(header + "\n" + ",".join(row.values()) + "\n")
    code, _, err = await run_cli("validate", "--program", str(program), "--roster", str(roster))
    assert code == 2
    located = [line for line in err.splitlines() if line.startswith((str(program), str(roster)))]
    assert any(f"{program}:1:5:" in line for line in located), err  # the id value
    assert any(f"{program}:4:20:" in line and "P2X" in line for line in located), err
    assert any(f"{program}:5:3:" in line and "cadense" in line for line in located), err
    assert any(f"{roster}:2:" in line and "email" in line for line in located), err
    assert any(f"{roster}:2:" in line and "boss" in line for line in located), err
    assert any(f"{roster}:2:" in line and "Mars/Base" in line for line in located), err
    assert "nothing was started" in err


async def test_validate_missing_file(tmp_path: Path) -> None:
    code, _, err = await run_cli(
        "validate", "--program", str(tmp_path / "none.yaml"), "--roster", str(EXAMPLES / "roster.csv")
    )
    assert code == 2 and "none.yaml:1:1: file not found" in err


async def test_start_with_bad_input_writes_nothing(
    tmp_path: Path, settings: Settings, store: EventStore
) -> None:
    program_id = f"cli-{uuid.uuid4().hex[:8]}"
    program = _program_copy(tmp_path, program_id)
    roster = tmp_path / "r.csv"
    roster.write_text((EXAMPLES / "roster.csv").read_text().replace("Europe/London", "Europe/Londn"))
    code, _, err = await run_cli(
        "start", "--program", str(program), "--roster", str(roster), settings=settings
    )
    assert code == 2 and "Europe/Londn" in err
    assert await store.stream_version(f"program-{program_id}") == 0
    assert await store.stream_version(f"roster-{program_id}") == 0


async def test_start_then_status(
    tmp_path: Path, settings: Settings, worker: Worker, store: EventStore
) -> None:
    program_id = f"cli-{uuid.uuid4().hex[:8]}"
    program = _program_copy(tmp_path, program_id)
    code, out, err = await run_cli(
        "start",
        "--program",
        str(program),
        "--roster",
        str(EXAMPLES / "roster.csv"),
        "--simulate",
        "5",
        settings=settings,
    )
    assert code == 0, err
    assert f"program-{program_id}" in out and "6 pairings" in out

    again, _, err = await run_cli(
        "start", "--program", str(program), "--roster", str(EXAMPLES / "roster.csv"), settings=settings
    )
    assert again == 1 and "already exists" in err

    for _ in range(600):
        code, out, err = await run_cli("status", program_id, "--json", settings=settings)
        assert code == 0, err
        report = json.loads(out)
        if report["program_status"] == "completed":
            break
        await asyncio.sleep(0.5)
    # six planned pairings, plus one for each rematch
    assert report["pairings"] == 6 + report["rematches"] == report["by_stage"]["closed"], report
    assert sum(report["outcomes"].values()) == report["pairings"]


async def test_status_of_unknown_program(settings: Settings) -> None:
    code, _, err = await run_cli("status", "no-such-program", settings=settings)
    assert code == 1 and "no program 'no-such-program'" in err


@pytest.mark.parametrize("args", [["start"], ["validate", "--program", "x.yaml"], ["nonsense"]])
async def test_usage_errors_exit_2(args: list[str]) -> None:
    code, _, err = await run_cli(*args)
    assert code == 2 and err
