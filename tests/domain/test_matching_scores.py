"""The compatibility score and its explanations: both directions of skills, communication style, working
hours across time zones, languages, the seeded serendipity term; the roster-wide scores are the pair-by-
pair ones to the bit; reasons survive the pairings file's round trip."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.compatibility import CRITERIA, _mix, _mix_np, lottery, lottery_key, overlap_hours, pair_components
from domain.matching import (
    FORCED,
    MAX_REASONS,
    NOTHING_IN_COMMON,
    PAIRINGS_COLUMNS,
    pairings_csv,
    prepare,
    propose_pairings,
    score,
)
from domain.pairings_file import ALL_COLUMNS, parse_pairings
from domain.roster import Participant
from tests.domain.matching_helpers import OFFSETS, config, mentee, person, programs, rosters

NONE = dict.fromkeys(CRITERIA, 0)


def only(**weights: float) -> dict[str, float]:
    return {**NONE, **weights}


# -- the score ------------------------------------------------------------------------------------------


def test_every_criterion_adds_its_weighted_share() -> None:
    m = person("m", skills_offered=("AI", "TikTok"), skills_wanted=("negotiation", "P&L"), department="Sales")
    e = mentee("e", skills_wanted=("AI", "Gen Z", "TikTok", "hybrid"), skills_offered=("negotiation",))
    total, reasons = score(m, e, config(seed=4))
    # skills 3 * 2/4, reverse 1 * 1/2, style 1, same zone 1, language 1, serendipity 0.5 * 0.75 * draw
    # (different departments and no skill offered in common, same style)
    draw = lottery(4, m, e)
    assert 0 < draw < 1
    assert total == round(1.5 + 0.5 + 1 + 1 + 1 + 0.5 * 0.75 * draw, 4)
    assert reasons == (
        "covers 2 of 4 wanted skills: AI, TikTok",
        "same communication style",
        "same working hours",
        "shared language: en",
        "learns back negotiation",
        "serendipity: Sales × Marketing",
    )


def test_a_pair_with_nothing_in_common_is_still_explained() -> None:
    m = person("m", communication_style="reflective", languages=("fr",), timezone="Asia/Tokyo")
    e = mentee("e", skills_wanted=("AI",))
    assert score(m, e, config()) == (0.0, (NOTHING_IN_COMMON,))


def test_weights_come_from_the_program() -> None:
    m, e = person("m", department="Sales"), mentee("e")
    assert score(m, e, config(weights=only(languages=2.5)))[0] == 2.5
    assert score(m, e, config(weights=only(communication_style=0.75)))[0] == 0.75
    draw = lottery(0, m, e)
    assert score(m, e, config(weights=only(serendipity=4)))[0] == round(4 * 0.75 * draw, 4)


def test_compatible_styles_get_half_credit() -> None:
    m, e = person("m", communication_style="analytical"), mentee("e", communication_style="direct")
    assert score(m, e, config(weights=only(communication_style=2)))[0] == 0.0
    cfg = config(weights=only(communication_style=2), compatible_styles=[["Direct", "Analytical"]])
    assert score(m, e, cfg) == (1.0, ("compatible communication styles: analytical × direct",))


# -- working hours across time zones --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("delta", "length", "hours"),
    [(0, 8, 8), (5, 8, 3), (-5, 8, 3), (5.5, 8, 2.5), (8, 8, 0), (12, 8, 0), (24, 8, 8), (23, 8, 7),
     (-20, 8, 4), (12, 14, 4), (0, 24, 24), (6, 24, 24)],
)  # fmt: skip
def test_overlap_of_working_days_on_the_24_hour_circle(delta: float, length: float, hours: float) -> None:
    assert float(overlap_hours(np.float64(delta), length)) == pytest.approx(hours)


def test_time_zones_score_shared_working_hours() -> None:
    e = mentee("e")  # Europe/London
    ny = person("ny", timezone="America/New_York")
    kolkata = person("in", timezone="Asia/Kolkata")
    tokyo = person("jp", timezone="Asia/Tokyo")
    cfg = config(weights=only(timezone_overlap=8))
    assert score(ny, e, cfg, offsets=OFFSETS) == (3.0, ("3 h of shared working time (UTC-5 × UTC+0)",))
    assert score(kolkata, e, cfg, offsets=OFFSETS) == (
        2.5,
        ("2.5 h of shared working time (UTC+5:30 × UTC+0)",),
    )
    assert score(tokyo, e, cfg, offsets=OFFSETS)[0] == 0.0
    assert score(ny, e, cfg)[0] == 0.0  # no offsets: unknown, no points
    longer = config(weights=only(timezone_overlap=12), working_hours={"start": 7, "end": 19})
    assert score(ny, e, longer, offsets=OFFSETS)[0] == 7.0


# -- serendipity ----------------------------------------------------------------------------------------


def test_serendipity_favours_the_grumpy_cfo_and_the_scattered_marketer() -> None:
    cfo = mentee("cfo", department="Finance", communication_style="analytical", skills_offered=("p&l",))
    marketer = person(
        "marketer", department="Marketing", communication_style="expressive", skills_offered=("tiktok",)
    )
    analyst = person(
        "analyst", department="Finance", communication_style="analytical", skills_offered=("p&l",)
    )
    colleague = person(
        "colleague", department="Sales", communication_style="analytical", skills_offered=("p&l",)
    )
    cfg = config(seed=2027)
    unlikely = {
        p.name: pair_components(p, cfo, cfg).values[5] / lottery(2027, p, cfo) for p in (marketer, colleague)
    }
    assert unlikely == {
        "Marketer": 1.0,
        "Colleague": 0.5,
    }  # other function and style count; department is a must
    assert pair_components(analyst, cfo, cfg).values[5] == 0.0
    proposal = propose_pairings(config(seed=2027, weights=only(serendipity=1)), [marketer, analyst, cfo])
    assert [(p.mentor.name, p.reasons) for p in proposal.pairs] == [
        ("Marketer", ("serendipity: Marketing × Finance",))
    ]


@given(st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1))
def test_the_vectorised_lottery_is_the_scalar_one(a: int, b: int) -> None:
    draws = _mix_np(np.array([a], dtype=np.uint64), np.array([b], dtype=np.uint64))
    assert draws[0, 0] == float(_mix(a, b) >> 11) * 2.0**-53
    assert 0.0 <= draws[0, 0] < 1.0


def test_lottery_draws_depend_on_the_seed_and_the_two_people_only() -> None:
    m, e = person("m"), mentee("e")
    assert lottery(1, m, e) == lottery(1, m, e)
    assert len({lottery(seed, m, e) for seed in range(50)}) == 50
    assert lottery(1, m, e) != lottery(1, person("n"), e)
    assert lottery_key(1, m.participant_id) != lottery_key(2, m.participant_id)
    draws = [lottery(0, person(f"m{k}"), e) for k in range(2000)]
    assert 0.45 < sum(draws) / len(draws) < 0.55 and min(draws) >= 0 and max(draws) < 1


# -- the roster-wide scores are the pair-by-pair ones ------------------------------------------------------


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_roster_scores_equal_pair_scores_to_the_bit(data: st.DataObject) -> None:
    people = data.draw(rosters(max_mentors=6, max_mentees=6))
    cfg = data.draw(programs(people))
    offsets = data.draw(st.sampled_from((OFFSETS, None)))
    matching = prepare(cfg, people, offsets=offsets)
    for i, e in enumerate(matching.mentees):
        for j, m in enumerate(matching.mentors):
            assert matching.scores[i, j] == score(m, e, cfg, offsets=offsets)[0]


# -- explanations ---------------------------------------------------------------------------------------


def test_every_pair_is_explained_in_words_the_pairings_file_can_carry() -> None:
    many = tuple(f"skill number {k}" for k in range(12))
    m = person("m", skills_offered=many, skills_wanted=many, department="R&D; Labs", languages=("en", "fr"))
    e = mentee("e", skills_wanted=many, skills_offered=many, department="Sales; EMEA", languages=("fr", "en"))
    _, reasons = score(m, e, config())
    assert reasons[0] == (
        "covers 12 of 12 wanted skills: skill number 0, skill number 1, skill number 2, skill number 3, "
        "skill number 4 and 7 more"
    )
    assert "shared languages: fr, en" in reasons
    assert all(";" not in reason for reason in reasons)
    assert len("; ".join((FORCED, *reasons))) <= MAX_REASONS


def test_reasons_fit_even_with_very_long_values() -> None:
    long = "x" * 190
    m = person("m", skills_offered=(long, long + "y"), department=long)
    e = mentee("e", skills_wanted=(long, long + "y"), department=long + "z")
    _, reasons = score(m, e, config())
    assert len("; ".join((FORCED, *reasons))) <= MAX_REASONS
    assert reasons[0].startswith("covers 2 of 2 wanted skills") and reasons[0].endswith("…")


# -- the pairings file round trip -----------------------------------------------------------------------


def _people() -> list[Participant]:
    return [
        person("m1", department='Sales; "EMEA", North', skills_offered=("genai", "tiktok, reels")),
        person("m2", capacity=2, skills_offered=("sql",), timezone="America/New_York"),
        person("m3", level=9),
        mentee("e1", skills_wanted=("genai", "tiktok, reels")),
        mentee("e2", skills_wanted=("sql",)),
        mentee("e3", department="Finance", level=3),
        mentee("e4", level=1),
    ]


def test_the_csv_header_is_the_pairings_file_header() -> None:
    assert PAIRINGS_COLUMNS == ALL_COLUMNS


@pytest.mark.parametrize("offsets", [OFFSETS, None])
def test_the_written_pairings_read_back_as_proposed(offsets: dict[str, float] | None) -> None:
    people = _people()
    cfg = config(seed=3, force=[["m3@example.com", "e3@example.com"], ["m2@example.com", "e3@example.com"]])
    proposal = propose_pairings(cfg, people, offsets=offsets)
    assert len(proposal.pairs) == 3 and proposal.notes
    parsed = parse_pairings(pairings_csv(proposal), "p.csv", config=cfg, participants=people)
    assert [(p.mentor, p.mentee, p.score, p.reasons) for p in parsed.pairs] == [
        (p.mentor, p.mentee, p.score, p.reasons) for p in proposal.pairs
    ]
    assert [(p, "not in the pairings file") for p, _ in proposal.unmatched] == list(parsed.unmatched)
    if offsets is None:  # scores and reasons left empty are recomputed the same way
        blank = "mentor_email,mentee_email\n" + "".join(
            f"{p.mentor.email},{p.mentee.email}\n" for p in proposal.pairs
        )
        recomputed = parse_pairings(blank, "p.csv", config=cfg, participants=people)
        assert [(p.score, p.reasons) for p in recomputed.pairs] == [
            (p.score, p.reasons) for p in proposal.pairs
        ]
