"""Proposing pairings: the hard constraints hold, as many mentees as possible are matched, and among those
matchings the total compatibility score is the highest; every pair and every unmatched mentee is explained.

How (``method="optimal"``, the default):

1. Forced pairs (``matching.force``) come first, in file order. One that names someone not in the roster,
   swaps the roles, repeats a mentee, finds its mentor at capacity or breaks a hard constraint is not
   applied: :attr:`Proposal.notes` says why, and its mentee is matched like everyone else.
2. Every other (mentee, mentor) pair is scored and checked at once (:class:`domain.compatibility.
   Compatibility`, numpy, in blocks).
3. One assignment problem: a row per mentee, a column per unit of mentor capacity left (a mentor of
   capacity 2 is two columns). A compatible pair costs ``top - score``, a forbidden one ``top + BIG``
   with ``BIG`` larger than the largest possible total of scores, so each compatible pair used saves
   more than any difference in scores can: the solver first matches as many mentees as the constraints
   allow (a maximum matching), then maximises the total score among those. Forbidden pairs in the
   solution mean "unmatched" and are dropped. Two exact solvers from scipy, picked by the problem's
   shape (see :func:`optimal_assignment`). Rows and columns are in email order and both solvers are
   deterministic, so the same roster (in any order) and seed always give the same proposal. Scores have
   4 decimals; the solvers work in whole units of 0.0001, so every sum they form is exact.
4. Explanations: each pair's reasons in plain words, largest contribution first ("covers 3 of 4 wanted
   skills: genai, tiktok, sql", "serendipity: Finance × Marketing"); each unmatched mentee's reason
   ("no compatible mentor: same reporting chain (2 of 3 mentors), ...", "capacity of compatible mentors
   exhausted (...)").

``method="greedy"`` is the walking skeleton's matcher, kept as the baseline the optimal one is measured
against: most-constrained mentee first, each takes the best-scoring compatible mentor with capacity left.

:func:`propose_rematch` proposes a new mentor for one mentee of a running program (midpoint rematch,
withdrawals), given the current assignments.

Reasons never contain ``;`` (the pairings file separates reasons with it) and fit the pairings file's
500 characters. Pure: no I/O, no clock, no unseeded randomness (see :mod:`domain.compatibility`).
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from scipy import sparse  # type: ignore[import-untyped]
from scipy.optimize import linear_sum_assignment  # type: ignore[import-untyped]
from scipy.sparse.csgraph import min_weight_full_bipartite_matching  # type: ignore[import-untyped]

from domain.compatibility import (
    CONSTRAINTS,
    Bools,
    Compatibility,
    Components,
    Floats,
    Ints,
    Offsets,
    check_no_manager_cycle,
    message,
    pair_components,
    requirement_failures,
)
from domain.errors import RuleViolation
from domain.program import ProgramConfig
from domain.roster import Participant, Role

Method = Literal["optimal", "greedy"]
METHODS: tuple[Method, ...] = ("optimal", "greedy")
Solver = Literal["auto", "lapjv", "lsa"]
NEAR_SQUARE = 0.1  # "auto" uses LAPJV when mentees and units of capacity differ by less than 10 %
UNITS = 10_000.0  # scores carry 4 decimals: the solvers work in whole units of 0.0001
Progress = Callable[[str, int, int], None]
"""``progress(stage, done, total)``; stages: ``score``, ``solve``, ``explain``."""

FORCED = "forced by the operator"
REMATCHED = "rematched: the best compatible mentor with capacity left"
NO_MENTOR = "no compatible mentor"
NO_CAPACITY = "capacity of compatible mentors exhausted"
NOTHING_IN_COMMON = "meets every hard constraint (no scored criterion in common)"
MAX_REASONS = 500  # the pairings file's limit for the ';'-joined reasons
_REASON_LENGTH = 160
_LISTED = 5  # skills or languages named in one reason
_ROOM = 64  # kept free by explain() for a leading "forced by the operator" or "rematched: ..."


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
    notes: tuple[str, ...] = field(default=())  # forced pairs that were not applied, and why
    method: str = "optimal"

    @property
    def total_score(self) -> float:
        return round(sum(p.score for p in self.pairs), 4)

    @property
    def mean_score(self) -> float | None:
        return round(self.total_score / len(self.pairs), 4) if self.pairs else None

    @property
    def min_score(self) -> float | None:
        return min(p.score for p in self.pairs) if self.pairs else None


# -- reporting chains (one pair at a time; the roster-wide check is in domain.compatibility) ------------


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


# -- one pair -------------------------------------------------------------------------------------------


def allowed(
    mentor: Participant,
    mentee: Participant,
    config: ProgramConfig,
    by_email: dict[str, Participant],
    *,
    offsets: Offsets | None = None,
) -> str | None:
    """None when the pair is allowed, else the first hard constraint it breaks, in plain words."""
    matching = config.matching
    if matching.reverse_pairs and mentor.level >= mentee.level:
        return message("reverse", config)
    if same_reporting_chain(mentor, mentee, by_email):
        return message("chain", config)
    pair = (mentor.email.lower(), mentee.email.lower())
    if any((m.lower(), e.lower()) == pair for m, e in matching.exclude):
        return message("excluded", config)
    failed = requirement_failures(pair_components(mentor, mentee, config, offsets), mentor, mentee, config)
    return message(failed[0], config) if failed else None


def score(
    mentor: Participant, mentee: Participant, config: ProgramConfig, *, offsets: Offsets | None = None
) -> tuple[float, tuple[str, ...]]:
    """The pair's compatibility score and its reasons, largest contribution first."""
    components = pair_components(mentor, mentee, config, offsets)
    return components.total, explain(components, mentor, mentee, config)


def explain(
    c: Components, mentor: Participant, mentee: Participant, config: ProgramConfig
) -> tuple[str, ...]:
    """Plain-words reasons for every criterion that added to the score, largest contribution first."""
    texts: list[str | None] = [None] * 6
    if c.covered:
        wanted = len({s.strip().casefold() for s in mentee.skills_wanted if s.strip()})
        texts[0] = f"covers {len(c.covered)} of {wanted} wanted skills: {_listing(c.covered)}"
    if c.learned_back:
        texts[1] = f"learns back {_listing(c.learned_back)}"
    if c.values[2] == 1.0:
        texts[2] = "same communication style"
    elif c.values[2] > 0:
        texts[2] = (
            f"compatible communication styles: {mentor.communication_style} × {mentee.communication_style}"
        )
    if c.overlap is not None and c.values[3] > 0:
        if c.values[3] >= 1.0:
            texts[3] = "same working hours"
        else:
            zones = f" ({_utc(c.offsets[0])} × {_utc(c.offsets[1])})" if c.offsets else ""
            texts[3] = f"{round(c.overlap, 1):g} h of shared working time{zones}"
    if c.languages:
        texts[4] = f"shared language{'s' if len(c.languages) > 1 else ''}: {_listing(c.languages)}"
    if c.values[5] > 0:
        texts[5] = f"serendipity: {mentor.department} × {mentee.department}"
    weights = c.contribution(config.matching.weights)
    ranked = sorted(
        (i for i, text in enumerate(texts) if text is not None and weights[i] > 0),
        key=lambda i: (-weights[i], i),
    )
    reasons = fit_reasons((texts[i] or "" for i in ranked), budget=MAX_REASONS - _ROOM)
    return reasons if reasons else (NOTHING_IN_COMMON,)


def _listing(items: Sequence[str]) -> str:
    shown = ", ".join(items[:_LISTED])
    return shown + (f" and {len(items) - _LISTED} more" if len(items) > _LISTED else "")


def _utc(offset: float) -> str:
    hours = int(abs(offset))
    minutes = round((abs(offset) - hours) * 60)
    sign = "-" if offset < 0 else "+"
    return f"UTC{sign}{hours}" + (f":{minutes:02d}" if minutes else "")


def _clean(reason: str) -> str:
    """One reason as the pairings file can carry it: no ';' (the separator), no control characters."""
    text = "".join(" " if ord(ch) < 32 or ord(ch) == 127 else ch for ch in reason).replace(";", ",").strip()
    return text if len(text) <= _REASON_LENGTH else text[: _REASON_LENGTH - 1].rstrip() + "…"


def fit_reasons(reasons: Iterable[str], budget: int = MAX_REASONS) -> tuple[str, ...]:
    """Clean reasons, dropping the last ones until ``'; '.join`` fits ``budget`` (the first one stays)."""
    kept = [cleaned for cleaned in (_clean(r) for r in reasons) if cleaned]
    while len(kept) > 1 and len("; ".join(kept)) > budget:
        kept.pop()
    return tuple(kept)


# -- a roster -----------------------------------------------------------------------------------------


class Matching:
    """A roster prepared for matching: forced pairs placed, every other pair scored and checked once.

    Build it with :func:`prepare`; :meth:`propose` runs either method on the same scores, so the CLI and
    the benchmark compare the optimal proposal with the greedy baseline without scoring twice.
    """

    def __init__(
        self,
        config: ProgramConfig,
        participants: Sequence[Participant],
        *,
        offsets: Offsets | None = None,
        progress: Progress | None = None,
    ) -> None:
        check_no_manager_cycle(participants)
        self.config = config
        self.offsets = offsets
        self.progress = progress
        self.by_email = {p.email: p for p in participants}
        self.mentors = sorted((p for p in participants if p.role is Role.MENTOR), key=_email_order)
        mentees = sorted((p for p in participants if p.role is Role.MENTEE), key=_email_order)
        self.forced, self.notes, placed, capacity = self._force(mentees)
        self.mentees = [e for e in mentees if e.email.lower() not in placed]
        self.capacity: Ints = np.array([capacity[m.email.lower()] for m in self.mentors], dtype=np.int64)
        self.compatibility = Compatibility(
            config, self.mentors, self.mentees, participants=participants, offsets=offsets
        )
        self.scores, self.feasible = self.compatibility.matrices(self._reporter("score"))

    def _reporter(self, stage: str) -> Callable[[int, int], None] | None:
        progress = self.progress
        if progress is None:
            return None
        return lambda done, total: progress(stage, done, total)

    def _force(
        self, mentees: Sequence[Participant]
    ) -> tuple[list[ProposedPair], list[str], set[str], dict[str, int]]:
        config = self.config
        capacity = {m.email.lower(): m.capacity for m in self.mentors}
        roster = {p.email.lower(): p for p in [*self.mentors, *mentees]}
        pairs: list[ProposedPair] = []
        notes: list[str] = []
        placed: set[str] = set()
        for mentor_email, mentee_email in config.matching.force:
            mentor, mentee = roster.get(mentor_email.lower()), roster.get(mentee_email.lower())
            why: str | None = None
            if mentor is None or mentee is None:
                missing = mentor_email if mentor is None else mentee_email
                why = f"{missing} is not in the roster"
            elif mentor.role is not Role.MENTOR or mentee.role is not Role.MENTEE:
                why = "the first email must be a mentor and the second a mentee"
            elif mentee.email.lower() in placed:
                why = f"{mentee.email} is already in a forced pair"
            elif capacity[mentor.email.lower()] <= 0:
                why = f"{mentor.email} has no capacity left (capacity {mentor.capacity})"
            else:
                why = allowed(mentor, mentee, config, self.by_email, offsets=self.offsets)
            if why is not None:
                notes.append(f"forced pair {mentor_email} / {mentee_email} not applied: {why}")
                continue
            assert mentor is not None and mentee is not None
            total, reasons = score(mentor, mentee, config, offsets=self.offsets)
            pairs.append(ProposedPair(mentor, mentee, total, fit_reasons((FORCED, *reasons))))
            capacity[mentor.email.lower()] -= 1
            placed.add(mentee.email.lower())
        return pairs, notes, placed, capacity

    def propose(
        self, method: Method = "optimal", *, solver: Solver = "auto", explain: bool = True
    ) -> Proposal:
        """Match the prepared roster; ``explain=False`` leaves the pairs' reasons empty (for summaries)."""
        if method == "optimal":
            report = self._reporter("solve")
            if report:
                report(0, 1)
            assignment = optimal_assignment(self.scores, self.feasible, self.capacity, solver=solver)
            if report:
                report(1, 1)
        elif method == "greedy":
            assignment = greedy_assignment(self.scores, self.feasible, self.capacity)
        else:
            raise ValueError(f"unknown matching method {method!r} (expected one of {', '.join(METHODS)})")
        return self._proposal(assignment, method, explain)

    def _proposal(
        self, assignment: list[tuple[int, int]], method: Method, explain_pairs: bool = True
    ) -> Proposal:
        report = self._reporter("explain")
        pairs = list(self.forced)
        taken = np.zeros(len(self.mentors), dtype=np.int64)
        matched: set[int] = set()
        for done, (i, j) in enumerate(sorted(assignment)):
            mentor, mentee = self.mentors[j], self.mentees[i]
            reasons: tuple[str, ...] = ()
            if explain_pairs:
                components = pair_components(mentor, mentee, self.config, self.offsets)
                reasons = explain(components, mentor, mentee, self.config)
            pairs.append(ProposedPair(mentor, mentee, float(self.scores[i, j]), reasons))
            taken[j] += 1
            matched.add(i)
            if report and (done % 500 == 0 or done + 1 == len(assignment)):
                report(done + 1, len(assignment))
        unmatched = [
            (mentee, self._unmatched_reason(i)) for i, mentee in enumerate(self.mentees) if i not in matched
        ]
        return Proposal(tuple(pairs), tuple(unmatched), tuple(self.notes), method)

    def _unmatched_reason(self, i: int) -> str:
        compatible = int(self.feasible[i].sum())
        if compatible:
            return f"{NO_CAPACITY} ({compatible} compatible mentor{'s' if compatible > 1 else ''}, all taken)"
        if not self.mentors:
            return f"{NO_MENTOR}: the roster has no mentors"
        violations = self.compatibility.violations(slice(i, i + 1))
        order = {c.name: k for k, c in enumerate(CONSTRAINTS)}
        counts = sorted(
            ((int(mask.sum()), name) for name, mask in violations.items() if mask.any()),
            key=lambda t: (-t[0], order[t[1]]),
        )
        total = len(self.mentors)
        parts = [
            f"{message(name, self.config)} ({count} of {total} mentor{'s' if total > 1 else ''})"
            if k == 0
            else f"{message(name, self.config)} ({count})"
            for k, (count, name) in enumerate(counts[:3])
        ]
        return f"{NO_MENTOR}: {', '.join(parts)}"


def _email_order(p: Participant) -> str:
    return p.email.lower()


def prepare(
    config: ProgramConfig,
    participants: Sequence[Participant],
    *,
    offsets: Offsets | None = None,
    progress: Progress | None = None,
) -> Matching:
    """Score and check a roster once (raises RuleViolation ``manager-cycle`` on a manager loop)."""
    return Matching(config, participants, offsets=offsets, progress=progress)


def propose_pairings(
    config: ProgramConfig,
    participants: list[Participant],
    *,
    method: Method = "optimal",
    offsets: Offsets | None = None,
    progress: Progress | None = None,
) -> Proposal:
    """Propose pairings for a roster: forced pairs, then the optimal (or the greedy baseline) matching.

    ``offsets`` maps time-zone names to UTC offsets in hours, computed by the caller at a reference
    instant of its choosing (``domain`` cannot read the time-zone database); without them only people in
    the same zone are known to share their working hours.
    """
    return prepare(config, participants, offsets=offsets, progress=progress).propose(method)


# -- the two solvers --------------------------------------------------------------------------------------


def optimal_assignment(
    scores: Floats, feasible: Bools, capacity: Ints, *, solver: Solver = "auto"
) -> list[tuple[int, int]]:
    """(row, column) pairs of a maximum matching of ``feasible`` (rows to columns, column j at most
    ``capacity[j]`` times) with the highest total score among maximum matchings.

    ``solver``: ``lsa`` (``scipy.optimize.linear_sum_assignment``, shortest augmenting paths) or
    ``lapjv`` (``scipy.sparse.csgraph.min_weight_full_bipartite_matching``, Jonker-Volgenant, given every
    pair). Both are exact and deterministic. Measured here on 10,000 x 10,000: with spare capacity LSA
    takes half LAPJV's time and memory; on a near-square problem (capacity close to the number of
    mentees) LSA's augmenting paths grow long and LAPJV is 2-3 times faster. ``auto`` picks by shape.
    Among equally good matchings the two may pick different ones; ``auto`` always picks the same solver
    for the same roster.
    """
    col_ok = (capacity > 0) & feasible.any(axis=0)
    usable = feasible & col_ok[None, :]
    rows = np.flatnonzero(usable.any(axis=1))
    if not len(rows):
        return []
    # In whole units of the scores' last decimal (1e-4) every cost is an integer, and so is every sum
    # the solvers form: exact in float64 while mentees x (top + big) stays below 2**53 (~10**15).
    top = float(np.rint(np.max(scores, where=usable, initial=0.0) * UNITS))
    big = float(np.rint(np.max(scores, axis=1, where=usable, initial=0.0) * UNITS).sum()) + 1.0
    del usable
    cols = np.flatnonzero(col_ok)
    slots = np.repeat(cols, capacity[cols])  # column of ``scores`` for each unit of capacity
    n, k = len(rows), len(slots)
    # cost: top - score for a compatible pair, top + big for a forbidden one; + 1 (LAPJV wants no zeros)
    cost = np.empty((n, k), dtype=np.float64)
    step = max(1, (1 << 21) // k)
    for start in range(0, n, step):
        chunk = rows[start : start + step]
        s = scores[chunk][:, slots]
        s *= UNITS
        np.rint(s, out=s)
        np.subtract(top + 1.0, s, out=s)
        s[~feasible[chunk][:, slots]] = top + big + 1.0
        cost[start : start + len(chunk)] = s
    if solver == "auto":
        solver = "lapjv" if abs(k - n) < NEAR_SQUARE * max(n, k) else "lsa"
    if solver == "lsa":
        r, c = linear_sum_assignment(cost)
    else:
        index = np.int32 if n * k < 2**31 - 1 else np.int64
        graph = sparse.csr_matrix(
            (cost.ravel(), np.tile(np.arange(k, dtype=index), n), np.arange(0, n * k + 1, k, dtype=index)),
            shape=(n, k),
        )
        r, c = min_weight_full_bipartite_matching(graph)
        del graph
    del cost
    owner = slots[c]
    mentee = rows[r]
    keep = feasible[mentee, owner]
    return [(int(i), int(j)) for i, j in zip(mentee[keep], owner[keep], strict=True)]


def greedy_assignment(scores: Floats, feasible: Bools, capacity: Ints) -> list[tuple[int, int]]:
    """The baseline: rows with the fewest compatible columns first (then in order), each taking its
    best-scoring compatible column with capacity left (ties: the first column)."""
    left = capacity.astype(np.int64).copy()
    options = feasible.sum(axis=1)
    assignment: list[tuple[int, int]] = []
    for i in np.lexsort((np.arange(len(options)), options)):
        candidates = feasible[i] & (left > 0)
        if not candidates.any():
            continue
        j = int(np.argmax(np.where(candidates, scores[i], -np.inf)))
        left[j] -= 1
        assignment.append((int(i), j))
    return assignment


# -- rematch -------------------------------------------------------------------------------------------


def propose_rematch(
    config: ProgramConfig,
    participants: Sequence[Participant],
    mentee_id: str,
    current_assignments: Iterable[tuple[str, str]] = (),
    exclude_mentors: Iterable[str] = (),
    *,
    offsets: Offsets | None = None,
) -> ProposedPair | None:
    """A new mentor for one mentee of a running program, or None when no compatible mentor has capacity.

    ``participants`` are the active ones (withdrawn people left out); ``current_assignments`` are the
    running pairings as ``(mentor_id, mentee_id)`` participant ids (the mentee's own is ignored: it is the
    one being replaced); ``exclude_mentors`` are mentor ids not to propose (the current and earlier
    mentors). The best-scoring compatible mentor with capacity left wins; ties go by email. Forced pairs
    of the program file do not apply here; exclusions and every other hard constraint do.
    """
    (pair,) = propose_rematches(
        config, participants, [(mentee_id, exclude_mentors)], current_assignments, offsets=offsets
    )
    return pair


def propose_rematches(
    config: ProgramConfig,
    participants: Sequence[Participant],
    wanted: Sequence[tuple[str, Iterable[str]]],
    current_assignments: Iterable[tuple[str, str]] = (),
    *,
    offsets: Offsets | None = None,
) -> list[ProposedPair | None]:
    """New mentors for several mentees at once, ``wanted`` as ``(mentee_id, exclude_mentors)`` pairs:
    the same answers as asking :func:`propose_rematch` for each in turn, each new pairing taking its
    mentor's capacity before the next mentee is matched.

    The roster's features are computed once for every wanted mentee: built anew for each one, they
    were most of a batch's time in a 1,000-pairing program (a pair's score depends on that pair only).
    """
    if not wanted:
        return []
    check_no_manager_cycle(participants)
    by_id: dict[str, Participant] = {}
    for p in participants:
        by_id.setdefault(p.participant_id, p)
    mentees: list[Participant] = []
    for mentee_id, _ in wanted:
        mentee = by_id.get(mentee_id)
        if mentee is None or mentee.role is not Role.MENTEE:
            raise RuleViolation(
                "unknown-participant", f"no active mentee {mentee_id} in this program", mentee_id
            )
        mentees.append(mentee)
    mentors = sorted((p for p in participants if p.role is Role.MENTOR), key=_email_order)
    if not mentors:
        return [None for _ in wanted]
    compatibility = Compatibility(config, mentors, mentees, participants=participants, offsets=offsets)
    assignments = list(current_assignments)
    proposals: list[ProposedPair | None] = []
    for row, ((mentee_id, exclude), mentee) in enumerate(zip(wanted, mentees, strict=True)):
        load = Counter(mentor for mentor, assigned in assignments if assigned != mentee_id)
        excluded = set(exclude)
        spare = np.array(
            [m.capacity - load[m.participant_id] > 0 and m.participant_id not in excluded for m in mentors],
            dtype=np.bool_,
        )
        block = compatibility.block(slice(row, row + 1))
        candidates = block.feasible[0] & spare
        pair = None
        if candidates.any():
            j = int(np.argmax(np.where(candidates, block.scores[0], -np.inf)))
            total, reasons = score(mentors[j], mentee, config, offsets=offsets)
            pair = ProposedPair(mentors[j], mentee, total, fit_reasons((REMATCHED, *reasons)))
            assignments = [a for a in assignments if a[1] != mentee_id]
            assignments.append((pair.mentor.participant_id, mentee_id))
        proposals.append(pair)
    return proposals


PAIRINGS_COLUMNS = ("mentor_email", "mentee_email", "score", "reasons")


def pairings_csv(proposal: Proposal) -> str:
    """The pairings file of a proposal, as :mod:`domain.pairings_file` reads it back: a header, then one row
    per pair; the score exact (``repr``), the reasons joined with ``'; '`` (no reason contains ``;``)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(PAIRINGS_COLUMNS)
    for pair in proposal.pairs:
        reasons = "; ".join(_clean(reason) for reason in pair.reasons)
        writer.writerow([pair.mentor.email, pair.mentee.email, repr(float(pair.score)), reasons])
    return buffer.getvalue()


def pairing_id_for(program_id: str, mentor: Participant, mentee: Participant) -> str:
    """Deterministic, built from ids (never emails): a rematch of the same mentee gets a new id."""
    return f"{program_id}.{mentee.participant_id}.{mentor.participant_id}"
