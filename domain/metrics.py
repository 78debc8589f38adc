"""The impact metrics a program can set targets on (step 4 of the product: measure against the goals)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Unit = Literal["ratio", "days", "score", "nps"]


@dataclass(frozen=True)
class Metric:
    name: str
    unit: Unit
    minimum: float
    maximum: float
    higher_is_better: bool
    definition: str


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric(
            "session_completion",
            "ratio",
            0,
            1,
            True,
            "held sessions / sessions that came due (held + missed)",
        ),
        Metric(
            "time_to_agreed_goals_days",
            "days",
            0,
            3660,
            False,
            "median days from pairing start to goals agreed",
        ),
        Metric(
            "goal_attainment", "ratio", 0, 1, True, "mean attainment of agreed goals at closeout, both sides"
        ),
        Metric(
            "midpoint_health",
            "score",
            1,
            5,
            True,
            "mean relationship rating at the midpoint review, both sides (1-5)",
        ),
        Metric("satisfaction_mentor", "score", 1, 5, True, "mean closeout satisfaction of mentors (1-5)"),
        Metric("satisfaction_mentee", "score", 1, 5, True, "mean closeout satisfaction of mentees (1-5)"),
        Metric(
            "would_recommend_nps",
            "nps",
            -100,
            100,
            True,
            "NPS of would-recommend (0-10): % promoters (9-10) minus % detractors (0-6)",
        ),
        Metric("at_risk_rate", "ratio", 0, 1, False, "pairings ever flagged at risk / pairings started"),
        Metric(
            "early_end_rate",
            "ratio",
            0,
            1,
            False,
            "pairings ended early, withdrawn or rematched / pairings closed",
        ),
        Metric(
            "retention_3m", "ratio", 0, 1, True, "participants still employed 3 months after program start"
        ),
        Metric(
            "retention_6m", "ratio", 0, 1, True, "participants still employed 6 months after program start"
        ),
        Metric(
            "retention_12m", "ratio", 0, 1, True, "participants still employed 12 months after program start"
        ),
    )
}
