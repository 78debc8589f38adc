"""Parse HR's leavers extract (CSV) into :class:`~domain.leavers.Leaver` rows, every problem located.

The file lists people who left the company, one per row::

    email,left_on
    margaret.hughes@example.com,2027-05-31

``email`` and ``left_on`` (an ISO date, ``YYYY-MM-DD``) are required columns. HR exports often carry
more: ``employee_id``, ``name``, ``department``, ``reason`` and ``notes`` are accepted and ignored (nothing of
them is recorded); any other column is reported, with a suggestion. Column names are case-insensitive
and may come in any order. Positions follow the roster parser's conventions (:mod:`domain.roster_file`):
LINE is the physical line where the record starts, COLUMN the field's position in the header
(1-based). A UTF-8 BOM is dropped, CRLF and LF both work, quoted fields may hold commas.

Checks, all reported at once: the header; each row's width; the email's shape; the date (a real
calendar date, not before 1970 and not after the extract's as-of date when one is given); control
characters and overlong values in any column; one row per person (emails compared
case-insensitively). A header without rows is valid: nobody left. The file is validated in full
before anything is recorded. Work is bounded by ``max_rows``.

Pure: no I/O; the caller reads the file and passes its text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from domain.csv_input import CONTROL as _CONTROL
from domain.csv_input import LINE_BREAK as _LINE_BREAK
from domain.csv_input import MAX_FIELD_LENGTH, header_columns, open_table, report_shifted_row
from domain.csv_input import Report as _Report
from domain.leavers import Leaver
from domain.validation import InvalidInput, is_email

REQUIRED_COLUMNS = ("email", "left_on")
IGNORED_COLUMNS = ("employee_id", "name", "department", "reason", "notes")
ALL_COLUMNS = REQUIRED_COLUMNS + IGNORED_COLUMNS
EARLIEST = date(1970, 1, 1)
_ISO_DATE = re.compile(r"^([0-9]{4})-([0-9]{2})-([0-9]{2})$")


@dataclass
class _Row:
    line: int
    email: str | None = None
    left_on: date | None = None


def parse_leavers(
    text: str, filename: str, *, as_of: date | None = None, max_rows: int = 500_000
) -> list[Leaver]:
    """Parse and validate a leavers file; raise :class:`InvalidInput` with every problem found."""
    report = _Report(filename)
    table = open_table(text, report, what="leavers file", expected=REQUIRED_COLUMNS)
    if table is None:
        raise InvalidInput(report.problems)
    header_line, header, records = table
    columns = header_columns(header_line, header, report, required=REQUIRED_COLUMNS, known=ALL_COLUMNS)
    width = len(header)

    rows: list[_Row] = []
    for line, fields in records:
        if len(rows) >= max_rows:
            report.add(line, 1, f"leavers file has more than {max_rows} rows")
            break
        rows.append(_row(line, fields, columns, width, as_of, report))

    first: dict[str, int] = {}
    email_column = columns.get("email", 0) + 1
    for row in rows:
        if row.email is None:
            continue
        if row.email in first:
            report.add(
                row.line, email_column, f"duplicate person {row.email!r} (first on line {first[row.email]})"
            )
        else:
            first[row.email] = row.line
    if report.problems:
        raise InvalidInput(report.problems)
    leavers: list[Leaver] = []
    for row in rows:
        assert row.email is not None and row.left_on is not None  # every row without them was reported
        leavers.append(Leaver(email=row.email, left_on=row.left_on, line=row.line))
    return leavers


def _row(
    line: int,
    fields: list[str],
    columns: dict[str, int],
    width: int,
    as_of: date | None,
    report: _Report,
) -> _Row:
    row = _Row(line)
    # Trailing empty cells (some spreadsheets add them) are harmless; any other width mismatch means the
    # values are shifted, and checking them column by column would only produce noise.
    if len(fields) < width or any(f.strip() for f in fields[width:]):
        report_shifted_row(line, fields, width, columns, report)
        return row
    for name, index in columns.items():
        raw = fields[index]
        column = index + 1
        bad = _CONTROL.search(raw)
        if bad is not None:
            char = bad.group()
            message = (
                f"{name} {_LINE_BREAK}"
                if char in "\r\n"
                else f"{name} contains a control character (U+{ord(char):04X})"
            )
            report.add(line, column, message)
            continue
        if len(raw) > MAX_FIELD_LENGTH:
            report.add(
                line, column, f"{name} is too long ({len(raw)} characters; at most {MAX_FIELD_LENGTH})"
            )
            continue
        value = raw.strip()
        if name == "email":
            if not value:
                report.add(line, column, "missing value for 'email'")
            elif not is_email(value):
                report.add(line, column, f"email {value!r} is not an email address")
            else:
                row.email = value.lower()
        elif name == "left_on":
            row.left_on = _date(value, line, column, as_of, report)
    return row


def _date(value: str, line: int, column: int, as_of: date | None, report: _Report) -> date | None:
    if not value:
        report.add(line, column, "missing value for 'left_on'")
        return None
    match = _ISO_DATE.match(value)
    if match is None:
        report.add(line, column, f"left_on {value!r} is not a date in the form YYYY-MM-DD")
        return None
    year, month, day = (int(part) for part in match.groups())
    try:
        parsed = date(year, month, day)
    except ValueError as exc:
        report.add(line, column, f"left_on {value!r} is not a calendar date ({exc})")
        return None
    if parsed < EARLIEST:
        report.add(line, column, f"left_on {value} is before {EARLIEST.isoformat()}")
        return None
    if as_of is not None and parsed > as_of:
        report.add(
            line,
            column,
            f"left_on {value} is after the extract's as-of date {as_of.isoformat()} (a future leaver?)",
        )
        return None
    return parsed
