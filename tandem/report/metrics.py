"""The impact report's figures, computed from a program's read-model rows (pure: no I/O).

Every metric of :data:`domain.metrics.METRICS` is computed here with the definition stated there,
and compared with the program's targets and, when one is given, a baseline cohort (another program).

Privacy rules applied here, not left to the renderers:

* survey figures (goal attainment, midpoint health, satisfaction by side, would-recommend, and the
  anonymous aggregates: psychological safety, fit check, takeaway terms) are shown only when at least
  :data:`MIN_RESPONSES` responses stand behind them; otherwise the value is withheld and the report
  says how many more responses it needs;
* takeaway terms are listed only when they appear in at least :data:`MIN_TERM_RESPONSES` responses,
  never a participant's name, and never the text itself;
* nothing about a single participant or pairing is ever part of a report: counts, rates, means and
  distributions only.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Literal

from domain.durations import IsoDuration
from domain.metrics import METRICS
from domain.pairing import Outcome
from domain.program import ProgramConfig, Target
from tandem.deliveries import Deliveries

MIN_RESPONSES = 5
MIN_TERM_RESPONSES = 2
TOP_TERMS = 15
RETENTION_MONTHS = (3, 6, 12)
EARLY_OUTCOMES = frozenset({Outcome.ENDED_EARLY.value, Outcome.WITHDRAWN.value, Outcome.REMATCHED.value})
SIDES = ("mentor", "mentee")
ATTAINMENT_BINS = ((0, 19), (20, 39), (40, 59), (60, 79), (80, 100))
FUNNEL = (
    ("proposed", "proposed"),
    ("started", "started (goal-setting)"),
    ("goals_agreed", "goals agreed"),
    ("first_session_held", "first session held"),
    ("midpoint_review", "midpoint review opened"),
    ("closeout", "closeout reached"),
    ("completed", "completed"),
)

Status = Literal["measured", "no_data", "withheld", "not_yet"]
SurveyCounts = Mapping[
    tuple[str, str, str], Mapping[int, int]
]  # (survey, side, question) -> value -> answers


# -- input --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProgramData:
    """Everything the report reads about one program: read-model rows, no personal data."""

    program_id: str
    name: str | None
    stage: str
    config: ProgramConfig | None
    created_at: datetime | None
    started_at: datetime | None
    closed_at: datetime | None
    hr_as_of: date | None
    participants: Sequence[Mapping[str, Any]]  # role, withdrawn_at, left_on
    pairings: Sequence[Mapping[str, Any]]  # rm_pairing rows
    sessions: Sequence[Mapping[str, Any]]  # rm_session rows: status, resolved_at, ratings
    survey: SurveyCounts
    takeaway_terms: Mapping[str, int]
    position: int = 0  # the read models' checkpoint when read
    deliveries: Deliveries | None = None  # the notification outbox's counts and failures


# -- output -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TargetResult:
    op: Literal["at_least", "at_most"]
    bound: float
    met: bool | None  # None: the metric has no value to compare


@dataclass(frozen=True)
class MetricResult:
    name: str
    unit: str
    definition: str
    higher_is_better: bool
    value: float | None
    status: Status
    n: int  # what the value stands on: sessions, pairings, responses or participants
    detail: str
    targets: tuple[TargetResult, ...] = ()
    baseline: float | None = None
    baseline_status: Status | None = None

    @property
    def met(self) -> bool | None:
        """True when every target is met, False when one is missed, None without targets or value."""
        results = [t.met for t in self.targets]
        if not results or any(r is None for r in results):
            return None
        return all(results)

    @property
    def delta(self) -> float | None:
        if self.value is None or self.baseline is None:
            return None
        return self.value - self.baseline

    @property
    def better_than_baseline(self) -> bool | None:
        delta = self.delta
        if delta is None or delta == 0:
            return None
        return (delta > 0) == self.higher_is_better


@dataclass(frozen=True)
class Feedback:
    """Anonymous aggregates: withheld below the response threshold."""

    psychological_safety: float | None
    psychological_safety_responses: int
    fit_check_wants_new_partner: float | None
    fit_check_answers: int
    takeaway_responses: int
    takeaway_terms: tuple[tuple[str, int], ...]  # (term, responses), only when shown
    takeaways_shown: bool


@dataclass(frozen=True)
class Charts:
    sessions_by_month: tuple[tuple[str, int, int], ...]  # (YYYY-MM, held, missed)
    attainment_bins: tuple[tuple[str, int], ...] | None  # None: withheld
    attainment_responses: int
    satisfaction: dict[str, tuple[int, ...] | None]  # side -> answers for 1..5, None: withheld
    satisfaction_responses: dict[str, int]
    funnel: tuple[tuple[str, str, int], ...]  # (key, label, pairings)
    outcomes: tuple[tuple[str, int], ...]  # (outcome or "open", pairings)
    nps_split: tuple[int, int, int] | None  # (detractors, passives, promoters), None: withheld
    retention: tuple[tuple[int, float | None, float | None], ...]  # (months, value, baseline)


@dataclass(frozen=True)
class ProgramSummary:
    program_id: str
    name: str | None
    stage: str
    created_at: datetime | None
    started_at: datetime | None
    closed_at: datetime | None
    participants: int
    mentors: int
    mentees: int
    pairings: int
    pairings_started: int
    pairings_closed: int
    sessions_held: int
    sessions_missed: int
    hr_as_of: date | None
    targets: int


@dataclass(frozen=True)
class ImpactReport:
    program: ProgramSummary
    generated_at: datetime
    position: int
    metrics: tuple[MetricResult, ...]
    charts: Charts
    feedback: Feedback
    baseline: ProgramSummary | None = None
    min_responses: int = MIN_RESPONSES
    notes: tuple[str, ...] = field(default=())
    deliveries: Deliveries | None = None

    def metric(self, name: str) -> MetricResult:
        return next(m for m in self.metrics if m.name == name)


# -- computation --------------------------------------------------------------------------------------


def _counts(data: ProgramData, survey: str, question: str, sides: Iterable[str] = SIDES) -> Counter[int]:
    total: Counter[int] = Counter()
    for side in sides:
        total.update(data.survey.get((survey, side, question), {}))
    return total


def _responses(data: ProgramData, survey: str, sides: Iterable[str] = SIDES) -> int:
    return sum(_counts(data, survey, "submitted", sides).values())


def _mean(counts: Mapping[int, int]) -> float | None:
    n = sum(counts.values())
    return sum(v * c for v, c in counts.items()) / n if n else None


def _withheld(responses: int, minimum: int, what: str) -> str:
    return f"withheld: {responses} {what} (at least {minimum} needed)"


def add_months(moment: datetime, months: int) -> datetime:
    """``moment`` plus calendar months, as the program file's durations count them (P3M)."""
    return IsoDuration.parse(f"P{months}M").add_to(moment)


def _measured(value: float | None, n: int, detail: str) -> tuple[float | None, Status, int, str]:
    return value, "measured" if value is not None else "no_data", n, detail


def compute_values(
    data: ProgramData, *, min_responses: int = MIN_RESPONSES
) -> dict[str, tuple[float | None, Status, int, str]]:
    """Every metric of ``METRICS``: (value, status, n, detail)."""
    out: dict[str, tuple[float | None, Status, int, str]] = {}
    held = sum(1 for s in data.sessions if s["status"] == "held")
    missed = sum(1 for s in data.sessions if s["status"] == "missed")
    due = held + missed
    out["session_completion"] = _measured(
        held / due if due else None, due, f"{held} held of {due} due ({missed} missed)"
    )

    started = [p for p in data.pairings if p.get("started_at") is not None]
    waits = [
        (p["goals_agreed_at"] - p["started_at"]).total_seconds() / 86400
        for p in started
        if p.get("goals_agreed_at") is not None
    ]
    out["time_to_agreed_goals_days"] = _measured(
        statistics.median(waits) if waits else None,
        len(waits),
        f"median of {len(waits)} pairings that agreed goals ({len(started)} started)",
    )

    def survey_metric(
        name: str, survey: str, question: str, sides: tuple[str, ...], scale: float = 1
    ) -> None:
        responses = _responses(data, survey, sides)
        counts = _counts(data, survey, question, sides)
        answers = sum(counts.values())
        what = f"{survey} responses" + ("" if len(sides) == 2 else f" from {sides[0]}s")
        if responses < min_responses:
            out[name] = (
                None,
                "no_data" if responses == 0 else "withheld",
                responses,
                _withheld(responses, min_responses, what),
            )
            return
        mean = _mean(counts)
        value = None if mean is None else mean / scale
        detail = (
            f"{answers} answers in {responses} {what}"
            if question in ("attainment", "progress")
            else f"{responses} {what}"
        )
        out[name] = _measured(value, responses, detail)

    survey_metric("goal_attainment", "closeout", "attainment", SIDES, scale=100)
    survey_metric("midpoint_health", "midpoint", "relationship", SIDES)
    survey_metric("satisfaction_mentor", "closeout", "satisfaction", ("mentor",))
    survey_metric("satisfaction_mentee", "closeout", "satisfaction", ("mentee",))

    recommend = _counts(data, "closeout", "would_recommend")
    responses = sum(recommend.values())
    if responses < min_responses:
        out["would_recommend_nps"] = (
            None,
            "no_data" if responses == 0 else "withheld",
            responses,
            _withheld(responses, min_responses, "closeout responses"),
        )
    else:
        promoters = sum(c for v, c in recommend.items() if v >= 9)
        detractors = sum(c for v, c in recommend.items() if v <= 6)
        out["would_recommend_nps"] = _measured(
            100 * (promoters - detractors) / responses,
            responses,
            f"{promoters} promoters, {responses - promoters - detractors} passives, {detractors} detractors "
            f"in {responses} closeout responses",
        )

    flagged = sum(1 for p in started if p.get("ever_at_risk"))
    out["at_risk_rate"] = _measured(
        flagged / len(started) if started else None,
        len(started),
        f"{flagged} of {len(started)} started pairings flagged at risk",
    )

    closed = [p for p in data.pairings if p.get("outcome")]
    early = sum(1 for p in closed if p["outcome"] in EARLY_OUTCOMES)
    out["early_end_rate"] = _measured(
        early / len(closed) if closed else None,
        len(closed),
        f"{early} of {len(closed)} closed pairings ended early, withdrawn or rematched",
    )

    for months in RETENTION_MONTHS:
        out[f"retention_{months}m"] = _retention(data, months)
    return out


def _retention(data: ProgramData, months: int) -> tuple[float | None, Status, int, str]:
    people = len(data.participants)
    if data.started_at is None:
        return None, "no_data", people, "the program has not started"
    if not people:
        return None, "no_data", 0, "no participants"
    cutoff = add_months(data.started_at, months).astimezone(UTC).date()
    if data.hr_as_of is None:
        return None, "not_yet", people, f"no HR leavers extract imported (measurable with one as of {cutoff})"
    if data.hr_as_of < cutoff:
        return (
            None,
            "not_yet",
            people,
            f"HR leavers data as of {data.hr_as_of}; measurable with an extract as of {cutoff} or later",
        )
    left = sum(1 for p in data.participants if p.get("left_on") is not None and p["left_on"] <= cutoff)
    return (
        (people - left) / people,
        "measured",
        people,
        f"{people - left} of {people} participants still employed on {cutoff} ({left} left)",
    )


def _targets(config: ProgramConfig | None, name: str, value: float | None) -> tuple[TargetResult, ...]:
    if config is None:
        return ()
    results = []
    for target in config.targets:
        if target.metric != name:
            continue
        op: Literal["at_least", "at_most"] = "at_least" if target.at_least is not None else "at_most"
        bound = target.at_least if target.at_least is not None else target.at_most
        assert bound is not None
        results.append(TargetResult(op, bound, None if value is None else Target.met_by(target, value)))
    return tuple(results)


def summarise(data: ProgramData) -> ProgramSummary:
    roles = Counter(p.get("role") for p in data.participants)
    return ProgramSummary(
        program_id=data.program_id,
        name=data.name,
        stage=data.stage,
        created_at=data.created_at,
        started_at=data.started_at,
        closed_at=data.closed_at,
        participants=len(data.participants),
        mentors=roles.get("mentor", 0),
        mentees=roles.get("mentee", 0),
        pairings=len(data.pairings),
        pairings_started=sum(1 for p in data.pairings if p.get("started_at") is not None),
        pairings_closed=sum(1 for p in data.pairings if p.get("outcome")),
        sessions_held=sum(1 for s in data.sessions if s["status"] == "held"),
        sessions_missed=sum(1 for s in data.sessions if s["status"] == "missed"),
        hr_as_of=data.hr_as_of,
        targets=len(data.config.targets) if data.config else 0,
    )


def _charts(
    data: ProgramData,
    values: Mapping[str, tuple[float | None, Status, int, str]],
    baseline: Mapping[str, Any] | None,
    min_responses: int,
) -> Charts:
    by_month: dict[str, list[int]] = {}
    for s in data.sessions:
        if s["status"] in ("held", "missed") and s.get("resolved_at") is not None:
            month = s["resolved_at"].astimezone(UTC).strftime("%Y-%m")
            by_month.setdefault(month, [0, 0])[0 if s["status"] == "held" else 1] += 1
    months = _month_range(sorted(by_month))
    sessions = tuple((mo, *by_month.get(mo, [0, 0])) for mo in months)

    attainment_responses = _responses(data, "closeout")
    bins: tuple[tuple[str, int], ...] | None = None
    if attainment_responses >= min_responses:
        values_ = _counts(data, "closeout", "attainment")
        bins = tuple(
            (f"{lo}–{hi} %", sum(c for v, c in values_.items() if lo <= v <= hi))
            for lo, hi in ATTAINMENT_BINS
        )

    satisfaction: dict[str, tuple[int, ...] | None] = {}
    satisfaction_responses: dict[str, int] = {}
    for side in SIDES:
        responses = _responses(data, "closeout", (side,))
        satisfaction_responses[side] = responses
        counts = _counts(data, "closeout", "satisfaction", (side,))
        satisfaction[side] = (
            tuple(counts.get(v, 0) for v in range(1, 6)) if responses >= min_responses else None
        )

    pairings = data.pairings
    steps = {
        "proposed": lambda p: True,
        "started": lambda p: p.get("started_at") is not None,
        "goals_agreed": lambda p: p.get("goals_agreed_at") is not None,
        "first_session_held": lambda p: (p.get("held") or 0) > 0,
        "midpoint_review": lambda p: bool(p.get("midpoint_opened")),
        "closeout": lambda p: bool(p.get("closeout_opened")),
        "completed": lambda p: p.get("outcome") == Outcome.COMPLETED.value,
    }
    # a funnel: a pairing counts at a step when it got through that step and every step before it
    funnel_counts = {}
    remaining = list(pairings)
    for key, _label in FUNNEL:
        remaining = [p for p in remaining if steps[key](p)]
        funnel_counts[key] = len(remaining)
    funnel = tuple((key, label, funnel_counts[key]) for key, label in FUNNEL)
    outcome_counts = Counter(p.get("outcome") or "open" for p in pairings)
    order = [o.value for o in Outcome] + ["open"]
    outcomes = tuple((o, outcome_counts[o]) for o in order if outcome_counts.get(o))

    recommend = _counts(data, "closeout", "would_recommend")
    answers = sum(recommend.values())
    nps_split = None
    if answers >= min_responses:
        nps_split = (
            sum(c for v, c in recommend.items() if v <= 6),
            sum(c for v, c in recommend.items() if 7 <= v <= 8),
            sum(c for v, c in recommend.items() if v >= 9),
        )
    retention = tuple(
        (
            months,
            values[f"retention_{months}m"][0],
            baseline[f"retention_{months}m"][0] if baseline else None,
        )
        for months in RETENTION_MONTHS
    )
    return Charts(
        sessions_by_month=sessions,
        attainment_bins=bins,
        attainment_responses=attainment_responses,
        satisfaction=satisfaction,
        satisfaction_responses=satisfaction_responses,
        funnel=funnel,
        outcomes=outcomes,
        nps_split=nps_split,
        retention=retention,
    )


def _month_range(months: list[str]) -> list[str]:
    if not months:
        return []
    year, month = (int(x) for x in months[0].split("-"))
    last = months[-1]
    out = []
    while True:
        label = f"{year:04d}-{month:02d}"
        out.append(label)
        if label >= last:
            return out
        month += 1
        if month > 12:
            year, month = year + 1, 1


def _feedback(data: ProgramData, excluded_terms: frozenset[str], min_responses: int) -> Feedback:
    safety = _counts(data, "midpoint", "psychological_safety")
    safety_n = sum(safety.values())
    fit = _counts(data, "fit_check", "wants_new_partner")
    fit_n = sum(fit.values())
    takeaways = _counts(data, "closeout", "takeaways").get(1, 0)
    shown = takeaways >= min_responses
    terms: tuple[tuple[str, int], ...] = ()
    if shown:
        eligible = [
            (term, n)
            for term, n in data.takeaway_terms.items()
            if n >= MIN_TERM_RESPONSES and term not in excluded_terms
        ]
        eligible.sort(key=lambda item: (-item[1], item[0]))
        terms = tuple(eligible[:TOP_TERMS])
    return Feedback(
        psychological_safety=_mean(safety) if safety_n >= min_responses else None,
        psychological_safety_responses=safety_n,
        fit_check_wants_new_partner=fit.get(1, 0) / fit_n if fit_n >= min_responses else None,
        fit_check_answers=fit_n,
        takeaway_responses=takeaways,
        takeaway_terms=terms,
        takeaways_shown=shown,
    )


def build_report(
    data: ProgramData,
    *,
    baseline: ProgramData | None = None,
    now: datetime,
    excluded_terms: frozenset[str] = frozenset(),
    min_responses: int = MIN_RESPONSES,
) -> ImpactReport:
    """The whole report. ``excluded_terms``: words never to show among takeaway terms (participants'
    names, see :func:`tandem.report.store.name_terms`)."""
    values = compute_values(data, min_responses=min_responses)
    base_values = compute_values(baseline, min_responses=min_responses) if baseline else None
    metrics = []
    for name, metric in METRICS.items():
        value, status, n, detail = values[name]
        base = base_values[name] if base_values else None
        metrics.append(
            MetricResult(
                name=name,
                unit=metric.unit,
                definition=metric.definition,
                higher_is_better=metric.higher_is_better,
                value=value,
                status=status,
                n=n,
                detail=detail,
                targets=_targets(data.config, name, value),
                baseline=base[0] if base else None,
                baseline_status=base[1] if base else None,
            )
        )
    notes = []
    if data.stage != "closed":
        notes.append(f"The program is {data.stage.replace('_', ' ')}: figures are as of now and will change.")
    return ImpactReport(
        program=summarise(data),
        generated_at=now,
        position=data.position,
        metrics=tuple(metrics),
        charts=_charts(data, values, base_values, min_responses),
        feedback=_feedback(data, excluded_terms, min_responses),
        baseline=summarise(baseline) if baseline else None,
        min_responses=min_responses,
        notes=tuple(notes),
        deliveries=data.deliveries,
    )
