"""Rosters: every rule reports FILE:LINE:COL (COL = the field's position in the header), all at once."""

from __future__ import annotations

import time
import zoneinfo
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.roster import Participant, Role, participant_id_for
from domain.roster_file import REQUIRED_COLUMNS, parse_roster
from domain.validation import InvalidInput

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "roster.csv"
ZONES = frozenset(zoneinfo.available_timezones())
HEADER = (
    "email,name,role,title,department,level,manager_email,skills_offered,skills_wanted,"
    "communication_style,timezone,capacity,languages,location,interests"
)
COLUMNS = HEADER.split(",")
# Column numbers in HEADER: email 1, name 2, role 3, title 4, department 5, level 6, manager_email 7,
# skills_offered 8, skills_wanted 9, communication_style 10, timezone 11, capacity 12, languages 13,
# location 14, interests 15.


def row(**values: str) -> str:
    """One CSV line: a valid mentor unless overridden (role='mentee' makes a level-8 mentee)."""
    mentee = values.get("role") == "mentee"
    person = {
        "email": "m@example.com",
        "name": "Mia Mentor",
        "role": "mentor",
        "title": "Analyst",
        "department": "Finance",
        "level": "8" if mentee else "2",
        "manager_email": "",
        "skills_offered": "negotiation" if mentee else "genai",
        "skills_wanted": "genai" if mentee else "negotiation",
        "communication_style": "direct",
        "timezone": "Europe/London",
        "capacity": "",
        "languages": "en",
        "location": "London",
        "interests": "",
    }
    person.update(values)
    return ",".join(person[c] for c in COLUMNS)


MENTEE = row(email="boss@example.com", name="Bea Boss", role="mentee")


def roster(*rows: str, header: str = HEADER) -> str:
    return "\n".join([header, *rows]) + "\n"


def parse(text: str, **options: object) -> list[Participant]:
    return parse_roster(text, "r.csv", program_id="rm-test", known_timezones=ZONES, **options)  # type: ignore[arg-type]


def problems(text: str, **options: object) -> list[str]:
    with pytest.raises(InvalidInput) as info:
        parse(text, **options)
    return [str(p) for p in info.value.problems]


def only(text: str, **options: object) -> str:
    found = problems(text, **options)
    assert len(found) == 1, found
    return found[0]


# -- valid rosters -----------------------------------------------------------------------------------


def test_example_roster_parses() -> None:
    people = parse_roster(
        EXAMPLE.read_text(encoding="utf-8"), str(EXAMPLE), program_id="rm-pilot-2027", known_timezones=ZONES
    )
    assert len(people) == 12
    assert sum(p.role is Role.MENTOR for p in people) == 6
    assert sum(p.role is Role.MENTEE for p in people) == 6
    by_email = {p.email: p for p in people}
    assert by_email["grace.mensah@example.com"].title == "Director, People & Culture"
    assert by_email["margaret.hughes@example.com"].manager_email is None
    assert by_email["ava.thompson@example.com"].manager_email == "daniel.okafor@example.com"
    assert all(p.level <= 3 for p in people if p.role is Role.MENTOR)
    assert all(p.level >= 6 for p in people if p.role is Role.MENTEE)
    assert by_email["mia.schneider@example.com"].capacity == 2


def test_values_are_normalised() -> None:
    [mentor, mentee] = parse(
        roster(
            row(
                email=" Mia@Example.COM ",
                skills_offered=" GenAI; TikTok;;genai ; ",
                communication_style=" Direct ",
                languages="EN;de",
                interests="Chess",
                location=" Leeds ",
                manager_email="Boss@Example.com",
            ),
            MENTEE,
        )
    )
    assert mentor.email == "mia@example.com"
    assert mentor.participant_id == participant_id_for("rm-test", "mia@example.com")
    assert mentor.skills_offered == ("genai", "tiktok")
    assert mentor.communication_style == "direct"
    assert mentor.languages == ("en", "de")
    assert mentor.interests == ("chess",)
    assert mentor.location == "Leeds"
    assert mentor.manager_email == "boss@example.com"
    assert mentor.capacity == 1
    assert mentee.role is Role.MENTEE and mentee.level == 8


def test_optional_columns_may_be_left_out() -> None:
    header = ",".join(REQUIRED_COLUMNS)
    short = [",".join(line.split(",")[:11]) for line in (row(), MENTEE)]
    people = parse(roster(*short, header=header))
    assert [p.capacity for p in people] == [1, 1]
    assert people[0].languages == () and people[0].location == ""


def test_header_is_case_insensitive_and_trimmed() -> None:
    header = HEADER.replace("email,name", " Email , NAME ")
    assert len(parse(roster(row(), MENTEE, header=header))) == 2


def test_bom_crlf_and_blank_lines() -> None:
    text = "\ufeff" + "\r\n".join([HEADER, row(), "", MENTEE]) + "\r\n"
    assert [p.email for p in parse(text)] == ["m@example.com", "boss@example.com"]


def test_trailing_empty_cells_are_tolerated() -> None:
    assert len(parse(roster(row() + ",,", MENTEE))) == 2


def test_capacity() -> None:
    [mentor, _] = parse(roster(row(capacity="3"), MENTEE))
    assert mentor.capacity == 3


def test_reverse_pairs_can_be_switched_off() -> None:
    assert len(parse(roster(row(level="9"), MENTEE), reverse_pairs=False)) == 2


# -- file-level problems ---------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "\ufeff", "\n\n", " , ,\r\n"])
def test_empty_file(text: str) -> None:
    assert only(text).startswith("r.csv:1:1: roster is empty (expected a header line: email,name,role,")


def test_header_only() -> None:
    assert only(HEADER + "\r\n") == "r.csv:1:1: roster has a header but no rows"


def test_unknown_column_with_suggestion() -> None:
    header = HEADER.replace("timezone", "time_zone")
    found = problems(roster(row(), MENTEE, header=header))
    assert "r.csv:1:11: unknown column 'time_zone' (did you mean 'timezone'?)" in found
    assert "r.csv:1:1: missing required column 'timezone'" in found


def test_missing_required_column() -> None:
    header = ",".join(c for c in COLUMNS if c != "title")
    lines = [
        ",".join(v for c, v in zip(COLUMNS, line.split(","), strict=True) if c != "title")
        for line in (row(), MENTEE)
    ]
    assert only(roster(*lines, header=header)) == "r.csv:1:1: missing required column 'title'"


def test_duplicate_column() -> None:
    found = problems(roster(row() + ",x", MENTEE + ",y", header=HEADER + ",Email"))
    assert found == ["r.csv:1:16: duplicate column 'email' (also column 1)"]


def test_unnamed_column() -> None:
    text = roster(row() + ",x", MENTEE + ",y", header=HEADER + ", ")
    assert only(text) == "r.csv:1:16: column 16 has no name"


def test_row_with_the_wrong_number_of_values() -> None:
    short = ",".join(row().split(",")[:9])
    assert only(roster(short, MENTEE)) == "r.csv:2:10: row has 9 values but the header has 15 columns"
    assert only(roster(row() + ",extra", MENTEE)) == (
        "r.csv:2:16: row has 16 values but the header has 15 columns"
    )


def test_malformed_csv_stops_with_a_located_problem() -> None:
    huge = '"' + "x" * 200_000 + '"'
    found = problems(roster(row(), MENTEE, row(email="z@example.com", name=huge)))
    assert len(found) == 1 and found[0].startswith("r.csv:4:1: malformed CSV, reading stopped here:")


def test_more_rows_than_allowed_stops_at_the_limit() -> None:
    rows = [MENTEE] + [row(email=f"m{i}@example.com") for i in range(4)]
    assert only(roster(*rows), max_rows=3) == "r.csv:5:1: roster has more than 3 rows"


def test_more_rows_than_allowed_is_bounded_work() -> None:
    rows = [MENTEE] + [row(email=f"m{i}@example.com", title="") for i in range(50_000)]
    started = time.perf_counter()
    found = problems(roster(*rows), max_rows=10)
    assert time.perf_counter() - started < 2
    assert len(found) == 10 and found[-1] == "r.csv:12:1: roster has more than 10 rows"


# -- row rules -------------------------------------------------------------------------------------


def test_missing_value() -> None:
    assert only(roster(row(title=""), MENTEE)) == "r.csv:2:4: missing value for 'title'"
    assert only(roster(row(skills_wanted=" ; ;"), MENTEE)) == "r.csv:2:9: missing value for 'skills_wanted'"


def test_manager_email_may_be_empty_but_not_malformed() -> None:
    assert only(roster(row(manager_email="boss"), MENTEE)) == (
        "r.csv:2:7: manager_email 'boss' is not an email address"
    )


@pytest.mark.parametrize("email", ["mia", "mia@example", "mia @example.com", "a@b@c.d", "a;b@c.d"])
def test_bad_email(email: str) -> None:
    assert only(roster(row(email=email), MENTEE)) == f"r.csv:2:1: email {email!r} is not an email address"


def test_unknown_role() -> None:
    assert only(roster(row(role="boss"), MENTEE)) == (
        "r.csv:2:3: unknown role 'boss' (expected mentor or mentee)"
    )


def test_role_is_case_insensitive() -> None:
    assert parse(roster(row(role=" Mentor "), MENTEE))[0].role is Role.MENTOR


@pytest.mark.parametrize("level", ["0", "21", "x", "2.5", "-1"])
def test_level_must_be_an_integer_from_1_to_20(level: str) -> None:
    assert only(roster(row(level=level), MENTEE)) == (
        f"r.csv:2:6: level must be an integer between 1 and 20 (got {level!r})"
    )


@pytest.mark.parametrize("capacity", ["0", "51", "many", "1.5"])
def test_capacity_must_be_a_positive_integer_up_to_50(capacity: str) -> None:
    assert only(roster(row(capacity=capacity), MENTEE)) == (
        f"r.csv:2:12: capacity must be an integer between 1 and 50 (got {capacity!r})"
    )


def test_unknown_time_zone_with_suggestion() -> None:
    assert only(roster(row(timezone="Europe/Londn"), MENTEE)) == (
        "r.csv:2:11: time zone 'Europe/Londn' is not in the IANA database (did you mean 'Europe/London'?)"
    )


def test_unknown_time_zone_without_a_close_match() -> None:
    assert only(roster(row(timezone="Mars/Olympus_Mons_Base"), MENTEE)).startswith(
        "r.csv:2:11: time zone 'Mars/Olympus_Mons_Base' is not in the IANA database"
    )


def test_over_long_values() -> None:
    assert only(roster(row(name="n" * 121), MENTEE)) == (
        "r.csv:2:2: name is too long (121 characters; at most 120)"
    )
    assert only(roster(row(title="t" * 201), MENTEE)) == (
        "r.csv:2:4: title is too long (201 characters; at most 200)"
    )
    assert len(parse(roster(row(name="n" * 120, title="t" * 200), MENTEE))) == 2


@pytest.mark.parametrize(
    ("char", "code"), [("\t", "0009"), ("\x00", "0000"), ("\x7f", "007F"), ("\x1b", "001B")]
)
def test_control_characters(char: str, code: str) -> None:
    assert only(roster(row(department=f"Fin{char}ance"), MENTEE)) == (
        f"r.csv:2:5: department contains a control character (U+{code})"
    )


def test_duplicate_person_names_the_first_line() -> None:
    found = problems(roster(row(), MENTEE, row(email="M@EXAMPLE.com", name="Other")))
    assert found == ["r.csv:4:1: duplicate person 'm@example.com' (first on line 2)"]


# -- line numbers with quoted fields ------------------------------------------------------------------


def test_quoted_comma_is_one_field() -> None:
    [mentor, _] = parse(roster(row(title='"Director, People & Culture"'), MENTEE))
    assert mentor.title == "Director, People & Culture"


def test_line_numbers_after_a_multi_line_quoted_field() -> None:
    text = roster(
        row(title='"Head of\nthings\nand stuff"'),  # lines 2-4: one record
        MENTEE,  # line 5
        row(email="x@example.com", level="0"),  # line 6
    )
    assert problems(text) == [
        "r.csv:2:4: title contains a line break (values must fit on one line; is a quote unclosed?)",
        "r.csv:6:6: level must be an integer between 1 and 20 (got '0')",
    ]


def test_line_numbers_with_crlf_and_bom() -> None:
    text = (
        "\ufeff"
        + "\r\n".join(
            [
                HEADER,
                MENTEE,
                row(location='"Leeds,\r\nWest Yorkshire"'),
                row(email="y@example.com", role="boss"),
            ]
        )
        + "\r\n"
    )
    assert problems(text) == [
        "r.csv:3:14: location contains a line break (values must fit on one line; is a quote unclosed?)",
        "r.csv:5:3: unknown role 'boss' (expected mentor or mentee)",
    ]


def test_unclosed_quote_is_reported_where_the_record_starts() -> None:
    text = roster(MENTEE, row(title='"Analyst'), row(email="x@example.com"))
    assert problems(text)[0].startswith("r.csv:3:4: title contains a line break")


# -- cross-row rules ---------------------------------------------------------------------------------


def test_self_manager_is_a_loop() -> None:
    assert only(roster(row(manager_email="m@example.com"), MENTEE)) == (
        "r.csv:2:7: manager chain loops: m@example.com → m@example.com"
    )


def test_loop_of_three_is_reported_once_per_row() -> None:
    text = roster(
        MENTEE,
        row(email="a@x.io", manager_email="b@x.io"),
        row(email="b@x.io", manager_email="c@x.io"),
        row(email="c@x.io", manager_email="A@x.io"),
        row(email="d@x.io", manager_email="a@x.io"),  # leads into the loop, is not in it
    )
    assert problems(text) == [
        "r.csv:3:7: manager chain loops: a@x.io → b@x.io → c@x.io → a@x.io",
        "r.csv:4:7: manager chain loops: b@x.io → c@x.io → a@x.io → b@x.io",
        "r.csv:5:7: manager chain loops: c@x.io → a@x.io → b@x.io → c@x.io",
    ]


def test_chains_without_loops_and_outside_managers_are_fine() -> None:
    text = roster(
        MENTEE,
        row(email="a@x.io", manager_email="b@x.io"),
        row(email="b@x.io", manager_email="boss@example.com"),
        row(email="c@x.io", manager_email="someone.else@example.com"),
    )
    assert len(parse(text)) == 4


def test_ten_thousand_row_loop_is_fast_and_abbreviated() -> None:
    n = 10_000
    rows = [MENTEE] + [row(email=f"p{i}@x.io", manager_email=f"p{(i + 1) % n}@x.io") for i in range(n)]
    started = time.perf_counter()
    found = problems(roster(*rows))
    assert time.perf_counter() - started < 5
    assert len(found) == n
    assert found[0] == (
        "r.csv:3:7: manager chain loops: p0@x.io → p1@x.io → p2@x.io → … (9995 more) → "
        "p9998@x.io → p9999@x.io → p0@x.io"
    )


def test_ten_thousand_row_chain_without_loop_is_fast() -> None:
    n = 10_000
    rows = [MENTEE] + [row(email=f"p{i}@x.io", manager_email=f"p{i + 1}@x.io") for i in range(n)]
    started = time.perf_counter()
    assert len(parse(roster(*rows))) == n + 1
    assert time.perf_counter() - started < 5


def test_mentor_must_be_junior_to_some_mentee() -> None:
    assert only(roster(row(level="8"), MENTEE, row(email="x@example.com", level="3"))) == (
        "r.csv:2:6: mentor level 8 is not below any mentee's level (highest mentee level: 8); "
        "this program requires reverse pairs"
    )


def test_roster_without_mentees_or_mentors() -> None:
    assert only(roster(row())) == "r.csv:1:1: roster has no mentees"
    assert only(roster(MENTEE)) == "r.csv:1:1: roster has no mentors"


# -- all at once -------------------------------------------------------------------------------------


def test_every_problem_is_reported_at_once() -> None:
    text = roster(
        MENTEE,  # 2
        row(email="a@example.com", role="boss"),  # 3 unknown role
        row(email="b@example.com", timezone="Europe/Londn"),  # 4 unknown zone
        row(email="c@example.com", level="30"),  # 5 bad level
        row(email="d@example.com", title=""),  # 6 missing value
        row(email="D@example.com"),  # 7 duplicate person
    )
    found = problems(text)
    assert [f.split(": ", 1)[0] for f in found] == [
        "r.csv:3:3",
        "r.csv:4:11",
        "r.csv:5:6",
        "r.csv:6:4",
        "r.csv:7:1",
    ]


# -- fuzzing -------------------------------------------------------------------------------------------


def _check_never_crashes(text: str) -> None:
    try:
        people = parse_roster(text, "fuzz.csv", program_id="rm-fuzz", known_timezones=ZONES, max_rows=50)
    except InvalidInput as error:
        assert error.problems
        for problem in error.problems:
            assert problem.file == "fuzz.csv"
            assert problem.line >= 1 and problem.column >= 1
            assert problem.message
    else:
        assert all(isinstance(p, Participant) for p in people)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text())
def test_fuzz_arbitrary_text(text: str) -> None:
    _check_never_crashes(text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary())
def test_fuzz_arbitrary_bytes(data: bytes) -> None:
    _check_never_crashes(data.decode("utf-8", errors="replace"))


_CELLS = st.one_of(
    st.sampled_from(
        [
            "",
            "mentor",
            "mentee",
            "2",
            "8",
            "0",
            "a@x.io",
            "b@x.io",
            "Europe/London",
            "Mars/Base",
            '"q,uoted"',
            '"multi\nline"',
            '"',
            "genai;tiktok",
            "direct",
            "21",
            " ",
            "\t",
        ]
    ),
    st.text(max_size=8),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(_CELLS, min_size=10, max_size=16), max_size=12), st.sampled_from(["\n", "\r\n"]))
def test_fuzz_csv_like_rows(rows: list[list[str]], newline: str) -> None:
    _check_never_crashes(newline.join([HEADER, *(",".join(cells) for cells in rows)]))
