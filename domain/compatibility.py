"""How well a mentor suits a mentee: the hard constraints and the compatibility score, pair by pair or
vectorised over whole rosters.

The score of a (mentor, mentee) pair is a weighted sum of six criteria, each worth 0..1 before its
weight from the program file (``matching.weights``); the total is rounded to 4 decimals:

* ``skills``: the share of the mentee's wanted skills that the mentor offers (0 when they want none);
* ``reverse_skills``: the share of the mentor's wanted skills that the mentee offers (the exchange back);
* ``communication_style``: 1 for the same style, 0.5 for a pair listed in ``matching.compatible_styles``;
* ``timezone_overlap``: hours of the working day (``matching.working_hours``) both spend at work, divided
  by its length. It needs each side's UTC offset, which the caller computes (``domain`` cannot read the
  time-zone database) and passes as ``offsets`` (zone name -> hours east of UTC, at one reference instant
  the caller chooses). Without offsets only equal zone names are known to overlap fully; other pairs
  count 0 and are not held to ``required.min_overlap_hours`` (their overlap is unknown);
* ``languages``: 1 when they share a language;
* ``serendipity``: the grumpy-CFO-and-scattered-marketer term. Only pairs from different departments
  get it: their *unlikeliness* (0.5, plus 0.25 when they offer no skill in common, i.e. work in different
  functions, plus 0.25 for different communication styles) times a *lottery* draw in [0, 1) that depends
  only on ``matching.seed`` and the two participant ids. Same seed, same draws; another seed favours
  other unlikely pairs. Nothing else is random.

Any criterion can also be required (``matching.required``): at least one shared language, at least N
hours of shared working time, at least N wanted skills covered or learned back, compatible communication
styles, different departments. Required criteria, reverse pairs (the mentor more junior than the
mentee), reporting chains (never the same chain, at any depth, either direction) and operator exclusions
are the hard constraints: :data:`CONSTRAINTS` lists them in the order :func:`violated` checks them.

Two implementations of the same arithmetic: :func:`pair_components` for one pair (explanations,
``domain.matching.score``), and :class:`Compatibility` for a roster (numpy, in blocks of mentees so
memory stays bounded). They agree exactly, to the last bit: the tests hold them to it.

Pure: no I/O, no clock, no unseeded randomness.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import sparse  # type: ignore[import-untyped]

from domain.errors import RuleViolation
from domain.program import MatchingSettings, MatchingWeights, ProgramConfig
from domain.roster import Participant

Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]
Ints = npt.NDArray[np.int64]
Offsets = Mapping[str, float]
"""Time-zone name -> hours east of UTC (e.g. ``{"America/New_York": -5.0}``), computed by the caller."""

DAY = 24.0
UNLIKELY_BASE = 0.5
UNLIKELY_FUNCTION = 0.25
UNLIKELY_STYLE = 0.25
COMPATIBLE_STYLE = 0.5
BLOCK_CELLS = 1 << 21  # pairs scored per block: ~16 MiB per float64 temporary

_GOLDEN = 0x9E3779B97F4A7C15
_MIX1 = 0xBF58476D1CE4E5B9
_MIX2 = 0x94D049BB133111EB
_M64 = (1 << 64) - 1


# -- the lottery: a seeded, order-free draw per pair ----------------------------------------------------


def lottery_key(seed: int, participant_id: str) -> int:
    """64 bits that depend on the seed and the person only (not on who else is in the roster)."""
    digest = hashlib.sha256(f"tandem-serendipity\x00{seed}\x00{participant_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def _mix(mentee_key: int, mentor_key: int) -> int:
    """splitmix64's finaliser over the two keys: a well-spread 64-bit value per ordered pair."""
    z = ((mentee_key * _GOLDEN) & _M64) ^ mentor_key
    z = ((z ^ (z >> 30)) * _MIX1) & _M64
    z = ((z ^ (z >> 27)) * _MIX2) & _M64
    return z ^ (z >> 31)


def _mix_np(mentee_keys: npt.NDArray[np.uint64], mentor_keys: npt.NDArray[np.uint64]) -> Floats:
    """:func:`_mix` for every (mentee, mentor), as draws in [0, 1) (uint64 arithmetic wraps like & _M64)."""
    z = (mentee_keys[:, None] * np.uint64(_GOLDEN)) ^ mentor_keys[None, :]
    z ^= z >> np.uint64(30)
    z *= np.uint64(_MIX1)
    z ^= z >> np.uint64(27)
    z *= np.uint64(_MIX2)
    z ^= z >> np.uint64(31)
    z >>= np.uint64(11)
    return z.astype(np.float64) * (2.0**-53)


def lottery(seed: int, mentor: Participant, mentee: Participant) -> float:
    """The pair's serendipity draw in [0, 1)."""
    z = _mix(lottery_key(seed, mentee.participant_id), lottery_key(seed, mentor.participant_id))
    return float(z >> 11) * (2.0**-53)


# -- shared arithmetic (scalars and arrays alike) -------------------------------------------------------


def overlap_hours(delta: Floats | np.float64, length: float) -> Floats:
    """Hours two people with a UTC-offset difference of ``delta`` hours are both inside a working day of
    ``length`` hours (the same local hours for both), on the 24-hour circle."""
    d = np.abs(delta) % DAY
    d = np.minimum(d, DAY - d)
    both = np.maximum(0.0, length - d) + np.maximum(0.0, length - (DAY - d))
    return np.asarray(np.minimum(length, both), dtype=np.float64)


def _total(w: MatchingWeights, c: Sequence[np.float64]) -> float:
    """The weighted sum of the six criteria (in CRITERIA order), rounded to 4 decimals.

    The grouping is part of the definition: :meth:`Compatibility.fill` adds the same terms in the same
    order (style and time zone together, from small tables), so both give the same bits.
    """
    total = (
        (w.skills * c[0] + w.reverse_skills * c[1])
        + (w.communication_style * c[2] + w.timezone_overlap * c[3])
        + w.languages * c[4]
        + w.serendipity * c[5]
    )
    return float(np.round(total, 4))


def _unlikeliness(other_function: float, other_style: float) -> float:
    """0.5, plus 0.25 each for different functions and different styles (exact in binary: any order)."""
    return UNLIKELY_BASE + UNLIKELY_STYLE * other_style + UNLIKELY_FUNCTION * other_function


CRITERIA = ("skills", "reverse_skills", "communication_style", "timezone_overlap", "languages", "serendipity")


def _key(text: str) -> str:
    return text.strip().casefold()


def _unique(words: Sequence[str]) -> tuple[str, ...]:
    """The words without repeats (compared normalised), first spelling kept, in order."""
    seen: dict[str, str] = {}
    for word in words:
        if _key(word):
            seen.setdefault(_key(word), word.strip())
    return tuple(seen.values())


def _style_score(matching: MatchingSettings, a: str, b: str) -> float:
    if _key(a) == _key(b):
        return 1.0
    pair = {_key(a), _key(b)}
    return COMPATIBLE_STYLE if any({_key(x), _key(y)} == pair for x, y in matching.compatible_styles) else 0.0


# -- one pair -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Components:
    """What one pair has in common, each criterion's value (0..1) and the rounded total score."""

    covered: tuple[str, ...]  # mentee's wanted skills the mentor offers, in the mentee's order
    learned_back: tuple[str, ...]  # mentor's wanted skills the mentee offers, in the mentor's order
    languages: tuple[str, ...]  # shared languages, in the mentee's order
    overlap: float | None  # shared working hours; None when unknown (no offsets for different zones)
    offsets: tuple[float, float] | None  # (mentor, mentee) UTC offsets, when known
    values: tuple[float, ...]  # per criterion, in CRITERIA order, before weights
    total: float

    def contribution(self, w: MatchingWeights) -> tuple[float, ...]:
        weights = (w.skills, w.reverse_skills, w.communication_style, w.timezone_overlap, w.languages,
                   w.serendipity)  # fmt: skip
        return tuple(weight * value for weight, value in zip(weights, self.values, strict=True))


def _offset_pair(
    mentor: Participant, mentee: Participant, offsets: Offsets | None
) -> tuple[float, float] | None:
    if offsets is not None and mentor.timezone in offsets and mentee.timezone in offsets:
        return float(offsets[mentor.timezone]), float(offsets[mentee.timezone])
    return None


def pair_components(
    mentor: Participant, mentee: Participant, config: ProgramConfig, offsets: Offsets | None = None
) -> Components:
    """Every criterion for one pair: the scalar twin of :meth:`Compatibility.block`."""
    matching = config.matching
    offered = {_key(s) for s in mentor.skills_offered}
    wanted = _unique(mentee.skills_wanted)
    covered = tuple(s for s in wanted if _key(s) in offered)
    back_offered = {_key(s) for s in mentee.skills_offered}
    wanted_back = _unique(mentor.skills_wanted)
    learned = tuple(s for s in wanted_back if _key(s) in back_offered)
    mentor_languages = {_key(x) for x in mentor.languages}
    shared_languages = tuple(x for x in _unique(mentee.languages) if _key(x) in mentor_languages)
    length = matching.working_hours.length
    pair_offsets = _offset_pair(mentor, mentee, offsets)
    overlap: float | None
    if pair_offsets is not None:
        overlap = float(overlap_hours(np.float64(pair_offsets[1] - pair_offsets[0]), length))
    elif mentor.timezone == mentee.timezone:
        overlap = length
    else:
        overlap = None
    style = _style_score(matching, mentor.communication_style, mentee.communication_style)
    cross = _key(mentor.department) != _key(mentee.department)
    serendipity = 0.0
    if cross:
        other_function = 0.0 if offered & back_offered else 1.0
        other_style = 0.0 if _key(mentor.communication_style) == _key(mentee.communication_style) else 1.0
        unlikely = _unlikeliness(other_function, other_style)
        serendipity = float(np.float64(unlikely) * np.float64(lottery(matching.seed, mentor, mentee)))
    values = (
        float(np.float64(len(covered)) / np.float64(max(1, len(wanted)))),
        float(np.float64(len(learned)) / np.float64(max(1, len(wanted_back)))),
        style,
        float(np.float64(overlap if overlap is not None else 0.0) / np.float64(length)),
        1.0 if shared_languages else 0.0,
        serendipity,
    )
    total = _total(matching.weights, [np.float64(v) for v in values])
    return Components(covered, learned, shared_languages, overlap, pair_offsets, values, total)


# -- hard constraints ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Constraint:
    name: str
    message: Callable[[MatchingSettings], str]


CONSTRAINTS: tuple[Constraint, ...] = (
    Constraint("reverse", lambda m: "mentor is not more junior than the mentee"),
    Constraint("chain", lambda m: "same reporting chain"),
    Constraint("excluded", lambda m: "excluded by the operator"),
    Constraint("language", lambda m: "no shared language"),
    Constraint("overlap", lambda m: f"less than {m.required.min_overlap_hours:g} h of shared working time"),
    Constraint("skills", lambda m: f"mentor covers fewer than {m.required.min_skills_covered} wanted skills"),
    Constraint(
        "learned_back",
        lambda m: (
            f"mentee offers fewer than {m.required.min_skills_learned_back} of the mentor's wanted skills"
        ),
    ),
    Constraint("style", lambda m: "communication styles not compatible"),
    Constraint("department", lambda m: "same department"),
)
_MESSAGES = {c.name: c.message for c in CONSTRAINTS}
_EPSILON = 1e-9


def requirement_failures(
    c: Components, mentor: Participant, mentee: Participant, config: ProgramConfig
) -> list[str]:
    """Names of the required criteria (``matching.required``) the pair fails, in CONSTRAINTS order."""
    req = config.matching.required
    failed: list[str] = []
    if req.shared_language and not c.languages:
        failed.append("language")
    if req.min_overlap_hours > 0 and c.overlap is not None and c.overlap < req.min_overlap_hours - _EPSILON:
        failed.append("overlap")
    if len(c.covered) < req.min_skills_covered:
        failed.append("skills")
    if len(c.learned_back) < req.min_skills_learned_back:
        failed.append("learned_back")
    if req.compatible_communication_style and c.values[2] == 0.0:
        failed.append("style")
    if req.cross_department and _key(mentor.department) == _key(mentee.department):
        failed.append("department")
    return failed


def message(name: str, config: ProgramConfig) -> str:
    """The plain-words reason for a constraint's name."""
    return _MESSAGES[name](config.matching)


# -- reporting chains ----------------------------------------------------------------------------------


def manager_cycle(participants: Sequence[Participant]) -> list[str] | None:
    """The emails of one manager loop among the participants (a person managing themself counts), or None.

    Iterative and linear: every person is walked once.
    """
    manager = {p.email.lower(): (p.manager_email or "").lower() for p in participants}
    state: dict[str, int] = {}  # 1: on the current walk, 2: done
    for start in manager:
        path: list[str] = []
        email = start
        while email in manager and state.get(email, 0) == 0:
            state[email] = 1
            path.append(email)
            email = manager[email]
        if email in manager and state.get(email) == 1:
            return path[path.index(email) :]
        for visited in path:
            state[visited] = 2
    return None


def check_no_manager_cycle(participants: Sequence[Participant]) -> None:
    """Raise RuleViolation ``manager-cycle`` (an input error) instead of walking a loop forever."""
    loop = manager_cycle(participants)
    if loop is not None:
        shown = " -> ".join([*loop, loop[0]])
        raise RuleViolation("manager-cycle", f"manager chain loops: {shown}", loop)


def _euler_tour(participants: Sequence[Participant]) -> dict[str, tuple[int, int]]:
    """email -> (entry, exit) of a depth-first walk of the management forest among the participants:
    a is above b (at any depth) exactly when entry[a] < entry[b] < exit[a]. Needs no cycles."""
    emails = [p.email.lower() for p in participants]
    known = set(emails)
    children: dict[str, list[str]] = {}
    roots: list[str] = []
    for p, email in zip(participants, emails, strict=True):
        boss = (p.manager_email or "").lower()
        if boss and boss in known and boss != email:
            children.setdefault(boss, []).append(email)
        else:
            roots.append(email)
    tour: dict[str, tuple[int, int]] = {}
    clock = 0
    entry: dict[str, int] = {}
    for root in roots:
        stack: list[tuple[str, bool]] = [(root, False)]
        while stack:
            email, leaving = stack.pop()
            if leaving:
                tour[email] = (entry[email], clock)
                clock += 1
                continue
            entry[email] = clock
            clock += 1
            stack.append((email, True))
            stack.extend((child, False) for child in reversed(children.get(email, [])))
    return tour


# -- a whole roster -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Block:
    """Scores and feasibility of mentees ``rows`` against every mentor (rows = mentees, columns = mentors)."""

    rows: slice
    scores: Floats
    feasible: Bools
    violations: dict[str, Bools]  # constraint name -> pairs it forbids (constraints in force only)


class Compatibility:
    """Features of a roster's mentors and mentees, computed once, and their pairs scored block by block.

    ``participants`` (default: mentors and mentees) is everyone whose manager links define the reporting
    chains; it must have no manager loop (see :func:`check_no_manager_cycle`).
    """

    def __init__(
        self,
        config: ProgramConfig,
        mentors: Sequence[Participant],
        mentees: Sequence[Participant],
        *,
        participants: Sequence[Participant] | None = None,
        offsets: Offsets | None = None,
    ) -> None:
        self.config = config
        self.mentors = list(mentors)
        self.mentees = list(mentees)
        matching = config.matching
        people = self.mentors + self.mentees
        self.length = matching.working_hours.length

        skills = _Vocabulary()
        languages = _Vocabulary()
        self.m_offered = skills.matrix([p.skills_offered for p in self.mentors])
        self.m_wanted = skills.matrix([p.skills_wanted for p in self.mentors])
        self.e_offered = skills.matrix([p.skills_offered for p in self.mentees])
        self.e_wanted = skills.matrix([p.skills_wanted for p in self.mentees])
        self.m_languages = languages.matrix([p.languages for p in self.mentors])
        self.e_languages = languages.matrix([p.languages for p in self.mentees])
        for matrix in (self.m_offered, self.m_wanted, self.e_offered, self.e_wanted):
            matrix.resize((matrix.shape[0], max(1, skills.size)))
        for matrix in (self.m_languages, self.e_languages):
            matrix.resize((matrix.shape[0], max(1, languages.size)))
        # Dense transposes of the mentor side (vocabulary x mentors), for sparse @ dense products.
        self.m_offered_t = np.ascontiguousarray(self.m_offered.toarray().T, dtype=np.float64)
        self.m_wanted_t = np.ascontiguousarray(self.m_wanted.toarray().T, dtype=np.float64)
        self.m_languages_t = np.ascontiguousarray(self.m_languages.toarray().T, dtype=np.float64)
        self.m_wanted_count = np.maximum(1.0, np.asarray(self.m_wanted.sum(axis=1), dtype=np.float64).ravel())
        self.e_wanted_count = np.maximum(1.0, np.asarray(self.e_wanted.sum(axis=1), dtype=np.float64).ravel())

        pairs = [(_key(a), _key(b)) for a, b in matching.compatible_styles]
        styles = sorted({_key(p.communication_style) for p in people} | {s for pair in pairs for s in pair})
        style_index = {s: i for i, s in enumerate(styles)}
        self.style_table = np.eye(len(styles), dtype=np.float64)
        for a, b in pairs:
            if a != b:
                self.style_table[style_index[a], style_index[b]] = COMPATIBLE_STYLE
                self.style_table[style_index[b], style_index[a]] = COMPATIBLE_STYLE
        w = matching.weights
        self.style_points = w.communication_style * self.style_table
        self.style_unlikely = UNLIKELY_BASE + UNLIKELY_STYLE * (1.0 - np.eye(len(styles), dtype=np.float64))
        self.m_style = np.array(
            [style_index[_key(p.communication_style)] for p in self.mentors], dtype=np.int64
        )
        self.e_style = np.array(
            [style_index[_key(p.communication_style)] for p in self.mentees], dtype=np.int64
        )

        departments = {d: i for i, d in enumerate(sorted({_key(p.department) for p in people}))}
        self.m_dept = np.array([departments[_key(p.department)] for p in self.mentors], dtype=np.int64)
        self.e_dept = np.array([departments[_key(p.department)] for p in self.mentees], dtype=np.int64)

        zones = {z: i for i, z in enumerate(sorted({p.timezone for p in people}))}
        self.m_zone = np.array([zones[p.timezone] for p in self.mentors], dtype=np.int64)
        self.e_zone = np.array([zones[p.timezone] for p in self.mentees], dtype=np.int64)
        # (zone x zone) tables: shared hours, points for them, and pairs short of the required hours
        known = offsets or {}
        zone_offsets = np.array([known.get(z, np.nan) for z in zones], dtype=np.float64)
        hours = overlap_hours(zone_offsets[:, None] - zone_offsets[None, :], self.length)
        hours[np.eye(len(zones), dtype=np.bool_)] = self.length  # the same zone, offsets known or not
        unknown = np.isnan(hours)
        self.zone_points = w.timezone_overlap * (np.where(unknown, 0.0, hours) / np.float64(self.length))
        required = matching.required.min_overlap_hours
        self.zone_short = ~unknown & (np.where(unknown, 0.0, hours) < required - _EPSILON)

        self.m_level = np.array([p.level for p in self.mentors], dtype=np.int64)
        self.e_level = np.array([p.level for p in self.mentees], dtype=np.int64)
        self.m_key = np.array(
            [lottery_key(matching.seed, p.participant_id) for p in self.mentors], dtype=np.uint64
        )
        self.e_key = np.array(
            [lottery_key(matching.seed, p.participant_id) for p in self.mentees], dtype=np.uint64
        )

        tour = _euler_tour(participants if participants is not None else people)
        self.m_in = np.array([tour[p.email.lower()][0] for p in self.mentors], dtype=np.int64)
        self.m_out = np.array([tour[p.email.lower()][1] for p in self.mentors], dtype=np.int64)
        self.e_in = np.array([tour[p.email.lower()][0] for p in self.mentees], dtype=np.int64)
        self.e_out = np.array([tour[p.email.lower()][1] for p in self.mentees], dtype=np.int64)
        self.m_bosses = np.flatnonzero(self.m_out - self.m_in > 1)  # mentors with someone below them

        mentor_index = {p.email.lower(): j for j, p in enumerate(self.mentors)}
        mentee_index = {p.email.lower(): i for i, p in enumerate(self.mentees)}
        excluded = [
            (mentee_index[e.lower()], mentor_index[m.lower()])
            for m, e in matching.exclude
            if m.lower() in mentor_index and e.lower() in mentee_index
        ]
        self.excluded = np.array(sorted(excluded), dtype=np.int64).reshape(-1, 2)

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.mentees), len(self.mentors)

    def block_rows(self) -> int:
        return max(1, BLOCK_CELLS // max(1, len(self.mentors)))

    def fill(self, rows: slice, scores: Floats, feasible: Bools) -> None:
        """Write the scores and feasibility of mentees ``rows`` against every mentor into ``scores`` and
        ``feasible`` (views of shape rows x mentors): the vectorised :func:`pair_components`."""
        w = self.config.matching.weights
        e_style, e_zone = self.e_style[rows, None], self.e_zone[rows, None]
        e_offered = self.e_offered[rows]
        # skills and the exchange back
        np.divide(self.e_wanted[rows] @ self.m_offered_t, self.e_wanted_count[rows, None], out=scores)
        scores *= w.skills
        learned = np.divide(e_offered @ self.m_wanted_t, self.m_wanted_count[None, :])
        learned *= w.reverse_skills
        scores += learned
        # communication style and time zone, from (style x style) and (zone x zone) tables
        np.add(self.style_points[e_style, self.m_style], self.zone_points[e_zone, self.m_zone], out=learned)
        scores += learned
        # a shared language
        shared = np.asarray(self.e_languages[rows] @ self.m_languages_t) > 0
        scores += np.where(shared, w.languages, 0.0)
        # serendipity: different departments only
        other_function = np.asarray(e_offered @ self.m_offered_t) == 0
        unlikely = self.style_unlikely[e_style, self.m_style]
        unlikely += np.where(other_function, UNLIKELY_FUNCTION, 0.0)
        unlikely *= _mix_np(self.e_key[rows], self.m_key)
        cross = self.e_dept[rows, None] != self.m_dept[None, :]
        unlikely *= cross
        unlikely *= w.serendipity
        scores += unlikely
        np.round(scores, 4, out=scores)
        feasible[...] = True
        for _, mask in self._violations(rows, shared=shared, cross=cross):
            feasible &= ~mask

    def _violations(
        self, rows: slice, *, shared: Bools | None = None, cross: Bools | None = None
    ) -> Iterable[tuple[str, Bools]]:
        """(constraint name, pairs it forbids) for mentees ``rows``, constraints in force only."""
        matching = self.config.matching
        req = matching.required
        start, stop, _ = rows.indices(len(self.mentees))
        shape = (stop - start, len(self.mentors))
        if matching.reverse_pairs:
            yield "reverse", self.m_level[None, :] >= self.e_level[rows, None]
        chain = np.zeros(shape, dtype=np.bool_)
        e_in, e_out = self.e_in[rows], self.e_out[rows]
        bosses = np.flatnonzero(e_out - e_in > 1)  # mentees with someone below them
        if len(bosses):
            chain[bosses] = (e_in[bosses, None] < self.m_in[None, :]) & (
                self.m_in[None, :] < e_out[bosses, None]
            )
        if len(self.m_bosses):
            m_in, m_out = self.m_in[self.m_bosses], self.m_out[self.m_bosses]
            chain[:, self.m_bosses] |= (m_in[None, :] < e_in[:, None]) & (e_in[:, None] < m_out[None, :])
        yield "chain", chain
        if len(self.excluded):
            mask = np.zeros(shape, dtype=np.bool_)
            inside = (self.excluded[:, 0] >= start) & (self.excluded[:, 0] < stop)
            mask[self.excluded[inside, 0] - start, self.excluded[inside, 1]] = True
            yield "excluded", mask
        if req.shared_language:
            if shared is None:
                shared = np.asarray(self.e_languages[rows] @ self.m_languages_t) > 0
            yield "language", ~shared
        if req.min_overlap_hours > 0:
            yield "overlap", self.zone_short[self.e_zone[rows, None], self.m_zone]
        if req.min_skills_covered > 0:
            yield "skills", np.asarray(self.e_wanted[rows] @ self.m_offered_t) < req.min_skills_covered
        if req.min_skills_learned_back > 0:
            learned = np.asarray(self.e_offered[rows] @ self.m_wanted_t)
            yield "learned_back", learned < req.min_skills_learned_back
        if req.compatible_communication_style:
            yield "style", self.style_table[self.e_style[rows, None], self.m_style] == 0.0
        if req.cross_department:
            if cross is None:
                cross = self.e_dept[rows, None] != self.m_dept[None, :]
            yield "department", ~cross

    def violations(self, rows: slice) -> dict[str, Bools]:
        """Constraint name -> the pairs of mentees ``rows`` x mentors it forbids (for explanations)."""
        return dict(self._violations(rows))

    def block(self, rows: slice) -> Block:
        start, stop, _ = rows.indices(len(self.mentees))
        scores = np.empty((stop - start, len(self.mentors)), dtype=np.float64)
        feasible = np.empty(scores.shape, dtype=np.bool_)
        self.fill(rows, scores, feasible)
        return Block(rows, scores, feasible, self.violations(rows))

    def matrices(self, progress: Callable[[int, int], None] | None = None) -> tuple[Floats, Bools]:
        """Scores and feasibility of every (mentee, mentor): two (mentees x mentors) arrays."""
        n, m = self.shape
        scores = np.empty((n, m), dtype=np.float64)
        feasible = np.empty((n, m), dtype=np.bool_)
        step = self.block_rows()
        for start in range(0, n, step):
            rows = slice(start, min(n, start + step))
            self.fill(rows, scores[rows], feasible[rows])
            if progress is not None:
                progress(rows.stop, n)
        return scores, feasible


class _Vocabulary:
    """Normalised words (skills, languages) -> column numbers, shared by both sides of a roster."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}

    @property
    def size(self) -> int:
        return len(self.index)

    def matrix(self, lists: Sequence[Sequence[str]]) -> sparse.csr_matrix:
        rows: list[int] = []
        cols: list[int] = []
        for i, words in enumerate(lists):
            for word in dict.fromkeys(_key(w) for w in words if _key(w)):
                rows.append(i)
                cols.append(self.index.setdefault(word, len(self.index)))
        data = np.ones(len(rows), dtype=np.float64)
        return sparse.csr_matrix((data, (rows, cols)), shape=(len(lists), max(1, len(self.index))))
