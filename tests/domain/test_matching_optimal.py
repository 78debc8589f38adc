"""The optimal matcher: a maximum matching first, then the highest total score; proved against brute force
on small random rosters and matrices, never worse than the greedy baseline, deterministic under a seed."""

from __future__ import annotations

import itertools
import random
from collections import Counter

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.matching import generate_roster, offsets_for
from domain.matching import (
    Proposal,
    allowed,
    greedy_assignment,
    optimal_assignment,
    prepare,
    propose_pairings,
)
from domain.roster import Role
from tests.domain.matching_helpers import (
    OFFSETS,
    brute_force,
    by_email,
    config,
    mentee,
    pairs,
    person,
    programs,
    rosters,
)

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SOLVERS = ("auto", "lapjv", "lsa")


def totals(proposal: Proposal) -> tuple[int, float]:
    return len(proposal.pairs), proposal.total_score


# -- the assignment itself, on raw matrices -------------------------------------------------------------


def brute_matrix(scores: np.ndarray, feasible: np.ndarray, capacity: np.ndarray) -> tuple[int, float]:
    n, m = scores.shape
    left = list(capacity)
    best = (0, 0.0)

    def walk(i: int, count: int, total: float) -> None:
        nonlocal best
        if i == n:
            best = max(best, (count, round(total, 4)))
            return
        walk(i + 1, count, total)
        for j in range(m):
            if feasible[i, j] and left[j] > 0:
                left[j] -= 1
                walk(i + 1, count + 1, total + scores[i, j])
                left[j] += 1

    walk(0, 0, 0.0)
    return best


@st.composite
def problems(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n, m = draw(st.integers(1, 6)), draw(st.integers(1, 5))
    values = st.sampled_from(
        (0.0, 0.5, 1.0, 1.0, 2.25, 3.1416, 7.5, 98765.4321)
    )  # ties matter; so do large values
    scores = np.array(draw(st.lists(values, min_size=n * m, max_size=n * m)), dtype=np.float64).reshape(n, m)
    feasible = np.array(draw(st.lists(st.booleans(), min_size=n * m, max_size=n * m))).reshape(n, m)
    capacity = np.array(draw(st.lists(st.integers(0, 3), min_size=m, max_size=m)), dtype=np.int64)
    return scores, feasible, capacity


def check_assignment(assignment: list[tuple[int, int]], feasible: np.ndarray, capacity: np.ndarray) -> None:
    assert len({i for i, _ in assignment}) == len(assignment), "a row matched twice"
    assert all(feasible[i, j] for i, j in assignment), "a forbidden pair was used"
    used = Counter(j for _, j in assignment)
    assert all(used[j] <= capacity[j] for j in used), "a column over capacity"


@SETTINGS
@given(problems(), st.sampled_from(SOLVERS))
def test_the_assignment_is_a_maximum_matching_with_the_best_total(
    problem: tuple[np.ndarray, np.ndarray, np.ndarray], solver: str
) -> None:
    scores, feasible, capacity = problem
    assignment = optimal_assignment(scores, feasible, capacity, solver=solver)  # type: ignore[arg-type]
    check_assignment(assignment, feasible, capacity)
    total = round(sum(scores[i, j] for i, j in assignment), 4)
    assert (len(assignment), total) == pytest.approx(
        brute_matrix(scores, feasible, capacity), rel=0, abs=1e-6
    )


@SETTINGS
@given(problems())
def test_the_greedy_baseline_is_valid_and_never_better(
    problem: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    scores, feasible, capacity = problem
    greedy = greedy_assignment(scores, feasible, capacity)
    check_assignment(greedy, feasible, capacity)
    best = optimal_assignment(scores, feasible, capacity)
    assert len(best) >= len(greedy)
    if len(best) == len(greedy):
        assert sum(scores[i, j] for i, j in best) >= sum(scores[i, j] for i, j in greedy) - 1e-9


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_large_weights_stay_exact(data: st.DataObject) -> None:
    people = data.draw(rosters())
    cfg = data.draw(programs(people))
    heavy = cfg.model_copy(
        update={"matching": cfg.matching.model_copy(update={"weights": cfg.matching.weights.model_copy(
            update={"skills": 997.1234, "serendipity": 503.0001})})}
    )  # fmt: skip
    assert totals(propose_pairings(heavy, people)) == pytest.approx(
        brute_force(heavy, people, None), rel=0, abs=1e-6
    )


def test_more_mentees_matched_beats_a_higher_score() -> None:
    """Row 0 scores 10 with column 0 and 0.1 with column 1; row 1 can only take column 0 (0.1)."""
    scores = np.array([[10.0, 0.1], [0.1, 0.0]])
    feasible = np.array([[True, True], [True, False]])
    assignment = optimal_assignment(scores, feasible, np.array([1, 1]))
    assert sorted(assignment) == [(0, 1), (1, 0)]


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize(("rows", "cols", "slack"), [(40, 40, 0), (40, 25, 0), (25, 40, 0), (40, 30, 1)])
def test_solvers_agree_on_wide_tall_and_square_problems(
    solver: str, rows: int, cols: int, slack: int
) -> None:
    rng = np.random.default_rng(rows * 100 + cols + slack)
    scores = np.round(rng.choice([0.0, 1.0, 2.5, 3.0], size=(rows, cols)) + rng.random((rows, cols)), 4)
    feasible = rng.random((rows, cols)) < 0.3
    capacity = 1 + (rng.random(cols) < 0.3).astype(np.int64) * slack
    reference = optimal_assignment(scores, feasible, capacity, solver="lsa")
    assignment = optimal_assignment(scores, feasible, capacity, solver=solver)  # type: ignore[arg-type]
    check_assignment(assignment, feasible, capacity)
    assert len(assignment) == len(reference)
    assert sum(scores[i, j] for i, j in assignment) == pytest.approx(sum(scores[i, j] for i, j in reference))


def test_nothing_to_match() -> None:
    assert optimal_assignment(np.zeros((2, 2)), np.zeros((2, 2), dtype=bool), np.array([1, 1])) == []
    assert optimal_assignment(np.ones((2, 2)), np.ones((2, 2), dtype=bool), np.array([0, 0])) == []


# -- whole rosters --------------------------------------------------------------------------------------


@SETTINGS
@given(st.data())
def test_proposals_are_optimal_against_brute_force(data: st.DataObject) -> None:
    people = data.draw(rosters())
    cfg = data.draw(programs(people))
    offsets = data.draw(st.sampled_from((OFFSETS, None)))
    proposal = propose_pairings(cfg, people, offsets=offsets)
    everyone = by_email(people)
    for pair in proposal.pairs:
        assert allowed(pair.mentor, pair.mentee, cfg, everyone, offsets=offsets) is None
    load = Counter(pair.mentor.email for pair in proposal.pairs)
    assert all(load[m.email] <= m.capacity for m in people if m.role is Role.MENTOR)
    matched = {pair.mentee.email for pair in proposal.pairs}
    assert matched.isdisjoint(p.email for p, _ in proposal.unmatched)
    assert len(matched) + len(proposal.unmatched) == sum(1 for p in people if p.role is Role.MENTEE)
    assert totals(proposal) == pytest.approx(brute_force(cfg, people, offsets), rel=0, abs=1e-6)


@SETTINGS
@given(st.data())
def test_optimal_is_never_worse_than_greedy(data: st.DataObject) -> None:
    people = data.draw(rosters(max_mentors=6, max_mentees=8))
    cfg = data.draw(programs(people))
    matching = prepare(cfg, people, offsets=OFFSETS)
    optimal, greedy = matching.propose("optimal"), matching.propose("greedy")
    assert len(optimal.pairs) >= len(greedy.pairs)
    if len(optimal.pairs) == len(greedy.pairs):
        assert optimal.total_score >= greedy.total_score - 1e-9


def test_the_greedy_baseline_leaves_value_on_the_table() -> None:
    """Both mentees want AI; only one of them also wants SQL, which only mentor Y offers."""
    x = person("x", skills_offered=("ai", "sql"))
    y = person("y", skills_offered=("ai",))
    a = mentee("a", skills_wanted=("ai",))
    b = mentee("b", skills_wanted=("ai", "sql"))
    cfg = config(weights={"communication_style": 0, "timezone_overlap": 0, "languages": 0, "serendipity": 0})
    matching = prepare(cfg, [x, y, a, b])
    greedy, optimal = matching.propose("greedy"), matching.propose("optimal")
    assert pairs(greedy) == [("X", "A"), ("Y", "B")]  # a goes first (ties by email) and takes x
    assert greedy.total_score == 4.5
    assert pairs(optimal) == [("Y", "A"), ("X", "B")]
    assert optimal.total_score == 6.0


def test_a_constrained_mentee_is_matched_even_at_a_cost_in_score() -> None:
    star = person("star", level=1, skills_offered=("ai",))
    plain = person("plain", level=5)
    flexible = mentee("flexible", level=9, skills_wanted=("ai",))
    constrained = mentee("constrained", level=2)  # only star is junior enough
    proposal = propose_pairings(config(), [star, plain, flexible, constrained])
    assert sorted(pairs(proposal)) == [("Plain", "Flexible"), ("Star", "Constrained")]
    assert proposal.unmatched == ()


# -- determinism ----------------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_the_same_roster_in_any_order_and_the_same_seed_give_the_same_proposal(data: st.DataObject) -> None:
    people = data.draw(rosters(max_mentors=5, max_mentees=6))
    cfg = data.draw(programs(people))
    shuffled = data.draw(st.permutations(people))
    assert propose_pairings(cfg, people, offsets=OFFSETS) == propose_pairings(
        cfg, list(shuffled), offsets=OFFSETS
    )


def test_the_seed_decides_which_unlikely_pair_wins() -> None:
    """Two identical mentors from another department: only the serendipity draw tells them apart."""
    people = [
        person("m1", department="Marketing"),
        person("m2", department="Marketing"),
        mentee("cfo", department="Finance"),
    ]
    only_serendipity = {"skills": 0, "reverse_skills": 0, "communication_style": 0, "timezone_overlap": 0,
                        "languages": 0, "serendipity": 1}  # fmt: skip
    winners = {
        pairs(propose_pairings(config(seed=seed, weights=only_serendipity), people))[0][0]
        for seed in range(20)
    }
    assert winners == {"M1", "M2"}
    for seed in range(5):  # and each seed always gives the same answer
        cfg = config(seed=seed, weights=only_serendipity)
        assert propose_pairings(cfg, people) == propose_pairings(cfg, people[::-1])


def test_a_pair_scores_the_same_whoever_else_is_in_the_roster() -> None:
    rng = random.Random(7)
    people = generate_roster(60, seed=3)
    smaller = [p for p in people if rng.random() < 0.6]
    cfg = config(seed=11)
    big, small = prepare(cfg, people, offsets=OFFSETS), prepare(cfg, smaller, offsets=OFFSETS)
    mentor_col = {m.email: j for j, m in enumerate(big.mentors)}
    mentee_row = {e.email: i for i, e in enumerate(big.mentees)}
    for (i, e), (j, m) in itertools.product(enumerate(small.mentees), enumerate(small.mentors)):
        assert small.scores[i, j] == big.scores[mentee_row[e.email], mentor_col[m.email]]


# -- a larger generated roster (not seen by the brute force) --------------------------------------------


@pytest.mark.parametrize("profile", ["mixed", "tight"])
def test_a_generated_roster_of_2000_people(profile: str) -> None:
    people = generate_roster(2000, seed=99, profile=profile)
    cfg = config(seed=5, required={"min_overlap_hours": 1})
    offsets = offsets_for(people)
    matching = prepare(cfg, people, offsets=offsets)
    optimal, greedy = matching.propose("optimal"), matching.propose("greedy")
    assert len(optimal.pairs) >= len(greedy.pairs)
    assert optimal.total_score >= greedy.total_score
    everyone = by_email(people)
    for pair in optimal.pairs:
        assert allowed(pair.mentor, pair.mentee, cfg, everyone, offsets=offsets) is None
        assert pair.reasons and all(";" not in reason for reason in pair.reasons)
    load = Counter(pair.mentor.email for pair in optimal.pairs)
    assert all(load[m.email] <= m.capacity for m in matching.mentors)
    assert len({pair.mentee.email for pair in optimal.pairs}) == len(optimal.pairs)


def test_progress_is_reported_by_stage() -> None:
    seen: dict[str, tuple[int, int]] = {}
    people = generate_roster(300, seed=1)
    propose_pairings(
        config(), people, progress=lambda stage, done, total: seen.__setitem__(stage, (done, total))
    )
    assert set(seen) == {"score", "solve", "explain"}
    assert all(done == total for done, total in seen.values())
