"""Pairings files: every rule reports FILE:LINE:COL (COL = the field's header position), all at once."""

from __future__ import annotations

import csv
import io
import time
import zoneinfo
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.matching import Proposal, propose_pairings, score
from domain.pairings_file import ALL_COLUMNS, NOT_IN_FILE, check_pairings_shape, parse_pairings
from domain.program import MatchingRequirements, MatchingSettings, ProgramConfig
from domain.program_file import parse_program
from domain.roster import Participant, Role, participant_id_for
from domain.roster_file import parse_roster
from domain.validation import InvalidInput

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
ZONES = frozenset(zoneinfo.available_timezones())
HEADER = "mentor_email,mentee_email,score,reasons"
# Column numbers in HEADER: mentor_email 1, mentee_email 2, score 3, reasons 4.


def person(
    email: str,
    role: Role,
    level: int,
    *,
    manager: str | None = None,
    capacity: int = 1,
    languages: tuple[str, ...] = ("en",),
) -> Participant:
    mentor = role is Role.MENTOR
    return Participant(
        participant_id=participant_id_for("rm-test", email),
        email=email,
        name=email.split("@")[0].title(),
        role=role,
        title="Analyst" if mentor else "Director",
        department="Finance" if mentor else "Sales",
        level=level,
        manager_email=manager,
        skills_offered=("genai",) if mentor else ("negotiation",),
        skills_wanted=("negotiation",) if mentor else ("genai", "tiktok"),
        communication_style="direct",
        timezone="Europe/London",
        capacity=capacity,
        languages=languages,
    )


PEOPLE = [
    person("a@x.com", Role.MENTOR, 2),
    person("b@x.com", Role.MENTOR, 2, capacity=2),
    person("senior@x.com", Role.MENTOR, 8),  # not junior to the level-8 mentees
    person("jr@x.com", Role.MENTOR, 1, manager="boss@x.com"),  # reports to boss
    person("fr@x.com", Role.MENTOR, 2, languages=("fr",)),
    person("e1@x.com", Role.MENTEE, 8),
    person("e2@x.com", Role.MENTEE, 8),
    person("e3@x.com", Role.MENTEE, 8),
    person("boss@x.com", Role.MENTEE, 9),
]
BY_EMAIL = {p.email: p for p in PEOPLE}
CONFIG = ProgramConfig(
    id="rm-test",
    name="Test",
    matching=MatchingSettings(exclude=(("b@x.com", "e3@x.com"),), force=(("a@x.com", "e1@x.com"),)),
)


def pairings(*rows: str, header: str = HEADER) -> str:
    return "\n".join([header, *rows]) + "\n"


def parse(text: str, config: ProgramConfig = CONFIG, **options: int) -> Proposal:
    return parse_pairings(text, "p.csv", config=config, participants=PEOPLE, **options)


def problems(text: str, config: ProgramConfig = CONFIG, **options: int) -> list[str]:
    with pytest.raises(InvalidInput) as info:
        parse(text, config, **options)
    return [str(p) for p in info.value.problems]


def only(text: str, config: ProgramConfig = CONFIG, **options: int) -> str:
    found = problems(text, config, **options)
    assert len(found) == 1, found
    return found[0]


def emails(proposal: Proposal) -> list[tuple[str, str]]:
    return [(p.mentor.email, p.mentee.email) for p in proposal.pairs]


# -- valid files -------------------------------------------------------------------------------------


def test_pairs_come_back_in_file_order_with_the_given_score_and_reasons() -> None:
    proposal = parse(pairings("b@x.com,e2@x.com,1.5,warm intro; shared hobby;;", "a@x.com,e1@x.com,-2,x"))
    assert emails(proposal) == [("b@x.com", "e2@x.com"), ("a@x.com", "e1@x.com")]
    first, second = proposal.pairs
    assert first.mentor is BY_EMAIL["b@x.com"] and first.mentee is BY_EMAIL["e2@x.com"]
    assert (first.score, first.reasons) == (1.5, ("warm intro", "shared hobby"))
    assert (second.score, second.reasons) == (-2.0, ("x",))


def test_empty_score_and_reasons_are_computed() -> None:
    proposal = parse(
        pairings("b@x.com,e2@x.com,,", "b@x.com,e3@x.com,7,"), config=ProgramConfig(id="rm-test", name="Test")
    )
    computed = score(BY_EMAIL["b@x.com"], BY_EMAIL["e2@x.com"], CONFIG)
    assert (proposal.pairs[0].score, proposal.pairs[0].reasons) == computed
    assert proposal.pairs[1].score == 7.0
    assert proposal.pairs[1].reasons == score(BY_EMAIL["b@x.com"], BY_EMAIL["e3@x.com"], CONFIG)[1]


def test_computed_reasons_of_a_forced_pair_say_so() -> None:
    (pair,) = parse(pairings("a@x.com,e1@x.com,,")).pairs
    assert pair.reasons[0] == "forced by the operator"
    assert pair.reasons[1:] == score(pair.mentor, pair.mentee, CONFIG)[1]


def test_unpaired_mentees_are_reported_in_roster_order_and_a_missing_forced_pair_is_fine() -> None:
    proposal = parse(pairings("b@x.com,e2@x.com,,"))  # the forced a@x.com / e1@x.com is left out
    assert emails(proposal) == [("b@x.com", "e2@x.com")]
    assert [(p.email, why) for p, why in proposal.unmatched] == [
        ("e1@x.com", NOT_IN_FILE),
        ("e3@x.com", NOT_IN_FILE),
        ("boss@x.com", NOT_IN_FILE),
    ]
    assert NOT_IN_FILE == "not in the pairings file"


def test_optional_columns_may_be_left_out_and_columns_come_in_any_order() -> None:
    proposal = parse(pairings("e2@x.com,b@x.com", header="Mentee_Email , MENTOR_EMAIL"))
    assert emails(proposal) == [("b@x.com", "e2@x.com")]
    assert "p.csv:2:2: mentor_email 'nope' is not an email address" in problems(
        pairings("e2@x.com,nope", header="mentee_email,mentor_email")
    )


def test_emails_are_case_insensitive() -> None:
    assert emails(parse(pairings(" B@X.com ,E2@x.COM,,"))) == [("b@x.com", "e2@x.com")]


def test_a_row_may_stop_before_optional_columns() -> None:
    proposal = parse(pairings("b@x.com,e2@x.com", "fr@x.com,e3@x.com,2"))
    assert [p.score for p in proposal.pairs] == [
        score(BY_EMAIL["b@x.com"], BY_EMAIL["e2@x.com"], CONFIG)[0],
        2,
    ]


def test_bom_crlf_blank_lines_and_quoted_commas() -> None:
    text = "\ufeff" + HEADER + '\r\n\r\n"b@x.com",e2@x.com,"1.0","one, two;three"\r\n'
    (pair,) = parse(text).pairs
    assert pair.reasons == ("one, two", "three")


def test_trailing_empty_cells_are_tolerated() -> None:
    assert emails(parse(pairings("b@x.com,e2@x.com,,,,"))) == [("b@x.com", "e2@x.com")]


# -- file-level problems -----------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "\ufeff", "\n\n", " , ,\r\n"])
def test_empty_file(text: str) -> None:
    assert only(text) == (
        "p.csv:1:1: pairings file is empty (expected a header line: mentor_email,mentee_email,score,reasons)"
    )


def test_header_only() -> None:
    assert only(HEADER + "\r\n") == "p.csv:1:1: pairings file has a header but no rows"


def test_unknown_column_with_suggestion() -> None:
    found = problems(pairings("b@x.com,e2@x.com,1", header="mentor_email,mentee_emial,score"))
    assert found == [
        "p.csv:1:1: missing required column 'mentee_email'",
        "p.csv:1:2: unknown column 'mentee_emial' (did you mean 'mentee_email'?)",
    ]
    found = problems(pairings("b@x.com,e2@x.com,1,x", header=HEADER.replace("reasons", "Reason")))
    assert found == ["p.csv:1:4: unknown column 'reason' (did you mean 'reasons'?)"]


def test_duplicate_and_unnamed_columns() -> None:
    found = problems(pairings("b@x.com,e2@x.com,1,2,3", header="mentor_email,mentee_email,score,SCORE, "))
    assert found == ["p.csv:1:4: duplicate column 'score' (also column 3)", "p.csv:1:5: column 5 has no name"]


def test_row_with_the_wrong_number_of_values() -> None:
    assert only(pairings("b@x.com")) == "p.csv:2:2: row has 1 values but the header has 4 columns"
    assert only(pairings("b@x.com,e2@x.com,1,x,extra")) == (
        "p.csv:2:5: row has 5 values but the header has 4 columns"
    )


def test_malformed_csv_stops_with_a_located_problem() -> None:
    huge = '"' + "x" * 200_000 + '"'
    found = problems(pairings("b@x.com,e2@x.com,,", f"b@x.com,e3@x.com,,{huge}"))
    assert len(found) == 1 and found[0].startswith("p.csv:3:1: malformed CSV, reading stopped here:")


def test_more_rows_than_allowed_is_one_error_at_the_limit() -> None:
    rows = [f"b@x.com,e{i}@x.com,," for i in (1, 2, 3)]
    assert only(pairings(*rows), max_rows=2) == "p.csv:4:1: pairings file has more than 2 rows"


def test_more_rows_than_allowed_is_bounded_work() -> None:
    rows = [f"bad{i},bad{i},," for i in range(50_000)]
    started = time.perf_counter()
    found = problems(pairings(*rows), max_rows=10)
    assert time.perf_counter() - started < 2
    assert len(found) == 21 and found[-1] == "p.csv:12:1: pairings file has more than 10 rows"


# -- one row's own values ------------------------------------------------------------------------------


def test_missing_email() -> None:
    assert only(pairings(",e2@x.com,,")) == "p.csv:2:1: missing value for 'mentor_email'"
    assert only(pairings("b@x.com, ,,")) == "p.csv:2:2: missing value for 'mentee_email'"


@pytest.mark.parametrize("email", ["b.x.com", "b@x", "b@@x.com", "b @x.com", "b@x.com;c@x.com"])
def test_bad_email_shape(email: str) -> None:
    assert (
        only(pairings(f'"{email}",e2@x.com,,'))
        == f"p.csv:2:1: mentor_email {email!r} is not an email address"
    )
    assert (
        only(pairings(f'b@x.com,"{email}",,')) == f"p.csv:2:2: mentee_email {email!r} is not an email address"
    )


@pytest.mark.parametrize("value", ["high", "1,5", "1_000", "0x10", "--1", "1e", "."])
def test_score_not_a_number(value: str) -> None:
    assert only(pairings(f'b@x.com,e2@x.com,"{value}",')) == f"p.csv:2:3: score {value!r} is not a number"


@pytest.mark.parametrize("value", ["inf", "-Infinity", "NaN", "1e999", "-1e400"])
def test_score_not_finite(value: str) -> None:
    assert (
        only(pairings(f"b@x.com,e2@x.com,{value},")) == f"p.csv:2:3: score {value!r} is not a finite number"
    )


@pytest.mark.parametrize("value", ["3", "-0.5", "+2.", ".25", "1e2", " 4.5 "])
def test_score_numbers(value: str) -> None:
    assert parse(pairings(f"b@x.com,e2@x.com,{value},")).pairs[0].score == float(value)


def test_reasons_too_long() -> None:
    assert parse(pairings(f"b@x.com,e2@x.com,,{'x' * 500}")).pairs[0].reasons == ("x" * 500,)
    assert only(pairings(f"b@x.com,e2@x.com,,{'x' * 501}")) == (
        "p.csv:2:4: reasons is too long (501 characters; at most 500)"
    )


@pytest.mark.parametrize(
    ("char", "code"), [("\t", "0009"), ("\x00", "0000"), ("\x1b", "001B"), ("\x7f", "007F")]
)
def test_reasons_with_control_characters(char: str, code: str) -> None:
    assert only(pairings(f"b@x.com,e2@x.com,,a{char}b")) == (
        f"p.csv:2:4: reasons contains a control character (U+{code})"
    )


def test_line_break_in_a_quoted_field_and_the_line_numbers_after_it() -> None:
    text = pairings('b@x.com,e2@x.com,,"two\nlines"', "fr@x.com,e3@x.com,,", "nobody@x.com,boss@x.com,,")
    assert problems(text) == [
        "p.csv:2:4: reasons contains a line break (values must fit on one line; is a quote unclosed?)",
        "p.csv:5:1: mentor_email 'nobody@x.com' is not in the roster",
    ]


def test_line_numbers_with_crlf_and_bom() -> None:
    text = "\ufeff" + HEADER + '\r\nb@x.com,e2@x.com,,"a,\r\nb"\r\n\r\nfr@x.com,e3@x.com,x,\r\n'
    assert [p.split(": ")[0] for p in problems(text)] == ["p.csv:2:4", "p.csv:5:3"]


def test_unclosed_quote_is_reported_where_the_record_starts() -> None:
    text = pairings('b@x.com,"e2@x.com,,', "b@x.com,e3@x.com,,")
    assert only(text) == (
        "p.csv:2:2: mentee_email contains a line break (values must fit on one line; is a quote unclosed?)"
    )


# -- against the roster ------------------------------------------------------------------------------


def test_email_not_in_the_roster_with_suggestion() -> None:
    assert only(pairings("b@x.com,e2@y.com,,")) == (
        "p.csv:2:2: mentee_email 'e2@y.com' is not in the roster (did you mean 'e2@x.com'?)"
    )
    assert (
        only(pairings("zzzz@q.org,e2@x.com,,")) == "p.csv:2:1: mentor_email 'zzzz@q.org' is not in the roster"
    )


def test_email_with_the_wrong_role() -> None:
    assert problems(pairings("e1@x.com,a@x.com,,")) == [
        "p.csv:2:1: mentor_email 'e1@x.com' is a mentee in the roster, not a mentor",
        "p.csv:2:2: mentee_email 'a@x.com' is a mentor in the roster, not a mentee",
    ]


def test_mentee_listed_twice_names_the_first_line() -> None:
    text = pairings("b@x.com,e2@x.com,,", "a@x.com,e1@x.com,,", "b@x.com,E2@x.com,,")
    assert only(text) == "p.csv:4:2: duplicate mentee 'E2@x.com' (first on line 2)"


def test_mentor_over_capacity() -> None:
    text = pairings("a@x.com,e1@x.com,,", "a@x.com,e2@x.com,,")
    assert only(text) == "p.csv:3:1: mentor 'a@x.com' is over capacity (capacity 1; already paired on line 2)"
    text = pairings("b@x.com,e1@x.com,,", "b@x.com,e2@x.com,,", "b@x.com,boss@x.com,,")
    assert only(text) == (
        "p.csv:4:1: mentor 'b@x.com' is over capacity (capacity 2; already paired on lines 2, 3)"
    )


def test_reverse_pairs_constraint() -> None:
    assert only(pairings("senior@x.com,e2@x.com,,")) == (
        "p.csv:2:1: mentor senior@x.com and mentee e2@x.com: mentor is not more junior than the mentee"
    )
    relaxed = CONFIG.model_copy(update={"matching": MatchingSettings(reverse_pairs=False)})
    assert emails(parse(pairings("senior@x.com,e2@x.com,,"), relaxed)) == [("senior@x.com", "e2@x.com")]


def test_same_reporting_chain() -> None:
    assert only(pairings("jr@x.com,boss@x.com,,")) == (
        "p.csv:2:1: mentor jr@x.com and mentee boss@x.com: same reporting chain"
    )


def test_operator_exclusion() -> None:
    assert only(pairings("B@x.com,e3@x.com,,")) == (
        "p.csv:2:1: mentor B@x.com and mentee e3@x.com: excluded by the operator"
    )


def test_required_shared_language() -> None:
    assert emails(parse(pairings("fr@x.com,e2@x.com,,"))) == [("fr@x.com", "e2@x.com")]
    strict = CONFIG.model_copy(
        update={"matching": MatchingSettings(required=MatchingRequirements(shared_language=True))}
    )
    assert only(pairings("fr@x.com,e2@x.com,,"), strict) == (
        "p.csv:2:1: mentor fr@x.com and mentee e2@x.com: no shared language"
    )


# -- all at once -------------------------------------------------------------------------------------


def test_every_problem_is_reported_at_once() -> None:
    text = pairings(
        "a@x.com,e1@x.com,,",  # 2 fine
        "a@x.com,e2@x.com,,",  # 3 over capacity
        "nobody@x.com,e9@x.com,,",  # 4 neither in the roster
        "b@x.com,e1@x.com,,",  # 5 duplicate mentee
        "jr@x.com,boss@x.com,high,",  # 6 same chain, bad score
        "not-an-email,,,",  # 7 bad email, missing mentee
        "b@x.com,e3@x.com,1,\tx",  # 8 excluded, control character
        "e2@x.com,senior@x.com,inf,",  # 9 wrong roles both sides, not finite
    )
    assert [f.split(": ", 1)[0] for f in problems(text)] == [
        "p.csv:3:1", "p.csv:4:1", "p.csv:4:2", "p.csv:5:2", "p.csv:6:1", "p.csv:6:3", "p.csv:7:1",
        "p.csv:7:2", "p.csv:8:1", "p.csv:8:4", "p.csv:9:1", "p.csv:9:2", "p.csv:9:3",
    ]  # fmt: skip


def test_shape_problems_need_no_roster() -> None:
    text = pairings("nobody@x.com,e1@x.com,x,", "bad,e1@x.com,,")
    assert [str(p) for p in check_pairings_shape(text, "p.csv")] == [
        "p.csv:2:3: score 'x' is not a number",
        "p.csv:3:1: mentor_email 'bad' is not an email address",
    ]
    assert check_pairings_shape(pairings("nobody@x.com,e1@x.com,1,"), "p.csv") == ()


# -- the examples, and a round trip of the matcher's own proposal ---------------------------------------


def _examples() -> tuple[ProgramConfig, list[Participant]]:
    config = parse_program((EXAMPLES / "program.yaml").read_text(encoding="utf-8"), "program.yaml")
    people = parse_roster(
        (EXAMPLES / "roster.csv").read_text(encoding="utf-8"),
        "roster.csv",
        program_id=config.id,
        known_timezones=ZONES,
        reverse_pairs=config.matching.reverse_pairs,
    )
    return config, people


def _write(proposal: Proposal, *, with_values: bool) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(ALL_COLUMNS)
    for pair in proposal.pairs:
        values = [str(pair.score), ";".join(pair.reasons)] if with_values else ["", ""]
        writer.writerow([pair.mentor.email, pair.mentee.email, *values])
    return buffer.getvalue()


@pytest.mark.parametrize("with_values", [True, False])
def test_round_trip_of_the_proposal_for_the_examples(with_values: bool) -> None:
    config, people = _examples()
    proposed = propose_pairings(config, people)
    assert len(proposed.pairs) == 6
    parsed = parse_pairings(
        _write(proposed, with_values=with_values), "p.csv", config=config, participants=people
    )
    assert emails(parsed) == emails(proposed)
    assert [p.score for p in parsed.pairs] == [p.score for p in proposed.pairs]
    assert parsed.unmatched == ()
    if not with_values:  # computed reasons are the matcher's own, "forced by the operator" included
        assert [p.reasons for p in parsed.pairs] == [p.reasons for p in proposed.pairs]


def test_operator_override_of_the_examples() -> None:
    config, people = _examples()
    text = pairings(
        "mia.schneider@example.com,margaret.hughes@example.com,,pair the CEO with an engineer",
        "noah.tan@example.com,henrik.larsen@example.com,,",
        "liam.chen@example.com,daniel.okafor@example.com,,",
    )
    proposal = parse_pairings(text, "pairings.csv", config=config, participants=people)
    assert emails(proposal)[0] == ("mia.schneider@example.com", "margaret.hughes@example.com")
    assert proposal.pairs[0].reasons == ("pair the CEO with an engineer",)
    assert [p.email for p, _ in proposal.unmatched] == [
        "sofia.alvarez@example.com", "priya.raman@example.com", "grace.mensah@example.com",
    ]  # fmt: skip

    bad = pairings(
        "ava.thompson@example.com,daniel.okafor@example.com,,",
        "noah.tan@example.com,sofia.alvarez@example.com,,",
    )
    with pytest.raises(InvalidInput) as info:
        parse_pairings(bad, "pairings.csv", config=config, participants=people)
    assert [str(p) for p in info.value.problems] == [
        "pairings.csv:2:1: mentor ava.thompson@example.com and mentee daniel.okafor@example.com: "
        "same reporting chain",
        "pairings.csv:3:1: mentor noah.tan@example.com and mentee sofia.alvarez@example.com: "
        "same reporting chain",
    ]


def test_five_thousand_pairs_parse_quickly() -> None:
    people = [person(f"m{i}@x.com", Role.MENTOR, 2) for i in range(5_000)]
    people += [person(f"e{i}@x.com", Role.MENTEE, 8) for i in range(5_000)]
    text = pairings(*(f"m{i}@x.com,e{i}@x.com,," for i in range(5_000)))
    started = time.perf_counter()
    proposal = parse_pairings(
        text, "p.csv", config=ProgramConfig(id="rm-big", name="Big"), participants=people
    )
    assert time.perf_counter() - started < 5
    assert len(proposal.pairs) == 5_000 and proposal.unmatched == ()
    typos = pairings(*(f"mm{i}@x.com,e{i}@x.com,," for i in range(5_000)))  # suggestions are bounded
    started = time.perf_counter()
    with pytest.raises(InvalidInput) as info:
        parse_pairings(typos, "p.csv", config=ProgramConfig(id="rm-big", name="Big"), participants=people)
    assert time.perf_counter() - started < 10
    assert len(info.value.problems) == 5_000


# -- fuzzing -----------------------------------------------------------------------------------------


def _check_never_crashes(text: str) -> None:
    try:
        proposal = parse_pairings(text, "fuzz.csv", config=CONFIG, participants=PEOPLE, max_rows=50)
    except InvalidInput as error:
        assert error.problems
        for problem in error.problems:
            assert problem.file == "fuzz.csv"
            assert problem.line >= 1 and problem.column >= 1
            assert problem.message
    else:
        assert proposal.pairs
        mentees = [p.mentee.email for p in proposal.pairs]
        assert len(mentees) == len(set(mentees))
    for problem in check_pairings_shape(text, "fuzz.csv", max_rows=50):
        assert problem.line >= 1 and problem.column >= 1


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text())
def test_fuzz_arbitrary_text(text: str) -> None:
    _check_never_crashes(text)


_CELLS = st.one_of(
    st.sampled_from([p.email for p in PEOPLE] + [
        "", "nobody@x.com", "E1@X.COM", "bad", "1.5", "inf", "nan", "-3", '"q,uoted"', '"multi\nline"', '"',
        "a;b;;c", " ", "\t", "x" * 501,
    ]),
    st.text(max_size=8),
)  # fmt: skip


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.lists(_CELLS, min_size=1, max_size=6), max_size=12),
    st.sampled_from(["\n", "\r\n"]),
    st.sampled_from([HEADER, "mentee_email,mentor_email", "Mentor_Email,MENTEE_EMAIL,Reasons", "x,score"]),
)
def test_fuzz_csv_like_rows(rows: list[list[str]], newline: str, header: str) -> None:
    _check_never_crashes(newline.join([header, *(",".join(cells) for cells in rows)]))


def test_required_working_hours_overlap_is_enforced_with_the_callers_offsets() -> None:
    far = [
        person("sg@x.com", Role.MENTOR, 2).model_copy(update={"timezone": "Asia/Singapore"}),
        person("ny@x.com", Role.MENTEE, 8).model_copy(update={"timezone": "America/New_York"}),
    ]
    config = CONFIG.model_copy(
        update={"matching": MatchingSettings(required=MatchingRequirements(min_overlap_hours=2))}
    )
    text = pairings("sg@x.com,ny@x.com,,")
    offsets = {"Asia/Singapore": 8.0, "America/New_York": -5.0}
    with pytest.raises(InvalidInput) as info:
        parse_pairings(text, "p.csv", config=config, participants=far, offsets=offsets)
    assert "shared working time" in str(info.value)
    # the same pair in neighbouring zones passes
    near = {"Asia/Singapore": 0.0, "America/New_York": 1.0}
    assert len(parse_pairings(text, "p.csv", config=config, participants=far, offsets=near).pairs) == 1
