"""The starter under hostile files: a million-row roster costs bounded memory and time, devices and
pipes are refused, and no file content makes it read or write anything but the paths it was given
(every ``open`` of the starter process is recorded with a Python audit hook)."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tandem import operations

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
ROWS = 1_000_000
RSS_LIMIT_MIB = 300  # the starter alone is ~150 MiB here; before bounded reading 1M rows took ~540 MiB

# Runs the starter with an audit hook that logs every file it opens (mode, flags, path) to argv[1].
AUDITED = """
import os, runpy, sys
log = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
def hook(event, args):
    if event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
        line = f"{args[1]}\\t{args[2]}\\t{os.path.abspath(os.fsdecode(args[0]))}\\n"
        os.write(log, line.encode("utf-8", "replace"))
sys.addaudithook(hook)
sys.argv = sys.argv[2:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""

# Measures the peak RSS of one starter run (the wrapper's only child).
MEASURED = """
import resource, subprocess, sys
code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=sys.stderr).returncode
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024, code, file=sys.stdout)
"""


def starter(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "starter.py"), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def peak_rss(*args: str) -> tuple[int, int, str, float]:
    """(peak RSS in MiB, exit code, stderr, seconds) of ``starter.py *args``."""
    started = time.monotonic()
    run = subprocess.run(
        [sys.executable, "-c", MEASURED, sys.executable, str(ROOT / "starter.py"), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    rss, code = (int(x) for x in run.stdout.split())
    return rss, code, run.stderr, time.monotonic() - started


def write_roster(path: Path, rows: int, row: str) -> Path:
    with path.open("w") as handle:
        handle.write(
            "email,name,role,title,department,level,manager_email,skills_offered,skills_wanted,"
            "communication_style,timezone\n"
        )
        for i in range(rows):
            handle.write(row.format(i=i, role="mentor" if i % 2 else "mentee"))
    return path


def test_a_million_row_roster_is_refused_by_size_unread(tmp_path: Path) -> None:
    roster = write_roster(
        tmp_path / "big.csv", ROWS, "p{i}@example.com,Person {i},{role},T,D,5,,a;b,c;d,direct,UTC\n"
    )
    size = roster.stat().st_size
    assert size > operations.MAX_ROSTER_BYTES
    rss, code, err, seconds = peak_rss(
        "validate", "--program", str(EXAMPLES / "program.yaml"), "--roster", str(roster)
    )
    print(f"\n1M-row roster ({size:,} bytes): exit {code}, peak RSS {rss} MiB, {seconds:.1f}s")
    assert code == 2
    assert (
        f"{roster}:1:1: roster is {size:,} bytes; the limit is {operations.MAX_ROSTER_BYTES:,} bytes" in err
    )
    assert rss < RSS_LIMIT_MIB


def test_a_million_short_rows_under_the_size_limit_stop_at_the_row_limit(tmp_path: Path) -> None:
    roster = write_roster(tmp_path / "short.csv", ROWS, "p{i}@x.io,N\n")
    assert roster.stat().st_size < operations.MAX_ROSTER_BYTES
    rss, code, err, seconds = peak_rss(
        "validate", "--program", str(EXAMPLES / "program.yaml"), "--roster", str(roster)
    )
    print(
        f"\n1M short rows ({roster.stat().st_size:,} bytes): exit {code}, peak RSS {rss} MiB, {seconds:.1f}s"
    )
    assert code == 2
    assert f"{roster}:50002:1: roster has more than 50000 rows" in err
    assert f"{roster}:2:3: row has 2 values but the header has 11 columns" in err
    assert rss < RSS_LIMIT_MIB


def test_devices_pipes_and_directories_are_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "roster.fifo"
    os.mkfifo(fifo)
    for path, message in (
        (fifo, "is not a regular file"),
        (Path("/dev/zero"), "is not a regular file"),
        (tmp_path, "is a directory"),
    ):
        run = starter(
            "validate", "--program", str(EXAMPLES / "program.yaml"), "--roster", str(path), timeout=60
        )
        assert run.returncode == 2
        assert f"{path}:1:1: {message}" in run.stderr


# -- nothing but the given paths --------------------------------------------------------------------

HOSTILE_VALUES = {
    "name": ["../../../etc/passwd", "/etc/shadow", "~root/.ssh/id_rsa", "$(touch /tmp/tandem-pwned)"],
    "title": ["file:///etc/hosts", "\\\\server\\share\\x", "`id`", "%2e%2e%2fetc%2fpasswd"],
    "location": ["/proc/self/environ", "C:\\Windows\\win.ini", "| cat /etc/passwd", "<!--#include file=x-->"],
}


def hostile_roster(path: Path) -> Path:
    rows = list(csv.DictReader(io.StringIO((EXAMPLES / "roster.csv").read_text())))
    for i, row in enumerate(rows):
        for column, values in HOSTILE_VALUES.items():
            row[column] = values[i % len(values)] + (f" {i}" if column == "name" else "")
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def _code_or_system_data(path: str) -> bool:
    prefixes = (
        sys.prefix,
        sys.base_prefix,
        sys.exec_prefix,
        "/usr/share/zoneinfo",
        "/usr/lib/python3",
        "/etc/",
    )
    return (
        path.startswith(prefixes)
        or path.endswith((".py", ".pyc", ".pth", ".so", "__path_hook__"))
        or ".egg-info/" in path  # package metadata (entry points)
        or os.path.isdir(path)
        or path.startswith(("/proc/", "/sys/", "/dev/"))
    )


def audited_opens(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], set[str], set[str]]:
    """Run the starter with every open recorded: (run, files read, files written), code excluded."""
    log = tmp_path / "opens.log"
    log.unlink(missing_ok=True)
    run = subprocess.run(
        [sys.executable, "-c", AUDITED, str(log), str(ROOT / "starter.py"), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    read: set[str] = set()
    written: set[str] = set()
    write_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
    for line in log.read_text().splitlines():
        mode, flags, path = line.split("\t", 2)
        writes = any(c in mode for c in "wax+") or (flags.isdigit() and int(flags) & write_flags)
        if writes:
            written.add(path)
        elif not _code_or_system_data(path):
            read.add(path)
    return run, read, written


def test_file_contents_never_make_the_starter_touch_other_paths(tmp_path: Path) -> None:
    program = tmp_path / "program.yaml"
    program.write_text((EXAMPLES / "program.yaml").read_text().replace("name: ", "name: /etc/passwd ", 1))
    roster = hostile_roster(tmp_path / "roster.csv")
    out = tmp_path / "out" / "pairings.csv"
    out.parent.mkdir()

    run, read, written = audited_opens(
        tmp_path, "validate", "--program", str(program), "--roster", str(roster)
    )
    assert run.returncode == 0, run.stderr
    assert read == {str(program), str(roster)} and written == set()

    run, read, written = audited_opens(
        tmp_path, "match", "--program", str(program), "--roster", str(roster), "--out", str(out)
    )
    assert run.returncode == 0, run.stderr
    assert read == {str(program), str(roster)}
    assert written == {str(out)}
    assert sorted(p.name for p in out.parent.iterdir()) == ["pairings.csv"]

    run, read, written = audited_opens(
        tmp_path, "match", "--program", str(program), "--roster", str(roster), "--out", str(out), "--force"
    )
    assert run.returncode == 0, run.stderr
    # an atomic replace: a temporary sibling in the same directory, renamed onto --out
    assert all(Path(p).parent == out.parent and Path(p).name.startswith(".pairings.csv.") for p in written)
    assert sorted(p.name for p in out.parent.iterdir()) == ["pairings.csv"]
    assert not Path("/tmp/tandem-pwned").exists()


@pytest.mark.parametrize(
    "value",
    ["!include /etc/passwd", "!!python/object/apply:os.system ['touch /tmp/tandem-pwned']", "*undefined"],
)
def test_a_program_file_cannot_name_other_files_or_code(tmp_path: Path, value: str) -> None:
    program = tmp_path / "program.yaml"
    program.write_text(f"id: rm-hostile\nname: {value}\n")
    run, read, written = audited_opens(
        tmp_path, "validate", "--program", str(program), "--roster", str(EXAMPLES / "roster.csv")
    )
    assert run.returncode == 2
    assert f"{program}:2:" in run.stderr  # located at the value
    assert read == {str(program), str(EXAMPLES / "roster.csv")} and written == set()
    assert not Path("/tmp/tandem-pwned").exists()


def test_out_through_a_symlink_replaces_the_link_not_its_target(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    link = tmp_path / "pairings.csv"
    link.symlink_to(victim)
    args = ["match", "--program", str(EXAMPLES / "program.yaml"), "--roster", str(EXAMPLES / "roster.csv")]
    refused = starter(*args, "--out", str(link))
    assert refused.returncode != 0 and victim.read_text() == "keep me"
    forced = starter(*args, "--out", str(link), "--force")
    assert forced.returncode == 0, forced.stderr
    assert victim.read_text() == "keep me"
    assert not link.is_symlink() and link.read_text().startswith("mentor_email,")
