"""The starter with an operator-edited pairings file (--pairings): real processes, no servers needed."""

from __future__ import annotations

from pathlib import Path

from tandem.settings import Settings
from tests.test_starter import EXAMPLES, run_cli

PROGRAM = str(EXAMPLES / "program.yaml")
ROSTER = str(EXAMPLES / "roster.csv")
GOOD = (
    "mentor_email,mentee_email,score,reasons\r\n"
    'liam.chen@example.com,margaret.hughes@example.com,,"forced; agreed with HR, too"\r\n'
    "mia.schneider@example.com,henrik.larsen@example.com,4.5,\r\n"
    "mia.schneider@example.com,daniel.okafor@example.com,,\r\n"
)


def _file(tmp_path: Path, text: str, name: str = "pairings.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _roster_text() -> str:
    return (EXAMPLES / "roster.csv").read_text(encoding="utf-8")


def _unreachable(tmp_path: Path) -> Settings:
    """Servers nobody listens on: a command that got past validation would fail with exit 1, not 2."""
    return Settings(
        temporal_address="127.0.0.1:9",
        database_url="postgresql://nobody@127.0.0.1:9/none",
        state_dir=tmp_path / "state",
        codec_key_file=tmp_path / "keys.json",
    )


async def test_validate_with_a_good_pairings_file(tmp_path: Path) -> None:
    pairings = _file(tmp_path, GOOD)
    code, out, err = await run_cli(
        "validate", "--program", PROGRAM, "--roster", ROSTER, "--pairings", str(pairings)
    )
    assert code == 0, err
    assert "valid: program rm-pilot-2027" in out and "12 participants" in out
    assert "3 pairs and 3 unpaired mentees" in out


async def test_validate_reports_located_problems_of_the_pairings_file(tmp_path: Path) -> None:
    pairings = _file(
        tmp_path,
        "mentor_email,mentee_email,score,reasons\n"
        "liam.chen@example.com,margaret.hughes@example.com,high,\n"  # 2: score
        "ava.thompson@example.com,daniel.okafor@example.com,,\n"  # 3: same reporting chain
        "lucas.moreau@example.com,margaret.hughes@example.com,,\n"  # 4: mentee listed twice
        "mia.schneider@example.com,priya.raman@exmple.com,,\n",  # 5: not in the roster
    )
    code, out, err = await run_cli(
        "validate", "--program", PROGRAM, "--roster", ROSTER, "--pairings", str(pairings)
    )
    assert code == 2 and not out
    lines = err.splitlines()
    assert f"{pairings}:2:3: score 'high' is not a number" in lines
    assert (
        f"{pairings}:3:1: mentor ava.thompson@example.com and mentee daniel.okafor@example.com: "
        "same reporting chain"
    ) in lines
    assert f"{pairings}:4:2: duplicate mentee 'margaret.hughes@example.com' (first on line 2)" in lines
    assert (
        f"{pairings}:5:2: mentee_email 'priya.raman@exmple.com' is not in the roster "
        "(did you mean 'priya.raman@example.com'?)"
    ) in lines
    assert "4 problem(s); nothing was started" in err


async def test_problems_of_all_three_files_are_reported_together(tmp_path: Path) -> None:
    roster = _file(tmp_path, _roster_text().replace("Europe/Berlin", "Europe/Berln"), "r.csv")
    pairings = _file(tmp_path, "mentor_email,mentee_email,scor\nnot-an-email,margaret.hughes@example.com,1\n")
    code, _, err = await run_cli(
        "validate", "--program", PROGRAM, "--roster", str(roster), "--pairings", str(pairings)
    )
    assert code == 2
    assert f"{roster}:5:11: time zone 'Europe/Berln'" in err
    assert f"{pairings}:1:3: unknown column 'scor' (did you mean 'score'?)" in err
    assert f"{pairings}:2:1: mentor_email 'not-an-email' is not an email address" in err


async def test_missing_or_undecodable_pairings_file(tmp_path: Path) -> None:
    code, _, err = await run_cli(
        "validate", "--program", PROGRAM, "--roster", ROSTER, "--pairings", str(tmp_path / "none.csv")
    )
    assert code == 2 and f"{tmp_path / 'none.csv'}:1:1: file not found" in err
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes(
        "mentor_email,mentee_email,reasons\nliam.chen@example.com,margaret.hughes@example.com,café\n".encode(
            "latin-1"
        )
    )
    code, _, err = await run_cli(
        "validate", "--program", PROGRAM, "--roster", ROSTER, "--pairings", str(latin1)
    )
    assert code == 2 and f"{latin1}:1:1: not UTF-8 text" in err


async def test_validate_without_pairings_is_unchanged() -> None:
    code, out, err = await run_cli("validate", "--program", PROGRAM, "--roster", ROSTER)
    assert code == 0, err
    assert "pairs" not in out


async def test_start_with_a_bad_pairings_file_starts_nothing(tmp_path: Path) -> None:
    pairings = _file(
        tmp_path, "mentor_email,mentee_email\nmargaret.hughes@example.com,liam.chen@example.com\n"
    )
    code, out, err = await run_cli(
        "start", "--program", PROGRAM, "--roster", ROSTER, "--pairings", str(pairings),
        settings=_unreachable(tmp_path),
    )  # fmt: skip
    assert code == 2, err
    assert f"{pairings}:2:1: mentor_email 'margaret.hughes@example.com' is a mentee in the roster" in err
    assert f"{pairings}:2:2: mentee_email 'liam.chen@example.com' is a mentor in the roster" in err
    assert "nothing was started" in err and "started" not in out
    assert not (tmp_path / "state").exists()
