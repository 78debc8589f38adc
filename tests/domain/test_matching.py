"""Proposing pairings: the hard constraints (reverse pairs, reporting chains at any depth, capacity,
exclusions, forced pairs, required criteria) hold for both methods, and every unmatched mentee and every
forced pair not applied is explained."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.compatibility import Compatibility
from domain.errors import RuleViolation
from domain.matching import (
    FORCED,
    METHODS,
    NO_CAPACITY,
    NO_MENTOR,
    NOTHING_IN_COMMON,
    REMATCHED,
    Method,
    Proposal,
    allowed,
    chain_of,
    fit_reasons,
    pairing_id_for,
    prepare,
    propose_pairings,
    propose_rematch,
    propose_rematches,
    same_reporting_chain,
    score,
)
from domain.roster import Participant, Role
from tests.domain.matching_helpers import OFFSETS, config, mentee, person
from tests.domain.matching_helpers import rosters as helper_rosters


def pairs(proposal: Proposal) -> list[tuple[str, str]]:
    return sorted((p.mentor.name, p.mentee.name) for p in proposal.pairs)


def unmatched(proposal: Proposal) -> dict[str, str]:
    return {p.name: reason for p, reason in proposal.unmatched}


methods = pytest.mark.parametrize("method", METHODS)


# -- reporting chains -------------------------------------------------------------------------------


def org() -> dict[str, Participant]:
    """ceo <- cfo <- controller <- analyst <- intern (each reports to the one on the left)."""
    people = [
        mentee("ceo", level=10),
        mentee("cfo", level=9, manager="ceo"),
        person("controller", level=6, manager="cfo"),
        person("analyst", level=3, manager="controller"),
        person("intern", level=1, manager="analyst"),
    ]
    return {p.email: p for p in people}


def by_name(people: dict[str, Participant], name: str) -> Participant:
    return people[f"{name}@example.com"]


def test_chain_of_lists_the_managers_nearest_first() -> None:
    people = org()
    assert chain_of(by_name(people, "intern"), people) == [
        "analyst@example.com",
        "controller@example.com",
        "cfo@example.com",
        "ceo@example.com",
    ]
    assert chain_of(by_name(people, "ceo"), people) == []


def test_chain_of_stops_at_managers_outside_the_roster_and_at_loops() -> None:
    outsider = person("a", manager="boss")  # boss is not enrolled
    assert chain_of(outsider, {outsider.email: outsider}) == ["boss@example.com"]
    a, b = person("a", manager="b"), person("b", manager="a")
    assert chain_of(a, {a.email: a, b.email: b}) == ["b@example.com"]


@pytest.mark.parametrize(("junior", "senior"), [("intern", "cfo"), ("intern", "ceo"), ("analyst", "ceo")])
def test_the_same_reporting_chain_at_depth_three_or_more_in_both_directions(junior: str, senior: str) -> None:
    people = org()
    a, b = by_name(people, junior), by_name(people, senior)
    assert same_reporting_chain(a, b, people) and same_reporting_chain(b, a, people)


def test_people_in_different_branches_are_not_in_the_same_chain() -> None:
    people = org()
    sibling = person("sibling", level=1, manager="controller")
    people[sibling.email] = sibling
    assert not same_reporting_chain(sibling, by_name(people, "intern"), people)
    assert same_reporting_chain(sibling, by_name(people, "cfo"), people)


@methods
def test_a_mentor_is_never_paired_up_their_own_chain(method: Method) -> None:
    people = org()
    assert (
        allowed(by_name(people, "intern"), by_name(people, "ceo"), config(), people) == "same reporting chain"
    )
    proposal = propose_pairings(config(), list(people.values()), method=method)
    assert proposal.pairs == ()
    reasons = unmatched(proposal)
    assert set(reasons) == {"Ceo", "Cfo"}
    assert all(r.startswith(f"{NO_MENTOR}: same reporting chain") for r in reasons.values())


@methods
def test_a_chain_from_mentee_down_to_mentor_is_refused_too(method: Method) -> None:
    """Without reverse pairs a mentor may be senior: a mentee three levels below in the mentor's chain."""
    boss = person("boss", level=9)
    mid1 = mentee("mid1", level=7, manager="boss")
    mid2 = mentee("mid2", level=5, manager="mid1")
    junior = mentee("junior", level=2, manager="mid2")
    people = {p.email: p for p in (boss, mid1, mid2, junior)}
    assert allowed(boss, junior, config(reverse_pairs=False), people) == "same reporting chain"
    proposal = propose_pairings(config(reverse_pairs=False), list(people.values()), method=method)
    assert proposal.pairs == ()


def test_a_manager_loop_is_an_input_error() -> None:
    a, b, c = person("a", manager="b"), mentee("b", manager="c"), mentee("c", manager="a")
    with pytest.raises(RuleViolation) as info:
        propose_pairings(config(), [a, b, c])
    assert info.value.rule == "manager-cycle"
    assert set(info.value.value) == {a.email, b.email, c.email}


# -- other hard constraints -----------------------------------------------------------------------------


@methods
def test_reverse_pairs_need_a_more_junior_mentor(method: Method) -> None:
    m, e = person("m", level=5), mentee("e", level=5)
    people = {m.email: m, e.email: e}
    assert allowed(m, e, config(), people) == "mentor is not more junior than the mentee"
    assert allowed(m, e, config(reverse_pairs=False), people) is None
    proposal = propose_pairings(config(), [m, e], method=method)
    assert unmatched(proposal)["E"].startswith(f"{NO_MENTOR}: mentor is not more junior than the mentee")
    assert pairs(propose_pairings(config(reverse_pairs=False), [m, e], method=method)) == [("M", "E")]


@methods
def test_excluded_pairs_are_never_proposed(method: Method) -> None:
    m, e = person("m"), mentee("e")
    cfg = config(exclude=[["M@Example.com", e.email]])  # emails match whatever their case
    assert allowed(m, e, cfg, {m.email: m, e.email: e}) == "excluded by the operator"
    assert unmatched(propose_pairings(cfg, [m, e], method=method)) == {
        "E": f"{NO_MENTOR}: excluded by the operator (1 of 1 mentor)"
    }


def test_a_shared_language_can_be_required() -> None:
    m, e = person("m", languages=("fr",)), mentee("e", languages=("en", "de"))
    people = {m.email: m, e.email: e}
    assert allowed(m, e, config(), people) is None
    assert allowed(m, e, config(required={"shared_language": True}), people) == "no shared language"
    both = person("b", languages=("de",))
    assert allowed(both, e, config(required={"shared_language": True}), people) is None


@methods
def test_capacity_limits_how_many_mentees_a_mentor_takes(method: Method) -> None:
    m = person("m", capacity=2)
    mentees = [mentee(f"e{i}") for i in range(3)]
    proposal = propose_pairings(config(), [m, *mentees], method=method)
    assert len(proposal.pairs) == 2 and {p.mentor.name for p in proposal.pairs} == {"M"}
    [(_, reason)] = proposal.unmatched
    assert reason == f"{NO_CAPACITY} (1 compatible mentor, all taken)"


@methods
def test_unmatched_reasons_distinguish_no_option_from_no_capacity(method: Method) -> None:
    m = person("m", level=2)
    proposal = propose_pairings(
        config(), [m, mentee("a", level=8), mentee("b", level=1), mentee("c", level=8)], method=method
    )
    reasons = unmatched(proposal)
    assert len(proposal.pairs) == 1
    assert reasons["B"] == f"{NO_MENTOR}: mentor is not more junior than the mentee (1 of 1 mentor)"
    assert [r for name, r in reasons.items() if name != "B"] == [
        f"{NO_CAPACITY} (1 compatible mentor, all taken)"
    ]


def test_without_mentors_nobody_is_matched_and_it_says_so() -> None:
    proposal = propose_pairings(config(), [mentee("a"), mentee("b")])
    assert proposal.pairs == ()
    assert set(unmatched(proposal).values()) == {f"{NO_MENTOR}: the roster has no mentors"}


# -- forced pairs --------------------------------------------------------------------------------------


@methods
def test_forced_pairs_come_first_and_say_so(method: Method) -> None:
    best, forced = person("best", skills_offered=("AI",)), person("forced")
    e = mentee("e", skills_wanted=("AI",))
    proposal = propose_pairings(config(force=[[forced.email, e.email]]), [best, forced, e], method=method)
    assert pairs(proposal) == [("Forced", "E")]
    assert proposal.pairs[0].reasons[0] == FORCED
    assert proposal.unmatched == () and proposal.notes == ()


def test_forced_pairs_use_capacity() -> None:
    m = person("m")
    a, b = mentee("a"), mentee("b")
    proposal = propose_pairings(config(force=[[m.email, a.email], [m.email, b.email]]), [m, a, b])
    assert pairs(proposal) == [("M", "A")]
    assert proposal.notes == (
        f"forced pair {m.email} / {b.email} not applied: {m.email} has no capacity left (capacity 1)",
    )
    assert unmatched(proposal) == {"B": f"{NO_CAPACITY} (1 compatible mentor, all taken)"}


@pytest.mark.parametrize(
    ("force", "note"),
    [
        (["ghost@example.com", "e@example.com"], "ghost@example.com is not in the roster"),
        (["m@example.com", "nobody@example.com"], "nobody@example.com is not in the roster"),
        (["e@example.com", "m@example.com"], "the first email must be a mentor and the second a mentee"),
        (["x@example.com", "e@example.com"], "excluded by the operator"),
    ],
    ids=["unknown-mentor", "unknown-mentee", "roles-swapped", "excluded"],
)
def test_forced_pairs_that_cannot_apply_are_noted_and_the_mentee_is_matched_normally(
    force: list[str], note: str
) -> None:
    m, x, e = person("m"), person("x"), mentee("e")
    cfg = config(force=[force], exclude=[["x@example.com", "e@example.com"]])
    proposal = propose_pairings(cfg, [m, x, e])
    assert proposal.notes == (f"forced pair {force[0]} / {force[1]} not applied: {note}",)
    assert pairs(proposal) == [("M", "E")]
    assert FORCED not in proposal.pairs[0].reasons


def test_a_forced_pair_in_one_reporting_chain_is_not_applied() -> None:
    """Forcing never overrides safety: the junior side must be able to speak freely."""
    people = org()
    free = person("free", level=1)
    cfg = config(force=[["intern@example.com", "cfo@example.com"]])
    proposal = propose_pairings(cfg, [*people.values(), free])
    assert proposal.notes == (
        "forced pair intern@example.com / cfo@example.com not applied: same reporting chain",
    )
    assert ("Intern", "Cfo") not in pairs(proposal)


def test_a_mentee_forced_twice_keeps_the_first() -> None:
    m1, m2, e = person("m1"), person("m2"), mentee("e")
    proposal = propose_pairings(config(force=[[m1.email, e.email], [m2.email, e.email]]), [m1, m2, e])
    assert pairs(proposal) == [("M1", "E")]
    assert proposal.notes == (
        f"forced pair {m2.email} / {e.email} not applied: {e.email} is already in a forced pair",
    )


# -- scoring and determinism -----------------------------------------------------------------------------


def test_the_proposal_uses_the_pair_score_and_explains_it() -> None:
    m = person("m", skills_offered=("AI", "TikTok"), skills_wanted=("negotiation",), department="Sales")
    e = mentee("e", skills_wanted=("AI", "TikTok", "hybrid"), skills_offered=("negotiation",))
    [pair] = propose_pairings(config(), [m, e]).pairs
    total, reasons = score(m, e, config())
    assert pair.score == total > 0
    assert pair.reasons == reasons
    assert reasons[0].startswith("covers 2 of 3 wanted skills")
    assert "same communication style" in reasons and "learns back negotiation" in reasons


def test_the_best_scoring_mentor_wins() -> None:
    plain, skilled = person("a"), person("z", skills_offered=("AI",))
    e = mentee("e", skills_wanted=("AI",))
    assert pairs(propose_pairings(config(), [plain, skilled, e])) == [("Z", "E")]


@methods
def test_proposals_do_not_depend_on_roster_order(method: Method) -> None:
    people = [
        person(f"m{i}", level=i % 3 + 1, capacity=2, skills_offered=("AI",) if i % 2 else ())
        for i in range(6)
    ]
    people += [mentee(f"e{i}", level=5 + i % 4, skills_wanted=("AI",)) for i in range(10)]
    shuffled = list(people)
    random.Random(7).shuffle(shuffled)
    first, second = (
        propose_pairings(config(), people, method=method),
        propose_pairings(config(), shuffled, method=method),
    )
    assert pairs(first) == pairs(second) and first.total_score == second.total_score


def test_pairing_ids_are_built_from_participant_ids_never_emails() -> None:
    m, e = person("m"), mentee("e")
    pid = pairing_id_for("rm-test", m, e)
    assert pid == f"rm-test.{e.participant_id}.{m.participant_id}"
    assert "@" not in pid and pid != pairing_id_for("rm-test", person("other"), e)


# -- every proposal keeps every hard constraint --------------------------------------------------------------


@st.composite
def rosters(draw: st.DrawFn) -> tuple[list[Participant], list[list[str]]]:
    n_mentors, n_mentees = draw(st.integers(1, 5)), draw(st.integers(1, 7))
    people: list[Participant] = []
    for i in range(n_mentors + n_mentees):
        is_mentor = i < n_mentors
        earlier = [p.email.split("@")[0] for p in people]
        manager = draw(st.one_of(st.none(), st.sampled_from(earlier))) if earlier else None  # a forest
        people.append(
            person(
                f"{'m' if is_mentor else 'e'}{i}",
                Role.MENTOR if is_mentor else Role.MENTEE,
                draw(st.integers(1, 9)),
                manager,
                capacity=draw(st.integers(1, 2)),
                skills_offered=tuple(draw(st.sets(st.sampled_from(["ai", "sql", "tiktok"]), max_size=2))),
                skills_wanted=tuple(draw(st.sets(st.sampled_from(["ai", "sql", "tiktok"]), max_size=2))),
                department=draw(st.sampled_from(["Sales", "Finance"])),
            )
        )
    mentors = [p.email for p in people if p.role is Role.MENTOR]
    mentees = [p.email for p in people if p.role is Role.MENTEE]
    exclude = draw(
        st.lists(st.tuples(st.sampled_from(mentors), st.sampled_from(mentees)).map(list), max_size=3)
    )
    return people, exclude


@settings(max_examples=60, deadline=None)
@given(rosters(), st.booleans())
def test_every_proposal_keeps_the_hard_constraints(
    roster: tuple[list[Participant], list[list[str]]], reverse: bool
) -> None:
    people, exclude = roster
    cfg = config(reverse_pairs=reverse, exclude=exclude)
    by_email = {p.email: p for p in people}
    counts = {}
    for method in METHODS:
        proposal = propose_pairings(cfg, people, method=method)
        placed = [p.mentee.email for p in proposal.pairs]
        assert len(placed) == len(set(placed))  # a mentee at most once
        for pair in proposal.pairs:
            assert allowed(pair.mentor, pair.mentee, cfg, by_email) is None
        for mentor in (p for p in people if p.role is Role.MENTOR):
            assert sum(p.mentor.email == mentor.email for p in proposal.pairs) <= mentor.capacity
        assert set(placed) | {p.email for p, _ in proposal.unmatched} == {
            p.email for p in people if p.role is Role.MENTEE
        }
        assert all(r.startswith((NO_MENTOR, NO_CAPACITY)) for _, r in proposal.unmatched)
        counts[method] = len(proposal.pairs)
    assert counts["optimal"] >= counts["greedy"]  # the optimal method matches as many mentees as possible


# -- proposal figures, progress, methods ----------------------------------------------------------------


def test_proposal_figures() -> None:
    empty = propose_pairings(config(), [mentee("a")])
    assert (empty.total_score, empty.mean_score, empty.min_score) == (0, None, None)
    m1 = person("m1", skills_offered=("AI",))
    m2 = person("m2")
    proposal = propose_pairings(config(), [m1, m2, mentee("a", skills_wanted=("AI",)), mentee("b")])
    scores = sorted(p.score for p in proposal.pairs)
    assert proposal.total_score == round(sum(scores), 4)
    assert proposal.mean_score == round(sum(scores) / 2, 4) and proposal.min_score == scores[0]
    assert proposal.method == "optimal"


def test_progress_is_reported_by_stage() -> None:
    seen: list[tuple[str, int, int]] = []
    people = [person("m", capacity=3), mentee("a"), mentee("b")]
    propose_pairings(config(), people, progress=lambda stage, done, total: seen.append((stage, done, total)))
    stages = [s for s, _, _ in seen]
    assert {"score", "solve", "explain"} <= set(stages)
    assert ("solve", 1, 1) in seen and seen[-1] == ("explain", 2, 2)


def test_an_unknown_method_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown matching method 'random'"):
        prepare(config(), [person("m"), mentee("e")]).propose("random")  # type: ignore[arg-type]


def test_a_pair_with_nothing_scored_in_common_still_gets_a_reason() -> None:
    m = person("m", communication_style="reflective", languages=("fr",))
    e = mentee("e", skills_wanted=("AI",), timezone="Asia/Tokyo")  # no offsets given: overlap unknown
    assert score(m, e, config())[1] == (NOTHING_IN_COMMON,)


def test_reasons_fit_the_pairings_file() -> None:
    assert fit_reasons(["a;b", "  ", "tab\there"]) == ("a,b", "tab here")
    long = ["x" * 150] * 10
    kept = fit_reasons(long, budget=400)
    assert len("; ".join(kept)) <= 400 and len(kept) >= 1
    assert all(len(r) <= 160 for r in fit_reasons(["y" * 500]))


# -- rematch -------------------------------------------------------------------------------------------


def test_rematch_proposes_the_best_compatible_mentor_with_capacity_left() -> None:
    busy = person("busy", skills_offered=("AI",))
    free = person("free")
    former = person("former", skills_offered=("AI",))
    e = mentee("e", skills_wanted=("AI",))
    other = mentee("other")
    people = [busy, free, former, e, other]
    pair = propose_rematch(
        config(),
        people,
        e.participant_id,
        current_assignments=[
            (busy.participant_id, other.participant_id),
            (former.participant_id, e.participant_id),
        ],
        exclude_mentors=[former.participant_id],
    )
    assert pair is not None and (pair.mentor.name, pair.mentee.name) == ("Free", "E")
    assert pair.reasons[0] == REMATCHED


def test_rematch_frees_the_mentees_own_slot_and_honours_constraints() -> None:
    m, e = person("m"), mentee("e")
    pair = propose_rematch(
        config(), [m, e], e.participant_id, current_assignments=[(m.participant_id, e.participant_id)]
    )
    assert pair is not None and pair.mentor.name == "M"
    assert propose_rematch(config(exclude=[[m.email, e.email]]), [m, e], e.participant_id) is None
    assert propose_rematch(config(), [e], e.participant_id) is None  # no mentors at all


def test_rematches_asked_together_share_out_capacity_in_order() -> None:
    """Two mentees want the one mentor with AI skills: the first asked gets him, the second the next
    best, exactly as two rematches asked one after the other would."""
    ai, plain = person("ai", skills_offered=("AI",)), person("plain")
    first, second = mentee("first", skills_wanted=("AI",)), mentee("second", skills_wanted=("AI",))
    people = [ai, plain, first, second]
    wanted = [(first.participant_id, ()), (second.participant_id, ())]
    together = propose_rematches(config(), people, wanted)
    assert [p.mentor.name if p else None for p in together] == ["Ai", "Plain"]

    one_by_one, assignments = [], []
    for mentee_id, exclude in wanted:
        pair = propose_rematch(config(), people, mentee_id, assignments, exclude)
        assert pair is not None
        one_by_one.append(pair)
        assignments.append((pair.mentor.participant_id, mentee_id))
    assert together == one_by_one
    # nobody left for a third: None in its place, the others unchanged
    third = mentee("third")
    wanted.append((third.participant_id, ()))
    assert propose_rematches(config(), [*people, third], wanted)[2] is None


def _one_by_one(
    people: list[Participant], wanted: list[tuple[str, list[str]]], assignments: list[tuple[str, str]]
) -> list[tuple[str, float, tuple[str, ...]] | None]:
    """The rematch rule written out plainly, one mentee at a time, each with its own features: what
    propose_rematches must answer while computing the features of all of them in one go."""
    mentors = sorted((p for p in people if p.role is Role.MENTOR), key=lambda m: m.email.lower())
    out: list[tuple[str, float, tuple[str, ...]] | None] = []
    for mentee_id, exclude in wanted:
        e = next(p for p in people if p.participant_id == mentee_id)
        block = Compatibility(config(), mentors, [e], participants=people, offsets=OFFSETS).block(slice(0, 1))
        load = Counter(m for m, assigned in assignments if assigned != mentee_id)
        best = None
        for j, m in enumerate(mentors):
            if (
                not block.feasible[0][j]
                or m.capacity - load[m.participant_id] <= 0
                or m.participant_id in exclude
            ):
                continue
            if best is None or block.scores[0][j] > block.scores[0][best]:
                best = j
        if best is None:
            out.append(None)
            continue
        total, reasons = score(mentors[best], e, config(), offsets=OFFSETS)
        out.append((mentors[best].participant_id, total, fit_reasons((REMATCHED, *reasons))))
        assignments = [a for a in assignments if a[1] != mentee_id] + [
            (mentors[best].participant_id, mentee_id)
        ]
    return out


@settings(max_examples=80, deadline=None)
@given(helper_rosters(max_mentors=6, max_mentees=6), st.randoms(use_true_random=False))
def test_rematches_asked_together_answer_as_one_mentee_at_a_time(
    people: list[Participant], rng: random.Random
) -> None:
    mentor_ids = [p.participant_id for p in people if p.role is Role.MENTOR]
    mentee_ids = [p.participant_id for p in people if p.role is Role.MENTEE]
    wanted = [
        (mentee_id, rng.sample(mentor_ids, rng.randint(0, len(mentor_ids) - 1)))
        for mentee_id in rng.sample(mentee_ids, rng.randint(1, len(mentee_ids)))
    ]
    assignments = [(rng.choice(mentor_ids), e) for e in mentee_ids if rng.random() < 0.5]

    together = propose_rematches(config(), people, wanted, assignments, offsets=OFFSETS)

    got = [(p.mentor.participant_id, p.score, p.reasons) if p else None for p in together]
    assert got == _one_by_one(people, wanted, assignments)


def test_rematch_needs_an_active_mentee() -> None:
    m = person("m")
    for unknown in ("p-nobody", m.participant_id):
        with pytest.raises(RuleViolation) as info:
            propose_rematch(config(), [m, mentee("e")], unknown)
        assert (info.value.rule, info.value.value) == ("unknown-participant", unknown)
