"""``starter.py match``: real processes, no servers needed. The pairings file it writes is what ``validate``
and ``start --pairings`` read back; bad input exits 2 with located problems and writes nothing."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

from bench.matching import generate_roster
from tests.test_starter import EXAMPLES, run_cli

PROGRAM = str(EXAMPLES / "program.yaml")
ROSTER = str(EXAMPLES / "roster.csv")
ROSTER_COLUMNS = (
    "email", "name", "role", "title", "department", "level", "manager_email", "skills_offered",
    "skills_wanted", "communication_style", "timezone", "capacity", "languages",
)  # fmt: skip


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


async def test_match_writes_pairings_that_validate_reads_back(tmp_path: Path) -> None:
    out = tmp_path / "pairings.csv"
    code, stdout, err = await run_cli(
        "match", "--program", PROGRAM, "--roster", ROSTER, "--out", str(out), "--at", "2027-01-15"
    )
    assert code == 0, err
    written = rows(out)
    assert list(written[0]) == ["mentor_email", "mentee_email", "score", "reasons"]
    assert len(written) == 6
    assert written[0]["mentor_email"] == "liam.chen@example.com"  # the forced pair comes first
    assert written[0]["reasons"].startswith("forced by the operator; ")
    assert all(row["reasons"] and float(row["score"]) > 0 for row in written)
    for words in ("matched", "6 of 6", "greedy baseline", "mean score", "min score", f"wrote {out}: 6 pairs"):
        assert words in stdout, words
    code, stdout, err = await run_cli(
        "validate", "--program", PROGRAM, "--roster", ROSTER, "--pairings", str(out)
    )
    assert code == 0, err
    assert "6 pairs and 0 unpaired mentees" in stdout


async def test_the_json_summary_compares_with_the_greedy_baseline(tmp_path: Path) -> None:
    out = tmp_path / "pairings.csv"
    code, stdout, err = await run_cli(
        "match", "--program", PROGRAM, "--roster", ROSTER, "--out", str(out), "--seed", "7", "--json",
        "--at", "2027-07-01",
    )  # fmt: skip
    assert code == 0, err
    summary = json.loads(stdout)
    assert summary["seed"] == 7 and summary["offsets_at"] == "2027-07-01T12:00:00+00:00"
    optimal, greedy = summary["optimal"], summary["greedy"]
    assert optimal["matched"] == greedy["matched"] == 6 and optimal["unmatched"] == 0
    assert optimal["total_score"] >= greedy["total_score"]
    assert optimal["min_score"] <= optimal["mean_score"]
    assert summary["unmatched"] == [] and summary["notes"] == []


async def test_unmatched_mentees_and_notes_are_reported(tmp_path: Path) -> None:
    program = tmp_path / "program.yaml"
    text = (EXAMPLES / "program.yaml").read_text(encoding="utf-8")
    program.write_text(text.replace("shared_language: false", "shared_language: true").replace(
        "min_overlap_hours: 0", "min_overlap_hours: 6"), encoding="utf-8")  # fmt: skip
    out = tmp_path / "pairings.csv"
    code, stdout, err = await run_cli(
        "match", "--program", str(program), "--roster", ROSTER, "--out", str(out), "--at", "2027-01-15"
    )
    assert code == 0, err
    assert "Unmatched mentees" in stdout and "no compatible mentor" in stdout
    assert "note: forced pair liam.chen@example.com / margaret.hughes@example.com not applied" in stdout


async def test_an_existing_file_is_kept_unless_forced(tmp_path: Path) -> None:
    out = tmp_path / "pairings.csv"
    out.write_text("keep me\n", encoding="utf-8")
    code, stdout, err = await run_cli("match", "--program", PROGRAM, "--roster", ROSTER, "--out", str(out))
    assert code == 2 and not stdout
    assert f"{out}:1:1: file exists; pass --force to overwrite it" in err
    assert "nothing was written" in err
    assert out.read_text(encoding="utf-8") == "keep me\n"
    code, _, err = await run_cli(
        "match", "--program", PROGRAM, "--roster", ROSTER, "--out", str(out), "--force"
    )
    assert code == 0, err
    assert len(rows(out)) == 6
    assert os.listdir(tmp_path) == ["pairings.csv"]  # no temporary file left behind


async def test_bad_input_is_located_exits_2_and_writes_nothing(tmp_path: Path) -> None:
    program = tmp_path / "p.yaml"
    program.write_text(
        "id: rm-test\nname: x\nmatching:\n  working_hours: {start: 18, end: 9}\n", encoding="utf-8"
    )
    roster = tmp_path / "r.csv"
    roster.write_text(
        (EXAMPLES / "roster.csv").read_text(encoding="utf-8").replace("Europe/Berlin", "Europe/Berln")
    )
    out = tmp_path / "pairings.csv"
    code, stdout, err = await run_cli(
        "match", "--program", str(program), "--roster", str(roster), "--out", str(out)
    )
    assert code == 2 and not stdout
    assert f"{program}:4:18: working_hours start (18) must be before end (9)" in err
    assert any(line.startswith(f"{roster}:") and "Europe/Berln" in line for line in err.splitlines())
    assert "nothing was written" in err
    assert not out.exists()


async def test_bad_options_exit_2(tmp_path: Path) -> None:
    code, _, err = await run_cli(
        "match", "--program", PROGRAM, "--roster", ROSTER, "--out", str(tmp_path / "none" / "p.csv")
    )
    assert code == 2 and "does not exist" in err
    code, _, err = await run_cli(
        "match", "--program", PROGRAM, "--roster", ROSTER, "--out", str(tmp_path / "p.csv"), "--at", "soon"
    )
    assert code == 2 and "'soon' is not a date" in err
    assert not (tmp_path / "p.csv").exists()


async def test_a_large_roster_shows_progress_and_matches_everyone(tmp_path: Path) -> None:
    roster = tmp_path / "roster.csv"
    with roster.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(ROSTER_COLUMNS)
        for p in generate_roster(2000, seed=5, program_id="rm-large"):
            writer.writerow([
                p.email, p.name, p.role.value, p.title, p.department, p.level, p.manager_email or "",
                ";".join(p.skills_offered), ";".join(p.skills_wanted), p.communication_style, p.timezone,
                p.capacity, ";".join(p.languages),
            ])  # fmt: skip
    program = tmp_path / "program.yaml"
    program.write_text("id: rm-large\nname: Large\nmatching:\n  seed: 3\n", encoding="utf-8")
    out = tmp_path / "pairings.csv"
    os.environ["FORCE_COLOR"] = "1"  # rich draws the bar only on a terminal, or when told to
    try:
        code, stdout, err = await run_cli(
            "match", "--program", str(program), "--roster", str(roster), "--out", str(out), "--progress"
        )
    finally:
        del os.environ["FORCE_COLOR"]
    assert code == 0, err
    for stage in ("parse", "score", "solve", "explain"):
        assert stage in err, stage
    assert "1000 of 1000" in stdout
    assert len(rows(out)) == 1000
    code, stdout, err = await run_cli(
        "validate", "--program", str(program), "--roster", str(roster), "--pairings", str(out)
    )
    assert code == 0, err
    assert "1000 pairs and 0 unpaired mentees" in stdout
