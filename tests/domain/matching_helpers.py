"""Builders shared by the matching tests: people, programs, random rosters and a brute-force matcher."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from domain.compatibility import CRITERIA
from domain.matching import Proposal, allowed, score
from domain.program import ProgramConfig
from domain.roster import Participant, Role, participant_id_for

PROGRAM = "rm-test"
SKILLS = ("genai", "tiktok", "sql", "p&l", "negotiation", "hiring")
DEPARTMENTS = ("Finance", "Marketing", "Engineering")
STYLES = ("direct", "analytical", "expressive")
OFFSETS = {"Europe/London": 0.0, "America/New_York": -5.0, "Asia/Kolkata": 5.5, "Asia/Tokyo": 9.0}
ZONES = tuple(OFFSETS)


def person(
    name: str, role: Role = Role.MENTOR, level: int = 2, manager: str | None = None, **extra: Any
) -> Participant:
    email = f"{name}@example.com"
    fields: dict[str, Any] = {
        "participant_id": participant_id_for(PROGRAM, email),
        "email": email,
        "name": name.title(),
        "role": role,
        "title": "Analyst" if role is Role.MENTOR else "Director",
        "department": "Marketing",
        "level": level,
        "manager_email": f"{manager}@example.com" if manager else None,
        "communication_style": "direct",
        "timezone": "Europe/London",
        "languages": ("en",),
        **extra,
    }
    return Participant(**fields)


def mentee(name: str, level: int = 8, manager: str | None = None, **extra: Any) -> Participant:
    return person(name, Role.MENTEE, level, manager, **extra)


def config(**matching: Any) -> ProgramConfig:
    return ProgramConfig.model_validate({"id": PROGRAM, "name": "Test", "matching": matching})


def pairs(proposal: Proposal) -> list[tuple[str, str]]:
    return [(p.mentor.name, p.mentee.name) for p in proposal.pairs]


def by_email(people: list[Participant]) -> dict[str, Participant]:
    return {p.email: p for p in people}


# -- random rosters -------------------------------------------------------------------------------------


@st.composite
def rosters(draw: st.DrawFn, max_mentors: int = 4, max_mentees: int = 5) -> list[Participant]:
    """Small rosters with everything that matters to matching drawn: levels, managers (chains of any
    depth, in both directions, never a loop), skills, styles, zones, languages, departments, capacities."""
    mentors = draw(st.integers(1, max_mentors))
    mentees = draw(st.integers(1, max_mentees))
    people: list[Participant] = []
    for k in range(mentors + mentees):
        role = Role.MENTOR if k < mentors else Role.MENTEE
        earlier = [p.email.split("@")[0] for p in people]
        manager = draw(st.one_of(st.none(), st.sampled_from(earlier))) if earlier else None
        people.append(
            person(
                f"{role.value}{k}",
                role,
                draw(st.integers(1, 6) if role is Role.MENTOR else st.integers(3, 9)),
                manager,
                department=draw(st.sampled_from(DEPARTMENTS)),
                skills_offered=tuple(draw(st.lists(st.sampled_from(SKILLS), max_size=3, unique=True))),
                skills_wanted=tuple(draw(st.lists(st.sampled_from(SKILLS), max_size=3, unique=True))),
                communication_style=draw(st.sampled_from(STYLES)),
                timezone=draw(st.sampled_from(ZONES)),
                languages=tuple(draw(st.lists(st.sampled_from(("en", "fr", "de")), max_size=2, unique=True))),
                capacity=draw(st.integers(1, 2)) if role is Role.MENTOR else 1,
            )
        )
    order = draw(st.permutations(range(len(people))))
    return [people[i] for i in order]


@st.composite
def programs(draw: st.DrawFn, people: list[Participant]) -> ProgramConfig:
    """Random weights, requirements, seed and exclusions (no forced pairs) for ``people``."""
    mentors = [p.email for p in people if p.role is Role.MENTOR]
    mentees = [p.email for p in people if p.role is Role.MENTEE]
    weight = st.sampled_from((0.0, 0.5, 1.0, 1.25, 3.0))
    rarely = st.sampled_from((False, False, False, True))
    exclude = draw(
        st.lists(st.tuples(st.sampled_from(mentors), st.sampled_from(mentees)), max_size=2, unique=True)
    )
    return config(
        seed=draw(st.integers(0, 2**32)),
        reverse_pairs=draw(st.booleans()),
        weights={name: draw(weight) for name in CRITERIA},
        required={
            "shared_language": draw(rarely),
            "min_overlap_hours": draw(st.sampled_from((0, 0, 2, 4.5))),
            "min_skills_covered": draw(st.sampled_from((0, 0, 1))),
            "min_skills_learned_back": draw(st.sampled_from((0, 0, 1))),
            "compatible_communication_style": draw(rarely),
            "cross_department": draw(rarely),
        },
        compatible_styles=draw(st.sampled_from(([], [["direct", "analytical"]]))),
        exclude=[list(pair) for pair in exclude],
    )  # fmt: skip


# -- brute force ----------------------------------------------------------------------------------------


def brute_force(
    cfg: ProgramConfig, people: list[Participant], offsets: dict[str, float] | None
) -> tuple[int, float]:
    """(most mentees matched, highest total score among such matchings), by trying every assignment."""
    everyone = by_email(people)
    mentors = [p for p in people if p.role is Role.MENTOR]
    mentees = [p for p in people if p.role is Role.MENTEE]
    options = [
        [
            (j, score(m, e, cfg, offsets=offsets)[0])
            for j, m in enumerate(mentors)
            if allowed(m, e, cfg, everyone, offsets=offsets) is None
        ]
        for e in mentees
    ]
    left = [m.capacity for m in mentors]
    best = (0, 0.0)

    def walk(i: int, count: int, total: float) -> None:
        nonlocal best
        if i == len(mentees):
            best = max(best, (count, round(total, 4)))
            return
        walk(i + 1, count, total)
        for j, s in options[i]:
            if left[j] > 0:
                left[j] -= 1
                walk(i + 1, count + 1, total + s)
                left[j] += 1

    walk(0, 0, 0.0)
    return best
