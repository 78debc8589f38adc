"""Reading operator-edited CSV files (rosters, pairings) with every problem located.

Shared by the roster and pairings parsers: records with the physical line each starts on (quoted
fields may span lines), a problem collector, and header checking (unknown, duplicate and missing
columns, with suggestions). Columns are reported by their 1-based position in the header.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator, Sequence

from domain.validation import Problem, did_you_mean

MAX_FIELD_LENGTH = 200
LINE_BREAK = "contains a line break (values must fit on one line; is a quote unclosed?)"
CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class Report:
    """Collects the problems of one file."""

    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.problems: list[Problem] = []

    def add(self, line: int, column: int, message: str) -> None:
        self.problems.append(Problem(self.filename, max(line, 1), max(column, 1), message))


_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")


def lines(text: str) -> Iterator[str]:
    """The physical lines of ``text`` with their line ends, one at a time (as ``io.StringIO(text,
    newline="")`` yields them, without copying the whole text into a second buffer)."""
    for match in _LINE.finditer(text):
        yield match.group()


def records(text: str, report: Report) -> Iterator[tuple[int, list[str]]]:
    """Non-blank records with the physical line each starts on; a CSV error ends the file there.

    Memory beyond ``text`` itself is one record at a time: lines are produced lazily, so a caller
    that stops after its row limit has done bounded work whatever the file's length.
    """
    reader = csv.reader(lines(text))
    while True:
        start = reader.line_num + 1  # line_num counts lines read so far: the next record starts after them
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            report.add(start, 1, f"malformed CSV, reading stopped here: {error}")
            return
        if any(f.strip() for f in fields):
            yield start, fields


def open_table(
    text: str, report: Report, *, what: str, expected: Sequence[str]
) -> tuple[int, list[str], Iterator[tuple[int, list[str]]]] | None:
    """The header (its line and cells) and an iterator over the data records after it; None (with a
    problem reported) when the file has no header: ``what`` names the file in that message."""
    if text.startswith("\ufeff"):
        text = text[1:]
    rows = records(text, report)
    header_record = next(rows, None)
    if header_record is None:
        if not report.problems:
            report.add(1, 1, f"{what} is empty (expected a header line: {','.join(expected)})")
        return None
    line, header = header_record
    return line, header, rows


def report_shifted_row(
    line: int, fields: Sequence[str], width: int, columns: dict[str, int], report: Report
) -> None:
    """A row whose values do not line up with the header: say where, and why if a quote swallowed
    the following lines (checking its values one by one would only produce noise)."""
    broken = next((i for i, f in enumerate(fields) if "\n" in f or "\r" in f), None)
    if broken is not None:
        names = {index: name for name, index in columns.items()}
        report.add(line, broken + 1, f"{names.get(broken, 'value')} {LINE_BREAK}")
    else:
        report.add(
            line,
            min(len(fields), width) + 1,
            f"row has {len(fields)} values but the header has {width} columns",
        )


def header_columns(
    line: int, header: list[str], report: Report, *, required: Sequence[str], known: Sequence[str]
) -> dict[str, int]:
    """Known column name -> 0-based index (first occurrence), reporting unknown/duplicate/missing."""
    columns: dict[str, int] = {}
    for index, raw in enumerate(header):
        name = raw.strip().lower()
        if not name:
            report.add(line, index + 1, f"column {index + 1} has no name")
        elif name not in known:
            report.add(line, index + 1, f"unknown column {name!r}{did_you_mean(name, known)}")
        elif name in columns:
            report.add(line, index + 1, f"duplicate column {name!r} (also column {columns[name] + 1})")
        else:
            columns[name] = index
    for name in required:
        if name not in columns:
            report.add(line, 1, f"missing required column {name!r}")
    return columns
