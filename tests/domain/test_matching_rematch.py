"""Rematch: a new mentor for one mentee of a running program, given the current assignments."""

from __future__ import annotations

import pytest

from domain.errors import RuleViolation
from domain.matching import REMATCHED, propose_rematch, score
from domain.roster import Participant
from tests.domain.matching_helpers import config, mentee, person


def people() -> list[Participant]:
    return [
        person("best", skills_offered=("ai", "sql")),
        person("good", skills_offered=("ai",)),
        person("plain", capacity=2),
        person("senior", level=9),
        mentee("e", skills_wanted=("ai", "sql")),
        mentee("other"),
        mentee("third"),
    ]


def ids(roster: list[Participant]) -> dict[str, str]:
    return {p.name.lower(): p.participant_id for p in roster}


def test_the_best_compatible_mentor_with_capacity_left() -> None:
    roster = people()
    pid = ids(roster)
    pair = propose_rematch(config(), roster, pid["e"])
    assert pair is not None and pair.mentor.name == "Best"
    assert pair.reasons[0] == REMATCHED
    assert (pair.score, pair.reasons[1:]) == score(pair.mentor, pair.mentee, config())


def test_mentors_at_capacity_and_excluded_mentors_are_skipped() -> None:
    roster = people()
    pid = ids(roster)
    busy = [(pid["best"], pid["other"])]
    pair = propose_rematch(config(), roster, pid["e"], busy)
    assert pair is not None and pair.mentor.name == "Good"
    pair = propose_rematch(config(), roster, pid["e"], busy, exclude_mentors=[pid["good"]])
    assert pair is not None and pair.mentor.name == "Plain"
    full = [*busy, (pid["plain"], pid["other"]), (pid["plain"], pid["third"])]
    assert propose_rematch(config(), roster, pid["e"], full, exclude_mentors=[pid["good"]]) is None


def test_the_mentees_own_current_pairing_frees_its_place() -> None:
    roster = people()
    pid = ids(roster)
    pair = propose_rematch(config(), roster, pid["e"], [(pid["best"], pid["e"])])
    assert pair is not None and pair.mentor.name == "Best"
    pair = propose_rematch(
        config(), roster, pid["e"], [(pid["best"], pid["e"])], exclude_mentors=[pid["best"]]
    )
    assert pair is not None and pair.mentor.name == "Good"


def test_hard_constraints_still_hold() -> None:
    roster = [person("boss_report", manager="e"), person("excluded"), mentee("e")]
    pid = ids(roster)
    cfg = config(exclude=[["excluded@example.com", "e@example.com"]])
    assert propose_rematch(cfg, roster, pid["e"]) is None


def test_an_unknown_mentee_is_refused() -> None:
    roster = people()
    with pytest.raises(RuleViolation) as info:
        propose_rematch(config(), roster, "p-nobody")
    assert info.value.rule == "unknown-participant"
    with pytest.raises(RuleViolation):
        propose_rematch(config(), roster, ids(roster)["best"])  # a mentor, not a mentee


def test_no_mentors_left() -> None:
    roster = [mentee("e")]
    assert propose_rematch(config(), roster, roster[0].participant_id) is None
