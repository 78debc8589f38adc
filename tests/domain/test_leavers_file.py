"""HR's leavers extract: located problems, all at once; fuzzed input never raises anything else;
and the events an import decides (idempotent, participants only, no emails)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.errors import RuleViolation
from domain.events import Event
from domain.leavers import (
    LeaversImported,
    ParticipantLeftCompany,
    decide_leavers,
    leavers_state,
)
from domain.leavers_file import parse_leavers
from domain.roster import (
    EnrollParticipant,
    Participant,
    Role,
    RosterState,
    decide_roster,
    evolve_roster,
    initial_roster,
)
from domain.roster import participant_id_for as pid_for
from domain.validation import InvalidInput

F = "leavers.csv"
AS_OF = date(2028, 1, 31)
NOW = datetime(2028, 2, 1, tzinfo=UTC)


def problems(text: str, as_of: date | None = AS_OF) -> list[str]:
    with pytest.raises(InvalidInput) as info:
        parse_leavers(text, F, as_of=as_of)
    return [str(p) for p in info.value.problems]


def test_a_valid_file_with_ignored_columns_any_case_and_order() -> None:
    text = (
        "\ufeffName,LEFT_ON,Email,employee_id\r\n"
        '"Hughes, Margaret",2027-05-31,Margaret.Hughes@Example.com,E1\r\n'
        "\r\n"
        "Liam,2026-12-01,liam@example.com,\r\n"
    )
    leavers = parse_leavers(text, F, as_of=AS_OF)
    assert [(x.email, x.left_on, x.line) for x in leavers] == [
        ("margaret.hughes@example.com", date(2027, 5, 31), 2),
        ("liam@example.com", date(2026, 12, 1), 4),
    ]


def test_a_header_without_rows_means_nobody_left() -> None:
    assert parse_leavers("email,left_on\n", F) == []


def test_every_problem_is_reported_at_once_with_line_and_column() -> None:
    text = (
        "email,left_on,salary\n"  # 1: unknown column
        "not-an-email,2027-01-01,1\n"  # 2
        "a@example.com,31/01/2027,1\n"  # 3
        "b@example.com,2027-02-30,1\n"  # 4
        "c@example.com,2029-01-01,1\n"  # 5: after the as-of date
        "A@example.com,2027-01-01,1\n"  # 6: the same person as line 3 (whose date was wrong)
        "a@EXAMPLE.com,2027-01-02,1\n"  # 7: and again
        "d@example.com,,1\n"  # 8
        "e@example.com\n"  # 9: too few values
        "f@example.com,1969-12-31,1\n"  # 10
        "g@\x07example.com,2027-01-01,1\n"  # 11
    )
    assert problems(text) == [
        f"{F}:1:3: unknown column 'salary'",
        f"{F}:2:1: email 'not-an-email' is not an email address",
        f"{F}:3:2: left_on '31/01/2027' is not a date in the form YYYY-MM-DD",
        f"{F}:4:2: left_on '2027-02-30' is not a calendar date (day is out of range for month)",
        f"{F}:5:2: left_on 2029-01-01 is after the extract's as-of date 2028-01-31 (a future leaver?)",
        f"{F}:6:1: duplicate person 'a@example.com' (first on line 3)",
        f"{F}:7:1: duplicate person 'a@example.com' (first on line 3)",
        f"{F}:8:2: missing value for 'left_on'",
        f"{F}:9:2: row has 1 values but the header has 3 columns",
        f"{F}:10:2: left_on 1969-12-31 is before 1970-01-01",
        f"{F}:11:1: email contains a control character (U+0007)",
    ]


def test_header_problems() -> None:
    assert problems("") == [f"{F}:1:1: leavers file is empty (expected a header line: email,left_on)"]
    assert problems("mail,left_on,left_on\n") == [
        f"{F}:1:1: missing required column 'email'",
        f"{F}:1:1: unknown column 'mail' (did you mean 'email'?)",
        f"{F}:1:3: duplicate column 'left_on' (also column 2)",
    ]


def test_an_unclosed_quote_is_located_where_the_record_starts() -> None:
    text = 'email,left_on\na@example.com,2027-01-01\n"b@example.com,2027-01-01\nc@example.com,2027-01-01\n'
    found = problems(text)
    assert found and all(p.startswith(f"{F}:3:") for p in found)


def test_the_row_limit_is_reported() -> None:
    text = "email,left_on\n" + "".join(f"p{n}@example.com,2027-01-01\n" for n in range(5))
    with pytest.raises(InvalidInput) as info:
        parse_leavers(text, F, max_rows=3)
    assert [str(p) for p in info.value.problems] == [f"{F}:5:1: leavers file has more than 3 rows"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        st.text(max_size=400),
        st.lists(
            st.lists(
                st.one_of(
                    st.sampled_from(
                        ["email", "left_on", "name", "a@b.co", "2027-01-01", "2027-13-01", "", '"']
                    ),
                    st.text(max_size=12),
                ),
                max_size=5,
            ),
            max_size=8,
        ).map(lambda rows: "\n".join(",".join(r) for r in rows)),
    ),
    st.one_of(st.none(), st.dates()),
)
def test_fuzzed_files_only_ever_raise_located_problems(text: str, as_of: date | None) -> None:
    try:
        leavers = parse_leavers(text, F, as_of=as_of)
    except InvalidInput as exc:
        assert exc.problems
        for problem in exc.problems:
            assert problem.file == F and problem.line >= 1 and problem.column >= 1 and problem.message
        return
    for leaver in leavers:
        assert "@" in leaver.email and leaver.email == leaver.email.lower()
        assert as_of is None or leaver.left_on <= as_of


# -- the events an import decides ------------------------------------------------------------------

PROGRAM = "rm-leavers"


def _roster(*emails: str) -> tuple[RosterState, list[Event]]:
    roster = initial_roster(PROGRAM)
    events: list[Event] = []
    for n, email in enumerate(emails):
        person = Participant(
            participant_id=pid_for(PROGRAM, email),
            email=email,
            name=f"P {n}",
            role=Role.MENTOR if n % 2 else Role.MENTEE,
            title="t",
            department="d",
            level=3,
            communication_style="direct",
            timezone="UTC",
        )
        for event in decide_roster(roster, EnrollParticipant(participant=person), NOW):
            roster = evolve_roster(roster, event)
            events.append(event)
    return roster, events


def test_an_import_records_participants_only_by_id_and_is_idempotent() -> None:
    roster, events = _roster("a@example.com", "b@example.com")
    leavers = parse_leavers(
        "email,left_on\nA@example.com,2027-06-01\nstranger@example.com,2027-01-01\n", F, as_of=AS_OF
    )
    first = decide_leavers(roster, leavers_state(events), leavers, AS_OF, NOW)
    assert (first.participants, first.recorded, first.unchanged, first.outside) == (1, 1, 0, 1)
    left, imported = (e.payload for e in first.events)
    assert left == ParticipantLeftCompany(
        participant_id=pid_for(PROGRAM, "a@example.com"), left_on=date(2027, 6, 1)
    )
    assert imported == LeaversImported(as_of=AS_OF, rows=2, participants=1, recorded=1)
    assert [e.stream_id for e in first.events] == ["roster-rm-leavers"] * 2
    assert [e.version for e in first.events] == [3, 4]
    assert "example.com" not in str([e.payload_json() for e in first.events])  # no emails recorded

    for event in first.events:
        roster = evolve_roster(roster, event)
    events += first.events
    again = decide_leavers(roster, leavers_state(events), leavers, AS_OF, NOW)
    assert again.events == [] and (again.unchanged, again.recorded) == (1, 0)

    corrected = parse_leavers("email,left_on\na@example.com,2027-07-01\n", F)
    fix = decide_leavers(roster, leavers_state(events), corrected, AS_OF, NOW)
    assert [type(e.payload).__name__ for e in fix.events] == ["ParticipantLeftCompany", "LeaversImported"]
    later = decide_leavers(roster, leavers_state(events), leavers, date(2028, 6, 30), NOW)
    assert [type(e.payload).__name__ for e in later.events] == ["LeaversImported"]  # a newer as-of date
    state = leavers_state(events + fix.events)
    assert state.left_on == {pid_for(PROGRAM, "a@example.com"): date(2027, 7, 1)} and state.as_of == AS_OF


def test_an_import_refuses_leavers_after_the_as_of_date() -> None:
    roster, events = _roster("a@example.com")
    leavers = parse_leavers("email,left_on\na@example.com,2028-03-01\n", F)
    with pytest.raises(RuleViolation) as info:
        decide_leavers(roster, leavers_state(events), leavers, AS_OF, NOW)
    assert info.value.rule == "left-after-as-of"
