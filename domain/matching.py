"""Proposing pairings: hard constraints first, then the best-scoring compatible mentor.

This is the walking skeleton's matcher: greedy, most-constrained mentee first. It honours every hard
constraint (reverse pairs, reporting chains, capacity, exclusions, forced pairs) so that what it
proposes is always allowed; global optimisation and explanations come with the matching work.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from domain.program import ProgramConfig
from domain.roster import Participant, Role


@dataclass(frozen=True)
class ProposedPair:
    mentor: Participant
    mentee: Participant
    score: float
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class Proposal:
    pairs: tuple[ProposedPair, ...]
    unmatched: tuple[tuple[Participant, str], ...] = field(default=())


def chain_of(person: Participant, by_email: dict[str, Participant]) -> list[str]:
    """Emails of the managers above ``person``, nearest first (bounded: loops are input errors)."""
    chain: list[str] = []
    seen = {person.email}
    email = person.manager_email
    while email and email not in seen and len(chain) < len(by_email) + 1:
        chain.append(email)
        seen.add(email)
        boss = by_email.get(email)
        email = boss.manager_email if boss else None
    return chain


def same_reporting_chain(a: Participant, b: Participant, by_email: dict[str, Participant]) -> bool:
    return b.email in chain_of(a, by_email) or a.email in chain_of(b, by_email)


def allowed(
    mentor: Participant, mentee: Participant, config: ProgramConfig, by_email: dict[str, Participant]
) -> str | None:
    """None when the pair is allowed, else the reason it is not."""
    if config.matching.reverse_pairs and mentor.level >= mentee.level:
        return "mentor is not more junior than the mentee"
    if same_reporting_chain(mentor, mentee, by_email):
        return "same reporting chain"
    if (mentor.email, mentee.email) in set(config.matching.exclude):
        return "excluded by the operator"
    if config.matching.required.shared_language and not set(mentor.languages) & set(mentee.languages):
        return "no shared language"
    return None


def score(mentor: Participant, mentee: Participant, config: ProgramConfig) -> tuple[float, tuple[str, ...]]:
    w = config.matching.weights
    wanted = [s for s in mentee.skills_wanted if s in mentor.skills_offered]
    back = [s for s in mentor.skills_wanted if s in mentee.skills_offered]
    reasons: list[str] = []
    total = 0.0
    if mentee.skills_wanted:
        total += w.skills * len(wanted) / len(mentee.skills_wanted)
        if wanted:
            reasons.append(
                f"covers {len(wanted)} of {len(mentee.skills_wanted)} wanted skills: {'; '.join(wanted)}"
            )
    if mentor.skills_wanted and back:
        total += w.reverse_skills * len(back) / len(mentor.skills_wanted)
        reasons.append(f"learns back {'; '.join(back)}")
    if mentor.communication_style == mentee.communication_style:
        total += w.communication_style
        reasons.append("same communication style")
    if set(mentor.languages) & set(mentee.languages):
        total += w.languages
    if mentor.department != mentee.department:
        total += w.serendipity * 0.5
        reasons.append(f"cross-department: {mentor.department} × {mentee.department}")
    return round(total, 4), tuple(reasons)


def propose_pairings(config: ProgramConfig, participants: list[Participant]) -> Proposal:
    by_email = {p.email: p for p in participants}
    mentors = [p for p in participants if p.role is Role.MENTOR]
    mentees = [p for p in participants if p.role is Role.MENTEE]
    capacity = {m.email: m.capacity for m in mentors}
    pairs: list[ProposedPair] = []
    placed: set[str] = set()
    for mentor_email, mentee_email in config.matching.force:
        mentor, mentee = by_email.get(mentor_email), by_email.get(mentee_email)
        if mentor is None or mentee is None or capacity.get(mentor.email, 0) <= 0:
            continue
        s, why = score(mentor, mentee, config)
        pairs.append(ProposedPair(mentor, mentee, s, ("forced by the operator", *why)))
        capacity[mentor.email] -= 1
        placed.add(mentee.email)
    options = {
        e.email: [m for m in mentors if allowed(m, e, config, by_email) is None]
        for e in mentees
        if e.email not in placed
    }
    unmatched: list[tuple[Participant, str]] = []
    for mentee in sorted(
        (e for e in mentees if e.email not in placed), key=lambda e: (len(options[e.email]), e.email)
    ):
        candidates = [m for m in options[mentee.email] if capacity[m.email] > 0]
        if not candidates:
            reason = (
                "no compatible mentor"
                if not options[mentee.email]
                else "capacity of compatible mentors exhausted"
            )
            unmatched.append((mentee, reason))
            continue
        scored = sorted(
            ((score(m, mentee, config), m) for m in candidates), key=lambda t: (-t[0][0], t[1].email)
        )
        (best_score, reasons), mentor = scored[0]
        capacity[mentor.email] -= 1
        pairs.append(ProposedPair(mentor, mentee, best_score, reasons))
    return Proposal(pairs=tuple(pairs), unmatched=tuple(unmatched))


def pairing_id_for(program_id: str, mentor: Participant, mentee: Participant) -> str:
    """Deterministic, built from ids (never emails): a rematch of the same mentee gets a new id."""
    return f"{program_id}.{mentee.participant_id}.{mentor.participant_id}"
