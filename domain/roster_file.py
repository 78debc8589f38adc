"""Parse a roster (CSV) into participants, reporting every problem with its location.

The roster is validated in full before anything is enrolled, so one run shows the operator every
mistake. Positions follow what a spreadsheet shows, not byte offsets:

* LINE is the physical line (1-based) where the record *starts*; a quoted field with embedded line
  breaks makes a record span several lines, and the rows after it keep their true line numbers.
* COLUMN is the field's position in the header (1-based: ``email`` is column 1 in the usual
  layout), not a character offset, because that is the column a spreadsheet user will look for.

Input is already-decoded text (the caller decodes UTF-8); a leading BOM is dropped, CRLF and LF both
work. Cross-row rules: one row per person (emails compared case-insensitively), no loops in manager
chains, at least one mentor and one mentee and, for reverse programs, every mentor junior to at least
one mentee. Work is bounded: at most ``max_rows`` data rows are read and loop detection is iterative.

Pure: no I/O; the set of known time zones is passed in by the caller.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import cast

from domain.csv_input import CONTROL as _CONTROL
from domain.csv_input import LINE_BREAK as _LINE_BREAK
from domain.csv_input import MAX_FIELD_LENGTH, header_columns, open_table, report_shifted_row
from domain.csv_input import Report as _Report
from domain.preferences import parse_quiet_hours
from domain.roster import NotifyVia, Participant, Role, participant_id_for
from domain.validation import InvalidInput, did_you_mean, is_email

REQUIRED_COLUMNS = (
    "email",
    "name",
    "role",
    "title",
    "department",
    "level",
    "manager_email",
    "skills_offered",
    "skills_wanted",
    "communication_style",
    "timezone",
)
OPTIONAL_COLUMNS = ("capacity", "languages", "location", "interests", "notify_via", "quiet_hours")
NOTIFY_VIA = ("email", "webhook", "console")
ALL_COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
LIST_COLUMNS = frozenset({"skills_offered", "skills_wanted", "languages", "interests"})
OPTIONAL_VALUES = frozenset({"manager_email", *OPTIONAL_COLUMNS})  # may be left empty

MAX_NAME_LENGTH = 120
MAX_ROWS = 50_000  # five times the largest program one machine runs (10,000 people)
LEVELS = (1, 20)
CAPACITY = (1, 50)
_LOOP_SHOWN = 8  # longer manager loops are abbreviated in messages (a 10,000-person loop stays readable)
_SUGGESTIONS = 200  # distinct bad time zones that get a "did you mean" (bounds the fuzzy-matching work)
_DIGITS = re.compile(r"^\d{1,6}$")


@dataclass
class _Row:
    line: int
    values: dict[str, str] = field(default_factory=dict)
    email: str | None = None
    manager: str | None = None
    role: Role | None = None
    level: int | None = None


def parse_roster(
    text: str,
    filename: str,
    *,
    program_id: str,
    known_timezones: frozenset[str],
    reverse_pairs: bool = True,
    max_rows: int = MAX_ROWS,
) -> list[Participant]:
    """Parse and validate a roster; raise :class:`InvalidInput` with every problem found."""
    report = _Report(filename)
    table = open_table(text, report, what="roster", expected=REQUIRED_COLUMNS)
    if table is None:
        raise InvalidInput(report.problems)
    header_line, header, records = table
    columns = _header(header_line, header, report)

    rows: list[_Row] = []
    checker = _RowChecker(columns, len(header), known_timezones, report)
    for line, fields in records:
        if len(rows) >= max_rows:
            report.add(line, 1, f"roster has more than {max_rows} rows")
            break
        rows.append(checker.check(line, fields))

    if not rows:
        if not any(p.line > header_line for p in report.problems):
            report.add(header_line, 1, "roster has a header but no rows")
    else:
        first_rows = _unique_people(rows, columns, report)
        _manager_loops(first_rows, columns, report)
        if "role" in columns:
            _roles(rows, columns, header_line, reverse_pairs, report)
    if report.problems:
        raise InvalidInput(report.problems)
    return [_participant(row, program_id) for row in rows]


def _header(line: int, header: list[str], report: _Report) -> dict[str, int]:
    return header_columns(line, header, report, required=REQUIRED_COLUMNS, known=ALL_COLUMNS)


class _RowChecker:
    """Checks one row's values on their own; cross-row rules come after all rows are read."""

    def __init__(
        self, columns: dict[str, int], width: int, timezones: frozenset[str], report: _Report
    ) -> None:
        self.columns = columns
        self.width = width
        self.timezones = timezones
        self.report = report
        self.suggestions: dict[str, str] = {}

    def check(self, line: int, fields: list[str]) -> _Row:
        row = _Row(line)
        # Trailing empty cells (some spreadsheets add them) are harmless; any other width mismatch means
        # the values are shifted, and checking them column by column would only produce noise.
        if len(fields) < self.width or any(f.strip() for f in fields[self.width :]):
            report_shifted_row(line, fields, self.width, self.columns, self.report)
            return row
        for name, index in self.columns.items():
            value = self._text(line, name, index, fields[index])
            if value is not None:
                self._value(row, name, index + 1, value)
        return row

    def _text(self, line: int, name: str, index: int, raw: str) -> str | None:
        """The trimmed value, or None after reporting a value no column may hold."""
        bad = _CONTROL.search(raw)
        if bad is not None:
            char = bad.group()
            if char in "\r\n":
                message = f"{name} {_LINE_BREAK}"
            else:
                message = f"{name} contains a control character (U+{ord(char):04X})"
            self.report.add(line, index + 1, message)
            return None
        limit = MAX_NAME_LENGTH if name == "name" else MAX_FIELD_LENGTH
        if len(raw) > limit:
            self.report.add(line, index + 1, f"{name} is too long ({len(raw)} characters; at most {limit})")
            return None
        value = raw.strip()
        if not value and name not in OPTIONAL_VALUES:
            self.report.add(line, index + 1, f"missing value for {name!r}")
            return None
        return value

    def _value(self, row: _Row, name: str, column: int, value: str) -> None:
        add = self.report.add
        if name in ("email", "manager_email"):
            if value and not is_email(value):
                add(row.line, column, f"{name} {value!r} is not an email address")
                return
            value = value.lower()
            if name == "email":
                row.email = value
            else:
                row.manager = value or None
        elif name == "role":
            try:
                row.role = Role(value.lower())
            except ValueError:
                add(row.line, column, f"unknown role {value!r} (expected mentor or mentee)")
                return
        elif name == "level":
            row.level = _integer(value, LEVELS)
            if row.level is None:
                add(
                    row.line,
                    column,
                    f"level must be an integer between {LEVELS[0]} and {LEVELS[1]} (got {value!r})",
                )
                return
        elif name == "capacity" and value:
            if _integer(value, CAPACITY) is None:
                add(
                    row.line,
                    column,
                    f"capacity must be an integer between {CAPACITY[0]} and {CAPACITY[1]} (got {value!r})",
                )
                return
        elif name == "notify_via" and value and value.lower() not in NOTIFY_VIA:
            add(row.line, column, f"notify_via {value!r} must be one of {', '.join(NOTIFY_VIA)} or empty")
            return
        elif name == "quiet_hours" and value:
            try:
                parse_quiet_hours(value)
            except ValueError as err:
                add(row.line, column, str(err))
                return
        elif name == "timezone" and value not in self.timezones:
            add(row.line, column, f"time zone {value!r} is not in the IANA database{self._suggest(value)}")
            return
        elif name in LIST_COLUMNS and name not in OPTIONAL_VALUES and not _items(value):
            add(row.line, column, f"missing value for {name!r}")
            return
        row.values[name] = value

    def _suggest(self, zone: str) -> str:
        if zone not in self.suggestions:
            if len(self.suggestions) >= _SUGGESTIONS:
                return ""
            self.suggestions[zone] = did_you_mean(zone, sorted(self.timezones))
        return self.suggestions[zone]


def _integer(value: str, bounds: tuple[int, int]) -> int | None:
    if not _DIGITS.match(value):
        return None
    number = int(value)
    return number if bounds[0] <= number <= bounds[1] else None


def _unique_people(rows: list[_Row], columns: dict[str, int], report: _Report) -> dict[str, _Row]:
    """Email -> the first row for that person; later rows for the same person are reported."""
    first: dict[str, _Row] = {}
    column = columns.get("email", 0) + 1
    for row in rows:
        if row.email is None:
            continue
        if row.email in first:
            report.add(
                row.line, column, f"duplicate person {row.email!r} (first on line {first[row.email].line})"
            )
        else:
            first[row.email] = row
    return first


def _manager_loops(people: dict[str, _Row], columns: dict[str, int], report: _Report) -> None:
    """Report every person whose manager chain (among participants) comes back to them.

    Iterative walk with a per-person state (on the current path / finished), so each person is visited
    once: linear in the roster, whatever the chains look like.
    """
    column = columns.get("manager_email", 0) + 1
    on_path, done = 1, 2
    state: dict[str, int] = {}
    for start in people:
        path: list[str] = []
        person: str | None = start
        while person is not None and person in people and person not in state:
            state[person] = on_path
            path.append(person)
            person = people[person].manager
        if person is not None and state.get(person) == on_path:
            loop = path[path.index(person) :]
            for k, member in enumerate(loop):
                chain = loop[k:] + loop[:k]
                report.add(people[member].line, column, f"manager chain loops: {_chain(chain)}")
        for person_on_path in path:
            state[person_on_path] = done


def _chain(loop: list[str]) -> str:
    shown = [*loop, loop[0]]
    if len(loop) > _LOOP_SHOWN:
        shown = [*loop[:3], f"… ({len(loop) - 5} more)", *loop[-2:], loop[0]]
    return " → ".join(shown)


def _roles(
    rows: list[_Row], columns: dict[str, int], header_line: int, reverse: bool, report: _Report
) -> None:
    """Both sides must be present; in a reverse program each mentor must be junior to some mentee."""
    mentors = [row for row in rows if row.role is Role.MENTOR]
    mentees = [row for row in rows if row.role is Role.MENTEE]
    # A row without a readable role may be the "missing" side; its own problem is already reported.
    if all(row.role is not None for row in rows):
        if not mentees:
            report.add(header_line, 1, "roster has no mentees")
        if not mentors:
            report.add(header_line, 1, "roster has no mentors")
    mentee_levels = [row.level for row in mentees if row.level is not None]
    if not reverse or not mentee_levels:
        return
    highest = max(mentee_levels)
    column = columns.get("level", 0) + 1
    for row in mentors:
        if row.level is not None and row.level >= highest:
            report.add(
                row.line,
                column,
                f"mentor level {row.level} is not below any mentee's level (highest mentee level: "
                f"{highest}); this program requires reverse pairs",
            )


def _items(text: str) -> tuple[str, ...]:
    """``"GenAI; TikTok;;genai"`` -> ``("genai", "tiktok")``: trimmed, lowercased, de-duplicated in order."""
    return tuple(dict.fromkeys(item.strip().lower() for item in text.split(";") if item.strip()))


def _participant(row: _Row, program_id: str) -> Participant:
    values = row.values
    assert row.email is not None and row.role is not None and row.level is not None
    return Participant(
        participant_id=participant_id_for(program_id, row.email),
        email=row.email,
        name=values["name"],
        role=row.role,
        title=values["title"],
        department=values["department"],
        level=row.level,
        manager_email=row.manager,
        skills_offered=_items(values["skills_offered"]),
        skills_wanted=_items(values["skills_wanted"]),
        communication_style=values["communication_style"].lower(),
        timezone=values["timezone"],
        capacity=int(values.get("capacity") or 1),
        languages=_items(values.get("languages", "")),
        location=values.get("location", ""),
        interests=_items(values.get("interests", "")),
        notify_via=cast(NotifyVia, values["notify_via"].lower()) if values.get("notify_via") else None,
        quiet_hours=parse_quiet_hours(values["quiet_hours"]) if values.get("quiet_hours") else None,
    )
