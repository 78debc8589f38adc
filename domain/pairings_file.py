"""Parse an operator-edited pairings file (CSV) into a :class:`Proposal`, reporting every problem located.

Operators review the proposed pairings and may override them by handing the starter a pairings file::

    mentor_email,mentee_email,score,reasons
    liam.chen@example.com,margaret.hughes@example.com,4.5,forced by the operator;same communication style

``mentor_email`` and ``mentee_email`` are required columns; ``score`` and ``reasons`` are optional
columns whose values may be left empty (then the matcher's own score and reasons are used; reasons are
``;``-separated). Column names are case-insensitive and may come in any order. Positions follow the
roster parser's conventions (:mod:`domain.roster_file`): LINE is the physical line where the record
starts, COLUMN the field's position in the header (1-based). A UTF-8 BOM is dropped, CRLF and LF both
work, quoted fields may hold commas. A row may stop early when only optional columns are left out.

Checks, all reported at once: the file's shape (header, row width, email shape, score a finite number,
reasons at most 500 characters without control characters) and, against the roster and the program,
every email in the roster with the right role, each mentee at most once, no mentor over capacity, and
no pair that breaks a hard constraint of :func:`domain.matching.allowed`. Forced pairs of the program
that the file leaves out are not errors (the operator overrides them); mentees the file leaves unpaired
come back in :attr:`Proposal.unmatched`.

Pure: no I/O; the caller reads the file and passes its text.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass, field

from domain.compatibility import Offsets
from domain.csv_input import CONTROL as _CONTROL
from domain.csv_input import LINE_BREAK as _LINE_BREAK
from domain.csv_input import MAX_FIELD_LENGTH, header_columns, open_table, report_shifted_row
from domain.csv_input import Report as _Report
from domain.matching import Proposal, ProposedPair, allowed, score
from domain.program import ProgramConfig
from domain.roster import Participant, Role
from domain.validation import InvalidInput, Problem, is_email

REQUIRED_COLUMNS = ("mentor_email", "mentee_email")
OPTIONAL_COLUMNS = ("score", "reasons")
ALL_COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
MAX_REASONS_LENGTH = 500
NOT_IN_FILE = "not in the pairings file"
"""The reason given in :attr:`Proposal.unmatched` for a roster mentee the file leaves unpaired."""
FORCED = "forced by the operator"

_EMAIL_ROLE = {"mentor_email": Role.MENTOR, "mentee_email": Role.MENTEE}
_SUGGESTIONS = 10  # distinct unknown emails that get a "did you mean" (bounds the fuzzy-matching work)
_EMAIL_CUTOFF = 0.8  # stricter than for names: short emails on one domain look alike ('b@x.com', 'bob@x.com')
_SHOWN_LINES = 5  # an over-capacity message names at most this many earlier lines
_NUMBER = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$")
_NOT_FINITE = re.compile(r"^[+-]?(?:inf|infinity|nan)$", re.IGNORECASE)


@dataclass
class _Row:
    """One data row after the shape checks; a field that failed them stays ``None``."""

    line: int
    emails: dict[str, str] = field(default_factory=dict)  # column -> lowercased, well-formed email
    written: dict[str, str] = field(default_factory=dict)  # column -> the email as written (trimmed)
    score: float | None = None  # None: empty (computed) or invalid (reported)
    reasons: tuple[str, ...] = ()  # (): empty, the computed reasons are used


@dataclass
class _Table:
    header_line: int
    columns: dict[str, int]  # known column name -> 0-based index
    rows: list[_Row]


def parse_pairings(
    text: str,
    filename: str,
    *,
    config: ProgramConfig,
    participants: list[Participant],
    max_rows: int = 200_000,
    offsets: Offsets | None = None,
) -> Proposal:
    """Parse and check a pairings file against a validated roster and program.

    ``offsets`` (time zone -> hours east of UTC, from the caller) let the working-hours overlap be
    checked and scored as in the automatic proposal.

    Returns the pairs in file order, and the roster's mentees the file leaves unpaired (reason
    :data:`NOT_IN_FILE`, in roster order); raises :class:`InvalidInput` with every problem found.
    """
    report = _Report(filename)
    table = _read(text, report, max_rows)
    pairs: list[ProposedPair] = []
    if table is not None:
        pairs = _cross_check(table, config, participants, report, offsets)
    if report.problems:
        raise InvalidInput(report.problems)
    paired = {pair.mentee.email.lower() for pair in pairs}
    unmatched = tuple(
        (p, NOT_IN_FILE) for p in participants if p.role is Role.MENTEE and p.email.lower() not in paired
    )
    return Proposal(pairs=tuple(pairs), unmatched=unmatched)


def check_pairings_shape(text: str, filename: str, *, max_rows: int = 200_000) -> tuple[Problem, ...]:
    """The problems of a pairings file that need no roster: header, rows, email shape, score, reasons.

    For reporting a pairings file together with a roster or program file that is itself invalid, when
    the checks against the roster cannot run. Empty when the file's shape is fine.
    """
    report = _Report(filename)
    _read(text, report, max_rows)
    return tuple(sorted(set(report.problems)))


# -- the file's shape --------------------------------------------------------------------------------


def _read(text: str, report: _Report, max_rows: int) -> _Table | None:
    """Header and rows with their own values checked; None when there is no header to read."""
    table = open_table(text, report, what="pairings file", expected=ALL_COLUMNS)
    if table is None:
        return None
    header_line, header, records = table
    columns = _header(header_line, header, report)
    rows: list[_Row] = []
    for line, fields in records:
        if len(rows) >= max_rows:
            report.add(line, 1, f"pairings file has more than {max_rows} rows")
            break
        rows.append(_row(line, fields, columns, len(header), report))
    if not rows and not any(p.line > header_line for p in report.problems):
        report.add(header_line, 1, "pairings file has a header but no rows")
    return _Table(header_line, columns, rows)


def _header(line: int, header: list[str], report: _Report) -> dict[str, int]:
    return header_columns(line, header, report, required=REQUIRED_COLUMNS, known=ALL_COLUMNS)


def _row(line: int, fields: list[str], columns: dict[str, int], width: int, report: _Report) -> _Row:
    row = _Row(line)
    # Trailing empty cells are harmless, and so is a row that stops before optional columns only; any
    # other width mismatch means shifted values, and checking them one by one would only produce noise.
    cut_short = any(columns[name] >= len(fields) for name in REQUIRED_COLUMNS if name in columns)
    if cut_short or any(f.strip() for f in fields[width:]):
        report_shifted_row(line, fields, width, columns, report)
        return row
    for name, index in columns.items():
        raw = fields[index] if index < len(fields) else ""
        value = _text(line, name, index + 1, raw, report)
        if value is not None:
            _value(row, name, index + 1, value, report)
    return row


def _text(line: int, name: str, column: int, raw: str, report: _Report) -> str | None:
    """The trimmed value, or None after reporting a value no column may hold."""
    bad = _CONTROL.search(raw)
    if bad is not None:
        char = bad.group()
        if char in "\r\n":
            report.add(line, column, f"{name} {_LINE_BREAK}")
        else:
            report.add(line, column, f"{name} contains a control character (U+{ord(char):04X})")
        return None
    limit = MAX_REASONS_LENGTH if name == "reasons" else MAX_FIELD_LENGTH
    if len(raw) > limit:
        report.add(line, column, f"{name} is too long ({len(raw)} characters; at most {limit})")
        return None
    value = raw.strip()
    if not value and name in REQUIRED_COLUMNS:
        report.add(line, column, f"missing value for {name!r}")
        return None
    return value


def _value(row: _Row, name: str, column: int, value: str, report: _Report) -> None:
    if name in REQUIRED_COLUMNS:
        if not is_email(value):
            report.add(row.line, column, f"{name} {value!r} is not an email address")
            return
        row.emails[name] = value.lower()
        row.written[name] = value
    elif name == "score" and value:
        number = float(value) if _NUMBER.match(value) else None
        if _NOT_FINITE.match(value) or (number is not None and not math.isfinite(number)):
            report.add(row.line, column, f"score {value!r} is not a finite number")
        elif number is None:
            report.add(row.line, column, f"score {value!r} is not a number")
        else:
            row.score = number
    elif name == "reasons":
        row.reasons = tuple(reason.strip() for reason in value.split(";") if reason.strip())


# -- against the roster and the program ----------------------------------------------------------------


def _cross_check(
    table: _Table,
    config: ProgramConfig,
    participants: list[Participant],
    report: _Report,
    offsets: Offsets | None,
) -> list[ProposedPair]:
    by_email = {p.email.lower(): p for p in participants}
    forced = {(mentor.lower(), mentee.lower()) for mentor, mentee in config.matching.force}
    mentor_column = table.columns.get("mentor_email", 0) + 1
    mentee_column = table.columns.get("mentee_email", 0) + 1
    suggest = _Suggester(participants)
    first_line: dict[str, int] = {}  # mentee email -> the line that pairs them first
    taken: dict[str, list[int]] = {}  # mentor email -> lines that use their capacity
    pairs: list[ProposedPair] = []
    for row in table.rows:
        people: dict[str, Participant] = {}
        for name, role in _EMAIL_ROLE.items():
            email = row.emails.get(name)
            if email is None:
                continue
            column = table.columns[name] + 1
            person = by_email.get(email)
            if person is None:
                report.add(
                    row.line,
                    column,
                    f"{name} {row.written[name]!r} is not in the roster{suggest(email, role)}",
                )
            elif person.role is not role:
                report.add(
                    row.line,
                    column,
                    f"{name} {row.written[name]!r} is a {person.role} in the roster, not a {role}",
                )
            else:
                people[name] = person
        mentor, mentee = people.get("mentor_email"), people.get("mentee_email")
        repeated = False
        if mentee is not None:
            key = mentee.email.lower()
            if key in first_line:
                repeated = True
                report.add(
                    row.line,
                    mentee_column,
                    f"duplicate mentee {row.written['mentee_email']!r} (first on line {first_line[key]})",
                )
            else:
                first_line[key] = row.line
        if mentor is not None and not repeated:  # a repeated mentee is reported once, not also as capacity
            lines = taken.setdefault(mentor.email.lower(), [])
            if len(lines) >= mentor.capacity:
                report.add(
                    row.line,
                    mentor_column,
                    f"mentor {row.written['mentor_email']!r} is over capacity (capacity "
                    f"{mentor.capacity}; already paired on {_lines(lines)})",
                )
            else:
                lines.append(row.line)
        if mentor is None or mentee is None:
            continue
        reason = allowed(mentor, mentee, config, by_email, offsets=offsets)
        if reason is not None:
            report.add(
                row.line,
                mentor_column,
                f"mentor {row.written['mentor_email']} and mentee {row.written['mentee_email']}: {reason}",
            )
            continue
        computed, why = score(mentor, mentee, config, offsets=offsets)
        if (mentor.email.lower(), mentee.email.lower()) in forced:
            why = (FORCED, *why)
        pairs.append(
            ProposedPair(mentor, mentee, computed if row.score is None else row.score, row.reasons or why)
        )
    return pairs


def _lines(lines: list[int]) -> str:
    shown = ", ".join(str(n) for n in lines[:_SHOWN_LINES])
    more = f" and {len(lines) - _SHOWN_LINES} more" if len(lines) > _SHOWN_LINES else ""
    return f"line{'s' if len(lines) > 1 else ''} {shown}{more}"


class _Suggester:
    """`` (did you mean 'x'?)`` among the roster's emails of the expected role, for a bounded number."""

    def __init__(self, participants: list[Participant]) -> None:
        self.participants = participants
        self.options: dict[Role, list[str]] = {}
        self.cache: dict[tuple[str, Role], str] = {}

    def __call__(self, email: str, role: Role) -> str:
        key = (email, role)
        if key not in self.cache:
            if len(self.cache) >= _SUGGESTIONS:
                return ""
            if role not in self.options:
                self.options[role] = sorted(p.email.lower() for p in self.participants if p.role is role)
            found = difflib.get_close_matches(email, self.options[role], n=1, cutoff=_EMAIL_CUTOFF)
            self.cache[key] = f" (did you mean {found[0]!r}?)" if found else ""
        return self.cache[key]
