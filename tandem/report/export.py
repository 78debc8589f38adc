"""The report as data: JSON (the whole report) and CSV (one tidy table), and how values read.

CSV cells are neutralised against formula injection: a text cell that starts with ``=``, ``+``,
``-``, ``@``, a tab or a carriage return is prefixed with a single quote, so a spreadsheet shows it as
text instead of evaluating it (a program named ``=HYPERLINK(...)`` stays a name). Numbers are written
as numbers (a negative NPS stays a negative number): only text the report did not compute itself,
such as the program's name, can carry a formula.
"""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, fields, is_dataclass
from datetime import date, datetime
from typing import Any

from tandem.report.metrics import ImpactReport, MetricResult, TargetResult

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
SCHEMA = "tandem.impact-report/1"
STATUS_TEXT = {
    "measured": "measured",
    "no_data": "no data yet",
    "withheld": "withheld (too few responses)",
    "not_yet": "not yet measurable",
}


def display(unit: str, value: float | None) -> str:
    """A metric's value as people read it: ``82.5 %``, ``9.5 days``, ``4.20 / 5``, ``+40``."""
    if value is None:
        return "–"
    if unit == "ratio":
        return f"{value * 100:.1f} %"
    if unit == "days":
        return f"{value:.1f} days"
    if unit == "score":
        return f"{value:.2f} / 5"
    if unit == "nps":
        return f"{value:+.0f}"
    return f"{value:g}"


def display_delta(unit: str, delta: float | None) -> str:
    if delta is None:
        return "–"
    if unit == "ratio":
        return f"{delta * 100:+.1f} pts"
    if unit == "days":
        return f"{delta:+.1f} days"
    if unit == "score":
        return f"{delta:+.2f}"
    return f"{delta:+.0f}"


def display_target(unit: str, target: TargetResult) -> str:
    sign = "≥" if target.op == "at_least" else "≤"
    return f"{sign} {display(unit, target.bound)}"


def verdict(metric: MetricResult) -> str:
    """``met``, ``not met``, ``no target`` or ``not measurable``."""
    if not metric.targets:
        return "no target"
    met = metric.met
    if met is None:
        return "not measurable"
    return "met" if met else "not met"


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def to_dict(report: ImpactReport) -> dict[str, Any]:
    """The whole report as JSON-ready data (values unrounded; ``display`` has the rounded text)."""
    metrics = []
    for m in report.metrics:
        entry = {f.name: _plain(getattr(m, f.name)) for f in fields(m)}
        entry["display"] = display(m.unit, m.value)
        entry["targets"] = [{**asdict(t), "display": display_target(m.unit, t)} for t in m.targets]
        entry["met"] = m.met
        entry["verdict"] = verdict(m)
        entry["delta"] = m.delta
        entry["better_than_baseline"] = m.better_than_baseline
        metrics.append(entry)
    assert is_dataclass(report.charts) and is_dataclass(report.feedback)
    return {
        "schema": SCHEMA,
        "program": _plain(asdict(report.program)),
        "baseline_program": _plain(asdict(report.baseline)) if report.baseline else None,
        "generated_at": report.generated_at.isoformat(),
        "events_up_to_position": report.position,
        "min_responses": report.min_responses,
        "metrics": metrics,
        "charts": _plain(asdict(report.charts)),
        "feedback": _plain(asdict(report.feedback)),
        "deliveries": _plain(asdict(report.deliveries)) if report.deliveries else None,
        "notes": list(report.notes),
    }


def neutralise(cell: Any) -> Any:
    """A CSV cell that no spreadsheet will evaluate (see the module docstring)."""
    if isinstance(cell, str) and cell.startswith(FORMULA_STARTS):
        return "'" + cell
    return cell


CSV_COLUMNS = (
    "section",
    "key",
    "label",
    "value",
    "unit",
    "target",
    "verdict",
    "baseline",
    "delta",
    "n",
    "detail",
)


def to_csv(report: ImpactReport) -> str:
    rows: list[dict[str, Any]] = []

    def add(section: str, key: str, label: str = "", value: Any = None, **extra: Any) -> None:
        rows.append({"section": section, "key": key, "label": label, "value": value, **extra})

    p = report.program
    add("program", "program_id", "program id", p.program_id)
    add("program", "name", "name", p.name)
    add("program", "stage", "stage", p.stage)
    add("program", "started_at", "started", p.started_at.isoformat() if p.started_at else None)
    add("program", "participants", "participants", p.participants)
    add("program", "pairings", "pairings", p.pairings)
    add("program", "generated_at", "generated", report.generated_at.isoformat())
    add("program", "events_up_to_position", "events up to position", report.position)
    if report.baseline:
        add("program", "baseline_program_id", "baseline program", report.baseline.program_id)
    for m in report.metrics:
        add(
            "metric",
            m.name,
            m.definition,
            m.value,
            unit=m.unit,
            target="; ".join(display_target(m.unit, t) for t in m.targets),
            verdict=verdict(m) if m.status == "measured" or m.targets else STATUS_TEXT[m.status],
            baseline=m.baseline,
            delta=m.delta,
            n=m.n,
            detail=m.detail,
        )
    c = report.charts
    for month, held, missed in c.sessions_by_month:
        add("sessions_by_month", month, "held", held)
        add("sessions_by_month", month, "missed", missed)
    for key, label, count in c.funnel:
        add("stage_funnel", key, label, count)
    for outcome, count in c.outcomes:
        add("outcomes", outcome, outcome.replace("_", " "), count)
    if c.attainment_bins is not None:
        for label, count in c.attainment_bins:
            add("goal_attainment_distribution", label, "goal ratings", count)
    for side, counts in c.satisfaction.items():
        if counts is not None:
            for score, count in enumerate(counts, start=1):
                add("satisfaction_by_side", f"{side}:{score}", f"{side}s answering {score}", count)
    for months, value, base in c.retention:
        add(
            "retention",
            f"{months}m",
            f"still employed after {months} months",
            value,
            unit="ratio",
            baseline=base,
        )
    f = report.feedback
    if f.psychological_safety is not None:
        add("feedback", "psychological_safety", "mean psychological safety (1-5)", f.psychological_safety,
            n=f.psychological_safety_responses)  # fmt: skip
    if f.fit_check_wants_new_partner is not None:
        add("feedback", "fit_check_wants_new_partner", "share of fit checks asking for a new partner",
            f.fit_check_wants_new_partner, n=f.fit_check_answers)  # fmt: skip
    for term, count in f.takeaway_terms:
        add("takeaway_terms", term, "responses using the term", count)
    if report.deliveries is not None:
        d = report.deliveries
        add("deliveries", "delivered", "notifications delivered", d.delivered)
        add("deliveries", "pending", "notifications queued, held or retrying", d.pending)
        add("deliveries", "failed", "notifications failed permanently", d.failed)

    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: neutralise(row.get(k)) for k in CSV_COLUMNS})
    return buffer.getvalue()
